//! The rules for user names and passwords, checked by the master before anything is
//! stored (and by the console's forms before anything is sent).

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

/// Why a password is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("The password must have at least 10 characters.")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("The password is too long (at most 1024 bytes).")]
    TooLong,
    /// Only one kind of character (letters only, digits only, ...).
    #[error(
        "The password needs at least two kinds of character: lower case, upper case, digits, symbols."
    )]
    OneKindOfCharacter,
    /// Fewer than five different characters.
    #[error("The password needs at least five different characters.")]
    TooRepetitive,
    /// Contains the user name.
    #[error("The password must not contain the user name.")]
    ContainsUsername,
    /// On the list of common passwords.
    #[error("This password is too common.")]
    Common,
}

/// Why a user name is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameProblem {
    /// Empty or longer than [`MAX_USERNAME_CHARS`].
    #[error("The user name must have 1 to 64 characters.")]
    Length,
    /// Characters other than ASCII letters, digits, `.`, `_` and `-`, or not starting with a
    /// letter or digit.
    #[error(
        "The user name may use letters, digits, '.', '_' and '-', starting with a letter or digit."
    )]
    Characters,
}

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
}
