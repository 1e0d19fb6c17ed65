//! Master configuration: a YAML file (`configs.yaml`, keys compatible with the original
//! master) read in two stages.
//!
//! 1. Private serde structs accept exactly the keys below and reject anything else, naming
//!    the unknown key and its line and column.
//! 2. [`MasterConfig`] holds validated values with the `DEFAULT_*` constants filled in.
//!
//! ```yaml
//! httpServer: { prod: 18888 }   # web console port (integer or string, as the original)
//! udpServer: { prod: 16666 }    # reserved for UDP heartbeats
//! tcpServer: { prod: 17777 }    # slave protocol port
//! exeStoreHousePath: "/media/data/exeStoreHouse"   # default <dataDir>/executables
//! projectPath: "/media/data/projectPath"           # default <dataDir>/projects
//! jwt: { secret: "...", expire: 86400 }            # seconds
//! dbPath:                       # LMDB *directories*; defaults <dataDir>/db/data, .../performance
//!   data: "/media/data/master_db/data.db"
//!   performance: "/media/data/master_db/performance.db"
//! # new keys
//! dataDir: ./data
//! httpBind: 127.0.0.1
//! tcpBind: 0.0.0.0
//! advertiseAddr: "master.example:17777"   # what slaves dial; printed in join tokens
//! heartbeat: { intervalMs: 5000, ttlMs: 15000, graceMs: 10000, jitterMs: 2000 }
//! metrics:                      # metric history in dbPath.performance, see `HistoryPolicy`
//!   rawHours: 24                # raw samples (1..=8760; old key: metricsRetentionHours)
//!   minuteDays: 7               # 1-minute roll-ups, min/avg/max (1..=3650)
//!   hourDays: 90                # 1-hour roll-ups, min/avg/max (1..=36500)
//!   maxBytes: 8589934592        # all tiers together; over it the oldest of the finest go first
//! cores: 2                      # protocol endpoint executors; default: available cores
//! ioUring: auto                 # auto | on | off
//! console:                      # web console security, see `ConsoleConfig`
//!   tls: { cert: console.crt, key: console.key }
//!   trustedProxies: [127.0.0.1]
//!   lockout: { maxFailures: 5, windowSecs: 900, lockSecs: 900 }
//! protocol:                     # limits of the slave port, see `ProtocolConfig`
//!   handshakeTimeoutMs: 5000
//!   maxUnauthenticated: 256
//!   maxUnauthenticatedPerAddress: 16
//!   descriptorReserve: 128
//! audit:                        # audit log bounds, oldest entries pruned as new ones come
//!   maxEntries: 1000000
//!   maxBytes: 268435456         # of the data environment's 1 GiB map
//!   maxAgeDays: 0               # 0 keeps entries whatever their age
//! projects:                     # the reconciler, see `ProjectsConfig`
//!   reconcileIntervalMs: 1000
//!   nodeGraceSecs: 60
//!   drainMs: 3000
//! ```
//!
//! Precedence, lowest first: built-in defaults, the file, [`MasterOverrides`] (flags and
//! their environment variables, parsed by the `commander` binary), then `COMMANDER_DISABLE_IO_URING`
//! (see [`IoUringMode::from_env_and`]). Paths not set in the file are derived from the final
//! data directory, so `--data-dir` moves the databases too; relative paths are relative to
//! the working directory, as in the original. Port 0 is accepted for every port and means
//! "let the OS pick a free port" (tests use it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::accounts::AuditLimits;
use crate::accounts::audit::{
    DEFAULT_AUDIT_MAX_BYTES, DEFAULT_AUDIT_MAX_ENTRIES, MIN_AUDIT_MAX_BYTES,
};
use crate::accounts::token::MIN_SECRET_BYTES;
use serde::Deserialize;

mod console;
mod projects;
mod protocol;
pub use console::{
    ConsoleConfig, ConsoleOverrides, DEFAULT_LOCKOUT_MAX_FAILURES, DEFAULT_LOCKOUT_SECS,
    DEFAULT_LOCKOUT_WINDOW_SECS, HttpLimitsConfig, TlsPaths,
};
pub use projects::{
    DEFAULT_DRAIN_MS, DEFAULT_NODE_GRACE_SECS, DEFAULT_RECONCILE_INTERVAL_MS, ProjectsConfig,
};
pub use protocol::{
    DEFAULT_DESCRIPTOR_RESERVE, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_UNAUTHENTICATED,
    DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS, DESCRIPTOR_RESERVE_RANGE, HANDSHAKE_TIMEOUT_RANGE_MS,
    ProtocolConfig, UNAUTHENTICATED_CAP_RANGE,
};

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default web console port.
pub const DEFAULT_HTTP_PORT: u16 = 18888;
/// Default UDP port (reserved for heartbeats over UDP).
pub const DEFAULT_UDP_PORT: u16 = 16666;
/// Default slave protocol port.
pub const DEFAULT_TCP_PORT: u16 = 17777;
/// Default web console bind address: loopback only.
pub const DEFAULT_HTTP_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Default protocol bind address: all interfaces.
pub const DEFAULT_TCP_BIND: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// Default JWT lifetime, seconds.
pub const DEFAULT_JWT_EXPIRE_SECS: u64 = 86_400;
/// Default heartbeat interval, milliseconds.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 5_000;
/// Default heartbeat TTL, milliseconds.
pub const DEFAULT_HEARTBEAT_TTL_MS: u64 = 15_000;
/// Default grace period after TTL expiry before replicas move, milliseconds.
pub const DEFAULT_HEARTBEAT_GRACE_MS: u64 = 10_000;
/// Default TTL jitter, milliseconds.
pub const DEFAULT_HEARTBEAT_JITTER_MS: u64 = 2_000;
pub use crate::store::history::{
    DEFAULT_HOUR_DAYS, DEFAULT_MAX_BYTES as DEFAULT_METRICS_MAX_BYTES, DEFAULT_MINUTE_DAYS,
    DEFAULT_RAW_HOURS, HistoryPolicy,
};
/// Accepted `metrics.rawHours` (and `metricsRetentionHours`): up to a year.
pub const RAW_HOURS_RANGE: std::ops::RangeInclusive<u64> = 1..=8_760;
/// Accepted `metrics.minuteDays`: up to ten years.
pub const MINUTE_DAYS_RANGE: std::ops::RangeInclusive<u64> = 1..=3_650;
/// Accepted `metrics.hourDays`: up to a hundred years.
pub const HOUR_DAYS_RANGE: std::ops::RangeInclusive<u64> = 1..=36_500;
/// Smallest accepted `metrics.maxBytes`: 16 MiB.
pub const MIN_METRICS_MAX_BYTES: u64 = 16 << 20;
/// Largest accepted `metrics.maxBytes`: 14 GiB of the 16 GiB `performance` map (LMDB needs
/// room for pages freed but not yet reusable).
pub const MAX_METRICS_MAX_BYTES: u64 = 14 << 30;
/// Executable store under the data directory, when `exeStoreHousePath` is not set.
pub const DEFAULT_EXE_STORE_SUBDIR: &str = "executables";
/// Project packages under the data directory, when `projectPath` is not set.
pub const DEFAULT_PROJECT_SUBDIR: &str = "projects";
/// LMDB environment for cluster data under the data directory.
pub const DEFAULT_DB_DATA_SUBDIR: &str = "db/data";
/// LMDB environment for metric series under the data directory.
pub const DEFAULT_DB_PERFORMANCE_SUBDIR: &str = "db/performance";
/// Largest accepted `cores`.
pub const MAX_CORES: usize = 1024;
/// Accepted heartbeat interval range, milliseconds.
pub const HEARTBEAT_INTERVAL_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;
/// The JWT secret the original shipped in its sample config. It is public, so it is
/// ignored (a generated secret is used instead) with a warning.
pub const ORIGINAL_PUBLIC_JWT_SECRET: &str = "asdasd786251ashdgjdbd";
/// Environment variable that forces io_uring off when set to `1`, `true`, `yes` or `on`.
pub use plumbing::io_uring::DISABLE_IO_URING_ENV;

/// Whether to use io_uring; the same switch, parsing and environment override as the
/// slave's and the gateway's.
pub use plumbing::io_uring::IoUringMode;

/// Heartbeat timing the master imposes on slaves (Nomad style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// How often slaves send heartbeats.
    pub interval: Duration,
    /// A node without a heartbeat for this long (plus jitter) is marked offline.
    pub ttl: Duration,
    /// How long an offline node keeps its replicas before they are rescheduled.
    pub grace: Duration,
    /// Largest random extra added to the TTL, so expiries spread out.
    pub jitter: Duration,
}

/// Validated master configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConfig {
    /// Web console and REST API listen address (`httpBind`, `httpServer.prod`).
    pub http_addr: SocketAddr,
    /// Slave protocol listen address (`tcpBind`, `tcpServer.prod`).
    pub tcp_addr: SocketAddr,
    /// UDP port (`udpServer.prod`), reserved for heartbeats over UDP; validated only.
    pub udp_port: u16,
    /// `advertiseAddr` when set; see [`MasterConfig::effective_advertise_addr`].
    pub advertise_addr: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// LMDB environment directory for cluster data (`dbPath.data`).
    pub db_data_dir: PathBuf,
    /// LMDB environment directory for metric series (`dbPath.performance`).
    pub db_performance_dir: PathBuf,
    /// Uploaded executables (`exeStoreHousePath`).
    pub exe_store_dir: PathBuf,
    /// Project packages (`projectPath`).
    pub project_dir: PathBuf,
    /// JWT signing secret from the file; `None` means the master generates and stores one.
    pub jwt_secret: Option<String>,
    /// Session lifetime (`jwt.expire`), enforced server-side.
    pub jwt_expire: Duration,
    /// Heartbeat timing.
    pub heartbeat: HeartbeatConfig,
    /// Retention of the metric history's tiers and its size cap (`metrics`).
    pub metrics: HistoryPolicy,
    /// Executors of the protocol endpoint, at least 1.
    pub cores: usize,
    /// io_uring use, after overrides and the environment.
    pub io_uring: IoUringMode,
    /// Web console security (`console`).
    pub console: ConsoleConfig,
    /// Limits of the slave port (`protocol`).
    pub protocol: ProtocolConfig,
    /// Bounds of the audit log (`audit`).
    pub audit: AuditLimits,
    /// How projects are reconciled (`projects`).
    pub projects: ProjectsConfig,
}

impl MasterConfig {
    /// The address slaves should dial, as printed in join tokens: `advertiseAddr` when set,
    /// else the protocol bind address (or `127.0.0.1` when it binds all interfaces) with
    /// `bound_tcp_port`, the port actually bound (differs from `tcp_addr` when that is 0).
    pub fn effective_advertise_addr(&self, bound_tcp_port: u16) -> String {
        if let Some(addr) = &self.advertise_addr {
            return addr.clone();
        }
        let ip = match self.tcp_addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, bound_tcp_port).to_string()
    }
}

/// Values from the command line (or their environment variables) that win over the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterOverrides {
    /// Data directory; paths not set in the file follow it.
    pub data_dir: Option<PathBuf>,
    /// Web console port.
    pub http_port: Option<u16>,
    /// Protocol port.
    pub tcp_port: Option<u16>,
    /// UDP port.
    pub udp_port: Option<u16>,
    /// Web console bind address.
    pub http_bind: Option<IpAddr>,
    /// Address slaves dial, `host:port`.
    pub advertise_addr: Option<String>,
    /// io_uring mode.
    pub io_uring: Option<IoUringMode>,
}

pub use plumbing::addr::validate_host_port;
pub use plumbing::config_file::ConfigError;
use plumbing::config_file::{Lenient, Number, parse_str_or_default, read_or_default};

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMasterConfig {
    http_server: Option<RawPort>,
    udp_server: Option<RawPort>,
    tcp_server: Option<RawPort>,
    exe_store_house_path: Option<PathBuf>,
    project_path: Option<PathBuf>,
    jwt: Option<RawJwt>,
    db_path: Option<RawDbPath>,
    data_dir: Option<PathBuf>,
    http_bind: Option<String>,
    tcp_bind: Option<String>,
    advertise_addr: Option<String>,
    heartbeat: Option<RawHeartbeat>,
    metrics_retention_hours: Option<u64>,
    metrics: Option<RawMetrics>,
    cores: Option<usize>,
    io_uring: Option<IoUringMode>,
    console: Option<console::RawConsole>,
    protocol: Option<protocol::RawProtocol>,
    audit: Option<RawAudit>,
    projects: Option<projects::RawProjects>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAudit {
    max_entries: Option<u64>,
    max_bytes: Option<u64>,
    max_age_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMetrics {
    raw_hours: Option<u64>,
    minute_days: Option<u64>,
    hour_days: Option<u64>,
    max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    prod: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJwt {
    secret: Option<String>,
    expire: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDbPath {
    data: Option<PathBuf>,
    performance: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawHeartbeat {
    interval_ms: Option<u64>,
    ttl_ms: Option<u64>,
    grace_ms: Option<u64>,
    jitter_ms: Option<u64>,
}

/// Loads the configuration: defaults, then the file at `path` (if any), then `overrides`,
/// then `COMMANDER_DISABLE_IO_URING`. No file means defaults; a named file that is missing
/// is an error.
pub fn load(path: Option<&Path>, overrides: MasterOverrides) -> Result<MasterConfig, ConfigError> {
    let env = std::env::var(DISABLE_IO_URING_ENV).ok();
    load_with_env(path, overrides, env.as_deref())
}

/// [`load`] with the value of `COMMANDER_DISABLE_IO_URING` passed in (for tests).
pub fn load_with_env(
    path: Option<&Path>,
    overrides: MasterOverrides,
    disable_io_uring: Option<&str>,
) -> Result<MasterConfig, ConfigError> {
    let raw: RawMasterConfig = read_or_default(path)?;
    let mut config = build(raw, overrides)?;
    config.io_uring = IoUringMode::with_disable_flag(config.io_uring, disable_io_uring);
    Ok(config)
}

/// Parses YAML text into a validated configuration (no overrides, no environment).
pub fn from_yaml_str(text: &str) -> Result<MasterConfig, ConfigError> {
    build(parse_str_or_default(text)?, MasterOverrides::default())
}

fn port(
    key: &'static str,
    flag: Option<u16>,
    raw: Option<RawPort>,
    default: u16,
) -> Result<u16, ConfigError> {
    match (flag, raw.and_then(|p| p.prod)) {
        (Some(p), _) => Ok(p),
        (None, None) => Ok(default),
        (None, Some(Lenient(n))) => {
            u16::try_from(n).map_err(|_| invalid(key, format!("{n} is not in 0..=65535")))
        }
    }
}

fn bind_ip(key: &'static str, raw: Option<String>, default: IpAddr) -> Result<IpAddr, ConfigError> {
    let Some(text) = raw else {
        return Ok(default);
    };
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    t.parse::<IpAddr>()
        .map_err(|_| invalid(key, format!("{text:?} is not an IP address")))
}

/// `raw` when set (and not empty), else `base/sub`.
fn dir(
    key: &'static str,
    raw: Option<PathBuf>,
    base: &Path,
    sub: &str,
) -> Result<PathBuf, ConfigError> {
    match raw {
        Some(p) if p.as_os_str().is_empty() => Err(invalid(key, "must not be empty")),
        Some(p) => Ok(p),
        None => Ok(base.join(sub)),
    }
}

fn ms(raw: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(raw.unwrap_or(default))
}

fn build(raw: RawMasterConfig, o: MasterOverrides) -> Result<MasterConfig, ConfigError> {
    let http_port = port(
        "httpServer.prod",
        o.http_port,
        raw.http_server,
        DEFAULT_HTTP_PORT,
    )?;
    let tcp_port = port(
        "tcpServer.prod",
        o.tcp_port,
        raw.tcp_server,
        DEFAULT_TCP_PORT,
    )?;
    let udp_port = port(
        "udpServer.prod",
        o.udp_port,
        raw.udp_server,
        DEFAULT_UDP_PORT,
    )?;
    if http_port != 0 && http_port == tcp_port {
        let msg = format!("must differ from httpServer.prod (both {tcp_port})");
        return Err(invalid("tcpServer.prod", msg));
    }
    let http_bind = match o.http_bind {
        Some(ip) => ip,
        None => bind_ip("httpBind", raw.http_bind, DEFAULT_HTTP_BIND)?,
    };
    let tcp_bind = bind_ip("tcpBind", raw.tcp_bind, DEFAULT_TCP_BIND)?;
    let advertise_addr = o.advertise_addr.or(raw.advertise_addr);
    let advertise_addr = match advertise_addr {
        Some(a) => Some(validate_host_port("advertiseAddr", &a)?),
        None => None,
    };
    let data_dir = match o.data_dir.or(raw.data_dir) {
        Some(d) if d.as_os_str().is_empty() => return Err(invalid("dataDir", "must not be empty")),
        Some(d) => d,
        None => PathBuf::from(DEFAULT_DATA_DIR),
    };
    let db = raw.db_path.unwrap_or_default();
    let db_data_dir = dir("dbPath.data", db.data, &data_dir, DEFAULT_DB_DATA_SUBDIR)?;
    let db_performance_dir = dir(
        "dbPath.performance",
        db.performance,
        &data_dir,
        DEFAULT_DB_PERFORMANCE_SUBDIR,
    )?;
    if db_data_dir == db_performance_dir {
        let msg = "must differ from dbPath.data (two LMDB environments)";
        return Err(invalid("dbPath.performance", msg));
    }
    let exe_store_dir = dir(
        "exeStoreHousePath",
        raw.exe_store_house_path,
        &data_dir,
        DEFAULT_EXE_STORE_SUBDIR,
    )?;
    let project_dir = dir(
        "projectPath",
        raw.project_path,
        &data_dir,
        DEFAULT_PROJECT_SUBDIR,
    )?;
    let jwt = raw.jwt.unwrap_or_default();
    let expire = jwt.expire.map_or(DEFAULT_JWT_EXPIRE_SECS, |n| n.0);
    if expire == 0 {
        return Err(invalid("jwt.expire", "must be at least 1 second"));
    }
    let hb = raw.heartbeat.unwrap_or_default();
    let heartbeat = HeartbeatConfig {
        interval: ms(hb.interval_ms, DEFAULT_HEARTBEAT_INTERVAL_MS),
        ttl: ms(hb.ttl_ms, DEFAULT_HEARTBEAT_TTL_MS),
        grace: ms(hb.grace_ms, DEFAULT_HEARTBEAT_GRACE_MS),
        jitter: ms(hb.jitter_ms, DEFAULT_HEARTBEAT_JITTER_MS),
    };
    validate_heartbeat(&heartbeat)?;
    Ok(MasterConfig {
        http_addr: SocketAddr::new(http_bind, http_port),
        tcp_addr: SocketAddr::new(tcp_bind, tcp_port),
        udp_port,
        advertise_addr,
        data_dir,
        db_data_dir,
        db_performance_dir,
        exe_store_dir,
        project_dir,
        jwt_secret: jwt_secret(jwt.secret)?,
        jwt_expire: Duration::from_secs(expire),
        heartbeat,
        metrics: metrics_policy(raw.metrics_retention_hours, raw.metrics.unwrap_or_default())?,
        cores: cores(raw.cores)?,
        io_uring: o.io_uring.or(raw.io_uring).unwrap_or_default(),
        console: console::build(raw.console)?,
        protocol: protocol::build(raw.protocol)?,
        audit: audit_limits(raw.audit.unwrap_or_default())?,
        projects: projects::build(raw.projects)?,
    })
}

/// Largest accepted `audit.maxBytes`: half the `data` map, the rest for cluster data.
pub const MAX_AUDIT_MAX_BYTES: u64 = (crate::store::DATA_MAP_SIZE / 2) as u64;
/// Largest accepted `audit.maxAgeDays` (100 years).
pub const MAX_AUDIT_AGE_DAYS: u64 = 36_500;

fn audit_limits(raw: RawAudit) -> Result<AuditLimits, ConfigError> {
    let max_entries = raw.max_entries.unwrap_or(DEFAULT_AUDIT_MAX_ENTRIES);
    if max_entries == 0 {
        return Err(invalid("audit.maxEntries", "must be at least 1"));
    }
    let max_bytes = raw.max_bytes.unwrap_or(DEFAULT_AUDIT_MAX_BYTES);
    if !(MIN_AUDIT_MAX_BYTES..=MAX_AUDIT_MAX_BYTES).contains(&max_bytes) {
        let msg = format!("{max_bytes} is not in {MIN_AUDIT_MAX_BYTES}..={MAX_AUDIT_MAX_BYTES}");
        return Err(invalid("audit.maxBytes", msg));
    }
    let max_age_ms = match raw.max_age_days.unwrap_or(0) {
        0 => None,
        days if days > MAX_AUDIT_AGE_DAYS => {
            let msg = format!("{days} is not in 0..={MAX_AUDIT_AGE_DAYS}");
            return Err(invalid("audit.maxAgeDays", msg));
        }
        days => Some(days * 24 * 3600 * 1000),
    };
    Ok(AuditLimits {
        max_entries,
        max_bytes,
        max_age_ms,
    })
}

fn in_range(
    key: &'static str,
    value: u64,
    range: &std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        let msg = format!("{value} is not in {}..={}", range.start(), range.end());
        Err(invalid(key, msg))
    }
}

/// The metric history's policy: `metrics.*`, with `metricsRetentionHours` (the key before
/// tiers existed) still accepted for the raw tier.
fn metrics_policy(
    old_raw_hours: Option<u64>,
    raw: RawMetrics,
) -> Result<HistoryPolicy, ConfigError> {
    use model::history::{DAY_MS, HOUR_MS};
    let raw_hours = match (raw.raw_hours, old_raw_hours) {
        (Some(_), Some(_)) => {
            let msg = "set metrics.rawHours or metricsRetentionHours, not both";
            return Err(invalid("metricsRetentionHours", msg));
        }
        (Some(h), None) => in_range("metrics.rawHours", h, &RAW_HOURS_RANGE)?,
        (None, Some(h)) => in_range("metricsRetentionHours", h, &RAW_HOURS_RANGE)?,
        (None, None) => DEFAULT_RAW_HOURS,
    };
    let minute_days = raw.minute_days.unwrap_or(DEFAULT_MINUTE_DAYS);
    let minute_days = in_range("metrics.minuteDays", minute_days, &MINUTE_DAYS_RANGE)?;
    let hour_days = raw.hour_days.unwrap_or(DEFAULT_HOUR_DAYS);
    let hour_days = in_range("metrics.hourDays", hour_days, &HOUR_DAYS_RANGE)?;
    let max_bytes = raw.max_bytes.unwrap_or(DEFAULT_METRICS_MAX_BYTES);
    let bytes_range = MIN_METRICS_MAX_BYTES..=MAX_METRICS_MAX_BYTES;
    let max_bytes = in_range("metrics.maxBytes", max_bytes, &bytes_range)?;
    let keep = model::history::TierRetention {
        raw_ms: raw_hours * HOUR_MS,
        minute_ms: minute_days * DAY_MS,
        hour_ms: hour_days * DAY_MS,
    };
    if keep.minute_ms < keep.raw_ms {
        let msg =
            "1-minute roll-ups must be kept at least as long as raw samples (metrics.rawHours)";
        return Err(invalid("metrics.minuteDays", msg));
    }
    if keep.hour_ms < keep.minute_ms {
        let msg =
            "1-hour roll-ups must be kept at least as long as 1-minute ones (metrics.minuteDays)";
        return Err(invalid("metrics.hourDays", msg));
    }
    Ok(HistoryPolicy { keep, max_bytes })
}

fn cores(cores: Option<usize>) -> Result<usize, ConfigError> {
    match cores {
        Some(n) if !(1..=MAX_CORES).contains(&n) => {
            Err(invalid("cores", format!("{n} is not in 1..={MAX_CORES}")))
        }
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_CORES))),
    }
}

/// The configured signing secret: absent or blank means "generate one"; the original's
/// published sample is ignored; anything shorter than [`MIN_SECRET_BYTES`] is refused (a
/// short HMAC key can be brute-forced offline from one captured token).
fn jwt_secret(secret: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(secret) = secret.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    if secret == ORIGINAL_PUBLIC_JWT_SECRET {
        tracing::warn!(
            "jwt.secret is the original's published sample secret; ignoring it and using a generated one"
        );
        return Ok(None);
    }
    if secret.len() < MIN_SECRET_BYTES {
        let msg = format!(
            "is {} bytes; use at least {MIN_SECRET_BYTES} random bytes (or remove it to have one generated)",
            secret.len()
        );
        return Err(invalid("jwt.secret", msg));
    }
    Ok(Some(secret))
}

fn validate_heartbeat(hb: &HeartbeatConfig) -> Result<(), ConfigError> {
    let interval = u64::try_from(hb.interval.as_millis()).unwrap_or(u64::MAX);
    if !HEARTBEAT_INTERVAL_RANGE_MS.contains(&interval) {
        return Err(invalid(
            "heartbeat.intervalMs",
            format!(
                "{interval} is not in {}..={}",
                HEARTBEAT_INTERVAL_RANGE_MS.start(),
                HEARTBEAT_INTERVAL_RANGE_MS.end()
            ),
        ));
    }
    if hb.ttl <= hb.interval {
        return Err(invalid(
            "heartbeat.ttlMs",
            "heartbeat.ttlMs must be greater than heartbeat.intervalMs",
        ));
    }
    if hb.jitter > hb.ttl {
        return Err(invalid(
            "heartbeat.jitterMs",
            "heartbeat.jitterMs must not exceed heartbeat.ttlMs",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
