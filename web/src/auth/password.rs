//! Password hashing (argon2id, PHC strings) and the rules for user names and passwords.
//!
//! Hashing is CPU- and memory-heavy on purpose; callers run it on a blocking thread and
//! bound how many run at once (see `Auth`).

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::PasswordVerifier;
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest acceptable password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest acceptable password, in bytes (bounds the hashing work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest user name, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Passwords refused whatever else they satisfy (compared case-insensitively).
const COMMON_PASSWORDS: &[&str] = &[
    "password123",
    "password1234",
    "passw0rd123",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "qwerty12345",
    "1q2w3e4r5t",
    "administrator",
    "admin12345",
    "letmein123",
    "welcome123",
    "iloveyou123",
    "commander123",
    "changeme123",
];

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

/// Why a password is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
    /// Only one kind of character (letters only, digits only, ...).
    OneKindOfCharacter,
    /// Fewer than five different characters.
    TooRepetitive,
    /// Contains the user name.
    ContainsUsername,
    /// On the list of common passwords.
    Common,
}

/// Why a user name is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameProblem {
    /// Empty or longer than [`MAX_USERNAME_CHARS`].
    Length,
    /// Characters other than ASCII letters, digits, `.`, `_` and `-`, or not starting with a
    /// letter or digit.
    Characters,
}

/// Hashing failed (bad parameters or no randomness); not the user's fault.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashFailure(String);

/// Checks a user name: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, starting with a letter
/// or digit.
pub fn check_username(name: &str) -> Result<(), UsernameProblem> {
    let len = name.chars().count();
    if len == 0 || len > MAX_USERNAME_CHARS {
        return Err(UsernameProblem::Length);
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let all_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && all_ok {
        Ok(())
    } else {
        Err(UsernameProblem::Characters)
    }
}

/// The minimum strength rule: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, two kinds of character (lower case, upper case, digits,
/// others), five different characters, not containing the user name, not a common password.
pub fn check_password_strength(password: &str, username: &str) -> Result<(), PasswordProblem> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordProblem::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ];
    if classes.iter().filter(|&&x| x).count() < 2 {
        return Err(PasswordProblem::OneKindOfCharacter);
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(PasswordProblem::TooRepetitive);
    }
    let lower = password.to_lowercase();
    if username.chars().count() >= 3 && lower.contains(&username.to_lowercase()) {
        return Err(PasswordProblem::ContainsUsername);
    }
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

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
    fn usernames() {
        assert_eq!(check_username("admin"), Ok(()));
        assert_eq!(check_username("ops.team-1_x"), Ok(()));
        assert_eq!(check_username(""), Err(UsernameProblem::Length));
        assert_eq!(
            check_username(&"a".repeat(65)),
            Err(UsernameProblem::Length)
        );
        assert_eq!(check_username("-admin"), Err(UsernameProblem::Characters));
        assert_eq!(check_username("ad min"), Err(UsernameProblem::Characters));
        assert_eq!(check_username("<script>"), Err(UsernameProblem::Characters));
        assert_eq!(check_username("管理员"), Err(UsernameProblem::Characters));
    }

    #[test]
    fn strength_rules() {
        use PasswordProblem::*;
        let check = |p: &str| check_password_strength(p, "admin");
        assert_eq!(check("Correct horse 9"), Ok(()));
        assert_eq!(check("short1A"), Err(TooShort));
        assert_eq!(check(&"aB3".repeat(400)), Err(TooLong));
        assert_eq!(check("onlylowercaseletters"), Err(OneKindOfCharacter));
        assert_eq!(check("12345678901234"), Err(OneKindOfCharacter));
        assert_eq!(check("aaaaaaBBBBBB"), Err(TooRepetitive));
        assert_eq!(check("myAdmin-password1"), Err(ContainsUsername));
        assert_eq!(check("Password123"), Err(Common));
        // Non-ASCII passwords count characters, not bytes, and other scripts are a class.
        assert_eq!(check("密码很长很安全的密码1"), Ok(()));
    }

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
