//! Password hashing (argon2id, PHC strings); the rules for names and passwords are
//! `model::account::rules`.
//!
//! Hashing is CPU- and memory-heavy on purpose; callers run it on a blocking thread and
//! bound how many run at once (see `Auth`).

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::PasswordVerifier;
use argon2::{Algorithm, Argon2, Params, Version};

use model::account::rules::MAX_PASSWORD_BYTES;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub const DEFAULT: HashCost = HashCost {
        memory_kib: Params::DEFAULT_M_COST,
        iterations: Params::DEFAULT_T_COST,
        parallelism: Params::DEFAULT_P_COST,
    };
    /// The cheapest valid cost, for tests only.
    pub const FAST_FOR_TESTS: HashCost = HashCost {
        memory_kib: Params::MIN_M_COST,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Hashing failed (bad parameters or no randomness); not the user's fault.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashFailure(String);

fn hasher(cost: HashCost) -> Result<Argon2<'static>, HashFailure> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| HashFailure(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh random salt into a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, HashFailure> {
    let hash = hasher(cost)?
        .hash_password(password.as_bytes())
        .map_err(|e| HashFailure(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc` (with the parameters stored in it).
/// A malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => true,
        Err(argon2::password_hash::Error::PasswordInvalid) => false,
        Err(e) => {
            tracing::warn!("stored password hash unusable: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let phc = hash_password("Correct horse 9", HashCost::FAST_FOR_TESTS).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("Correct horse 9", &phc));
        assert!(!verify_password("correct horse 9", &phc));
        assert!(!verify_password("Correct horse 9", "not a hash"));
        let again = hash_password("Correct horse 9", HashCost::FAST_FOR_TESTS).unwrap();
        assert_ne!(phc, again, "salted");
    }
}
