//! The one `host:port` validator: what slaves dial (`master`, `advertiseAddr`, a join
//! token's address) is a host name or IP literal and a port in 1..=65535, IPv6 literals in
//! brackets.

use std::net::Ipv6Addr;

use crate::config_file::ConfigError;

/// Why an address is not a valid `host:port`. Every message starts with the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// `[` without `]`.
    #[error("{0:?}: missing `]` after IPv6 address")]
    UnclosedBracket(String),
    /// The text in brackets is not an IPv6 address.
    #[error("{addr:?}: {inside:?} is not an IPv6 address")]
    BadIpv6 {
        /// The address.
        addr: String,
        /// The text in brackets.
        inside: String,
    },
    /// No `:port` after `[ipv6]`.
    #[error("{0:?}: expected `[ipv6]:port`")]
    NoPortAfterIpv6(String),
    /// No `:` at all.
    #[error("{0:?}: expected `host:port`")]
    NoPort(String),
    /// An IPv6 address without brackets.
    #[error("{0:?}: IPv6 addresses must be written in brackets, e.g. `[::1]:17777`")]
    UnbracketedIpv6(String),
    /// Nothing before the `:`.
    #[error("{0:?}: the host is empty")]
    EmptyHost(String),
    /// The host has characters no host name has.
    #[error("{addr:?}: {host:?} is not a valid host name")]
    BadHost {
        /// The address.
        addr: String,
        /// The host part.
        host: String,
    },
    /// The port is not a number in 1..=65535.
    #[error("{0:?}: the port must be in 1..=65535")]
    BadPort(String),
}

/// Checks a `host:port` address (IPv6 literals in brackets, port 1..=65535) and returns it
/// trimmed.
pub fn parse_host_port(addr: &str) -> Result<String, AddrError> {
    let addr = addr.trim();
    let owned = || addr.to_owned();
    let port = if let Some(rest) = addr.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| AddrError::UnclosedBracket(owned()))?;
        inside.parse::<Ipv6Addr>().map_err(|_| AddrError::BadIpv6 {
            addr: owned(),
            inside: inside.to_owned(),
        })?;
        after
            .strip_prefix(':')
            .ok_or_else(|| AddrError::NoPortAfterIpv6(owned()))?
    } else {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| AddrError::NoPort(owned()))?;
        if host.contains(':') {
            return Err(AddrError::UnbracketedIpv6(owned()));
        }
        if host.is_empty() {
            return Err(AddrError::EmptyHost(owned()));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(AddrError::BadHost {
                addr: owned(),
                host: host.to_owned(),
            });
        }
        port
    };
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(owned()),
        _ => Err(AddrError::BadPort(owned())),
    }
}

/// [`parse_host_port`] for a configuration value: `key` names the setting in the error.
pub fn validate_host_port(key: &'static str, addr: &str) -> Result<String, ConfigError> {
    parse_host_port(addr).map_err(|e| ConfigError::invalid(key, e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn good_addresses_are_trimmed() {
        assert_eq!(parse_host_port(" [fe80::1]:1 ").unwrap(), "[fe80::1]:1");
        assert_eq!(parse_host_port("10.0.0.1:65535").unwrap(), "10.0.0.1:65535");
        assert_eq!(
            parse_host_port("master.example:17777").unwrap(),
            "master.example:17777"
        );
    }

    #[test]
    fn bad_addresses_say_why() {
        for (bad, want) in [
            ("a:0", AddrError::BadPort("a:0".into())),
            ("a:65536", AddrError::BadPort("a:65536".into())),
            ("a", AddrError::NoPort("a".into())),
            (":17777", AddrError::EmptyHost(":17777".into())),
            ("::1:17777", AddrError::UnbracketedIpv6("::1:17777".into())),
            ("[::1", AddrError::UnclosedBracket("[::1".into())),
            (
                "[::1]17777",
                AddrError::NoPortAfterIpv6("[::1]17777".into()),
            ),
        ] {
            assert_eq!(parse_host_port(bad).unwrap_err(), want, "{bad}");
        }
        assert!(matches!(
            parse_host_port("[zz]:1"),
            Err(AddrError::BadIpv6 { .. })
        ));
        assert!(matches!(
            parse_host_port("a b:1"),
            Err(AddrError::BadHost { .. })
        ));
        let e = validate_host_port("master", "a").unwrap_err().to_string();
        assert!(e.contains("master") && e.contains("host:port"), "{e}");
    }
}
