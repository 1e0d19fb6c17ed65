//! Slave configuration: a YAML file (`configs.yaml`, keys compatible with the original
//! agent) read in two stages.
//!
//! 1. Private serde structs accept exactly the keys below and
//!    reject anything else, naming the unknown key and its line and column.
//! 2. [`SlaveConfig`] holds validated values with the `DEFAULT_*` constants filled in.
//!
//! ```yaml
//! # master address: Commander slaves dial the master's TCP protocol port (17777)
//! master:
//!   host: 192.168.0.9
//!   port: 17777
//! dataDir: ./data/slave              # new: where the slave keeps its key and state
//! dockerSocket: /var/run/docker.sock # new
//! ioUring: auto                      # new: auto | on | off
//! hostsFile: /etc/hosts              # new: the hosts file the master may view and edit
//! bindRoots: [/srv, /data]           # new: host directories containers may bind-mount
//! workloads:                         # new: the project replicas and gateways it runs
//!   enabled: true                    #   run what the master assigns (default true)
//!   advertiseAddress: 10.0.0.5       #   where other hosts reach its published ports
//!   reconcileIntervalMs: 2000        #   time between two full reconciles
//! # accepted for compatibility with the original and ignored:
//! masterHttp: "http://192.168.0.9:18888"
//! exeStoreHousePath: "/home/exeStoreHousePath_Linux/"
//! exeStoreHouseLogs: "/home/exeStoreHouseLogs/"
//! projectExeStoreHousePath: "/home/projectExeStoreHousePath_Linux/"
//! dbPath: { data: "/home/slave_linux_db/data.db" }
//! fileServer: { port: 18889, secret: "..." }
//! ```
//!
//! Precedence, lowest first: built-in defaults, the file, [`SlaveOverrides`] (command-line
//! flags and their environment variables, parsed by the `commander` binary), and finally
//! `COMMANDER_DISABLE_IO_URING=1`, which forces io_uring off whatever else says (see
//! [`IoUringMode::from_env_and`]). Relative paths are relative to the working directory, as
//! in the original.

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default data directory of the slave (its key, node id and local state).
pub const DEFAULT_DATA_DIR: &str = "./data/slave";
/// Default Docker Engine socket.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Port used when `master.host` is given without `master.port`: the master's TCP protocol
/// port.
pub const DEFAULT_MASTER_PORT: u16 = 17777;
/// The original's master UDP port; still accepted, but a slave dialling it reaches nothing
/// unless the master's TCP port was moved there, so loading it logs a warning.
pub const ORIGINAL_MASTER_UDP_PORT: u16 = 16666;
/// Default hosts file the master may view and edit.
pub const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";
/// Default host directories under which containers may bind-mount paths.
pub const DEFAULT_BIND_ROOTS: &[&str] = &["/srv", "/data"];
pub use plumbing::io_uring::{DISABLE_IO_URING_ENV, IoUringMode};
/// Default time between two full reconciles of the workloads, ms.
pub const DEFAULT_RECONCILE_INTERVAL_MS: u64 = 2000;
/// Shortest accepted `workloads.reconcileIntervalMs`.
pub const MIN_RECONCILE_INTERVAL_MS: u64 = 100;
/// Longest accepted `workloads.reconcileIntervalMs` (10 minutes).
pub const MAX_RECONCILE_INTERVAL_MS: u64 = 600_000;

/// The `workloads` section: the project replicas and gateways the master assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadsConfig {
    /// Run what the master assigns (and what was stored before a restart).
    pub enabled: bool,
    /// The address at which other hosts reach this slave's published ports; health probes
    /// go there too. `None`: 127.0.0.1 for probes, and the master uses the address the
    /// session comes from.
    pub advertise_address: Option<IpAddr>,
    /// Time between two full reconciles.
    pub reconcile_interval: Duration,
}

impl Default for WorkloadsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            advertise_address: None,
            reconcile_interval: Duration::from_millis(DEFAULT_RECONCILE_INTERVAL_MS),
        }
    }
}

/// Validated slave configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaveConfig {
    /// Master protocol address as `host:port` (IPv6 in brackets), when configured; a join
    /// token carries one too.
    pub master_addr: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Docker Engine unix socket.
    pub docker_socket: PathBuf,
    /// io_uring use, after overrides and the environment.
    pub io_uring: IoUringMode,
    /// The hosts file host operations view and edit.
    pub hosts_file: PathBuf,
    /// Host directories under which containers may bind-mount paths (empty: none).
    pub bind_roots: Vec<PathBuf>,
    /// Workloads (replicas and gateways).
    pub workloads: WorkloadsConfig,
}

impl Default for SlaveConfig {
    fn default() -> Self {
        Self {
            master_addr: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            docker_socket: PathBuf::from(DEFAULT_DOCKER_SOCKET),
            io_uring: IoUringMode::Auto,
            hosts_file: PathBuf::from(DEFAULT_HOSTS_FILE),
            bind_roots: DEFAULT_BIND_ROOTS.iter().map(PathBuf::from).collect(),
            workloads: WorkloadsConfig::default(),
        }
    }
}

/// Values from the command line (or their environment variables) that win over the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaveOverrides {
    /// Master address, `host:port`.
    pub master: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// io_uring mode.
    pub io_uring: Option<IoUringMode>,
}

pub use plumbing::addr::validate_host_port;
pub use plumbing::config_file::ConfigError;
use plumbing::config_file::{Port, parse_str_or_default, read_or_default};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSlaveConfig {
    master: Option<RawMaster>,
    master_http: Option<String>,
    exe_store_house_path: Option<String>,
    exe_store_house_logs: Option<String>,
    project_exe_store_house_path: Option<String>,
    db_path: Option<RawDbPath>,
    file_server: Option<RawFileServer>,
    data_dir: Option<PathBuf>,
    docker_socket: Option<PathBuf>,
    io_uring: Option<IoUringMode>,
    hosts_file: Option<PathBuf>,
    bind_roots: Option<Vec<PathBuf>>,
    workloads: Option<RawWorkloads>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWorkloads {
    enabled: Option<bool>,
    advertise_address: Option<String>,
    reconcile_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMaster {
    host: Option<String>,
    port: Option<Port>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDbPath {
    #[allow(dead_code)]
    data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFileServer {
    #[allow(dead_code)]
    port: Option<Port>,
    #[allow(dead_code)]
    secret: Option<String>,
}

/// Loads the configuration: defaults, then the file at `path` (if any), then `overrides`,
/// then `COMMANDER_DISABLE_IO_URING`. No file means defaults; a named file that is missing
/// is an error.
pub fn load(path: Option<&Path>, overrides: SlaveOverrides) -> Result<SlaveConfig, ConfigError> {
    let env = std::env::var(DISABLE_IO_URING_ENV).ok();
    load_with_env(path, overrides, env.as_deref())
}

/// [`load`] with the value of `COMMANDER_DISABLE_IO_URING` passed in (for tests).
pub fn load_with_env(
    path: Option<&Path>,
    overrides: SlaveOverrides,
    disable_io_uring: Option<&str>,
) -> Result<SlaveConfig, ConfigError> {
    let raw: RawSlaveConfig = read_or_default(path)?;
    let mut config = validate(raw)?;
    apply_overrides(&mut config, overrides)?;
    config.io_uring = IoUringMode::with_disable_flag(config.io_uring, disable_io_uring);
    Ok(config)
}

/// Parses YAML text into a validated configuration (no overrides, no environment).
pub fn from_yaml_str(text: &str) -> Result<SlaveConfig, ConfigError> {
    validate(parse_str_or_default(text)?)
}

fn validate(raw: RawSlaveConfig) -> Result<SlaveConfig, ConfigError> {
    let mut config = SlaveConfig::default();
    for (key, present) in [
        ("masterHttp", raw.master_http.is_some()),
        ("exeStoreHousePath", raw.exe_store_house_path.is_some()),
        ("exeStoreHouseLogs", raw.exe_store_house_logs.is_some()),
        (
            "projectExeStoreHousePath",
            raw.project_exe_store_house_path.is_some(),
        ),
        ("dbPath", raw.db_path.is_some()),
        ("fileServer", raw.file_server.is_some()),
    ] {
        if present {
            tracing::info!(
                key,
                "config key accepted for compatibility with the original and ignored"
            );
        }
    }
    if let Some(master) = raw.master {
        config.master_addr = master_from_parts(master)?;
    }
    if let Some(dir) = raw.data_dir {
        config.data_dir = non_empty_path("dataDir", dir)?;
    }
    if let Some(socket) = raw.docker_socket {
        config.docker_socket = non_empty_path("dockerSocket", socket)?;
    }
    if let Some(mode) = raw.io_uring {
        config.io_uring = mode;
    }
    if let Some(file) = raw.hosts_file {
        config.hosts_file = non_empty_path("hostsFile", file)?;
    }
    if let Some(roots) = raw.bind_roots {
        config.bind_roots = roots
            .into_iter()
            .map(checked_bind_root)
            .collect::<Result<_, _>>()?;
    }
    if let Some(w) = raw.workloads {
        config.workloads = workloads(w)?;
    }
    Ok(config)
}

fn workloads(raw: RawWorkloads) -> Result<WorkloadsConfig, ConfigError> {
    let mut w = WorkloadsConfig::default();
    if let Some(enabled) = raw.enabled {
        w.enabled = enabled;
    }
    if let Some(addr) = raw.advertise_address.as_deref().map(str::trim)
        && !addr.is_empty()
    {
        let ip = addr.parse::<IpAddr>().map_err(|_| {
            ConfigError::invalid(
                "workloads.advertiseAddress",
                format!("{addr:?} is not an IP address"),
            )
        })?;
        if ip.is_unspecified() {
            return Err(ConfigError::invalid(
                "workloads.advertiseAddress",
                "must be an address other hosts can reach, not 0.0.0.0 or ::",
            ));
        }
        w.advertise_address = Some(ip);
    }
    if let Some(ms) = raw.reconcile_interval_ms {
        if !(MIN_RECONCILE_INTERVAL_MS..=MAX_RECONCILE_INTERVAL_MS).contains(&ms) {
            return Err(ConfigError::invalid(
                "workloads.reconcileIntervalMs",
                format!("must be in {MIN_RECONCILE_INTERVAL_MS}..={MAX_RECONCILE_INTERVAL_MS}"),
            ));
        }
        w.reconcile_interval = Duration::from_millis(ms);
    }
    Ok(w)
}

/// One `bindRoots` entry, resolved to its canonical path and checked there
/// ([`crate::docker::ops::resolve_bind_root`]); a missing root is refused.
fn checked_bind_root(root: PathBuf) -> Result<PathBuf, ConfigError> {
    crate::docker::ops::resolve_bind_root(&root)
        .map_err(|e| ConfigError::invalid("bindRoots", e.to_string()))
}

fn apply_overrides(config: &mut SlaveConfig, o: SlaveOverrides) -> Result<(), ConfigError> {
    if let Some(master) = o.master {
        config.master_addr = Some(validate_host_port("master", &master)?);
    }
    if let Some(dir) = o.data_dir {
        config.data_dir = non_empty_path("dataDir", dir)?;
    }
    if let Some(mode) = o.io_uring {
        config.io_uring = mode;
    }
    Ok(())
}

fn non_empty_path(key: &'static str, path: PathBuf) -> Result<PathBuf, ConfigError> {
    if path.as_os_str().is_empty() {
        return Err(ConfigError::Invalid {
            key,
            message: "must not be empty".into(),
        });
    }
    Ok(path)
}

fn master_from_parts(master: RawMaster) -> Result<Option<String>, ConfigError> {
    let host = match master.host.as_deref().map(str::trim) {
        None | Some("") if master.port.is_none() => return Ok(None),
        None | Some("") => {
            return Err(ConfigError::Invalid {
                key: "master.host",
                message: "must be set when master.port is".into(),
            });
        }
        Some(host) => host,
    };
    let port = master.port.map_or(DEFAULT_MASTER_PORT, |p| p.0);
    if port == 0 {
        return Err(ConfigError::Invalid {
            key: "master.port",
            message: "must be in 1..=65535".into(),
        });
    }
    if port == ORIGINAL_MASTER_UDP_PORT {
        tracing::warn!(
            port,
            "master.port is the original's UDP port; Commander slaves dial the master's TCP \
             port (default {DEFAULT_MASTER_PORT})"
        );
    }
    let host_part = match host.parse::<Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => host.to_string(),
    };
    validate_host_port("master.host", &format!("{host_part}:{port}")).map(Some)
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

    #[test]
    fn original_shape_parses() {
        let yaml = r#"
# master UDP 通讯地址
master:
  host: 192.168.0.9
  port: 16666
masterHttp: "http://192.168.0.9:18888"
exeStoreHousePath: "/home/exeStoreHousePath_Linux/"
exeStoreHouseLogs: "/home/exeStoreHouseLogs/"
projectExeStoreHousePath: "/home/projectExeStoreHousePath_Linux/"
dbPath:
  data: "/home/slave_linux_db/data.db"
fileServer:
  port: "18889"
  secret: abc
"#;
        let c = from_yaml_str(yaml).unwrap();
        assert_eq!(c.master_addr.as_deref(), Some("192.168.0.9:16666"));
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn defaults_without_file_and_for_empty_file() {
        let c = load_with_env(None, SlaveOverrides::default(), None).unwrap();
        assert_eq!(c, SlaveConfig::default());
        assert_eq!(c.docker_socket, PathBuf::from(DEFAULT_DOCKER_SOCKET));
        assert_eq!(c.io_uring, IoUringMode::Auto);
        let f = write_tmp("# only a comment\n");
        let c = load_with_env(Some(f.path()), SlaveOverrides::default(), None).unwrap();
        assert_eq!(c, SlaveConfig::default());
    }

    #[test]
    fn workloads_section() {
        let c = from_yaml_str("dataDir: /x\n").unwrap();
        assert_eq!(c.workloads, WorkloadsConfig::default());
        assert!(c.workloads.enabled);
        assert_eq!(c.workloads.reconcile_interval, Duration::from_millis(2000));
        let c = from_yaml_str(
            "workloads:\n  enabled: false\n  advertiseAddress: 10.0.0.5\n  reconcileIntervalMs: 500\n",
        )
        .unwrap();
        assert!(!c.workloads.enabled);
        assert_eq!(
            c.workloads.advertise_address,
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(c.workloads.reconcile_interval, Duration::from_millis(500));
        for (bad, key) in [
            (
                "workloads:\n  advertiseAddress: slave.example\n",
                "workloads.advertiseAddress",
            ),
            (
                "workloads:\n  advertiseAddress: 0.0.0.0\n",
                "workloads.advertiseAddress",
            ),
            (
                "workloads:\n  reconcileIntervalMs: 5\n",
                "workloads.reconcileIntervalMs",
            ),
        ] {
            let err = from_yaml_str(bad).unwrap_err().to_string();
            assert!(err.contains(key), "{bad:?}: {err}");
        }
        let err = from_yaml_str("workloads:\n  advertise: 1.2.3.4\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("advertise"), "{err}");
    }

    #[test]
    fn unknown_key_is_named_with_location() {
        let f = write_tmp("dataDir: /x\nmasterr:\n  host: a\n");
        let err = load_with_env(Some(f.path()), SlaveOverrides::default(), None).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(msg.contains("masterr"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let err = from_yaml_str("master:\n  hots: a\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hots") && err.contains("master"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = from_yaml_str("master:\n  host: a\n  port: [1]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("master.port"), "{err}");
        let err = from_yaml_str("ioUring: sometimes\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ioUring") || err.contains("sometimes"),
            "{err}"
        );
        let err = from_yaml_str("dataDir: {a: 1}\n").unwrap_err().to_string();
        assert!(err.contains("dataDir"), "{err}");
    }

    #[test]
    fn bad_ports_are_rejected() {
        let err = from_yaml_str("master: {host: a, port: 70000}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("master.port") && err.contains("70000"),
            "{err}"
        );
        let err = from_yaml_str("master: {host: a, port: 0}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("master.port"), "{err}");
        let err = from_yaml_str("master: {host: a, port: \"x1\"}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("master.port"), "{err}");
        for bad in [
            "a:0",
            "a:65536",
            "a",
            ":17777",
            "::1:17777",
            "[::1",
            "[zz]:1",
            "a b:1",
        ] {
            assert!(validate_host_port("master", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_normalised() {
        let c = from_yaml_str("master: {host: \"::1\", port: \"17777\"}\n").unwrap();
        assert_eq!(c.master_addr.as_deref(), Some("[::1]:17777"));
        let c = from_yaml_str("master: {host: master.example}\n").unwrap();
        assert_eq!(c.master_addr.as_deref(), Some("master.example:17777"));
        assert_eq!(
            validate_host_port("m", " [fe80::1]:1 ").unwrap(),
            "[fe80::1]:1"
        );
        assert_eq!(
            validate_host_port("m", "10.0.0.1:65535").unwrap(),
            "10.0.0.1:65535"
        );
        let err = from_yaml_str("master: {port: 17777}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("master.host"), "{err}");
    }

    #[test]
    fn overrides_win_and_env_forces_off() {
        let f = write_tmp("master: {host: a, port: 1}\ndataDir: /file\nioUring: on\n");
        let o = SlaveOverrides {
            master: Some("b:2".into()),
            data_dir: Some("/flag".into()),
            io_uring: Some(IoUringMode::Auto),
        };
        let c = load_with_env(Some(f.path()), o.clone(), None).unwrap();
        assert_eq!(c.master_addr.as_deref(), Some("b:2"));
        assert_eq!(c.data_dir, PathBuf::from("/flag"));
        assert_eq!(c.io_uring, IoUringMode::Auto);
        let c = load_with_env(Some(f.path()), SlaveOverrides::default(), Some("1")).unwrap();
        assert_eq!(c.io_uring, IoUringMode::Off);
        let c = load_with_env(Some(f.path()), SlaveOverrides::default(), Some("0")).unwrap();
        assert_eq!(c.io_uring, IoUringMode::On);
        let bad = SlaveOverrides {
            master: Some("b".into()),
            ..Default::default()
        };
        assert!(load_with_env(None, bad, None).is_err());
    }

    #[test]
    fn io_uring_mode_parsing() {
        assert_eq!("OFF".parse::<IoUringMode>().unwrap(), IoUringMode::Off);
        assert!("maybe".parse::<IoUringMode>().is_err());
        assert_eq!(
            IoUringMode::with_disable_flag(IoUringMode::On, Some("TRUE")),
            IoUringMode::Off
        );
        assert_eq!(
            IoUringMode::with_disable_flag(IoUringMode::On, Some("")),
            IoUringMode::On
        );
    }

    #[test]
    fn hosts_file_and_bind_roots() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("apps")).unwrap();
        std::fs::create_dir(real.join("data")).unwrap();
        let c = from_yaml_str(&format!(
            "hostsFile: /tmp/h\nbindRoots: [{0}/apps, {0}/data]\n",
            real.display()
        ))
        .unwrap();
        assert_eq!(c.hosts_file, PathBuf::from("/tmp/h"));
        assert_eq!(c.bind_roots, vec![real.join("apps"), real.join("data")]);
        let c = from_yaml_str("bindRoots: []\n").unwrap();
        assert!(c.bind_roots.is_empty());
        for bad in [
            "/",
            "/etc",
            "/etc/app",
            "relative",
            "/srv/../etc",
            "/var",
            "/var/lib",
        ] {
            let err = from_yaml_str(&format!("bindRoots: [\"{bad}\"]\n")).unwrap_err();
            assert!(err.to_string().contains("bindRoots"), "{bad}: {err}");
        }
        assert!(from_yaml_str("hostsFile: ''\n").is_err());
    }

    /// Finding 10: roots are canonicalised before they are checked.
    #[test]
    fn bind_roots_are_checked_where_they_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("apps")).unwrap();
        let load = |root: &Path| from_yaml_str(&format!("bindRoots: [\"{}\"]\n", root.display()));
        // A root that is a link to a system directory is refused, naming the key.
        for target in ["/", "/etc"] {
            let link = real.join(format!("link{}", target.replace('/', "-")));
            std::os::unix::fs::symlink(target, &link).unwrap();
            let e = load(&link).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        key: "bindRoots",
                        ..
                    }
                ),
                "{target}: {e}"
            );
            assert!(e.to_string().contains("resolves to"), "{e}");
        }
        // A root given through a link, or with `..`, is kept as what it resolves to.
        let link = real.join("to-apps");
        std::os::unix::fs::symlink(real.join("apps"), &link).unwrap();
        assert_eq!(load(&link).unwrap().bind_roots, vec![real.join("apps")]);
        let dotted = real.join("apps/../apps");
        assert_eq!(load(&dotted).unwrap().bind_roots, vec![real.join("apps")]);
        // A missing root, a file, and a dangling link are refused at load.
        let e = load(&real.join("missing")).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Invalid {
                    key: "bindRoots",
                    ..
                }
            ),
            "{e}"
        );
        std::fs::write(real.join("file"), b"x").unwrap();
        assert!(load(&real.join("file")).is_err());
        std::os::unix::fs::symlink(real.join("gone"), real.join("dangling")).unwrap();
        assert!(load(&real.join("dangling")).is_err());
    }

    #[test]
    fn missing_named_file_is_an_error() {
        let err = load_with_env(
            Some(Path::new("/nonexistent/c.yaml")),
            SlaveOverrides::default(),
            None,
        );
        assert!(matches!(err, Err(ConfigError::Read { .. })));
    }
}
