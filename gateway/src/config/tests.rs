//! Unit tests of configuration parsing and validation.

use super::*;

#[test]
fn minimal_form_gets_every_default() {
    let c = Config::from_yaml(
        "gateways:\n  - name: web\n    listen: 127.0.0.1:8080\n    upstreams: [127.0.0.1:9001, 127.0.0.1:9002]\n",
    )
    .unwrap();
    assert_eq!(c.workers, default_workers());
    assert!(c.io_uring && !c.pin_cpus && c.admin.is_none());
    let g = &c.gateways[0];
    assert_eq!(g.name, "web");
    assert_eq!(g.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(g.upstreams.len(), 2);
    assert_eq!(g.upstreams[1].weight, DEFAULT_WEIGHT);
    assert_eq!(g.algorithm, DEFAULT_ALGORITHM);
    assert_eq!(g.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(g.retries, DEFAULT_RETRIES);
    assert_eq!(g.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    assert_eq!(g.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
    assert_eq!(g.health, HealthConfig::default());
    assert!(g.proxy_protocol.is_none() && g.max_conns.is_none() && !g.per_ip.is_active());
    assert_eq!(g.relay, DEFAULT_RELAY);
}

#[test]
fn full_form_parses_every_key() {
    let yaml = r#"
workers: 3
pin_cpus: true
io_uring: false
admin: 127.0.0.1:9900
gateways:
  - name: api.v2
    listen: "[::1]:8443"
    upstreams:
      - 10.0.0.1:80
      - {addr: 10.0.0.2:80, weight: 5}
    algorithm: least_conn
    health: {interval: 500ms, timeout: 200ms, rise: 1, fall: 2, http: {path: /healthz, expect_status: 204}}
    connect_timeout: 1.5s
    retries: 4
    allow: [10.0.0.0/8, "::1"]
    deny: [10.9.0.0/16]
    per_ip: {rate: 2.5, burst: 10, max_conns: 7}
    max_conns: 1000
    idle_timeout: 1m
    proxy_protocol: v2
    drain_timeout: 5
    relay: splice
"#;
    let c = Config::from_yaml(yaml).unwrap();
    assert_eq!(c.workers, 3);
    assert!(c.pin_cpus && !c.io_uring);
    let admin = c.admin.clone().unwrap();
    assert_eq!(admin.bind, "127.0.0.1:9900".parse().unwrap());
    assert_eq!(admin.token, None);
    let g = c.gateway("api.v2").unwrap();
    assert_eq!(g.listen, "[::1]:8443".parse().unwrap());
    assert_eq!(g.upstreams[1].weight, 5);
    assert_eq!(g.algorithm, Algorithm::LeastConn);
    assert_eq!(g.health.interval, Duration::from_millis(500));
    assert_eq!(g.health.rise, 1);
    let http = g.health.http.as_ref().unwrap();
    assert_eq!((http.path.as_str(), http.expect_status), ("/healthz", 204));
    assert_eq!(g.connect_timeout, Duration::from_millis(1500));
    assert_eq!(g.retries, 4);
    assert_eq!(g.allow.len(), 2);
    assert_eq!(g.deny[0].to_string(), "10.9.0.0/16");
    let rate = g.per_ip.rate.unwrap();
    assert_eq!((rate.per_second, rate.burst), (2.5, 10));
    assert_eq!(g.per_ip.max_conns, Some(7));
    assert_eq!(g.max_conns, Some(1000));
    assert_eq!(g.idle_timeout, Duration::from_secs(60));
    assert_eq!(g.proxy_protocol, Some(ProxyProtocol::V2));
    assert_eq!(g.drain_timeout, Duration::from_secs(5));
    assert_eq!(g.relay, RelayMode::Splice);
}

fn key_of(yaml: &str) -> String {
    match Config::from_yaml(yaml) {
        Err(e) => e.key().map(str::to_string).unwrap_or_else(|| e.to_string()),
        Ok(_) => panic!("accepted: {yaml}"),
    }
}

const HEAD: &str =
    "gateways:\n  - name: a\n    listen: 127.0.0.1:1\n    upstreams: [127.0.0.1:2]\n";

#[test]
fn errors_name_the_offending_key() {
    assert_eq!(
        key_of(&format!("{HEAD}    algorithm: random\n")),
        "gateways[0].algorithm"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    health: {{rise: 0}}\n")),
        "gateways[0].health.rise"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    allow: [10.0.0.0/8, nope]\n")),
        "gateways[0].allow[1]"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    idle_timeout: 5 parsecs\n")),
        "gateways[0].idle_timeout"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    connect_timeout: 0s\n")),
        "gateways[0].connect_timeout"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    per_ip: {{rate: -1}}\n")),
        "gateways[0].per_ip.rate"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    per_ip: {{burst: 3}}\n")),
        "gateways[0].per_ip.burst"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    proxy_protocol: v3\n")),
        "gateways[0].proxy_protocol"
    );
    assert_eq!(
        key_of(&format!("{HEAD}    health: {{http: {{path: nope}}}}\n")),
        "gateways[0].health.http.path"
    );
    assert_eq!(key_of("workers: 0\n"), "workers");
    assert_eq!(key_of("admin: nowhere\n"), "admin");
    assert_eq!(
        key_of(
            "gateways:\n  - name: a\n    listen: 127.0.0.1:1\n    upstreams: [{addr: 127.0.0.1:2, weight: 0}]\n"
        ),
        "gateways[0].upstreams[0].weight"
    );
    assert_eq!(
        key_of(
            "gateways:\n  - name: a\n    listen: 127.0.0.1:1\n    upstreams: [127.0.0.1:2, 127.0.0.1:2]\n"
        ),
        "gateways[0].upstreams[1]"
    );
    assert_eq!(
        key_of("gateways:\n  - listen: 127.0.0.1:1\n"),
        "gateways[0].name"
    );
    assert_eq!(key_of("gateways:\n  - name: a\n"), "gateways[0].listen");
    assert_eq!(
        key_of("gateways:\n  - name: 'a b'\n    listen: 127.0.0.1:1\n"),
        "gateways[0].name"
    );
}

#[test]
fn duplicates_across_gateways_are_refused() {
    let two = |n2: &str, l2: &str| {
        format!("{HEAD}  - name: {n2}\n    listen: {l2}\n    upstreams: [127.0.0.1:2]\n")
    };
    assert_eq!(key_of(&two("a", "127.0.0.1:3")), "gateways[1].name");
    assert_eq!(key_of(&two("b", "127.0.0.1:1")), "gateways[1].listen");
    assert!(Config::from_yaml(&two("b", "127.0.0.1:3")).is_ok());
}

#[test]
fn unknown_keys_and_wrong_types_are_yaml_errors() {
    let e = Config::from_yaml(&format!("{HEAD}    balancing: rr\n")).unwrap_err();
    assert!(matches!(e, ConfigError::Yaml(_)), "{e}");
    assert!(e.to_string().contains("balancing"), "{e}");
    let e = Config::from_yaml("gateways: 7\n").unwrap_err();
    assert!(matches!(e, ConfigError::Yaml(_)), "{e}");
    let e = Config::from_yaml(&format!("{HEAD}    health: {{intervall: 1s}}\n")).unwrap_err();
    assert!(e.to_string().contains("intervall"), "{e}");
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    assert_eq!(parse_duration("7 days"), None);
    assert_eq!(parse_duration("ms"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn empty_file_is_an_empty_gateway_set() {
    let c = Config::from_yaml("{}").unwrap();
    assert!(c.gateways.is_empty());
}

#[test]
fn admin_binds_loopback_by_default_and_needs_a_token_elsewhere() {
    let admin = |yaml: &str| Config::from_yaml(yaml).map(|c| c.admin.unwrap());
    // The map form without `bind` listens on loopback.
    let a = admin("admin: {}\n").unwrap();
    assert_eq!(a.bind, DEFAULT_ADMIN_BIND.parse().unwrap());
    assert!(a.bind.ip().is_loopback());
    let token = "0123456789abcdef0123";
    let a = admin(&format!("admin: {{token: {token}}}\n")).unwrap();
    assert!(a.bind.ip().is_loopback());
    let t = a.token.unwrap();
    assert!(t.matches(token) && !t.matches("0123456789abcdef012X") && !t.matches(""));
    assert_eq!(
        format!("{t:?}"),
        "AdminToken(…)",
        "the token is never printed"
    );

    // Off loopback: refused without a token, in both forms; accepted with one.
    for yaml in [
        "admin: 0.0.0.0:9900\n",
        "admin: {bind: \"0.0.0.0:9900\"}\n",
        "admin: {bind: \"[::]:9900\"}\n",
        "admin: {bind: \"192.0.2.1:9900\"}\n",
    ] {
        let err = admin(yaml).unwrap_err();
        assert!(
            err.to_string().contains("not a loopback address"),
            "{yaml}: {err}"
        );
    }
    let a = admin(&format!(
        "admin: {{bind: \"0.0.0.0:9900\", token: {token}}}\n"
    ))
    .unwrap();
    assert_eq!(a.bind, "0.0.0.0:9900".parse().unwrap());

    // The token from a file, trimmed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    let a = admin(&format!(
        "admin: {{bind: \"0.0.0.0:9900\", token_file: {}}}\n",
        path.display()
    ))
    .unwrap();
    assert!(a.token.unwrap().matches(token));

    assert_eq!(key_of("admin: {token: short}\n"), "admin.token");
    assert_eq!(
        key_of("admin: {token: \"has a space in it, long enough\"}\n"),
        "admin.token"
    );
    assert_eq!(
        key_of(&format!("admin: {{token: {token}, token_file: /x}}\n")),
        "admin.token_file"
    );
    assert_eq!(
        key_of("admin: {token_file: /nonexistent/admin.token}\n"),
        "admin.token_file"
    );
    assert_eq!(key_of("admin: {bind: nowhere}\n"), "admin.bind");
}

#[test]
fn sni_groups_parse_with_defaults_and_keys() {
    let yaml = r#"
gateways:
  - name: tls
    listen: 127.0.0.1:8443
    upstreams: [10.0.0.1:443]
    sni:
      - {names: [A.Example, "*.b.example"], upstreams: [10.0.0.7:443, {addr: 10.0.0.8:443, weight: 2}]}
      - names: [c.example]
        upstreams: [10.0.0.1:443]
"#;
    let c = Config::from_yaml(yaml).unwrap();
    let g = &c.gateways[0];
    assert_eq!(g.sni.len(), 2);
    assert_eq!(g.sni[0].label(), "a.example");
    assert_eq!(g.sni[0].names[1].to_string(), "*.b.example");
    assert_eq!(g.sni[0].upstreams[1].weight, 2);
    assert_eq!(g.sni_peek_timeout, DEFAULT_SNI_PEEK_TIMEOUT);
    assert_eq!(g.sni_max_hello, DEFAULT_SNI_MAX_HELLO);
    let every: Vec<String> = g
        .every_upstream()
        .iter()
        .map(|u| u.addr.to_string())
        .collect();
    assert_eq!(every, ["10.0.0.1:443", "10.0.0.7:443", "10.0.0.8:443"]);

    let c = Config::from_yaml(&format!(
        "{yaml}    sni_peek_timeout: 250ms\n    sni_max_hello: 4096\n"
    ))
    .unwrap();
    assert_eq!(c.gateways[0].sni_peek_timeout, Duration::from_millis(250));
    assert_eq!(c.gateways[0].sni_max_hello, 4096);
    // No `sni`: nothing is peeked.
    let c = Config::from_yaml("gateways:\n  - {name: a, listen: 127.0.0.1:1, upstreams: []}\n")
        .unwrap();
    assert!(c.gateways[0].sni.is_empty());
}

#[test]
fn sni_errors_name_their_key() {
    let base =
        "gateways:\n  - name: tls\n    listen: 127.0.0.1:8443\n    upstreams: [10.0.0.1:443]\n";
    let cases = [
        (
            "    sni: [{names: [a.example], upstreams: [10.0.0.7:443]}, {names: [b.example, A.EXAMPLE], upstreams: [10.0.0.8:443]}]\n",
            "gateways[0].sni[1].names[1]",
            "already listed at gateways[0].sni[0].names[0]",
        ),
        (
            "    sni: [{names: [\"*.b.example\", \"*.B.example\"], upstreams: [10.0.0.7:443]}]\n",
            "gateways[0].sni[0].names[1]",
            "already listed",
        ),
        (
            "    sni: [{names: [\"a.*.example\"], upstreams: [10.0.0.7:443]}]\n",
            "gateways[0].sni[0].names[0]",
            "wildcard",
        ),
        (
            "    sni: [{names: [\"a b\"], upstreams: [10.0.0.7:443]}]\n",
            "gateways[0].sni[0].names[0]",
            "letters",
        ),
        (
            "    sni: [{names: [], upstreams: [10.0.0.7:443]}]\n",
            "gateways[0].sni[0].names",
            "at least one",
        ),
        (
            "    sni: [{names: [a.example]}]\n",
            "gateways[0].sni[0].upstreams",
            "at least one",
        ),
        (
            "    sni: [{names: [a.example], upstreams: [nowhere]}]\n",
            "gateways[0].sni[0].upstreams[0]",
            "port",
        ),
        (
            "    sni: [{names: [a.example], upstreams: [{addr: 10.0.0.1:443, weight: 3}]}]\n",
            "gateways[0].sni[0].upstreams[0].weight",
            "one weight",
        ),
        (
            "    sni_max_hello: 10\n",
            "gateways[0].sni_max_hello",
            "outside",
        ),
        (
            "    sni_peek_timeout: 0s\n",
            "gateways[0].sni_peek_timeout",
            "greater than zero",
        ),
    ];
    for (extra, key, msg) in cases {
        let e = Config::from_yaml(&format!("{base}{extra}")).unwrap_err();
        assert_eq!(e.key(), Some(key), "{extra}: {e}");
        assert!(e.to_string().contains(msg), "{extra}: {e}");
    }
    let e = Config::from_yaml(&format!(
        "{base}    sni: [{{names: [a.example], upstreams: [10.0.0.7:443], weight: 1}}]\n"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("weight"), "{e}");
}
