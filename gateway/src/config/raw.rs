//! Stage one of the configuration: the YAML file as written, with no defaults applied.
//!
//! Every struct refuses unknown keys so a misspelt option is an error, not a silent default.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Worker threads (one monoio runtime each); defaults to the number of CPUs.
    pub workers: Option<u64>,
    /// Pin worker `i` to CPU `i % cpus`.
    pub pin_cpus: Option<bool>,
    /// `false` forces monoio's legacy (epoll) driver.
    pub io_uring: Option<bool>,
    /// The admin HTTP endpoint of the standalone binary: an `address:port`, or a map.
    pub admin: Option<RawAdmin>,
    /// The gateways.
    #[serde(default)]
    pub gateways: Vec<RawGateway>,
}

/// One gateway entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Unique name.
    pub name: Option<String>,
    /// `address:port` to listen on.
    pub listen: Option<String>,
    /// Upstreams: plain `address:port` strings or `{addr, weight}` maps.
    #[serde(default)]
    pub upstreams: Vec<RawUpstream>,
    /// `round_robin`, `least_conn` or `hash`.
    pub algorithm: Option<String>,
    /// Active health checks.
    pub health: Option<RawHealth>,
    /// Time allowed for one upstream connect attempt.
    pub connect_timeout: Option<RawDuration>,
    /// Further attempts on other upstreams after a failed connect.
    pub retries: Option<u64>,
    /// CIDR blocks allowed to connect (empty: everyone not denied).
    #[serde(default)]
    pub allow: Vec<String>,
    /// CIDR blocks refused.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Per-client-address limits.
    pub per_ip: Option<RawPerIp>,
    /// Concurrent connections allowed through this gateway.
    pub max_conns: Option<u64>,
    /// Close a connection that moved no byte for this long.
    pub idle_timeout: Option<RawDuration>,
    /// `v1` or `v2`: send a PROXY protocol header to upstreams.
    pub proxy_protocol: Option<String>,
    /// How long removed upstreams keep their established connections.
    pub drain_timeout: Option<RawDuration>,
    /// `auto` (default), `copy` or `splice`.
    pub relay: Option<String>,
    /// Upstream groups chosen by the TLS ClientHello's server name (SNI); the gateway's
    /// own `upstreams` take the rest.
    #[serde(default)]
    pub sni: Vec<RawSniGroup>,
    /// Time a client has to send its whole ClientHello (with `sni`).
    pub sni_peek_timeout: Option<RawDuration>,
    /// Most bytes read while waiting for the ClientHello, record headers included.
    pub sni_max_hello: Option<u64>,
}

/// One entry of `sni`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSniGroup {
    /// Exact names (`a.example`) and wildcards (`*.b.example`).
    #[serde(default)]
    pub names: Vec<String>,
    /// Upstreams of this group, in the forms of the gateway's `upstreams`.
    #[serde(default)]
    pub upstreams: Vec<RawUpstream>,
}

/// The admin endpoint as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawAdmin {
    /// `address:port`.
    Plain(String),
    /// `{bind, token | token_file}`.
    Full(RawAdminMap),
}

/// The map form of the admin endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminMap {
    /// `address:port`; defaults to loopback.
    pub bind: Option<String>,
    /// The bearer token clients must send.
    pub token: Option<String>,
    /// A file holding the bearer token (surrounding whitespace ignored).
    pub token_file: Option<std::path::PathBuf>,
}

/// An upstream as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawUpstream {
    /// `address:port`.
    Plain(String),
    /// `{addr: address:port, weight: N}`.
    Weighted(RawWeighted),
}

/// The map form of an upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeighted {
    /// `address:port`.
    pub addr: String,
    /// Relative weight.
    pub weight: Option<u64>,
}

/// The `health` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// `false` turns active checks off (passive ejection stays on).
    pub enabled: Option<bool>,
    /// Time between checks of one upstream.
    pub interval: Option<RawDuration>,
    /// Time allowed for one check.
    pub timeout: Option<RawDuration>,
    /// Consecutive successes that bring a down upstream back.
    pub rise: Option<u64>,
    /// Consecutive failures that take an upstream down.
    pub fall: Option<u64>,
    /// Check with an HTTP GET instead of a bare TCP connect.
    pub http: Option<RawHttpCheck>,
}

/// The `health.http` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpCheck {
    /// Request path.
    pub path: Option<String>,
    /// Expected status code.
    pub expect_status: Option<u64>,
}

/// The `per_ip` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerIp {
    /// New connections per second per client address.
    pub rate: Option<f64>,
    /// Bucket size for `rate`.
    pub burst: Option<u64>,
    /// Concurrent connections per client address.
    pub max_conns: Option<u64>,
}

/// A duration: a number of seconds or a string such as `250ms`, `2s`, `5m`, `1h`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    /// Seconds.
    Secs(u64),
    /// With a unit.
    Text(String),
}
