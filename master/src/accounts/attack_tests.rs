//! Regression tests of the attacks in issue 11 (findings 1 and 2): the unauthenticated
//! audit flood and the lockout beaten by concurrency, driven through [`AccountService`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use model::ManualClock;
use model::account::AuthFailure;
use model::audit::{AuditEntry, AuditQuery, AuditResult, MAX_PAGE, actions};

use super::lockout::LockoutPolicy;
use super::password::HashCost;
use super::service::{
    AUDITED_NAME_CHARS, AccountService, AccountSettings, HASHING_QUEUE, HASHING_SLOTS,
};
use super::store::{AuthStore, MemoryAuthStore};

const ADMIN: &str = "admin";
const RIGHT: &str = "Xk4!vTq9#pLm";

fn ip(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, a, b))
}

fn service() -> Arc<AccountService> {
    service_over(Arc::new(MemoryAuthStore::new()))
}

fn service_over(store: Arc<dyn AuthStore>) -> Arc<AccountService> {
    let clock: Arc<dyn model::Clock> = Arc::new(ManualClock::new(1_000_000_000));
    Arc::new(AccountService::new(
        store,
        AccountSettings {
            jwt_secret: vec![9; 32],
            session_ttl: Duration::from_secs(600),
            lockout: LockoutPolicy::default(),
            hash_cost: HashCost::FAST_FOR_TESTS,
        },
        clock,
    ))
}

async fn with_admin() -> Arc<AccountService> {
    let s = service();
    s.register(ADMIN, RIGHT, ip(0, 1)).await.unwrap();
    s
}

async fn audit(s: &AccountService, action: &str) -> Vec<AuditEntry> {
    let page = s
        .query_audit(AuditQuery {
            action: Some(action.to_owned()),
            limit: MAX_PAGE,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    page.entries.into_iter().map(|r| r.entry).collect()
}

/// Wrong logins that reached the password check (each one is audited as failed).
async fn hashed_failures(s: &AccountService) -> usize {
    audit(s, actions::LOGIN)
        .await
        .iter()
        .filter(|e| e.result == AuditResult::Failed)
        .count()
}

/// 40 wrong passwords and the right one, all at once from one address, in bursts. On a
/// current-thread runtime every task reserves (or is refused) in its first poll, in spawn
/// order, and the hashing slots are held until all were polled, so the outcome is
/// deterministic: each burst checks one password, and once five failures lock the address
/// nothing is checked any more — the right password included.
#[tokio::test]
async fn a_concurrent_burst_cannot_outrun_the_lockout() {
    let s = with_admin().await;
    let max = LockoutPolicy::default().max_failures as usize;
    let attacker = ip(1, 1);
    let mut tokens = 0;
    let mut last = Vec::new();
    for _burst in 0..8 {
        let held = s.hold_hashing().await;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                s.login(ADMIN, &format!("wrong-{i}-Aa1!"), attacker).await
            }));
        }
        let right = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.login(ADMIN, RIGHT, attacker).await })
        };
        tokio::task::yield_now().await;
        drop(held);
        for t in tasks {
            let _ = t.await.unwrap();
        }
        let right = right.await.unwrap();
        tokens += usize::from(right.is_ok());
        last.push(right);
    }
    assert_eq!(
        tokens, 0,
        "the right password in a burst got a token: {last:?}"
    );
    assert!(
        matches!(last.last(), Some(Err(AuthFailure::Locked(_)))),
        "locked at the end: {last:?}"
    );
    assert_eq!(
        hashed_failures(&s).await,
        max,
        "only max_failures passwords checked"
    );
    let refused = s.refused_counts();
    assert!(refused.throttled > 0 && refused.locked > 0, "{refused:?}");
    // Refusals are counted, not audited: only the registration and the five failures.
    assert_eq!(audit(&s, "auth").await.len(), 1 + max);
}

/// The same attack on a multi-threaded runtime: however the tasks interleave, at most
/// `max_failures` passwords are checked from the address, and once it is locked the right
/// password does not get a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_hash_at_most_max_failures() {
    let s = with_admin().await;
    let max = LockoutPolicy::default().max_failures as usize;
    let attacker = ip(1, 2);
    for _burst in 0..50 {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                s.login(ADMIN, &format!("wrong-{i}-Aa1!"), attacker).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_err());
        }
        let checked = hashed_failures(&s).await;
        assert!(checked <= max, "{checked} passwords checked");
        if checked == max {
            break;
        }
    }
    let from_attacker = audit(&s, actions::LOGIN)
        .await
        .iter()
        .filter(|e| e.result == AuditResult::Failed && e.client == attacker.to_string())
        .count();
    assert_eq!(
        from_attacker, max,
        "exactly max_failures checked, then locked"
    );
    assert!(matches!(
        s.login(ADMIN, RIGHT, attacker).await,
        Err(AuthFailure::Locked(_))
    ));
}

/// One login in flight per user name: a second one for the same name from another address
/// is refused without hashing; the hashing queue is bounded.
#[tokio::test]
async fn one_login_per_name_in_flight_and_the_hashing_queue_is_bounded() {
    let s = with_admin().await;
    let held = s.hold_hashing().await;
    let first = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.login(ADMIN, "wrong-Aa1!xx", ip(2, 1)).await })
    };
    let second = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.login(ADMIN, RIGHT, ip(2, 2)).await })
    };
    tokio::task::yield_now().await;
    drop(held);
    assert!(matches!(
        first.await.unwrap(),
        Err(AuthFailure::BadCredentials)
    ));
    assert!(matches!(second.await.unwrap(), Err(AuthFailure::Throttled)));
    // The name is free again afterwards.
    assert!(s.login(ADMIN, RIGHT, ip(2, 2)).await.is_ok());

    // 100 addresses, 100 names, at once: at most HASHING_SLOTS + HASHING_QUEUE are admitted
    // (the first ones, in spawn order, while the slots are held). Four rounds.
    let admitted = HASHING_SLOTS + HASHING_QUEUE;
    for round in 1..=4u64 {
        let held = s.hold_hashing().await;
        let mut tasks = Vec::new();
        for i in 0..100u8 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                s.login(&format!("user{i}"), "wrong-Aa1!xx", ip(3, i)).await
            }));
        }
        tokio::task::yield_now().await;
        drop(held);
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Err(AuthFailure::Busy) => busy += 1,
                Err(AuthFailure::BadCredentials) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(busy, 100 - admitted);
        assert_eq!(s.refused_counts().busy, round * busy as u64);
    }
    // Four busy refusals and one real failure from the last address: not locked.
    assert!(matches!(
        s.login(ADMIN, "wrong-Aa1!xx", ip(3, 99)).await,
        Err(AuthFailure::BadCredentials)
    ));
    // A busy refusal is not a failure of the address.
    assert!(s.login(ADMIN, RIGHT, ip(3, 99)).await.is_ok());
}

/// Registration attempts with huge names while registration is closed write nothing to the
/// audit log (counted instead); attempts from a locked address neither.
#[tokio::test]
async fn closed_registration_and_locked_logins_do_not_flood_the_audit_log() {
    let s = with_admin().await;
    let huge = "A".repeat(1 << 20);
    for _ in 0..50 {
        assert!(matches!(
            s.register(&huge, "x", ip(4, 1)).await,
            Err(AuthFailure::RegistrationClosed)
        ));
    }
    assert_eq!(s.refused_counts().registration_closed, 50);
    let before = audit(&s, "auth").await;
    assert_eq!(before.len(), 1, "only the first registration");

    let attacker = ip(4, 2);
    for _ in 0..5 {
        let _ = s.login(&huge, "wrong-Aa1!xx", attacker).await;
    }
    for _ in 0..100 {
        assert!(matches!(
            s.login(&huge, "wrong-Aa1!xx", attacker).await,
            Err(AuthFailure::Locked(_))
        ));
    }
    assert_eq!(s.refused_counts().locked, 100);
    let logins = audit(&s, actions::LOGIN).await;
    assert_eq!(logins.len(), 5, "one entry per checked password only");
    for e in &logins {
        assert!(
            e.user.chars().count() <= AUDITED_NAME_CHARS,
            "{}",
            e.user.len()
        );
        assert!(e.target.chars().count() <= AUDITED_NAME_CHARS);
    }
}

/// While registration is open, a bad registration is audited with its name cut short.
#[tokio::test]
async fn an_open_registration_audits_a_bounded_name() {
    let s = service();
    let huge = "B".repeat(1 << 20);
    assert!(matches!(
        s.register(&huge, RIGHT, ip(5, 1)).await,
        Err(AuthFailure::InvalidUsername(_))
    ));
    let entries = audit(&s, actions::REGISTER).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].user.chars().count(), AUDITED_NAME_CHARS);
    assert_eq!(entries[0].target.chars().count(), AUDITED_NAME_CHARS);

    // Any audited string is bounded, whoever writes it.
    s.record(AuditEntry::new(
        &huge,
        "x.y",
        &huge,
        ip(5, 1),
        AuditResult::Ok,
        huge.clone(),
    ))
    .await;
    let e = &audit(&s, "x.y").await[0];
    assert!(e.user.len() < 400 && e.target.len() < 400 && e.detail.len() < 1200);
    assert!(e.detail.ends_with(&format!("({} bytes)", huge.len())));
}

/// Finding 1: audit writes that failed (the map was full) were logged and dropped, so
/// nobody noticed the gaps in the audit trail. Now each one is counted with the last error
/// and its time, and the audit log reports itself degraded.
#[tokio::test]
async fn failed_audit_writes_are_counted_with_the_last_error() {
    let store = Arc::new(MemoryAuthStore::new());
    let s = service_over(store.clone());
    s.register(ADMIN, RIGHT, ip(0, 1)).await.unwrap();
    let h = s.audit_write_health();
    assert_eq!((h.write_failures, h.degraded), (0, false));

    store.fail_audit_writes(true);
    for _ in 0..3 {
        s.login(ADMIN, RIGHT, ip(0, 2)).await.unwrap();
    }
    let h = s.audit_write_health();
    assert_eq!(h.write_failures, 3);
    assert!(h.degraded);
    assert_eq!(h.last_failure_at_ms, Some(1_000_000_000));
    assert!(h.last_error.is_some_and(|e| e.contains("MDB_MAP_FULL")));
    // The same through the trait the console uses.
    let via_trait = model::service::AuditLog::write_health(s.as_ref());
    assert_eq!(via_trait.write_failures, 3);
}
