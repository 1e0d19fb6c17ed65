//! Reading the `Cookie` header and writing `Set-Cookie` values for the console's two
//! cookies: the session token and the pre-login CSRF token.

use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie (a JWT). HttpOnly, SameSite=Strict, Secure under TLS.
pub const SESSION_COOKIE: &str = "commander_session";
/// The CSRF token of the login and registration forms (double submit, before a session
/// exists).
pub const LOGIN_CSRF_COOKIE: &str = "commander_login_csrf";

/// The value of cookie `name`, if the request sent it (first occurrence).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `name=value` for `max_age_secs`, HttpOnly, SameSite=Strict,
/// `Path=/`, and `Secure` when `secure`. `value` must be a cookie-safe token (base64url,
/// hex, dots); anything else yields `None`.
pub fn set(name: &str, value: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let safe = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !safe {
        return None;
    }
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age_secs}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear(name: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_build() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=two"));
        h.append(header::COOKIE, HeaderValue::from_static("c=\"3\"; a=9"));
        assert_eq!(get(&h, "a"), Some("1"));
        assert_eq!(get(&h, "b"), Some("two"));
        assert_eq!(get(&h, "c"), Some("3"));
        assert_eq!(get(&h, "d"), None);
        assert_eq!(
            set("s", "x.y_z-1", 60, true).unwrap(),
            "s=x.y_z-1; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set("s", "v", 1, false).unwrap(),
            "s=v; Max-Age=1; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(set("s", "a;b", 1, false).is_none());
        assert_eq!(
            clear("s", false).unwrap(),
            "s=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
        );
    }
}
