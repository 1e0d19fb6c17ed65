//! Argument checks shared by the master (to answer 400 before sending anything) and the
//! slave (which checks again: it trusts nobody's input). Every error names the field at
//! fault with the JSON name a REST client used (`ports[1]`, `labels.app`), and says what was
//! wrong. Nothing here builds a command line: values are checked so they can be passed as
//! structured API arguments (argv vectors, engine API fields, URL path segments) unchanged.

use std::collections::BTreeMap;
use std::net::IpAddr;

mod host;
mod ops;

pub use host::{host_name, host_op, hosts_content};
pub use ops::{container_create, docker_op, registry_auth};

/// An argument is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct ValidationError {
    /// The field, as a REST client names it.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

pub(super) type R<T = ()> = Result<T, ValidationError>;

pub(super) fn err<T>(field: &str, message: impl Into<String>) -> R<T> {
    Err(ValidationError {
        field: field.to_string(),
        message: message.into(),
    })
}

pub(super) fn no_control(field: &str, s: &str, max: usize) -> R {
    if s.len() > max {
        return err(field, format!("longer than {max} bytes"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return err(field, format!("contains the control character {c:?}"));
    }
    Ok(())
}

pub(super) fn charset(
    field: &str,
    s: &str,
    what: &str,
    max: usize,
    ok: impl Fn(char) -> bool,
) -> R {
    if s.is_empty() {
        return err(field, "must not be empty");
    }
    if s.len() > max {
        return err(field, format!("longer than {max} characters"));
    }
    if let Some(c) = s.chars().find(|c| !ok(*c)) {
        return err(field, format!("{s:?} has {c:?}; {what}"));
    }
    Ok(())
}

/// A container id (or unique prefix) or name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128.
pub fn container_ref(field: &str, s: &str) -> R {
    const WHAT: &str = "a container id or name uses letters, digits, `_`, `.`, `-`";
    charset(field, s, WHAT, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    })?;
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return err(field, format!("{s:?} must start with a letter or digit"));
    }
    Ok(())
}

/// A new container name: as [`container_ref`], at least two characters (the engine's rule).
pub fn container_name(field: &str, s: &str) -> R {
    container_ref(field, s)?;
    if s.len() < 2 {
        return err(field, "a container name has at least two characters");
    }
    Ok(())
}

/// A volume or network name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most 128.
pub fn object_name(field: &str, s: &str) -> R {
    container_name(field, s)
}

/// A driver name (`bridge`, `local`, `overlay`, a plugin like `vieux/sshfs:latest`).
pub fn driver_name(field: &str, s: &str) -> R {
    const WHAT: &str = "a driver name uses lowercase letters, digits, `_`, `.`, `-`, `/`, `:`";
    charset(field, s, WHAT, 128, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-' | '/' | ':')
    })
}

pub(super) fn hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One path component of a repository: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(&b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(&b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn tag(field: &str, s: &str) -> R {
    const WHAT: &str = "a tag uses letters, digits, `_`, `.`, `-`";
    charset(field, s, WHAT, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    })?;
    if s.starts_with(['.', '-']) {
        return err(field, format!("tag {s:?} must not start with `.` or `-`"));
    }
    Ok(())
}

/// A repository name without tag: `[registry[:port]/]path/components`, lowercase.
pub fn repo_name(field: &str, s: &str) -> R {
    if s.is_empty() {
        return err(field, "must not be empty");
    }
    if s.len() > 255 {
        return err(field, "a repository name has at most 255 characters");
    }
    let parts: Vec<&str> = s.split('/').collect();
    let first = parts[0];
    let has_domain =
        parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain && !domain(first) {
        return err(
            field,
            format!("{first:?} is not a valid registry host[:port]"),
        );
    }
    let path = if has_domain { &parts[1..] } else { &parts[..] };
    if let Some(bad) = path.iter().find(|c| !path_component(c)) {
        return err(
            field,
            format!(
                "{bad:?} in {s:?} is not a valid repository component (lowercase letters and \
                 digits, separated by `.`, `_`, `__` or `-`)"
            ),
        );
    }
    Ok(())
}

/// The parts of an image reference: repository, tag, digest.
pub fn split_reference(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    match (rest.rfind(':'), rest.rfind('/')) {
        (Some(c), slash) if slash.is_none_or(|sl| c > sl) => {
            (&rest[..c], Some(&rest[c + 1..]), digest)
        }
        _ => (rest, None, digest),
    }
}

/// An image reference to pull or run: `name[:tag][@algo:hex]`.
pub fn image_ref(field: &str, s: &str) -> R {
    no_control(field, s, 512)?;
    let (name, tag_part, digest) = split_reference(s);
    repo_name(field, name)?;
    if let Some(t) = tag_part {
        tag(field, t)?;
    }
    if let Some(d) = digest {
        let ok = d
            .split_once(':')
            .is_some_and(|(algo, h)| path_component(algo) && hex(h) && h.len() >= 32);
        if !ok {
            return err(field, format!("{d:?} is not a digest like `sha256:<hex>`"));
        }
    }
    Ok(())
}

/// An image to inspect, tag or remove: a reference or an image id (`sha256:<hex>` or a
/// hexadecimal prefix of 12 or more).
pub fn image_target(field: &str, s: &str) -> R {
    let id = s.strip_prefix("sha256:").unwrap_or(s);
    if hex(id) && (12..=64).contains(&id.len()) {
        return Ok(());
    }
    image_ref(field, s)
}

/// A parsed port mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Host address to publish on (all when absent).
    pub host_ip: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub proto: &'static str,
}

/// A port mapping `[IP:]HOST:CONTAINER[/tcp|udp|sctp]` (IPv6 in brackets).
pub fn port_mapping(field: &str, s: &str) -> R<PortSpec> {
    let shape = "expected `HOST:CONTAINER/tcp`, `IP:HOST:CONTAINER/udp` or `[::1]:HOST:CONTAINER`";
    let (body, proto) = match s.rsplit_once('/') {
        Some((b, p)) => (b, p),
        None => (s, "tcp"),
    };
    let proto = match proto {
        "tcp" => "tcp",
        "udp" => "udp",
        "sctp" => "sctp",
        other => return err(field, format!("protocol {other:?} is not tcp, udp or sctp")),
    };
    let (ip, rest) = if let Some(inner) = body.strip_prefix('[') {
        let Some((v6, rest)) = inner.split_once("]:") else {
            return err(field, format!("{s:?}: {shape}"));
        };
        (Some(v6), rest)
    } else {
        match body.matches(':').count() {
            1 => (None, body),
            2 => body
                .split_once(':')
                .map_or((None, body), |(ip, rest)| (Some(ip), rest)),
            _ => return err(field, format!("{s:?}: {shape}")),
        }
    };
    let host_ip = match ip {
        None => None,
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .or_else(|_| err(field, format!("{ip:?} is not an IP address")))?,
        ),
    };
    let Some((host, container)) = rest.split_once(':') else {
        return err(field, format!("{s:?}: {shape}"));
    };
    let port = |p: &str, which: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => err(field, format!("{which} port {p:?} is not in 1..=65535")),
    };
    Ok(PortSpec {
        host_ip,
        host_port: port(host, "host")?,
        container_port: port(container, "container")?,
        proto,
    })
}

/// Where a mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host path (the slave confines it to its allowed roots).
    Bind(String),
    /// A named volume.
    Volume(String),
}

/// A parsed mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Source.
    pub source: MountSource,
    /// Path inside the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// An absolute path: starts with `/`, no `.` or `..` components, no control characters,
/// no `:` or `,` (they separate fields of engine mount specifications), at most 4096 bytes.
pub fn absolute_path(field: &str, s: &str) -> R {
    no_control(field, s, 4096)?;
    if !s.starts_with('/') {
        return err(field, format!("{s:?} is not an absolute path"));
    }
    if s.split('/').any(|c| c == ".." || c == ".") {
        return err(field, format!("{s:?} has a `.` or `..` component"));
    }
    if s.contains([':', ',']) {
        return err(field, format!("{s:?} contains `:` or `,`"));
    }
    Ok(())
}

/// A mount `SOURCE:TARGET[:ro|:rw]`.
pub fn volume_spec(field: &str, s: &str) -> R<VolumeSpec> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, target, mode) = match parts.as_slice() {
        [src, target] => (*src, *target, "rw"),
        [src, target, mode] => (*src, *target, *mode),
        _ => return err(field, format!("{s:?}: expected `SOURCE:TARGET[:ro]`")),
    };
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        other => return err(field, format!("mode {other:?} is not `ro` or `rw`")),
    };
    let source = if src.starts_with('/') {
        absolute_path(field, src)?;
        MountSource::Bind(src.to_string())
    } else {
        object_name(field, src)?;
        MountSource::Volume(src.to_string())
    };
    absolute_path(field, target)?;
    if target == "/" {
        return err(field, "cannot mount over the container's root");
    }
    Ok(VolumeSpec {
        source,
        target: target.to_string(),
        read_only,
    })
}

/// A variable name of the host environment profile: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_key(field: &str, s: &str) -> R {
    const WHAT: &str = "an environment variable name uses letters, digits and `_`";
    charset(field, s, WHAT, 256, |c| {
        c.is_ascii_alphanumeric() || c == '_'
    })?;
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return err(field, format!("{s:?} must not start with a digit"));
    }
    Ok(())
}

/// A container's `KEY=VALUE`: key `[A-Za-z_][A-Za-z0-9_.-]*`, value without NUL.
pub fn container_env(field: &str, s: &str) -> R {
    let Some((key, value)) = s.split_once('=') else {
        return err(field, format!("{s:?}: expected `KEY=VALUE`"));
    };
    const WHAT: &str = "an environment variable name uses letters, digits, `_`, `.`, `-`";
    charset(field, key, WHAT, 256, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    })?;
    if !key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return err(field, format!("{key:?} must start with a letter or `_`"));
    }
    if value.len() > 64 * 1024 || value.contains('\0') {
        return err(field, "the value is longer than 64 KiB or contains NUL");
    }
    Ok(())
}

/// A label: key `[A-Za-z0-9]` then `[A-Za-z0-9._/-]`, value without control characters.
pub fn labels(field: &str, labels: &BTreeMap<String, String>) -> R {
    if labels.len() > 256 {
        return err(field, "at most 256 labels");
    }
    for (k, v) in labels {
        let f = format!("{field}.{k}");
        const WHAT: &str = "a label key uses letters, digits, `.`, `_`, `/`, `-`";
        charset(&f, k, WHAT, 256, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
        })?;
        if !k.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return err(&f, "a label key starts with a letter or digit");
        }
        no_control(&f, v, 4096)?;
    }
    Ok(())
}

const SIGNAL_NAMES: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS", "RTMIN", "RTMAX",
];

/// A signal number, 1..=64.
pub fn signal_number(field: &str, n: i32) -> R {
    if !(1..=64).contains(&n) {
        return err(field, format!("signal {n} is not in 1..=64"));
    }
    Ok(())
}

/// A signal for the engine: a number 1..=64 or a name (`SIGTERM`, `TERM`, `SIGRTMIN+3`).
pub fn signal_name(field: &str, s: &str) -> R {
    if let Ok(n) = s.parse::<i32>() {
        return signal_number(field, n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    let base = name.split(['+', '-']).next().unwrap_or(name);
    let offset_ok = match name.split_once(['+', '-']) {
        None => true,
        Some((b, n)) => (b == "RTMIN" || b == "RTMAX") && n.parse::<u8>().is_ok_and(|n| n <= 30),
    };
    if !SIGNAL_NAMES.contains(&base) || !offset_ok {
        return err(
            field,
            format!("{s:?} is not a signal name like SIGTERM or a number"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
