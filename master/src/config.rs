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
//! metricsRetentionHours: 168
//! cores: 2                      # protocol endpoint executors; default: available cores
//! ioUring: auto                 # auto | on | off
//! ```
//!
//! Precedence, lowest first: built-in defaults, the file, [`MasterOverrides`] (flags and
//! their environment variables, parsed by clap in `main`), then `COMMANDER_DISABLE_IO_URING`
//! (see [`IoUringMode::from_env_and`]). Paths not set in the file are derived from the final
//! data directory, so `--data-dir` moves the databases too; relative paths are relative to
//! the working directory, as in the original. Port 0 is accepted for every port and means
//! "let the OS pick a free port" (tests use it).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

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
/// Default metric retention, hours (one week).
pub const DEFAULT_METRICS_RETENTION_HOURS: u64 = 168;
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
pub const DISABLE_IO_URING_ENV: &str = "COMMANDER_DISABLE_IO_URING";

/// Whether to use io_uring for the protocol endpoint.
///
/// Parsed from YAML by serde, from flags by clap or `FromStr` (`auto`, `on`, `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum IoUringMode {
    /// io_uring when the kernel allows it, else the portable runtime (the default).
    #[default]
    Auto,
    /// Require io_uring; starting fails where it is unavailable.
    On,
    /// Never use io_uring.
    Off,
}

impl IoUringMode {
    /// `mode`, or [`IoUringMode::Off`] when [`DISABLE_IO_URING_ENV`]
    /// (`COMMANDER_DISABLE_IO_URING`) is `1`, `true`, `yes` or `on` (any case). The variable
    /// wins over file and flags, so tests and seccomp-restricted containers can force the
    /// fallback.
    pub fn from_env_and(mode: IoUringMode) -> IoUringMode {
        let value = std::env::var(DISABLE_IO_URING_ENV).ok();
        Self::with_disable_flag(mode, value.as_deref())
    }

    /// The pure part of [`IoUringMode::from_env_and`]: `value` is the variable's content.
    pub fn with_disable_flag(mode: IoUringMode, value: Option<&str>) -> IoUringMode {
        let truthy = |v: &str| {
            ["1", "true", "yes", "on"]
                .iter()
                .any(|t| v.trim().eq_ignore_ascii_case(t))
        };
        if value.is_some_and(truthy) {
            IoUringMode::Off
        } else {
            mode
        }
    }
}

impl std::str::FromStr for IoUringMode {
    type Err = String;

    /// `auto`, `on` or `off`, any case.
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as clap::ValueEnum>::from_str(s.trim(), true)
            .map_err(|_| format!("unknown io_uring mode {s:?}; expected auto, on or off"))
    }
}

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
    /// How long metric samples are kept (`metricsRetentionHours`).
    pub metrics_retention: Duration,
    /// Executors of the protocol endpoint, at least 1.
    pub cores: usize,
    /// io_uring use, after overrides and the environment.
    pub io_uring: IoUringMode,
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

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a value of the wrong type; the message
    /// names the key and its line and column.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde_yaml_ng's message, with key path and location.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("invalid `{key}`: {message}")]
    Invalid {
        /// The key as written in the YAML file.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
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
    cores: Option<usize>,
    io_uring: Option<IoUringMode>,
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

/// A non-negative integer written as a number or a string of digits (the original wrote
/// ports as strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Number(u64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer (number or string such as \"18888\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                u64::try_from(v)
                    .map(Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse::<u64>()
                    .map(Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(NumberVisitor)
    }
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
    let raw = match path {
        None => RawMasterConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_raw(&text).map_err(|message| ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            })?
        }
    };
    let mut config = build(raw, overrides)?;
    config.io_uring = IoUringMode::with_disable_flag(config.io_uring, disable_io_uring);
    Ok(config)
}

/// Parses YAML text into a validated configuration (no overrides, no environment).
pub fn from_yaml_str(text: &str) -> Result<MasterConfig, ConfigError> {
    let raw = parse_raw(text).map_err(|message| ConfigError::Parse {
        path: PathBuf::from("<string>"),
        message,
    })?;
    build(raw, MasterOverrides::default())
}

fn parse_raw(text: &str) -> Result<RawMasterConfig, String> {
    // An empty file, or one with only comments, is a null document: all defaults.
    serde_yaml_ng::from_str::<Option<RawMasterConfig>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| e.to_string())
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
        (None, Some(Number(n))) => {
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
        jwt_secret: jwt_secret(jwt.secret),
        jwt_expire: Duration::from_secs(expire),
        heartbeat,
        metrics_retention: retention(raw.metrics_retention_hours)?,
        cores: cores(raw.cores)?,
        io_uring: o.io_uring.or(raw.io_uring).unwrap_or_default(),
    })
}

fn retention(hours: Option<u64>) -> Result<Duration, ConfigError> {
    let hours = hours.unwrap_or(DEFAULT_METRICS_RETENTION_HOURS);
    if !(1..=87_600).contains(&hours) {
        let msg = format!("{hours} is not in 1..=87600");
        return Err(invalid("metricsRetentionHours", msg));
    }
    Ok(Duration::from_secs(hours * 3600))
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

fn jwt_secret(secret: Option<String>) -> Option<String> {
    let secret = secret.filter(|s| !s.trim().is_empty())?;
    if secret == ORIGINAL_PUBLIC_JWT_SECRET {
        tracing::warn!(
            "jwt.secret is the original's published sample secret; ignoring it and using a generated one"
        );
        return None;
    }
    if secret.len() < 32 {
        tracing::warn!(
            len = secret.len(),
            "jwt.secret is short; use at least 32 random characters"
        );
    }
    Some(secret)
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

/// Checks a `host:port` address (IPv6 literals in brackets, port 1..=65535) and returns it
/// trimmed. `key` names the setting in the error.
pub fn validate_host_port(key: &'static str, addr: &str) -> Result<String, ConfigError> {
    let addr = addr.trim();
    let port = if let Some(rest) = addr.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid(key, format!("{addr:?}: missing `]` after IPv6 address")))?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| invalid(key, format!("{addr:?}: {inside:?} is not an IPv6 address")))?;
        after
            .strip_prefix(':')
            .ok_or_else(|| invalid(key, format!("{addr:?}: expected `[ipv6]:port`")))?
    } else {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, format!("{addr:?}: expected `host:port`")))?;
        if host.contains(':') {
            return Err(invalid(
                key,
                format!("{addr:?}: IPv6 addresses must be in brackets, e.g. `[::1]:17777`"),
            ));
        }
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(invalid(
                key,
                format!("{addr:?}: {host:?} is not a valid host name"),
            ));
        }
        port
    };
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(addr.to_string()),
        _ => Err(invalid(
            key,
            format!("{addr:?}: the port must be in 1..=65535"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Write;

    fn write_tmp(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The master block of the original's manual, byte for byte.
    const ORIGINAL: &str = r#"# http server 端口
httpServer:
  prod: 18888

# udp server 端口
udpServer:
  prod: 16666

# tcp server 端口
tcpServer:
  prod: 17777

# 可执行文件保存路径
exeStoreHousePath: "/media/data/exeStoreHouse"

# 项目的可执行文件保存路径
projectPath: "/media/data/projectPath"

# JWT  secret & expire
jwt:
  secret: asdasd786251ashdgjdbd
  expire: 86400

# 数据持久化保存路径
# data 常规数据持久化
# performance 性能采集持久化
dbPath:
  data: "/media/data/master_db/data.db"
  performance: "/media/data/master_db/performance.db"
"#;

    #[test]
    fn original_shape_parses() {
        let c = from_yaml_str(ORIGINAL).unwrap();
        assert_eq!(
            (c.http_addr, c.tcp_addr),
            (sa("127.0.0.1:18888"), sa("0.0.0.0:17777"))
        );
        assert_eq!(c.udp_port, 16666);
        assert_eq!(c.exe_store_dir, PathBuf::from("/media/data/exeStoreHouse"));
        assert_eq!(c.project_dir, PathBuf::from("/media/data/projectPath"));
        assert_eq!(
            c.db_data_dir,
            PathBuf::from("/media/data/master_db/data.db")
        );
        assert_eq!(
            c.db_performance_dir,
            PathBuf::from("/media/data/master_db/performance.db")
        );
        assert_eq!(c.jwt_expire, Duration::from_secs(86_400));
        assert_eq!(
            c.jwt_secret, None,
            "the published sample secret is not used"
        );
        // Ports and numbers as strings, as the original also wrote them.
        let c = from_yaml_str("httpServer: {prod: \"18889\"}\njwt: {expire: \"60\"}\n").unwrap();
        assert_eq!(
            (c.http_addr.port(), c.jwt_expire),
            (18889, Duration::from_secs(60))
        );
    }

    #[test]
    fn defaults_without_file_and_for_empty_file() {
        let c = load_with_env(None, MasterOverrides::default(), None).unwrap();
        assert_eq!(
            c.http_addr,
            SocketAddr::new(DEFAULT_HTTP_BIND, DEFAULT_HTTP_PORT)
        );
        assert_eq!(
            c.tcp_addr,
            SocketAddr::new(DEFAULT_TCP_BIND, DEFAULT_TCP_PORT)
        );
        assert_eq!(c.udp_port, DEFAULT_UDP_PORT);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.db_data_dir, Path::new(DEFAULT_DATA_DIR).join("db/data"));
        assert_eq!(
            c.db_performance_dir,
            Path::new(DEFAULT_DATA_DIR).join("db/performance")
        );
        let hb = c.heartbeat;
        let ms = [hb.interval, hb.ttl, hb.grace, hb.jitter].map(|d| d.as_millis());
        assert_eq!(ms, [5_000, 15_000, 10_000, 2_000]);
        assert_eq!(c.metrics_retention, Duration::from_secs(168 * 3600));
        assert!(c.cores >= 1);
        assert_eq!(
            (c.io_uring, &c.jwt_secret, &c.advertise_addr),
            (IoUringMode::Auto, &None, &None)
        );
        assert_eq!(c.effective_advertise_addr(17777), "127.0.0.1:17777");
        let f = write_tmp("# nothing but a comment\n");
        assert_eq!(
            load_with_env(Some(f.path()), MasterOverrides::default(), None).unwrap(),
            c
        );
    }

    /// (YAML, texts the error must contain): unknown keys, wrong types, bad values.
    const FAILURES: &[(&str, &[&str])] = &[
        (
            "httpServer:\n  prod: 1\n  dev: 2\n",
            &["`dev`", "httpServer", "line 3"],
        ),
        (
            "heartbeat: {intervalMs: 1000, ttl: 5}\n",
            &["heartbeat", "`ttl`"],
        ),
        ("dbpath: {}\n", &["dbpath"]),
        (
            "heartbeat:\n  ttlMs: soon\n",
            &["heartbeat.ttlMs", "line 2"],
        ),
        ("tcpServer: {prod: [1]}\n", &["tcpServer.prod"]),
        ("cores: -1\n", &["cores"]),
        ("ioUring: sometimes\n", &["ioUring"]),
        ("httpBind: localhost\n", &["httpBind"]),
        ("httpServer: {prod: 70000}\n", &["httpServer.prod", "70000"]),
        ("udpServer: {prod: \"-1\"}\n", &["udpServer.prod"]),
        ("tcpServer: {prod: 18888}\n", &["tcpServer.prod"]),
        (
            "heartbeat: {ttlMs: 5000}\n",
            &["heartbeat.ttlMs must be greater than heartbeat.intervalMs"],
        ),
        ("heartbeat: {intervalMs: 0}\n", &["heartbeat.intervalMs"]),
        ("heartbeat: {jitterMs: 20000}\n", &["heartbeat.jitterMs"]),
        ("metricsRetentionHours: 0\n", &["metricsRetentionHours"]),
        ("cores: 0\n", &["cores"]),
        ("jwt: {expire: 0}\n", &["jwt.expire"]),
        ("dataDir: \"\"\n", &["dataDir"]),
        (
            "dbPath: {data: /a, performance: /a}\n",
            &["dbPath.performance"],
        ),
        ("advertiseAddr: \"a:0\"\n", &["advertiseAddr"]),
        ("advertiseAddr: \"a:65536\"\n", &["advertiseAddr"]),
        ("advertiseAddr: \"a\"\n", &["advertiseAddr"]),
        (
            "advertiseAddr: \"::1:17777\"\n",
            &["advertiseAddr", "brackets"],
        ),
        ("advertiseAddr: \"[::1]\"\n", &["advertiseAddr"]),
        ("advertiseAddr: \"[x]:1\"\n", &["advertiseAddr"]),
        ("advertiseAddr: \"a/b:1\"\n", &["advertiseAddr"]),
    ];

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_are_named() {
        for (yaml, needles) in FAILURES {
            let msg = from_yaml_str(yaml).unwrap_err().to_string();
            for n in *needles {
                assert!(msg.contains(n), "{yaml:?}: {msg:?} lacks {n:?}");
            }
        }
        let f = write_tmp("httpServer:\n  prod: 1\n  dev: 2\n");
        let e = load_with_env(Some(f.path()), MasterOverrides::default(), None).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
    }

    #[test]
    fn port_zero_means_any_free_port_and_binds_shape_advertise() {
        let yaml = "httpServer: {prod: 0}\ntcpServer: {prod: 0}\nudpServer: {prod: 0}\n";
        let c = from_yaml_str(yaml).unwrap();
        assert_eq!(
            (c.http_addr.port(), c.tcp_addr.port(), c.udp_port),
            (0, 0, 0)
        );
        assert_eq!(c.effective_advertise_addr(40001), "127.0.0.1:40001");
        let c = from_yaml_str("tcpBind: \"::1\"\nhttpBind: \"[::]\"\n").unwrap();
        assert_eq!(c.effective_advertise_addr(17777), "[::1]:17777");
        assert_eq!(c.http_addr, sa("[::]:18888"));
        let c = from_yaml_str("advertiseAddr: \"[2001:db8::1]:17777\"\n").unwrap();
        assert_eq!(c.effective_advertise_addr(1), "[2001:db8::1]:17777");
    }

    #[test]
    fn overrides_win_and_paths_follow_data_dir() {
        let f = write_tmp(
            "dataDir: /file\nhttpServer: {prod: 1}\ntcpServer: {prod: 2}\nudpServer: {prod: 3}\n\
             httpBind: 127.0.0.1\nadvertiseAddr: a:1\nioUring: on\ndbPath: {performance: /perf}\n",
        );
        let o = MasterOverrides {
            data_dir: Some("/flag".into()),
            http_port: Some(11),
            tcp_port: Some(12),
            udp_port: Some(13),
            http_bind: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            advertise_addr: Some("b.example:12".into()),
            io_uring: Some(IoUringMode::Off),
        };
        let c = load_with_env(Some(f.path()), o, None).unwrap();
        assert_eq!(
            (c.http_addr, c.tcp_addr.port(), c.udp_port),
            (sa("0.0.0.0:11"), 12, 13)
        );
        assert_eq!(c.advertise_addr.as_deref(), Some("b.example:12"));
        assert_eq!(c.io_uring, IoUringMode::Off);
        assert_eq!(c.data_dir, PathBuf::from("/flag"));
        assert_eq!(
            c.db_data_dir,
            PathBuf::from("/flag/db/data"),
            "default follows data_dir"
        );
        assert_eq!(
            c.db_performance_dir,
            PathBuf::from("/perf"),
            "explicit path stays"
        );
        assert_eq!(c.exe_store_dir, PathBuf::from("/flag/executables"));
        assert_eq!(c.project_dir, PathBuf::from("/flag/projects"));

        let env_off = load_with_env(Some(f.path()), MasterOverrides::default(), Some("yes"));
        assert_eq!(
            env_off.unwrap().io_uring,
            IoUringMode::Off,
            "the environment forces off"
        );
        let env_no = load_with_env(Some(f.path()), MasterOverrides::default(), Some("0"));
        assert_eq!(env_no.unwrap().io_uring, IoUringMode::On);
        let bad = MasterOverrides {
            advertise_addr: Some("nope".into()),
            ..Default::default()
        };
        assert!(load_with_env(None, bad, None).is_err());
        let missing = Path::new("/nonexistent/configs.yaml");
        let e = load_with_env(Some(missing), MasterOverrides::default(), None);
        assert!(matches!(e, Err(ConfigError::Read { .. })));
    }

    #[test]
    fn io_uring_modes_and_secrets() {
        use clap::ValueEnum;
        assert_eq!(
            IoUringMode::from_str("Auto", true).unwrap(),
            IoUringMode::Auto
        );
        assert!(IoUringMode::from_str("x", true).is_err());
        assert_eq!(
            IoUringMode::with_disable_flag(IoUringMode::Auto, Some("1")),
            IoUringMode::Off
        );
        assert_eq!(
            IoUringMode::with_disable_flag(IoUringMode::Auto, None),
            IoUringMode::Auto
        );
        let c = from_yaml_str("jwt: {secret: \"0123456789abcdef0123456789abcdef\"}\n").unwrap();
        assert_eq!(
            c.jwt_secret.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            from_yaml_str("jwt: {secret: \"  \"}\n").unwrap().jwt_secret,
            None
        );
    }
}
