//! Stage two: raw YAML values to a validated [`Config`], naming the key on every error.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::raw::{
    RawAdmin, RawAdminMap, RawConfig, RawDuration, RawGateway, RawHealth, RawPerIp, RawSniGroup,
    RawUpstream,
};
use super::*;
use crate::sni::NamePattern;

pub(super) fn config(raw: RawConfig) -> Result<Config, ConfigError> {
    let workers = match raw.workers {
        None => default_workers(),
        Some(n) if (1..=MAX_WORKERS as u64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ConfigError::invalid(
                "workers",
                format!("{n} is outside 1..={MAX_WORKERS}"),
            ));
        }
    };
    let admin = raw.admin.map(admin).transpose()?;
    let mut gateways = Vec::with_capacity(raw.gateways.len());
    let mut names = HashSet::new();
    let mut listens = HashSet::new();
    for (i, g) in raw.gateways.into_iter().enumerate() {
        let key = format!("gateways[{i}]");
        let g = gateway(&key, g)?;
        if !names.insert(g.name.clone()) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("duplicate gateway name `{}`", g.name),
            ));
        }
        if g.listen.port() != 0 && !listens.insert(g.listen) {
            return Err(ConfigError::invalid(
                format!("{key}.listen"),
                format!("{} is already used by another gateway", g.listen),
            ));
        }
        gateways.push(g);
    }
    Ok(Config {
        workers,
        pin_cpus: raw.pin_cpus.unwrap_or(false),
        io_uring: raw.io_uring.unwrap_or(true),
        admin,
        gateways,
    })
}

/// The admin endpoint: loopback unless told otherwise, and a token required off loopback.
fn admin(raw: RawAdmin) -> Result<AdminConfig, ConfigError> {
    let (raw, bind_key) = match raw {
        RawAdmin::Plain(bind) => (
            RawAdminMap {
                bind: Some(bind),
                ..RawAdminMap::default()
            },
            "admin",
        ),
        RawAdmin::Full(map) => (map, "admin.bind"),
    };
    let bind = socket_addr(bind_key, raw.bind.as_deref().unwrap_or(DEFAULT_ADMIN_BIND))?;
    let text = match (raw.token, raw.token_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "admin.token_file",
                "set either admin.token or admin.token_file, not both",
            ));
        }
        (Some(t), None) => Some((t, "admin.token")),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::invalid("admin.token_file", format!("{}: {e}", path.display()))
            })?;
            Some((text.trim().to_owned(), "admin.token_file"))
        }
        (None, None) => None,
    };
    let token = match text {
        None => None,
        Some((text, key)) => Some(AdminToken::new(&text).ok_or_else(|| {
            ConfigError::invalid(
                key,
                format!(
                    "a token needs at least {} printable ASCII characters and no spaces",
                    AdminToken::MIN_LEN
                ),
            )
        })?),
    };
    if token.is_none() && !bind.ip().is_loopback() {
        return Err(ConfigError::invalid(
            bind_key,
            format!(
                "{bind} is not a loopback address: set admin.token or admin.token_file, or bind 127.0.0.1"
            ),
        ));
    }
    Ok(AdminConfig { bind, token })
}

fn gateway(key: &str, raw: RawGateway) -> Result<GatewayConfig, ConfigError> {
    let name = raw
        .name
        .ok_or_else(|| ConfigError::invalid(format!("{key}.name"), "missing"))?;
    check_name(&format!("{key}.name"), &name)?;
    let listen_text = raw
        .listen
        .ok_or_else(|| ConfigError::invalid(format!("{key}.listen"), "missing"))?;
    let listen = socket_addr(&format!("{key}.listen"), &listen_text)?;
    let mut g = GatewayConfig::new(&name, listen, &[]);
    g.upstreams = upstreams(key, raw.upstreams)?;
    if let Some(a) = raw.algorithm {
        g.algorithm = algorithm(&format!("{key}.algorithm"), &a)?;
    }
    if let Some(h) = raw.health {
        g.health = health(&format!("{key}.health"), h)?;
    }
    if let Some(t) = raw.connect_timeout {
        g.connect_timeout = positive_duration(&format!("{key}.connect_timeout"), &t)?;
    }
    if let Some(r) = raw.retries {
        g.retries = bounded(&format!("{key}.retries"), r, 0, 16)?;
    }
    g.allow = cidrs(&format!("{key}.allow"), &raw.allow)?;
    g.deny = cidrs(&format!("{key}.deny"), &raw.deny)?;
    if let Some(p) = raw.per_ip {
        g.per_ip = per_ip(&format!("{key}.per_ip"), p)?;
    }
    if let Some(m) = raw.max_conns {
        g.max_conns = Some(bounded(
            &format!("{key}.max_conns"),
            m,
            1,
            u64::from(u32::MAX),
        )?);
    }
    if let Some(t) = raw.idle_timeout {
        g.idle_timeout = positive_duration(&format!("{key}.idle_timeout"), &t)?;
    }
    if let Some(p) = raw.proxy_protocol {
        g.proxy_protocol = proxy_protocol(&format!("{key}.proxy_protocol"), &p)?;
    }
    if let Some(t) = raw.drain_timeout {
        g.drain_timeout = duration(&format!("{key}.drain_timeout"), &t)?;
    }
    if let Some(r) = raw.relay {
        g.relay = relay(&format!("{key}.relay"), &r)?;
    }
    if let Some(t) = raw.sni_peek_timeout {
        g.sni_peek_timeout = positive_duration(&format!("{key}.sni_peek_timeout"), &t)?;
    }
    if let Some(m) = raw.sni_max_hello {
        g.sni_max_hello = bounded(
            &format!("{key}.sni_max_hello"),
            m,
            *SNI_MAX_HELLO_RANGE.start() as u64,
            *SNI_MAX_HELLO_RANGE.end() as u64,
        )?;
    }
    g.sni = sni_groups(key, raw.sni, &g.upstreams)?;
    Ok(g)
}

/// The `sni` list: valid names, none twice across the gateway's groups, at least one
/// upstream per group, and one weight per upstream address across all groups.
fn sni_groups(
    key: &str,
    raw: Vec<RawSniGroup>,
    default: &[UpstreamConfig],
) -> Result<Vec<SniGroupConfig>, ConfigError> {
    let mut groups: Vec<SniGroupConfig> = Vec::with_capacity(raw.len());
    let mut seen: HashMap<NamePattern, String> = HashMap::new();
    let mut weights: HashMap<SocketAddr, u32> =
        default.iter().map(|u| (u.addr, u.weight)).collect();
    for (i, entry) in raw.into_iter().enumerate() {
        let gkey = format!("{key}.sni[{i}]");
        if entry.names.is_empty() {
            return Err(ConfigError::invalid(
                format!("{gkey}.names"),
                "needs at least one name",
            ));
        }
        let mut names = Vec::with_capacity(entry.names.len());
        for (j, text) in entry.names.iter().enumerate() {
            let nkey = format!("{gkey}.names[{j}]");
            let p = NamePattern::parse(text)
                .map_err(|e| ConfigError::invalid(&nkey, format!("`{text}`: {e}")))?;
            if let Some(first) = seen.get(&p) {
                return Err(ConfigError::invalid(
                    nkey,
                    format!("`{p}` is already listed at {first}"),
                ));
            }
            seen.insert(p.clone(), nkey);
            names.push(p);
        }
        if entry.upstreams.is_empty() {
            return Err(ConfigError::invalid(
                format!("{gkey}.upstreams"),
                "needs at least one upstream",
            ));
        }
        let ups = upstreams(&gkey, entry.upstreams)?;
        for (j, u) in ups.iter().enumerate() {
            let w = *weights.entry(u.addr).or_insert(u.weight);
            if w != u.weight {
                return Err(ConfigError::invalid(
                    format!("{gkey}.upstreams[{j}].weight"),
                    format!(
                        "{} has weight {w} elsewhere in this gateway; give it one weight",
                        u.addr
                    ),
                ));
            }
        }
        groups.push(SniGroupConfig {
            names,
            upstreams: ups,
        });
    }
    Ok(groups)
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            "must be 1-64 characters of letters, digits, `-`, `_` or `.`",
        ))
    }
}

fn upstreams(key: &str, raw: Vec<RawUpstream>) -> Result<Vec<UpstreamConfig>, ConfigError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut seen = HashSet::new();
    for (i, u) in raw.into_iter().enumerate() {
        let ukey = format!("{key}.upstreams[{i}]");
        let (addr, weight) = match u {
            RawUpstream::Plain(a) => (a, None),
            RawUpstream::Weighted(w) => (w.addr, w.weight),
        };
        let addr = socket_addr(&ukey, &addr)?;
        let weight = match weight {
            None => DEFAULT_WEIGHT,
            Some(w) => bounded(&format!("{ukey}.weight"), w, 1, u64::from(MAX_WEIGHT))?,
        };
        if !seen.insert(addr) {
            return Err(ConfigError::invalid(
                ukey,
                format!("duplicate upstream {addr}"),
            ));
        }
        out.push(UpstreamConfig { addr, weight });
    }
    Ok(out)
}

fn algorithm(key: &str, s: &str) -> Result<Algorithm, ConfigError> {
    match s {
        "round_robin" | "roundrobin" | "rr" => Ok(Algorithm::RoundRobin),
        "least_conn" | "leastconn" => Ok(Algorithm::LeastConn),
        "hash" | "consistent_hash" | "source" => Ok(Algorithm::Hash),
        other => Err(ConfigError::invalid(
            key,
            format!("unknown algorithm `{other}` (round_robin, least_conn or hash)"),
        )),
    }
}

fn proxy_protocol(key: &str, s: &str) -> Result<Option<ProxyProtocol>, ConfigError> {
    match s {
        "v1" | "1" => Ok(Some(ProxyProtocol::V1)),
        "v2" | "2" => Ok(Some(ProxyProtocol::V2)),
        "off" | "none" => Ok(None),
        other => Err(ConfigError::invalid(
            key,
            format!("unknown PROXY protocol version `{other}` (v1, v2 or off)"),
        )),
    }
}

fn relay(key: &str, s: &str) -> Result<RelayMode, ConfigError> {
    match s {
        "auto" => Ok(RelayMode::Auto),
        "splice" => Ok(RelayMode::Splice),
        "copy" => Ok(RelayMode::Copy),
        other => Err(ConfigError::invalid(
            key,
            format!("unknown relay mode `{other}` (auto, splice or copy)"),
        )),
    }
}

fn health(key: &str, raw: RawHealth) -> Result<HealthConfig, ConfigError> {
    let mut h = HealthConfig::default();
    if let Some(e) = raw.enabled {
        h.enabled = e;
    }
    if let Some(t) = raw.interval {
        h.interval = positive_duration(&format!("{key}.interval"), &t)?;
    }
    if let Some(t) = raw.timeout {
        h.timeout = positive_duration(&format!("{key}.timeout"), &t)?;
    }
    if let Some(r) = raw.rise {
        h.rise = bounded(&format!("{key}.rise"), r, 1, 100)?;
    }
    if let Some(f) = raw.fall {
        h.fall = bounded(&format!("{key}.fall"), f, 1, 100)?;
    }
    if let Some(http) = raw.http {
        let path = http.path.unwrap_or_else(|| DEFAULT_HTTP_PATH.to_string());
        let path_ok = path.starts_with('/')
            && path.len() <= 1024
            && path.bytes().all(|b| b.is_ascii_graphic());
        if !path_ok {
            return Err(ConfigError::invalid(
                format!("{key}.http.path"),
                "must start with `/` and hold printable ASCII without spaces",
            ));
        }
        let expect_status = match http.expect_status {
            None => DEFAULT_EXPECT_STATUS,
            Some(s) => bounded(&format!("{key}.http.expect_status"), s, 100, 599)?,
        };
        h.http = Some(HttpCheck {
            path,
            expect_status,
        });
    }
    Ok(h)
}

fn per_ip(key: &str, raw: RawPerIp) -> Result<PerIpConfig, ConfigError> {
    let mut p = PerIpConfig::default();
    if let Some(rate) = raw.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::invalid(
                format!("{key}.rate"),
                "must be a positive number of connections per second",
            ));
        }
        let default_burst = rate.ceil().max(1.0).min(f64::from(u32::MAX)) as u64;
        let burst = bounded(
            &format!("{key}.burst"),
            raw.burst.unwrap_or(default_burst),
            1,
            u64::from(u32::MAX),
        )?;
        p.rate = Some(RateLimit {
            per_second: rate,
            burst,
        });
    } else if raw.burst.is_some() {
        return Err(ConfigError::invalid(format!("{key}.burst"), "needs `rate`"));
    }
    if let Some(m) = raw.max_conns {
        p.max_conns = Some(bounded(
            &format!("{key}.max_conns"),
            m,
            1,
            u64::from(u32::MAX),
        )?);
    }
    Ok(p)
}

fn cidrs(key: &str, raw: &[String]) -> Result<Vec<Cidr>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse()
                .map_err(|e| ConfigError::invalid(format!("{key}[{i}]"), format!("{e}")))
        })
        .collect()
}

fn bounded<T: TryFrom<u64>>(key: &str, v: u64, min: u64, max: u64) -> Result<T, ConfigError> {
    if v < min || v > max {
        return Err(ConfigError::invalid(
            key,
            format!("{v} is outside {min}..={max}"),
        ));
    }
    T::try_from(v).map_err(|_| ConfigError::invalid(key, format!("{v} is too large")))
}

/// Parses an `address:port`, resolving a host name when it is not a literal address.
fn socket_addr(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if !s.contains(':') {
        return Err(ConfigError::invalid(
            key,
            format!("`{s}` lacks a port (address:port)"),
        ));
    }
    match s.to_socket_addrs() {
        Ok(mut it) => it
            .next()
            .ok_or_else(|| ConfigError::invalid(key, format!("`{s}` resolves to no address"))),
        Err(e) => Err(ConfigError::invalid(
            key,
            format!("`{s}` is not address:port ({e})"),
        )),
    }
}

fn duration(key: &str, raw: &RawDuration) -> Result<Duration, ConfigError> {
    match raw {
        RawDuration::Secs(s) => Ok(Duration::from_secs(*s)),
        RawDuration::Text(t) => parse_duration(t).ok_or_else(|| {
            ConfigError::invalid(key, format!("`{t}` is not a duration (e.g. 500ms, 2s, 1m)"))
        }),
    }
}

fn positive_duration(key: &str, raw: &RawDuration) -> Result<Duration, ConfigError> {
    let d = duration(key, raw)?;
    if d.is_zero() {
        return Err(ConfigError::invalid(key, "must be greater than zero"));
    }
    Ok(d)
}

/// Parses `250ms`, `2s`, `1.5s`, `5m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" => 0.000_001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(value * scale).ok()
}
