//! One-time join tokens: `cmdr1.` followed by base64url of
//! `fingerprint (32) | secret (32) | master address (UTF-8 "host:port")`.
//!
//! The slave learns where the master is and which static key it must present; the master
//! keeps only a hash of the secret and accepts it once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use thiserror::Error;

const PREFIX: &str = "cmdr1.";
const MAX_ADDR_LEN: usize = 255;

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Master protocol address, `host:port` (`[v6]:port` for IPv6).
    pub master_addr: String,
    /// SHA-256 of the master's static public key.
    pub master_fingerprint: [u8; 32],
    /// The one-time secret.
    pub secret: [u8; 32],
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinToken")
            .field("master_addr", &self.master_addr)
            .finish_non_exhaustive()
    }
}

/// A token string could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// Missing the `cmdr1.` prefix.
    #[error("not a Commander join token (it must start with \"{PREFIX}\")")]
    Prefix,
    /// Not base64url.
    #[error("join token is not valid base64url")]
    Encoding,
    /// Too short, or the address part is empty, too long or not UTF-8.
    #[error("join token is truncated or corrupted")]
    Layout,
    /// The address has no port.
    #[error("join token address {0:?} is not host:port")]
    Address(String),
}

impl JoinToken {
    /// The token as text.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(64 + self.master_addr.len());
        raw.extend_from_slice(&self.master_fingerprint);
        raw.extend_from_slice(&self.secret);
        raw.extend_from_slice(self.master_addr.as_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Reads a token.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let body = text.trim().strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
        if body.len() > 4 * (64 + MAX_ADDR_LEN) / 3 + 4 {
            return Err(TokenError::Layout);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Encoding)?;
        if raw.len() <= 64 || raw.len() > 64 + MAX_ADDR_LEN {
            return Err(TokenError::Layout);
        }
        let (fp, rest) = raw.split_at(32);
        let (secret, addr) = rest.split_at(32);
        let master_addr = std::str::from_utf8(addr)
            .map_err(|_| TokenError::Layout)?
            .to_owned();
        validate_addr(&master_addr)?;
        Ok(Self {
            master_addr,
            master_fingerprint: fp.try_into().map_err(|_| TokenError::Layout)?,
            secret: secret.try_into().map_err(|_| TokenError::Layout)?,
        })
    }
}

fn validate_addr(addr: &str) -> Result<(), TokenError> {
    let bad = || TokenError::Address(addr.to_owned());
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok(())
}

/// SHA-256 of a token secret: what the master stores instead of the secret.
pub fn secret_hash(secret: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JoinToken {
        JoinToken {
            master_addr: "[::1]:17777".into(),
            master_fingerprint: [7; 32],
            secret: [9; 32],
        }
    }

    #[test]
    fn round_trip() {
        let t = sample();
        let text = t.encode();
        assert!(text.starts_with("cmdr1."));
        assert_eq!(JoinToken::parse(&text), Ok(t));
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(JoinToken::parse("abc"), Err(TokenError::Prefix));
        assert_eq!(JoinToken::parse("cmdr1.!!!"), Err(TokenError::Encoding));
        assert_eq!(JoinToken::parse("cmdr1.AAAA"), Err(TokenError::Layout));
        let mut t = sample();
        t.master_addr = "nohost".into();
        assert!(matches!(
            JoinToken::parse(&t.encode()),
            Err(TokenError::Address(_))
        ));
        t.master_addr = "h:0".into();
        assert!(matches!(
            JoinToken::parse(&t.encode()),
            Err(TokenError::Address(_))
        ));
    }

    #[test]
    fn debug_hides_secret() {
        assert!(!format!("{:?}", sample()).contains("9, 9"));
    }
}
