//! Tests of the master configuration.
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
    assert_eq!(c.metrics, HistoryPolicy::default());
    assert_eq!(c.metrics.keep.raw_ms, 24 * 3_600_000);
    assert!(c.cores >= 1);
    assert_eq!(
        (c.io_uring, &c.jwt_secret, &c.advertise_addr),
        (IoUringMode::Auto, &None, &None)
    );
    assert_eq!(c.effective_advertise_addr(17777), "127.0.0.1:17777");
    assert_eq!(c.protocol, ProtocolConfig::default());
    assert_eq!(c.protocol.handshake_timeout, Duration::from_secs(5));
    assert_eq!(
        (
            c.protocol.max_unauthenticated,
            c.protocol.max_unauthenticated_per_address,
            c.protocol.descriptor_reserve
        ),
        (256, 16, 128)
    );
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
    (
        "metricsRetentionHours: 2\nmetrics: {rawHours: 2}\n",
        &["metricsRetentionHours", "not both"],
    ),
    (
        "metrics: {rawHours: 0}\n",
        &["metrics.rawHours", "1..=8760"],
    ),
    ("metrics: {minuteDays: 0}\n", &["metrics.minuteDays"]),
    ("metrics: {hourDays: 36501}\n", &["metrics.hourDays"]),
    ("metrics: {maxBytes: 1024}\n", &["metrics.maxBytes"]),
    (
        "metrics: {rawHours: 48, minuteDays: 1}\n",
        &["metrics.minuteDays", "at least as long"],
    ),
    (
        "metrics: {minuteDays: 30, hourDays: 7}\n",
        &["metrics.hourDays"],
    ),
    ("metrics: {raw: 1}\n", &["`raw`"]),
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
    ("protocol: {handshakeTimeout: 1}\n", &["`handshakeTimeout`"]),
    (
        "protocol: {handshakeTimeoutMs: 0}\n",
        &["protocol.handshakeTimeoutMs", "100..=60000"],
    ),
    (
        "protocol: {maxUnauthenticated: 0}\n",
        &["protocol.maxUnauthenticated"],
    ),
    (
        "protocol: {maxUnauthenticated: 8, maxUnauthenticatedPerAddress: 9}\n",
        &["protocol.maxUnauthenticatedPerAddress", "exceeds"],
    ),
    (
        "protocol: {descriptorReserve: 2}\n",
        &["protocol.descriptorReserve"],
    ),
];

#[test]
fn the_metrics_section_sets_the_history_tiers() {
    let c = from_yaml_str(
        "metrics:\n  rawHours: 6\n  minuteDays: 2\n  hourDays: 30\n  maxBytes: 1073741824\n",
    )
    .unwrap();
    let keep = c.metrics.keep;
    assert_eq!(
        (
            keep.raw_ms,
            keep.minute_ms,
            keep.hour_ms,
            c.metrics.max_bytes
        ),
        (6 * 3_600_000, 2 * 86_400_000, 30 * 86_400_000, 1 << 30)
    );
    // The key from before the tiers still sets the raw tier.
    let c = from_yaml_str("metricsRetentionHours: 12\n").unwrap();
    assert_eq!(c.metrics.keep.raw_ms, 12 * 3_600_000);
    assert_eq!(c.metrics.keep.minute_ms, 7 * 86_400_000);
}

#[test]
fn the_protocol_section_sets_the_slave_port_limits() {
    let c = from_yaml_str(
        "protocol:\n  handshakeTimeoutMs: 2500\n  maxUnauthenticated: 64\n  maxUnauthenticatedPerAddress: 4\n  descriptorReserve: 512\n",
    )
    .unwrap();
    assert_eq!(
        c.protocol,
        ProtocolConfig {
            handshake_timeout: Duration::from_millis(2500),
            max_unauthenticated: 64,
            max_unauthenticated_per_address: 4,
            descriptor_reserve: 512,
        }
    );
}

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
    assert_eq!("Auto".parse::<IoUringMode>().unwrap(), IoUringMode::Auto);
    assert!("x".parse::<IoUringMode>().is_err());
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

#[test]
fn a_short_jwt_secret_is_refused_at_load() {
    use crate::accounts::token::MIN_SECRET_BYTES;
    // One byte short of the minimum: refused, naming the key, without echoing the secret.
    let short = "s".repeat(MIN_SECRET_BYTES - 1);
    let e = from_yaml_str(&format!("jwt: {{secret: \"{short}\"}}\n")).unwrap_err();
    match &e {
        ConfigError::Invalid { key, message } => {
            assert_eq!(*key, "jwt.secret");
            assert!(message.contains("31 bytes"), "{message}");
            assert!(
                !message.contains(&short),
                "the secret is not echoed: {message}"
            );
        }
        other => panic!("not an invalid key: {other:?}"),
    }
    assert!(e.to_string().contains("jwt.secret"), "{e}");
    let e = from_yaml_str("jwt: {secret: \"tiny\"}\n").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                key: "jwt.secret",
                ..
            }
        ),
        "{e}"
    );
    // Exactly the minimum is accepted; multi-byte characters count as bytes.
    let exact = "s".repeat(MIN_SECRET_BYTES);
    let c = from_yaml_str(&format!("jwt: {{secret: \"{exact}\"}}\n")).unwrap();
    assert_eq!(c.jwt_secret.as_deref(), Some(exact.as_str()));
    let wide = "é".repeat(MIN_SECRET_BYTES / 2);
    assert!(from_yaml_str(&format!("jwt: {{secret: \"{wide}\"}}\n")).is_ok());
}
