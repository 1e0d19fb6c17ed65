//! Checks of host operations, the environment profile and hosts files.

use super::*;
use crate::ops::host::{EnvEdit, HostOp, HostsEntry, ProcessQuery};
use std::collections::HashSet;

fn process_query(q: &ProcessQuery) -> R {
    if let Some(f) = &q.filter {
        no_control("filter", f, 256)?;
    }
    if let Some(u) = &q.user {
        const WHAT: &str = "a user is a name or a uid";
        charset("user", u, WHAT, 64, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
        })?;
    }
    Ok(())
}

fn env_edit(e: &EnvEdit) -> R {
    if e.set.len() + e.unset.len() > 1024 {
        return err("set", "at most 1024 variables");
    }
    let mut seen = HashSet::new();
    for (i, v) in e.set.iter().enumerate() {
        env_key(&format!("set[{i}].key"), &v.key)?;
        let f = format!("set[{i}].value");
        if v.value.len() > 32 * 1024 || v.value.contains(['\0', '\n', '\r']) {
            return err(&f, "longer than 32 KiB, or contains NUL or a line break");
        }
        if !seen.insert(v.key.as_str()) {
            return err(
                &format!("set[{i}].key"),
                format!("{:?} is set twice", v.key),
            );
        }
    }
    for (i, k) in e.unset.iter().enumerate() {
        env_key(&format!("unset[{i}]"), k)?;
        if seen.contains(k.as_str()) {
            return err(
                &format!("unset[{i}]"),
                format!("{k:?} is both set and unset"),
            );
        }
    }
    Ok(())
}

/// Every argument of a host operation.
pub fn host_op(op: &HostOp) -> R {
    match op {
        HostOp::ListProcesses(q) => process_query(q),
        HostOp::ProcessDetails { pid } if *pid == 0 => err("pid", "pid 0 is not a process"),
        HostOp::Signal(s) if s.pid == 0 => err("pid", "pid 0 is not a process"),
        HostOp::Signal(s) => signal_number("signal", s.signal),
        HostOp::SetEnv(e) => env_edit(e),
        HostOp::PutHosts { content } => hosts_content("content", content).map(|_| ()),
        _ => Ok(()),
    }
}

/// A host name in a hosts file: dot-separated labels of letters, digits, `-` and `_`, each
/// 1..=63, at most 253 in all.
pub fn host_name(field: &str, s: &str) -> R {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !ok {
        return err(field, format!("{s:?} is not a valid host name"));
    }
    Ok(())
}

/// Checks a whole hosts file and returns its mappings. Each non-blank line is
/// `IP NAME [ALIAS...] [# comment]` or a comment; errors name the line. A file that maps no
/// `localhost` is refused: it would break local name resolution.
pub fn hosts_content(field: &str, content: &str) -> R<Vec<HostsEntry>> {
    if content.len() > 1024 * 1024 {
        return err(field, "a hosts file of more than 1 MiB is refused");
    }
    let mut entries = Vec::new();
    let mut has_localhost = false;
    for (i, raw) in content.split('\n').enumerate() {
        let n = i + 1;
        if let Some(c) = raw.chars().find(|c| c.is_control() && *c != '\t') {
            return err(field, format!("line {n}: control character {c:?}"));
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_ascii_whitespace();
        let ip = words.next().unwrap_or("");
        let (addr, zone) = match ip.split_once('%') {
            Some((a, z)) => (a, Some(z)),
            None => (ip, None),
        };
        let parsed = addr.parse::<IpAddr>();
        let zone_ok = zone.is_none_or(|z| {
            !z.is_empty()
                && z.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        });
        let Ok(parsed) = parsed
            .map_err(|_| ())
            .and_then(|a| if zone_ok { Ok(a) } else { Err(()) })
        else {
            return err(field, format!("line {n}: {ip:?} is not an IP address"));
        };
        let names: Vec<String> = words.map(str::to_string).collect();
        if names.is_empty() {
            return err(field, format!("line {n}: {ip} has no host name"));
        }
        for name in &names {
            host_name(field, name).or_else(|e| err(field, format!("line {n}: {}", e.message)))?;
        }
        if parsed.is_loopback() && names.iter().any(|x| x == "localhost") {
            has_localhost = true;
        }
        entries.push(HostsEntry {
            line: n as u32,
            ip: ip.to_string(),
            names,
        });
    }
    if !has_localhost {
        return err(
            field,
            "no line maps `localhost` to a loopback address (e.g. `127.0.0.1 localhost`); \
             refusing to write a hosts file that breaks local name resolution",
        );
    }
    Ok(entries)
}
