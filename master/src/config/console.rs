//! The `console` section of the master configuration: TLS for the web console, trusted
//! reverse proxies, the login lockout, and the HTTP server's time and connection limits. A
//! child module of `config`, sharing its error type and helpers.
//!
//! ```yaml
//! console:
//!   tls: { cert: /etc/commander/console.crt, key: /etc/commander/console.key }  # PEM
//!   trustedProxies: [127.0.0.1]   # peers whose X-Forwarded-For is believed
//!   lockout: { maxFailures: 5, windowSecs: 900, lockSecs: 900 }
//!   http: { headerTimeoutSecs: 10, bodyTimeoutSecs: 30, tlsHandshakeTimeoutSecs: 10,
//!           maxConnections: 1024, maxConnectionsPerAddress: 64 }
//! ```
//!
//! Flags (`--tls-cert`, `--tls-key`, `--trusted-proxy`) win over the file through
//! [`ConsoleConfig::with_overrides`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Failed logins within the window that lock a client address.
pub const DEFAULT_LOCKOUT_MAX_FAILURES: u32 = 5;
/// The window failed logins are counted in, seconds.
pub const DEFAULT_LOCKOUT_WINDOW_SECS: u64 = 900;
/// How long a locked address stays locked, seconds.
pub const DEFAULT_LOCKOUT_SECS: u64 = 900;
/// Longest accepted lockout window or lock, seconds (a week).
pub const MAX_LOCKOUT_SECS: u64 = 7 * 86_400;
/// Default time for a request's headers (and keep-alive idle), seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default time for a request's body after its headers, seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Default time for the TLS handshake, seconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS: u64 = 10;
/// Longest accepted HTTP timeout, seconds (an hour).
pub const MAX_HTTP_TIMEOUT_SECS: u64 = 3600;
/// Default cap on open console connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on open console connections from one address (IPv6: one /64).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Largest accepted connection cap.
pub const MAX_CONNECTIONS_CAP: usize = 1 << 20;

/// PEM files of the console's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Validated console settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// Serve the console over TLS with these files.
    pub tls: Option<TlsPaths>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Failures that lock an address.
    pub lockout_max_failures: u32,
    /// The window failures are counted in.
    pub lockout_window: Duration,
    /// How long the lock lasts.
    pub lockout_duration: Duration,
    /// Time and connection limits of the HTTP server.
    pub http: HttpLimitsConfig,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            tls: None,
            trusted_proxies: Vec::new(),
            lockout_max_failures: DEFAULT_LOCKOUT_MAX_FAILURES,
            lockout_window: Duration::from_secs(DEFAULT_LOCKOUT_WINDOW_SECS),
            lockout_duration: Duration::from_secs(DEFAULT_LOCKOUT_SECS),
            http: HttpLimitsConfig::default(),
        }
    }
}

/// `console.http`: the console HTTP server's time and connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimitsConfig {
    /// Time for a request's headers, from the connection's start or the end of the previous
    /// response (so also the keep-alive idle limit).
    pub header_timeout: Duration,
    /// Time for a request's body, from its headers.
    pub body_timeout: Duration,
    /// Time for the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one address (IPv6: one /64) at most; trusted proxies count
    /// against `max_connections` only.
    pub max_connections_per_address: usize,
}

impl Default for HttpLimitsConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            tls_handshake_timeout: Duration::from_secs(DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Console values from flags, winning over the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleOverrides {
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--trusted-proxy` (all of them; empty means "as in the file").
    pub trusted_proxies: Vec<IpAddr>,
}

impl ConsoleConfig {
    /// Applies flags: a flag path replaces the file's, and both TLS paths must end up set
    /// or unset.
    pub fn with_overrides(mut self, o: ConsoleOverrides) -> Result<Self, ConfigError> {
        let (file_cert, file_key) = match self.tls.take() {
            Some(t) => (Some(t.cert), Some(t.key)),
            None => (None, None),
        };
        self.tls = tls_paths(o.tls_cert.or(file_cert), o.tls_key.or(file_key))?;
        if !o.trusted_proxies.is_empty() {
            self.trusted_proxies = o.trusted_proxies;
        }
        Ok(self)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawConsole {
    tls: Option<RawTls>,
    trusted_proxies: Option<Vec<String>>,
    lockout: Option<RawLockout>,
    http: Option<RawHttp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawHttp {
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    tls_handshake_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLockout {
    max_failures: Option<u32>,
    window_secs: Option<u64>,
    lock_secs: Option<u64>,
}

fn tls_paths(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsPaths>, ConfigError> {
    let cert = cert.filter(|p| !p.as_os_str().is_empty());
    let key = key.filter(|p| !p.as_os_str().is_empty());
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsPaths { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid("console.tls.key", "required with console.tls.cert")),
        (None, Some(_)) => Err(invalid("console.tls.cert", "required with console.tls.key")),
    }
}

fn secs(key: &'static str, raw: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    let n = raw.unwrap_or(default);
    if !(1..=MAX_LOCKOUT_SECS).contains(&n) {
        return Err(invalid(
            key,
            format!("{n} is not in 1..={MAX_LOCKOUT_SECS}"),
        ));
    }
    Ok(Duration::from_secs(n))
}

fn http_secs(key: &'static str, raw: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    let n = raw.unwrap_or(default);
    if !(1..=MAX_HTTP_TIMEOUT_SECS).contains(&n) {
        let msg = format!("{n} is not in 1..={MAX_HTTP_TIMEOUT_SECS}");
        return Err(invalid(key, msg));
    }
    Ok(Duration::from_secs(n))
}

fn cap(key: &'static str, raw: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    let n = raw.unwrap_or(default);
    if !(1..=MAX_CONNECTIONS_CAP).contains(&n) {
        return Err(invalid(
            key,
            format!("{n} is not in 1..={MAX_CONNECTIONS_CAP}"),
        ));
    }
    Ok(n)
}

fn http_limits(raw: Option<RawHttp>) -> Result<HttpLimitsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let limits = HttpLimitsConfig {
        header_timeout: http_secs(
            "console.http.headerTimeoutSecs",
            raw.header_timeout_secs,
            DEFAULT_HEADER_TIMEOUT_SECS,
        )?,
        body_timeout: http_secs(
            "console.http.bodyTimeoutSecs",
            raw.body_timeout_secs,
            DEFAULT_BODY_TIMEOUT_SECS,
        )?,
        tls_handshake_timeout: http_secs(
            "console.http.tlsHandshakeTimeoutSecs",
            raw.tls_handshake_timeout_secs,
            DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS,
        )?,
        max_connections: cap(
            "console.http.maxConnections",
            raw.max_connections,
            DEFAULT_MAX_CONNECTIONS,
        )?,
        max_connections_per_address: cap(
            "console.http.maxConnectionsPerAddress",
            raw.max_connections_per_address,
            DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        )?,
    };
    if limits.max_connections_per_address > limits.max_connections {
        return Err(invalid(
            "console.http.maxConnectionsPerAddress",
            format!(
                "{} is more than console.http.maxConnections ({})",
                limits.max_connections_per_address, limits.max_connections
            ),
        ));
    }
    Ok(limits)
}

/// Validates the `console` section.
pub(super) fn build(raw: Option<RawConsole>) -> Result<ConsoleConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let tls = raw.tls.unwrap_or_default();
    let mut trusted_proxies = Vec::new();
    for text in raw.trusted_proxies.unwrap_or_default() {
        let ip = text.trim().parse::<IpAddr>().map_err(|_| {
            invalid(
                "console.trustedProxies",
                format!("{text:?} is not an IP address"),
            )
        })?;
        trusted_proxies.push(ip);
    }
    let lockout = raw.lockout.unwrap_or_default();
    let max_failures = lockout.max_failures.unwrap_or(DEFAULT_LOCKOUT_MAX_FAILURES);
    if !(1..=100).contains(&max_failures) {
        let msg = format!("{max_failures} is not in 1..=100");
        return Err(invalid("console.lockout.maxFailures", msg));
    }
    Ok(ConsoleConfig {
        tls: tls_paths(tls.cert, tls.key)?,
        trusted_proxies,
        lockout_max_failures: max_failures,
        lockout_window: secs(
            "console.lockout.windowSecs",
            lockout.window_secs,
            DEFAULT_LOCKOUT_WINDOW_SECS,
        )?,
        lockout_duration: secs(
            "console.lockout.lockSecs",
            lockout.lock_secs,
            DEFAULT_LOCKOUT_SECS,
        )?,
        http: http_limits(raw.http)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::from_yaml_str;
    use super::*;

    #[test]
    fn console_section_defaults_values_and_errors() {
        let c = from_yaml_str("").unwrap().console;
        assert_eq!(c, ConsoleConfig::default());
        assert_eq!(c.lockout_max_failures, 5);

        let yaml = "console:\n  tls: {cert: /c.pem, key: /k.pem}\n  trustedProxies: [\"10.0.0.1\", \"::1\"]\n  lockout: {maxFailures: 3, windowSecs: 60, lockSecs: 120}\n";
        let c = from_yaml_str(yaml).unwrap().console;
        assert_eq!(
            c.tls,
            Some(TlsPaths {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(
            (c.lockout_max_failures, c.lockout_window, c.lockout_duration),
            (3, Duration::from_secs(60), Duration::from_secs(120))
        );
        assert_eq!(c.http, HttpLimitsConfig::default());
        assert_eq!(
            (c.http.header_timeout, c.http.max_connections),
            (Duration::from_secs(10), 1024)
        );

        let yaml = "console:\n  http: {headerTimeoutSecs: 2, bodyTimeoutSecs: 3, tlsHandshakeTimeoutSecs: 4, maxConnections: 100, maxConnectionsPerAddress: 5}\n";
        let c = from_yaml_str(yaml).unwrap().console;
        assert_eq!(
            c.http,
            HttpLimitsConfig {
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_secs(3),
                tls_handshake_timeout: Duration::from_secs(4),
                max_connections: 100,
                max_connections_per_address: 5,
            }
        );

        for (yaml, needle) in [
            ("console: {tls: {cert: /c.pem}}\n", "console.tls.key"),
            ("console: {tls: {key: /k.pem}}\n", "console.tls.cert"),
            (
                "console: {trustedProxies: [proxy.local]}\n",
                "console.trustedProxies",
            ),
            (
                "console: {lockout: {maxFailures: 0}}\n",
                "console.lockout.maxFailures",
            ),
            (
                "console: {lockout: {lockSecs: 0}}\n",
                "console.lockout.lockSecs",
            ),
            (
                "console: {lockout: {windowSecs: 999999999}}\n",
                "console.lockout.windowSecs",
            ),
            ("console: {tlsCert: /c.pem}\n", "tlsCert"),
            (
                "console: {http: {headerTimeoutSecs: 0}}\n",
                "console.http.headerTimeoutSecs",
            ),
            (
                "console: {http: {bodyTimeoutSecs: 86400}}\n",
                "console.http.bodyTimeoutSecs",
            ),
            (
                "console: {http: {maxConnections: 0}}\n",
                "console.http.maxConnections",
            ),
            (
                "console: {http: {maxConnections: 10, maxConnectionsPerAddress: 11}}\n",
                "console.http.maxConnectionsPerAddress",
            ),
            ("console: {http: {idleSecs: 5}}\n", "idleSecs"),
        ] {
            let err = from_yaml_str(yaml).unwrap_err().to_string();
            assert!(err.contains(needle), "{yaml}: {err}");
        }
    }

    #[test]
    fn flags_win_and_tls_needs_both_paths() {
        let file = from_yaml_str(
            "console: {tls: {cert: /c.pem, key: /k.pem}, trustedProxies: [10.0.0.1]}\n",
        )
        .unwrap()
        .console;
        let c = file
            .clone()
            .with_overrides(ConsoleOverrides {
                tls_cert: Some("/flag.pem".into()),
                tls_key: None,
                trusted_proxies: vec!["10.0.0.2".parse().unwrap()],
            })
            .unwrap();
        let tls = c.tls.unwrap();
        assert_eq!((tls.cert, tls.key), ("/flag.pem".into(), "/k.pem".into()));
        assert_eq!(
            c.trusted_proxies,
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        let same = file
            .clone()
            .with_overrides(ConsoleOverrides::default())
            .unwrap();
        assert_eq!(same, file);
        let half = ConsoleConfig::default().with_overrides(ConsoleOverrides {
            tls_cert: Some("/c.pem".into()),
            ..ConsoleOverrides::default()
        });
        assert!(half.is_err());
    }
}
