//! Static Curve25519 key pairs (the long-term identity of a master or a slave) and their
//! fingerprints (SHA-256 of the public key).

use sha2::{Digest, Sha256};
use thiserror::Error;

/// The Noise pattern every session uses.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";

/// A key could not be made or read.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The random source or the Noise library failed.
    #[error("cannot generate a key pair: {0}")]
    Generate(#[source] snow::Error),
    /// The Noise library returned a key of another length than 32 bytes.
    #[error("cannot generate a key pair: the {0} key is not 32 bytes")]
    KeyLength(&'static str),
    /// Stored key text is malformed.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
}

/// A long-term key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// Private half; never logged.
    pub private: [u8; 32],
    /// Public half.
    pub public: [u8; 32],
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("public", &hex(&self.public))
            .finish_non_exhaustive()
    }
}

impl StaticKeys {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self, KeyError> {
        let params = NOISE_PARAMS.parse().map_err(KeyError::Generate)?;
        let pair = snow::Builder::new(params)
            .generate_keypair()
            .map_err(KeyError::Generate)?;
        let private = pair
            .private
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::KeyLength("private"))?;
        let public = pair
            .public
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::KeyLength("public"))?;
        Ok(Self { private, public })
    }

    /// The key pair as text: hex private key, a space, hex public key.
    pub fn to_text(&self) -> String {
        format!("{} {}\n", hex(&self.private), hex(&self.public))
    }

    /// Reads the form written by [`StaticKeys::to_text`].
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let mut parts = text.split_whitespace();
        let private = parse_hex32(parts.next().ok_or(KeyError::Malformed("empty"))?)?;
        let public = parse_hex32(parts.next().ok_or(KeyError::Malformed("no public key"))?)?;
        if parts.next().is_some() {
            return Err(KeyError::Malformed("trailing data"));
        }
        Ok(Self { private, public })
    }

    /// This pair's fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        fingerprint(&self.public)
    }
}

/// SHA-256 of a public key.
pub fn fingerprint(public: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(public).into()
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Parses exactly 64 hex digits.
pub fn parse_hex32(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(KeyError::Malformed("expected 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Result<u8, KeyError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(KeyError::Malformed("not a hex digit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let k = StaticKeys::generate().unwrap();
        let back = StaticKeys::from_text(&k.to_text()).unwrap();
        assert_eq!(k, back);
        assert_ne!(k.private, k.public);
    }

    #[test]
    fn malformed_text_is_an_error() {
        assert!(StaticKeys::from_text("").is_err());
        assert!(StaticKeys::from_text("zz").is_err());
        let k = StaticKeys::generate().unwrap();
        assert!(StaticKeys::from_text(&format!("{} extra", k.to_text().trim())).is_err());
    }

    #[test]
    fn debug_hides_private_key() {
        let k = StaticKeys::generate().unwrap();
        assert!(!format!("{k:?}").contains(&hex(&k.private)));
    }
}
