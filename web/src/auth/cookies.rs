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

/// Adds `Secure` to every `Set-Cookie` of `headers` that lacks it: the request reached a
/// trusted TLS proxy over HTTPS (see `client::forwarded_https`), so the browser must send
/// the cookies back over HTTPS only.
pub fn mark_secure(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for value in values {
        let secured = match value.to_str() {
            Ok(text)
                if !text
                    .split(';')
                    .any(|attr| attr.trim().eq_ignore_ascii_case("secure")) =>
            {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(value)
            }
            _ => value,
        };
        headers.append(header::SET_COOKIE, secured);
    }
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

    #[test]
    fn mark_secure_adds_the_attribute_once() {
        let mut headers = HeaderMap::new();
        headers.append(header::SET_COOKIE, set("a", "1", 60, false).unwrap());
        headers.append(header::SET_COOKIE, set("b", "2", 60, true).unwrap());
        mark_secure(&mut headers);
        let values: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(values.len(), 2);
        for v in values {
            assert_eq!(v.matches("Secure").count(), 1, "{v}");
        }
    }
}
