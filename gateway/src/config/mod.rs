//! Gateway configuration in two stages: [`raw`] mirrors the YAML file, [`Config`] is the
//! validated form with every default applied (the `DEFAULT_*` constants below).
//!
//! Minimal file:
//!
//! ```yaml
//! gateways:
//!   - name: web
//!     listen: 0.0.0.0:8080
//!     upstreams: [10.0.0.5:80, 10.0.0.6:80]
//! ```

pub mod raw;
mod validate;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::cidr::Cidr;
pub use validate::parse_duration;

/// Where the admin endpoint listens when its map form names no `bind`.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:9900";

/// Default balancing algorithm.
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::RoundRobin;
/// Default upstream weight.
pub const DEFAULT_WEIGHT: u32 = 1;
/// Largest weight accepted.
pub const MAX_WEIGHT: u32 = 1000;
/// Default time allowed for one upstream connect attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default number of further attempts on other upstreams after a failed connect.
pub const DEFAULT_RETRIES: u32 = 2;
/// Default idle timeout (no byte in either direction).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time removed upstreams and gateways keep their established connections.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time between active checks of one upstream.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Default time allowed for one active check.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Default consecutive successes that bring a down upstream back.
pub const DEFAULT_RISE: u32 = 2;
/// Default consecutive failures (checks or connects) that take an upstream down.
pub const DEFAULT_FALL: u32 = 3;
/// Default expected status of an HTTP check.
pub const DEFAULT_EXPECT_STATUS: u16 = 200;
/// Default HTTP check path.
pub const DEFAULT_HTTP_PATH: &str = "/";
/// Default relay strategy: the hybrid. Each direction copies through a 64 KiB buffer (as
/// cheap as `copy` on small messages) and splices inline while bulk data flows (as cheap as
/// `splice` per gigabyte). In `bench/gateway` fair mode: 18.4 µs of proxy CPU per keep-alive
/// request against 18.6 for `copy`, and 342 ms per GB against 726. See `relay`.
pub const DEFAULT_RELAY: RelayMode = RelayMode::Auto;
/// Default time a client has to send its whole ClientHello when a gateway routes by SNI.
pub const DEFAULT_SNI_PEEK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default limit on the bytes read while waiting for a ClientHello (record headers
/// included); see [`crate::sni::hello::DEFAULT_MAX_BYTES`].
pub const DEFAULT_SNI_MAX_HELLO: usize = crate::sni::hello::DEFAULT_MAX_BYTES;
/// Smallest and largest `sni_max_hello` accepted.
pub const SNI_MAX_HELLO_RANGE: std::ops::RangeInclusive<usize> = 512..=65536;
/// Label of the default upstream group (the gateway's own `upstreams`) in statistics; a
/// host name cannot start with `_` and a dot, so no SNI group is called this.
pub const DEFAULT_GROUP_LABEL: &str = "_default";
/// Largest worker count accepted.
pub const MAX_WORKERS: usize = 256;

/// How upstreams are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Smooth weighted round robin.
    RoundRobin,
    /// Fewest active connections relative to weight (per worker).
    LeastConn,
    /// Consistent hashing of the client address on a ring of virtual nodes.
    Hash,
}

/// PROXY protocol version sent to upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// Text header.
    V1,
    /// Binary header.
    V2,
}

/// How bytes are moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Buffered copy, switching a direction to inline splice while it moves bulk data
    /// (io_uring; buffered copy on the legacy driver). The default.
    Auto,
    /// Always splice through a pipe, inline on non-blocking sockets (io_uring); buffered copy
    /// on the legacy driver.
    Splice,
    /// Always buffered copy.
    Copy,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Worker threads.
    pub workers: usize,
    /// Pin worker threads to CPUs.
    pub pin_cpus: bool,
    /// Use io_uring when the kernel allows it (also off with `COMMANDER_DISABLE_IO_URING=1`).
    pub io_uring: bool,
    /// Admin endpoint (standalone binary).
    pub admin: Option<AdminConfig>,
    /// The gateways, names unique.
    pub gateways: Vec<GatewayConfig>,
}

/// The admin endpoint of the standalone binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens; loopback unless configured otherwise. A non-loopback address
    /// requires a token.
    pub bind: SocketAddr,
    /// The bearer token every request must carry, if set.
    pub token: Option<AdminToken>,
}

/// The admin endpoint's bearer token; never shown in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// Shortest accepted token.
    pub const MIN_LEN: usize = 16;

    /// `token`, if long enough and printable ASCII without spaces (it travels in a header).
    pub fn new(token: &str) -> Option<Self> {
        let ok = token.len() >= Self::MIN_LEN && token.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(token.to_owned()))
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        plumbing::secret::constant_time_eq(&self.0, presented)
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

/// One gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// Unique name.
    pub name: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// Upstreams, addresses unique.
    pub upstreams: Vec<UpstreamConfig>,
    /// Balancing algorithm.
    pub algorithm: Algorithm,
    /// Health checking.
    pub health: HealthConfig,
    /// One connect attempt's limit.
    pub connect_timeout: Duration,
    /// Further attempts on other upstreams.
    pub retries: u32,
    /// Allowed client blocks (empty: all).
    pub allow: Vec<Cidr>,
    /// Refused client blocks (checked first).
    pub deny: Vec<Cidr>,
    /// Per-client limits.
    pub per_ip: PerIpConfig,
    /// Concurrent connection limit of the gateway.
    pub max_conns: Option<u32>,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// PROXY protocol towards upstreams.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Drain time for removed upstreams and gateways.
    pub drain_timeout: Duration,
    /// Relay strategy.
    pub relay: RelayMode,
    /// Upstream groups chosen by SNI (empty: no ClientHello is read).
    pub sni: Vec<SniGroupConfig>,
    /// Time allowed for the ClientHello to arrive.
    pub sni_peek_timeout: Duration,
    /// Most bytes read while waiting for the ClientHello.
    pub sni_max_hello: usize,
}

/// An upstream group chosen by the server name of a TLS ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniGroupConfig {
    /// Exact names and `*.suffix` wildcards, unique across the gateway's groups.
    pub names: Vec<crate::sni::NamePattern>,
    /// Its upstreams (at least one), addresses unique within the group.
    pub upstreams: Vec<UpstreamConfig>,
}

impl SniGroupConfig {
    /// The group's name in statistics: its first name pattern.
    pub fn label(&self) -> String {
        self.names
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

/// One upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Address.
    pub addr: SocketAddr,
    /// Relative weight, `1..=MAX_WEIGHT`.
    pub weight: u32,
}

/// Health checking of a gateway's upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Active checks on.
    pub enabled: bool,
    /// Time between checks.
    pub interval: Duration,
    /// Time allowed for one check.
    pub timeout: Duration,
    /// Successes to come back.
    pub rise: u32,
    /// Failures to go down.
    pub fall: u32,
    /// HTTP check instead of TCP connect.
    pub http: Option<HttpCheck>,
}

/// An HTTP GET check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// Path, starting with `/`.
    pub path: String,
    /// Expected status.
    pub expect_status: u16,
}

/// Per-client-address limits; all optional.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerIpConfig {
    /// Token bucket: refill rate (per second) and size.
    pub rate: Option<RateLimit>,
    /// Concurrent connections per address.
    pub max_conns: Option<u32>,
}

/// A token bucket's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

impl PerIpConfig {
    /// True when any per-address limit is set.
    pub fn is_active(&self) -> bool {
        self.rate.is_some() || self.max_conns.is_some()
    }
}

/// A configuration error; `key` names the offending key, e.g. `gateways[1].health.rise`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML does not parse or has unknown keys or wrong types; the error names the key
    /// path and its line and column.
    #[error("invalid YAML: {0}")]
    Yaml(#[from] plumbing::config_file::ParseError),
    /// A value is invalid.
    #[error("{key}: {message}")]
    Invalid {
        /// Path of the key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The offending key, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            Self::Yaml(e) => e.key(),
            Self::Read { .. } => None,
        }
    }
}

impl Config {
    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let raw: raw::RawConfig = plumbing::config_file::parse(text)?;
        validate::config(raw)
    }

    /// Reads, parses and validates a YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Validates an already deserialised raw configuration.
    pub fn from_raw(raw: raw::RawConfig) -> Result<Self, ConfigError> {
        validate::config(raw)
    }

    /// The gateway called `name`.
    pub fn gateway(&self, name: &str) -> Option<&GatewayConfig> {
        self.gateways.iter().find(|g| g.name == name)
    }
}

impl GatewayConfig {
    /// A gateway with every default and the given upstreams (weight 1).
    pub fn new(name: &str, listen: SocketAddr, upstreams: &[SocketAddr]) -> Self {
        Self {
            name: name.to_string(),
            listen,
            upstreams: upstreams
                .iter()
                .map(|&addr| UpstreamConfig {
                    addr,
                    weight: DEFAULT_WEIGHT,
                })
                .collect(),
            algorithm: DEFAULT_ALGORITHM,
            health: HealthConfig::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            allow: Vec::new(),
            deny: Vec::new(),
            per_ip: PerIpConfig::default(),
            max_conns: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            proxy_protocol: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            relay: DEFAULT_RELAY,
            sni: Vec::new(),
            sni_peek_timeout: DEFAULT_SNI_PEEK_TIMEOUT,
            sni_max_hello: DEFAULT_SNI_MAX_HELLO,
        }
    }

    /// Every distinct upstream of the gateway: the default group's, then those only SNI
    /// groups name (health checks and statistics are per address).
    pub fn every_upstream(&self) -> Vec<UpstreamConfig> {
        let mut out = self.upstreams.clone();
        for g in &self.sni {
            for u in &g.upstreams {
                if !out.iter().any(|x| x.addr == u.addr) {
                    out.push(*u);
                }
            }
        }
        out
    }
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: DEFAULT_HEALTH_INTERVAL,
            timeout: DEFAULT_HEALTH_TIMEOUT,
            rise: DEFAULT_RISE,
            fall: DEFAULT_FALL,
            http: None,
        }
    }
}

/// The default worker count: the number of CPUs the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_WORKERS)
}

#[cfg(test)]
mod tests;
