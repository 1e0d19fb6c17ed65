//! API tokens through [`AccountService`], over the in-memory store and over LMDB: create,
//! verify, wrong secret, expiry (with a [`ManualClock`]), revocation, who may manage them,
//! the throttled last use and the audit entries.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use model::ManualClock;
use model::account::{AuthFailure, Authenticated, Lang, Rejected};
use model::audit::{AuditEntry, AuditQuery, AuditResult, MAX_PAGE, actions};
use model::token::{
    LAST_USED_INTERVAL_MS, MAX_TOKENS, NewApiToken, Scope, TokenFailure, split_token,
};

use super::lockout::LockoutPolicy;
use super::password::HashCost;
use super::service::{AccountService, AccountSettings};
use super::store::{AuthStore, MemoryAuthStore};
use crate::store::LmdbStore;

const ADMIN: &str = "admin";
const PASSWORD: &str = "Xk4!vTq9#pLm";
const START_MS: u64 = 1_700_000_000_000;

fn client() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))
}

fn new(name: &str, scopes: &[Scope], days: Option<u32>) -> NewApiToken {
    NewApiToken {
        name: name.to_owned(),
        scopes: scopes.to_vec(),
        expires_in_days: days,
    }
}

struct Fixture {
    service: AccountService,
    store: Arc<dyn AuthStore>,
    clock: Arc<ManualClock>,
    session: Authenticated,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(store: Arc<dyn AuthStore>, dir: Option<tempfile::TempDir>) -> Fixture {
    let clock = Arc::new(ManualClock::new(START_MS));
    let service = AccountService::new(
        Arc::clone(&store),
        AccountSettings {
            jwt_secret: vec![7; 32],
            session_ttl: Duration::from_secs(3600),
            lockout: LockoutPolicy::default(),
            hash_cost: HashCost::FAST_FOR_TESTS,
        },
        clock.clone(),
    );
    service.register(ADMIN, PASSWORD, client()).await.unwrap();
    let issued = service.login(ADMIN, PASSWORD, client()).await.unwrap();
    let session = service.authenticate(&issued.token).await.unwrap();
    Fixture {
        service,
        store,
        clock,
        session,
        _dir: dir,
    }
}

async fn memory() -> Fixture {
    fixture(Arc::new(MemoryAuthStore::new()), None).await
}

async fn lmdb() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&dir.path().join("data"), &dir.path().join("perf")).unwrap();
    fixture(Arc::new(store), Some(dir)).await
}

async fn audit(s: &AccountService, action: &str) -> Vec<AuditEntry> {
    let query = AuditQuery {
        action: Some(action.to_owned()),
        limit: MAX_PAGE,
        ..AuditQuery::default()
    };
    let page = s.query_audit(query).await.unwrap();
    page.entries.into_iter().map(|r| r.entry).collect()
}

/// Everything a token goes through, on one store.
async fn life_cycle(f: Fixture) {
    let s = &f.service;
    let made = s
        .create_api_token(&f.session, new("ci", &[Scope::Read], Some(30)), client())
        .await
        .unwrap();
    assert!(made.secret.starts_with("cmdr_"), "{}", made.secret);
    let (id, secret) = split_token(&made.secret).unwrap();
    assert_eq!(id, made.token.id);
    assert_eq!(made.token.creator, ADMIN);
    assert_eq!(made.token.expires_at_ms, Some(START_MS + 30 * 86_400_000));

    // Only the hash is stored.
    let stored = f.store.api_token(id).unwrap().unwrap();
    assert_ne!(stored.secret_hash, secret);
    assert_eq!(stored.secret_hash, super::api_token_secret_hash(secret));
    assert!(!format!("{:?}", f.store.api_tokens().unwrap()).contains(secret));

    // Verified: acts as its creator, with its scope.
    let who = s.authenticate(&made.secret).await.unwrap();
    assert_eq!(who.user.username, ADMIN);
    assert_eq!(who.scope(), Scope::Read);
    assert_eq!(who.via(), format!("token:{id} (ci)"));
    assert!(who.session_record().is_none());
    assert!(s.session_valid(&who).await.unwrap());

    // A wrong secret, a forged id, a mangled token: refused alike.
    let wrong = format!("cmdr_{id}_{}", "0".repeat(64));
    assert_eq!(s.authenticate(&wrong).await.unwrap_err(), Rejected::Invalid);
    let forged = format!("cmdr_{}_{secret}", "0".repeat(16));
    assert_eq!(
        s.authenticate(&forged).await.unwrap_err(),
        Rejected::Invalid
    );
    let short = &made.secret[..made.secret.len() - 1];
    assert_eq!(s.authenticate(short).await.unwrap_err(), Rejected::Invalid);

    // A read token may not manage tokens, nor act on the account.
    let refused = s
        .create_api_token(&who, new("x", &[Scope::Admin], None), client())
        .await;
    assert_eq!(refused.unwrap_err(), TokenFailure::Forbidden);
    assert_eq!(
        s.list_api_tokens(&who).await.unwrap_err(),
        TokenFailure::Forbidden
    );
    assert_eq!(
        s.revoke_api_token(&who, id, client()).await.unwrap_err(),
        TokenFailure::Forbidden
    );
    let lang = s.set_language(&who, Lang::ZhCn, client()).await;
    assert_eq!(lang, Err(AuthFailure::SessionRequired));
    let pw = s.change_password(&who, PASSWORD, "An0ther-Passw0rd", client());
    assert_eq!(pw.await.unwrap_err(), AuthFailure::SessionRequired);

    // An admin token may: its audit entries name it.
    f.clock.advance(Duration::from_millis(1));
    let admin = s
        .create_api_token(&f.session, new("ops", &[Scope::Admin], None), client())
        .await
        .unwrap();
    assert_eq!(admin.token.expires_at_ms, None);
    let admin_who = s.authenticate(&admin.secret).await.unwrap();
    let listed = s.list_api_tokens(&admin_who).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].name, "ops", "newest first");
    let third = s
        .create_api_token(&admin_who, new("bot", &[Scope::Operate], Some(1)), client())
        .await
        .unwrap();
    let created = audit(s, actions::TOKEN_CREATE).await;
    let by_token = created
        .iter()
        .find(|e| e.detail.starts_with("bot"))
        .unwrap();
    assert_eq!(by_token.user, ADMIN);
    assert_eq!(by_token.via, format!("token:{} (ops)", admin.token.id));
    assert_eq!(by_token.target, format!("token/{}", third.token.id));
    let refusals: Vec<_> = created
        .iter()
        .filter(|e| e.result == AuditResult::Denied)
        .collect();
    assert_eq!(refusals.len(), 1, "{created:?}");
    assert_eq!(refusals[0].via, format!("token:{id} (ci)"));

    // Expiry, against the injected clock ("bot" was made 1 ms after the start).
    f.clock.advance(Duration::from_millis(86_400_000 - 1));
    s.authenticate(&third.secret).await.unwrap();
    f.clock.advance(Duration::from_millis(1));
    let third_who_err = s.authenticate(&third.secret).await.unwrap_err();
    assert_eq!(third_who_err, Rejected::TokenExpired);
    assert!(s.authenticate(&admin.secret).await.is_ok(), "never expires");

    // Revoked at once: the next request is refused, a stream notices.
    s.revoke_api_token(&f.session, id, client()).await.unwrap();
    assert_eq!(
        s.authenticate(&made.secret).await.unwrap_err(),
        Rejected::Invalid
    );
    assert!(!s.session_valid(&who).await.unwrap());
    assert_eq!(
        s.revoke_api_token(&f.session, id, client())
            .await
            .unwrap_err(),
        TokenFailure::NotFound(id.to_owned())
    );
    // The read token's attempt, the revocation and the second attempt.
    let revoked = audit(s, actions::TOKEN_REVOKE).await;
    assert_eq!(revoked.len(), 3, "{revoked:?}");
    assert!(revoked.iter().any(|e| e.result == AuditResult::Ok
        && e.target == format!("token/{id}")
        && e.via.is_empty()));
}

#[tokio::test]
async fn token_life_cycle_in_memory() {
    life_cycle(memory().await).await;
}

#[tokio::test]
async fn token_life_cycle_on_lmdb() {
    life_cycle(lmdb().await).await;
}

#[tokio::test]
async fn last_use_is_written_at_most_once_a_minute() {
    let f = lmdb().await;
    let s = &f.service;
    let made = s
        .create_api_token(&f.session, new("ci", &[Scope::Read], None), client())
        .await
        .unwrap();
    let id = made.token.id.clone();
    let last = || {
        f.store
            .api_token(&id)
            .unwrap()
            .unwrap()
            .token
            .last_used_at_ms
    };
    assert_eq!(last(), None);
    s.authenticate(&made.secret).await.unwrap();
    assert_eq!(last(), Some(START_MS));
    f.clock
        .advance(Duration::from_millis(LAST_USED_INTERVAL_MS - 1));
    for _ in 0..20 {
        s.authenticate(&made.secret).await.unwrap();
    }
    assert_eq!(last(), Some(START_MS), "not rewritten within the interval");
    f.clock.advance(Duration::from_millis(1));
    s.authenticate(&made.secret).await.unwrap();
    assert_eq!(last(), Some(START_MS + LAST_USED_INTERVAL_MS));
    let listed = s.list_api_tokens(&f.session).await.unwrap();
    assert_eq!(
        listed[0].last_used_at_ms,
        Some(START_MS + LAST_USED_INTERVAL_MS)
    );
}

#[tokio::test]
async fn input_is_checked_again_and_the_count_is_bounded() {
    let f = memory().await;
    let s = &f.service;
    for bad in [
        new("", &[Scope::Read], Some(1)),
        new(&"n".repeat(65), &[Scope::Read], Some(1)),
        new("tab\tname", &[Scope::Read], Some(1)),
        new("x", &[], Some(1)),
        new("x", &[Scope::Read], Some(0)),
        new("x", &[Scope::Read], Some(3651)),
    ] {
        let r = s.create_api_token(&f.session, bad.clone(), client()).await;
        assert!(matches!(r, Err(TokenFailure::Invalid(_))), "{bad:?}: {r:?}");
    }
    assert!(f.store.api_tokens().unwrap().is_empty());
    for i in 0..MAX_TOKENS {
        let name = format!("t{i}");
        s.create_api_token(&f.session, new(&name, &[Scope::Read], Some(1)), client())
            .await
            .unwrap();
    }
    let over = s
        .create_api_token(
            &f.session,
            new("one more", &[Scope::Read], Some(1)),
            client(),
        )
        .await;
    assert_eq!(over.unwrap_err(), TokenFailure::TooMany);
    assert_eq!(f.store.api_tokens().unwrap().len(), MAX_TOKENS);
}
