//! Password recovery from the command line: `commander user reset-password`.
//!
//! Registration happens once and cannot be reopened through the console, so an
//! administrator who forgot the password needs a way back that only someone with access to
//! the master's files has. This sets a new password (same strength rule and hashing as the
//! console), moves the user's session epoch on so every open session ends at its next
//! request (also in a master that is running: sessions are checked against the store), and
//! writes an audit entry. The login lockout lives in the running master's memory and is not
//! touched; it expires by itself.

use super::password::{HashCost, HashFailure, hash_password};
use super::store::AuthStore;
use model::StoreFailure;
use model::account::rules::check_password_strength;
use model::audit::{AuditEntry, AuditResult, actions};
use plumbing::secret::{NoRandomness, random_hex};

/// Why a reset did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// No user with that name.
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    /// The new password fails the strength rule.
    #[error("{0}")]
    Weak(String),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashFailure),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreFailure),
}

/// Sets `new_password` for `username`, ends every session of the user and audits it.
/// Returns how many stored sessions were removed.
pub fn reset_password(
    store: &dyn AuthStore,
    username: &str,
    new_password: &str,
    cost: HashCost,
    now_ms: u64,
) -> Result<u64, ResetError> {
    let mut user = store
        .user(username)?
        .ok_or_else(|| ResetError::NoSuchUser(username.to_owned()))?;
    check_password_strength(new_password, &user.username)
        .map_err(|p| ResetError::Weak(p.to_string()))?;
    user.password_hash = hash_password(new_password, cost)?;
    user.password_changed_at_ms = now_ms;
    user.session_epoch = user.session_epoch.saturating_add(1);
    if !store.update_user(&user)? {
        return Err(ResetError::NoSuchUser(username.to_owned()));
    }
    let ended = store.delete_sessions_of(&user.username)?;
    store.append_audit(&AuditEntry {
        at_ms: now_ms,
        user: "(command line)".to_owned(),
        action: actions::PASSWORD_RESET.to_owned(),
        target: user.username.clone(),
        client: "local".to_owned(),
        result: AuditResult::Ok,
        detail: format!("sessions ended: {ended}"),
        via: String::new(),
    })?;
    Ok(ended)
}

/// A random password that passes the strength rule: 20 hex digits with a fixed
/// letter-and-digit prefix, about 80 bits of entropy.
pub fn generate_password() -> Result<String, NoRandomness> {
    Ok(format!("Cm7-{}", random_hex(10)?))
}

#[cfg(test)]
mod tests {
    use super::super::password::verify_password;
    use super::super::store::MemoryAuthStore;
    use super::*;
    use model::account::{SessionRecord, UserRecord};
    use model::audit::AuditQuery;

    fn store_with_admin() -> MemoryAuthStore {
        let store = MemoryAuthStore::new();
        let user = UserRecord {
            username: "admin".into(),
            password_hash: hash_password("Old-password-1", HashCost::FAST_FOR_TESTS).unwrap(),
            created_at_ms: 1,
            password_changed_at_ms: 1,
            session_epoch: 4,
            lang: model::account::Lang::default(),
        };
        assert!(store.register_first_user(&user).unwrap());
        store
            .put_session(&SessionRecord {
                id: "a".repeat(32),
                username: "admin".into(),
                epoch: 4,
                created_at_ms: 1,
                expires_at_ms: u64::MAX,
                csrf: "c".repeat(64),
                client: "127.0.0.1".into(),
            })
            .unwrap();
        store
    }

    #[test]
    fn reset_sets_the_password_ends_sessions_and_audits() {
        let store = store_with_admin();
        let new = generate_password().unwrap();
        let ended = reset_password(&store, "admin", &new, HashCost::FAST_FOR_TESTS, 99).unwrap();
        assert_eq!(ended, 1);
        let user = store.user("admin").unwrap().unwrap();
        assert!(verify_password(&new, &user.password_hash));
        assert!(!verify_password("Old-password-1", &user.password_hash));
        assert_eq!(user.session_epoch, 5);
        assert_eq!(user.password_changed_at_ms, 99);
        assert_eq!(store.session_count(), 0);
        let audit = store.query_audit(&AuditQuery::default()).unwrap();
        let entry = &audit.entries[0].entry;
        assert_eq!(entry.action, actions::PASSWORD_RESET);
        assert_eq!(entry.target, "admin");
    }

    #[test]
    fn unknown_users_and_weak_passwords_are_refused_and_change_nothing() {
        let store = store_with_admin();
        let err = reset_password(
            &store,
            "root",
            "Strong-pass-42",
            HashCost::FAST_FOR_TESTS,
            5,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no user named \"root\"");
        let err =
            reset_password(&store, "admin", "short", HashCost::FAST_FOR_TESTS, 5).unwrap_err();
        assert!(matches!(err, ResetError::Weak(_)), "{err}");
        assert_eq!(store.user("admin").unwrap().unwrap().session_epoch, 4);
        assert_eq!(store.session_count(), 1);
    }
}
