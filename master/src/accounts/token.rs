//! Session tokens: HS256 JWTs carrying the user and the server-side session id.
//!
//! The signature proves the master issued the token; the session table decides whether it
//! is still valid (expiry, logout, password change). Expiry is checked against the injected
//! clock here and again against the session record, never trusted from the client alone.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Shortest accepted signing secret, bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User name.
    pub sub: String,
    /// Session id (key of the session record).
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, wrong algorithm, or bad signature.
    #[error("invalid token")]
    Invalid,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
}

/// Signing and verification keys from one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys for `secret` (at least [`MIN_SECRET_BYTES`]; the configuration refuses a shorter one).
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injected clock in `verify`, with no leeway.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    /// Verifies the signature and algorithm (HS256 only) and the expiry at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: u64) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp.saturating_mul(1000) <= now_ms {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "admin".into(),
            sid: "s1".into(),
            iat: 1,
            exp,
        }
    }

    #[test]
    fn round_trip_expiry_and_forgery() {
        let keys = TokenKeys::new(SECRET);
        let token = keys.sign(&claims(100)).unwrap();
        assert_eq!(keys.verify(&token, 99_999).unwrap(), claims(100));
        assert_eq!(keys.verify(&token, 100_000), Err(TokenError::Expired));

        let other = TokenKeys::new(b"another secret another secret 12");
        assert_eq!(other.verify(&token, 0), Err(TokenError::Invalid));
        assert_eq!(keys.verify("a.b.c", 0), Err(TokenError::Invalid));
        assert_eq!(keys.verify("", 0), Err(TokenError::Invalid));

        // alg=none with the same payload is refused.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(keys.verify(&none, 0), Err(TokenError::Invalid));
    }
}
