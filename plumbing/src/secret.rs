//! Random identifiers and secrets from the operating system's generator (session ids,
//! CSRF tokens, generated passwords), and their comparison in constant time.

/// The operating system's random generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the system random generator failed: {0}")]
pub struct NoRandomness(#[from] getrandom::Error);

/// `n` random bytes as lowercase hex (`2n` characters).
pub fn random_hex(n: usize) -> Result<String, NoRandomness> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)?;
    Ok(to_hex(&buf))
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_randomness() {
        assert_eq!(to_hex(&[0x00, 0x9f, 0xff]), "009fff");
        let a = random_hex(16).unwrap();
        let b = random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
