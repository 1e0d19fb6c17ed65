//! Static facts about the host, sent to the master once per session.
//!
//! [`collect_host_info`] never fails and never hangs: each fact that cannot be read falls
//! back to `"unknown"` or 0 (logged at debug level), and the Docker Engine version is asked
//! over the unix socket with one-second timeouts and an overall deadline. The parsers
//! ([`parse_os_release`], [`parse_cpuinfo`], [`parse_http_response`],
//! [`parse_docker_version`]) are pure and tested with sample inputs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use procfs::Current;
use protocol::{DiskInfo, HostInfo};

use crate::metrics::{read_real_mounts, statvfs_usage};

/// Read and write timeout of each call on the Docker socket.
pub const DOCKER_IO_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest time spent asking Docker for its version, all reads together.
pub const DOCKER_DEADLINE: Duration = Duration::from_secs(2);
/// Largest Docker response read; `/version` is under 2 KiB.
const DOCKER_MAX_RESPONSE: usize = 64 * 1024;
const UNKNOWN: &str = "unknown";

/// Collects the host facts. `docker_socket` is the Docker Engine's unix socket; when nothing
/// answers there, `docker_version` is `None`.
pub fn collect_host_info(docker_socket: &Path) -> HostInfo {
    let (cpu_model, cpu_cores) = match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(text) => parse_cpuinfo(&text),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read /proc/cpuinfo");
            (None, 0)
        }
    };
    let cpu_cores = if cpu_cores > 0 {
        cpu_cores
    } else {
        std::thread::available_parallelism().map_or(0, |n| u32::try_from(n.get()).unwrap_or(0))
    };
    let (mem_total_bytes, swap_total_bytes) = match procfs::Meminfo::current() {
        Ok(m) => (m.mem_total, m.swap_total),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read /proc/meminfo");
            (0, 0)
        }
    };
    let boot_time_unix = procfs::boot_time_secs().unwrap_or_else(|e| {
        tracing::debug!(error = %e, "cannot read the boot time");
        0
    });
    HostInfo {
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        os: os_name(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        arch: std::env::consts::ARCH.to_string(),
        cpu_model: cpu_model.unwrap_or_else(|| UNKNOWN.to_string()),
        cpu_cores,
        mem_total_bytes,
        swap_total_bytes,
        disks: disks(),
        docker_version: docker_version(docker_socket),
        boot_time_unix,
    }
}

fn read_trimmed(path: &str) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        Ok(_) => UNKNOWN.to_string(),
        Err(e) => {
            tracing::debug!(path, error = %e, "cannot read host fact");
            UNKNOWN.to_string()
        }
    }
}

fn os_name() -> String {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(name) = std::fs::read_to_string(path)
            .ok()
            .as_deref()
            .and_then(parse_os_release)
        {
            return name;
        }
    }
    tracing::debug!("no PRETTY_NAME or NAME in os-release");
    UNKNOWN.to_string()
}

fn disks() -> Vec<DiskInfo> {
    let mut buf = String::new();
    read_real_mounts(&mut buf)
        .into_iter()
        .filter_map(|m| {
            let (total_bytes, _) = statvfs_usage(Path::new(&m.mount))?;
            (total_bytes > 0).then_some(DiskInfo {
                mount: m.mount,
                device: m.device,
                fs_type: m.fs_type,
                total_bytes,
            })
        })
        .collect()
}

/// The `PRETTY_NAME` of an os-release file (or `NAME` plus `VERSION` when it has none),
/// with shell quoting and backslash escapes removed.
pub fn parse_os_release(text: &str) -> Option<String> {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            (k.trim() == key)
                .then(|| unquote(v.trim()))
                .filter(|v| !v.is_empty())
        })
    };
    value("PRETTY_NAME").or_else(|| {
        let name = value("NAME")?;
        Some(match value("VERSION") {
            Some(version) => format!("{name} {version}"),
            None => name,
        })
    })
}

fn unquote(v: &str) -> String {
    let inner = match v.as_bytes() {
        [b'"', .., b'"'] | [b'\'', .., b'\''] if v.len() >= 2 => &v[1..v.len() - 1],
        _ => v,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// CPU model and number of logical CPUs from `/proc/cpuinfo`. The model is the first
/// `model name` (x86), else `Processor`/`cpu model`/`cpu`/`Hardware` (ARM, MIPS, POWER).
pub fn parse_cpuinfo(text: &str) -> (Option<String>, u32) {
    let mut processors = 0u32;
    let mut model: Option<(usize, String)> = None;
    const KEYS: [&str; 5] = ["model name", "Processor", "cpu model", "cpu", "Hardware"];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "processor" {
            processors = processors.saturating_add(1);
        }
        if let Some(rank) = KEYS.iter().position(|k| *k == key)
            && !value.is_empty()
            && model.as_ref().is_none_or(|(r, _)| rank < *r)
        {
            model = Some((rank, value.to_string()));
        }
    }
    (model.map(|(_, m)| m), processors)
}

/// The Docker Engine version from the daemon on `socket`, or `None` when it does not answer
/// within [`DOCKER_DEADLINE`].
pub fn docker_version(socket: &Path) -> Option<String> {
    match query_docker_version(socket) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(socket = %socket.display(), error = %e, "no Docker Engine version");
            None
        }
    }
}

fn query_docker_version(socket: &Path) -> std::io::Result<Option<String>> {
    let start = Instant::now();
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(DOCKER_IO_TIMEOUT))?;
    stream.set_write_timeout(Some(DOCKER_IO_TIMEOUT))?;
    stream
        .write_all(b"GET /version HTTP/1.0\r\nHost: docker\r\nAccept: application/json\r\n\r\n")?;
    let mut response = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    while response.len() < DOCKER_MAX_RESPONSE && start.elapsed() < DOCKER_DEADLINE {
        match stream.read(&mut chunk)? {
            0 => break,
            n => response.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let Some((status, body)) = parse_http_response(&response) else {
        tracing::debug!("Docker answered with a malformed HTTP response");
        return Ok(None);
    };
    if status != 200 {
        tracing::debug!(status, "Docker answered /version with an error status");
        return Ok(None);
    }
    Ok(parse_docker_version(&String::from_utf8_lossy(&body)))
}

/// Splits a complete HTTP/1.x response into status code and body, decoding a chunked body.
/// Returns `None` for a malformed response. A truncated body is returned as far as it goes.
pub fn parse_http_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let header_end = find(raw, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| find(raw, b"\n\n").map(|i| (i, i + 2)))?;
    let head = std::str::from_utf8(raw.get(..header_end.0)?).ok()?;
    let body = raw.get(header_end.1..)?;
    let mut lines = head.lines();
    let status_line = lines.next()?;
    let mut parts = status_line.split_ascii_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse::<u16>().ok()?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = if chunked {
        decode_chunked(body)
    } else {
        body.to_vec()
    };
    Some((status, body))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    while let Some(line_end) = find(data, b"\n") {
        let size_line = String::from_utf8_lossy(data.get(..line_end).unwrap_or_default());
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        data = data.get(line_end + 1..).unwrap_or_default();
        if size == 0 {
            break;
        }
        let take = size.min(data.len());
        out.extend_from_slice(data.get(..take).unwrap_or_default());
        data = data.get(take..).unwrap_or_default();
        data = data
            .strip_prefix(b"\r\n")
            .or_else(|| data.strip_prefix(b"\n"))
            .unwrap_or(data);
    }
    out
}

/// The top-level `"Version"` string of Docker's `/version` JSON. Keys inside nested objects
/// (the `Components` list also has `Version`s) and look-alikes such as `ApiVersion` are
/// ignored; string escapes are decoded.
pub fn parse_docker_version(body: &str) -> Option<String> {
    let mut chars = body.char_indices().peekable();
    let mut depth = 0usize;
    // At depth 1, whether the next string is a key (true) or a value (false).
    let mut expect_key = false;
    let mut take_next_value = false;
    while let Some((_, c)) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                expect_key = c == '{' && depth == 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect_key = true,
            ':' if depth == 1 => expect_key = false,
            '"' => {
                let s = read_json_string(&mut chars)?;
                if depth == 1 && expect_key {
                    take_next_value = s == "Version";
                } else if depth == 1 && take_next_value {
                    return (!s.is_empty()).then_some(s);
                }
            }
            c if depth == 1 && take_next_value && !c.is_whitespace() => {
                // The value of "Version" is not a string.
                return None;
            }
            _ => {}
        }
    }
    None
}

/// Reads a JSON string after its opening quote, decoding escapes; `None` if unterminated.
fn read_json_string(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<String> {
    let mut out = String::new();
    loop {
        let (_, c) = chars.next()?;
        match c {
            '"' => return Some(out),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        out.push(ch.unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const DOCKER_BODY: &str = r#"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41"}},{"Name":"containerd","Version":"1.6.20~ds1"}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12"}"#;

    #[test]
    fn docker_version_is_the_top_level_field() {
        assert_eq!(
            parse_docker_version(DOCKER_BODY).as_deref(),
            Some("20.10.24+dfsg1")
        );
        // Components order changed: containerd's version must not be picked.
        let odd = r#"{"Components":[{"Name":"containerd","Version":"1.7.0"}],"ApiVersion":"1.45", "Version" : "27.1.1" }"#;
        assert_eq!(parse_docker_version(odd).as_deref(), Some("27.1.1"));
        let pretty = "{\n  \"ApiVersion\": \"1.43\",\n  \"Version\": \"24.0.\\u0037\",\n  \"Os\": \"linux\"\n}";
        assert_eq!(parse_docker_version(pretty).as_deref(), Some("24.0.7"));
        let tricky = r#"{"Note":"\"Version\":\"9\"","Version":"25.0.3"}"#;
        assert_eq!(parse_docker_version(tricky).as_deref(), Some("25.0.3"));
        for bad in [
            "",
            "{",
            "[]",
            r#"{"Version":25}"#,
            r#"{"Version":"#,
            r#"{"ApiVersion":"1.4"}"#,
            "not json",
            r#"{"Version":""}"#,
        ] {
            assert_eq!(parse_docker_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_responses_plain_and_chunked() {
        let plain =
            format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{DOCKER_BODY}");
        let (status, body) = parse_http_response(plain.as_bytes()).unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, DOCKER_BODY.as_bytes());

        let (a, b) = DOCKER_BODY.split_at(60);
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n{:x}\r\n{a}\r\n{:X};ext=1\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        let (status, body) = parse_http_response(chunked.as_bytes()).unwrap();
        assert_eq!(status, 200);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(body, DOCKER_BODY);
        assert_eq!(
            parse_docker_version(&body).as_deref(),
            Some("20.10.24+dfsg1")
        );

        // Truncated chunk and bare-LF framing degrade without panicking.
        let truncated = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nff\n{\"Version\":\"1\"";
        let (_, body) = parse_http_response(truncated.as_bytes()).unwrap();
        assert_eq!(body, b"{\"Version\":\"1\"");
        let (status, _) = parse_http_response(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap();
        assert_eq!(status, 404);
        for bad in [
            &b""[..],
            b"garbage",
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.1 abc\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert_eq!(parse_http_response(bad), None);
        }
    }

    #[test]
    fn os_release_and_cpuinfo() {
        let os = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            parse_os_release(os).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            parse_os_release("NAME='Alpine Linux'\nVERSION=3.20\n").as_deref(),
            Some("Alpine Linux 3.20")
        );
        assert_eq!(
            parse_os_release("PRETTY_NAME=\"A \\\"B\\\"\"").as_deref(),
            Some("A \"B\"")
        );
        assert_eq!(parse_os_release("ID=x\n"), None);

        let x86 = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5606 @ 2.13GHz\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU E5606 @ 2.13GHz\n";
        assert_eq!(
            parse_cpuinfo(x86),
            (Some("Intel(R) Xeon(R) CPU E5606 @ 2.13GHz".into()), 2)
        );
        let arm = "processor\t: 0\nBogoMIPS\t: 48.00\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\n";
        assert_eq!(parse_cpuinfo(arm), (Some("BCM2835".into()), 1));
        assert_eq!(parse_cpuinfo(""), (None, 0));
    }

    #[test]
    fn missing_or_silent_docker_socket_gives_none_quickly() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(docker_version(&dir.path().join("absent.sock")), None);

        // A listener that accepts but never answers: the read timeout ends the wait.
        let path = dir.path().join("silent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let start = Instant::now();
        assert_eq!(docker_version(&path), None);
        assert!(start.elapsed() < DOCKER_DEADLINE + Duration::from_secs(1));
        drop(listener);
    }

    #[test]
    fn fake_docker_answers_with_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = conn.read(&mut req).unwrap();
            assert!(req[..n].starts_with(b"GET /version HTTP/1.0\r\n"));
            let body = r#"{"Version":"26.1.4","ApiVersion":"1.45"}"#;
            let resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).unwrap();
        });
        assert_eq!(docker_version(&path).as_deref(), Some("26.1.4"));
        server.join().unwrap();
    }

    #[test]
    fn real_host_info_is_filled() {
        let info = collect_host_info(Path::new("/var/run/docker.sock"));
        assert!(!info.hostname.is_empty());
        assert_eq!(info.arch, std::env::consts::ARCH);
        assert!(info.cpu_cores >= 1);
        assert!(info.mem_total_bytes > 0);
        assert!(info.boot_time_unix > 0);
        assert!(!info.disks.is_empty());
        assert_ne!(info.kernel, UNKNOWN);
    }
}
