//! Unit tests of the ClientHello reader and name matching, with ClientHellos made by a real
//! TLS client (rustls), re-cut into records and reads, and hostile inputs.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use proptest::prelude::*;

use super::hello::{DEFAULT_MAX_BYTES, RECORD_HEADER_LEN};
use super::*;

/// The first flight of a rustls client asking for `name` (an IP address sends no SNI).
pub(crate) fn rustls_client_hello(name: &str) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let server = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// The handshake message inside a single-record hello.
fn message_of(records: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    let mut at = 0;
    while at + RECORD_HEADER_LEN <= records.len() {
        let n = usize::from(u16::from_be_bytes([records[at + 3], records[at + 4]]));
        msg.extend_from_slice(&records[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + n]);
        at += RECORD_HEADER_LEN + n;
    }
    msg
}

/// `message` cut into handshake records of the given payload sizes (the last takes the rest).
fn records(message: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = message;
    let mut sizes = sizes.iter().copied();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (head, tail) = rest.split_at(n);
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(head);
        rest = tail;
    }
    out
}

fn name(s: &str) -> Option<ServerName> {
    Some(ServerName::new(s).unwrap())
}

/// A minimal TLS 1.0-style ClientHello body: no extensions at all.
fn hello_without_extensions() -> Vec<u8> {
    let mut body = vec![3, 1];
    body.extend_from_slice(&[7; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x00, 0x2f]); // one suite
    body.extend_from_slice(&[1, 0]); // null compression
    let mut msg = vec![1, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    msg
}

/// A ClientHello body with the given extensions block (already length-prefixed entries).
fn hello_with_extensions(exts: &[u8]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(exts);
    let len = body.len();
    let mut msg = vec![1, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    msg.extend_from_slice(&body);
    msg
}

fn sni_extension(names: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, n) in names {
        list.push(*kind);
        list.extend_from_slice(&(n.len() as u16).to_be_bytes());
        list.extend_from_slice(n);
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&list);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
    ext.extend_from_slice(&data);
    ext
}

#[test]
fn real_client_hello_gives_its_name_in_lower_case() {
    let wire = rustls_client_hello("Api.B.Example");
    assert_eq!(
        parse_client_hello(&wire, DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(name("api.b.example")))
    );
}

#[test]
fn client_hello_without_sni_is_complete_with_no_name() {
    let wire = rustls_client_hello("127.0.0.1");
    assert_eq!(
        parse_client_hello(&wire, DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(None))
    );
    let wire = records(&hello_without_extensions(), &[]);
    assert_eq!(
        parse_client_hello(&wire, DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(None))
    );
}

#[test]
fn every_prefix_needs_more_and_the_whole_completes() {
    let wire = rustls_client_hello("a.example");
    for n in 0..wire.len() {
        assert_eq!(
            parse_client_hello(&wire[..n], DEFAULT_MAX_BYTES),
            Ok(Peek::NeedMore),
            "prefix of {n} bytes"
        );
    }
    // Bytes after the ClientHello (e.g. TLS 1.3 early data records) are not looked at.
    let mut more = wire.clone();
    more.extend_from_slice(b"\x17\x03\x03\x00\x02hi");
    assert_eq!(
        parse_client_hello(&more, DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(name("a.example")))
    );
}

#[test]
fn hello_split_over_many_records() {
    let msg = message_of(&rustls_client_hello("x.b.example"));
    for sizes in [&[1usize][..], &[3, 1, 2], &[4], &[5, 100], &[200, 1]] {
        let mut sizes = sizes.to_vec();
        sizes.resize(msg.len(), *sizes.last().unwrap());
        let wire = records(&msg, &sizes);
        assert_eq!(
            parse_client_hello(&wire, 64 * 1024),
            Ok(Peek::Complete(name("x.b.example"))),
            "records of {sizes:?}"
        );
        for n in (0..wire.len()).step_by(7) {
            assert_eq!(
                parse_client_hello(&wire[..n], 64 * 1024),
                Ok(Peek::NeedMore)
            );
        }
    }
}

#[test]
fn size_limit_counts_record_headers_and_refuses_early() {
    let wire = rustls_client_hello("a.example");
    assert_eq!(
        parse_client_hello(&wire, wire.len()),
        Ok(Peek::Complete(name("a.example")))
    );
    let max = wire.len() - 1;
    assert_eq!(
        parse_client_hello(&wire, max),
        Err(HelloError::TooLarge { max })
    );
    // Refused from the headers alone: a message announcing 1 MiB.
    let huge = [22, 3, 1, 0x40, 0x00, 1, 0x10, 0x00, 0x00];
    assert_eq!(
        parse_client_hello(&huge, DEFAULT_MAX_BYTES),
        Err(HelloError::TooLarge {
            max: DEFAULT_MAX_BYTES
        })
    );
    // One-byte records make the same message bigger on the wire than the limit.
    let msg = message_of(&wire);
    let tiny = records(&msg, &vec![1; msg.len()]);
    assert!(matches!(
        parse_client_hello(&tiny, 2 * msg.len()),
        Err(HelloError::TooLarge { .. })
    ));
}

#[test]
fn not_tls_is_told_from_the_first_bytes() {
    for input in [
        &b"G"[..],
        b"GET / HTTP/1.1\r\n",
        b"\x80\x2e\x01",
        b"SSH-2.0",
    ] {
        assert!(
            matches!(
                parse_client_hello(input, DEFAULT_MAX_BYTES),
                Err(HelloError::NotTls(_))
            ),
            "{input:?}"
        );
    }
    assert!(matches!(
        parse_client_hello(b"\x16\x02", DEFAULT_MAX_BYTES),
        Err(HelloError::NotTls(_))
    ));
    assert_eq!(
        parse_client_hello(b"", DEFAULT_MAX_BYTES),
        Ok(Peek::NeedMore)
    );
}

#[test]
fn malformed_hellos_are_refused() {
    let good = hello_with_extensions(&sni_extension(&[(0, b"a.example")]));
    assert_eq!(
        parse_client_hello(&records(&good, &[]), DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(name("a.example")))
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("server hello", {
            let mut m = good.clone();
            m[0] = 2;
            records(&m, &[])
        }),
        ("empty record", vec![22, 3, 1, 0, 0]),
        ("record over 16 KiB", vec![22, 3, 1, 0x40, 0x01]),
        (
            "body shorter than its random",
            records(&[1, 0, 0, 3, 3, 3, 0], &[]),
        ),
        ("two host names", {
            records(
                &hello_with_extensions(&sni_extension(&[(0, b"a.example"), (0, b"b.example")])),
                &[],
            )
        }),
        ("two sni extensions", {
            let mut exts = sni_extension(&[(0, b"a.example")]);
            exts.extend(sni_extension(&[(0, b"b.example")]));
            records(&hello_with_extensions(&exts), &[])
        }),
        ("extension longer than the block", {
            let mut m = good.clone();
            let ext_len_at = m.len() - sni_extension(&[(0, b"a.example")]).len() + 2;
            m[ext_len_at + 1] = m[ext_len_at + 1].wrapping_add(1);
            records(&m, &[])
        }),
        ("trailing data in the hello's record", {
            let mut r = records(&good, &[]);
            r[4] += 1;
            r.push(0);
            r
        }),
    ];
    for (what, wire) in cases {
        let r = parse_client_hello(&wire, DEFAULT_MAX_BYTES);
        assert!(matches!(r, Err(HelloError::Malformed(_))), "{what}: {r:?}");
    }
}

#[test]
fn invalid_names_are_refused() {
    for bad in [
        &b""[..],
        b"a..b",
        b".a",
        b"a.",
        b"-a.example",
        b"a b",
        b"\xff.example",
        b"*.a",
    ] {
        let wire = records(&hello_with_extensions(&sni_extension(&[(0, bad)])), &[]);
        assert!(
            matches!(
                parse_client_hello(&wire, DEFAULT_MAX_BYTES),
                Err(HelloError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    let long = vec![b'a'; 254];
    let wire = records(&hello_with_extensions(&sni_extension(&[(0, &long)])), &[]);
    assert_eq!(
        parse_client_hello(&wire, DEFAULT_MAX_BYTES),
        Err(HelloError::InvalidName(NameError::Length))
    );
    // A name of another type is skipped.
    let wire = records(&hello_with_extensions(&sni_extension(&[(9, b"??")])), &[]);
    assert_eq!(
        parse_client_hello(&wire, DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(None))
    );
}

#[test]
fn patterns_parse_and_match() {
    let exact = NamePattern::parse("A.Example").unwrap();
    assert_eq!(exact.to_string(), "a.example");
    let wild = NamePattern::parse("*.B.example").unwrap();
    assert_eq!(wild.to_string(), "*.b.example");
    assert!(exact.matches(&ServerName::new("a.example").unwrap()));
    assert!(wild.matches(&ServerName::new("x.b.example").unwrap()));
    assert!(wild.matches(&ServerName::new("y.x.b.example").unwrap()));
    assert!(!wild.matches(&ServerName::new("b.example").unwrap()));
    assert!(!wild.matches(&ServerName::new("xb.example").unwrap()));
    for bad in ["*", "*.", "a.*.b", "**.a", "*a.b", "a..b", ""] {
        assert!(NamePattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn table_prefers_exact_then_longest_wildcard() {
    let p = |v: &[&str]| -> Vec<NamePattern> {
        v.iter().map(|s| NamePattern::parse(s).unwrap()).collect()
    };
    let g0 = p(&["*.example"]);
    let g1 = p(&["*.b.example", "a.example"]);
    let g2 = p(&["x.b.example"]);
    let g3 = p(&["*.c.b.example"]);
    let t = SniTable::new([(&g0[..], 0), (&g1[..], 1), (&g2[..], 2), (&g3[..], 3)]);
    let at = |s: &str| t.lookup(&ServerName::new(s).unwrap());
    assert_eq!(at("a.example"), Some(1));
    assert_eq!(at("x.b.example"), Some(2));
    assert_eq!(at("y.b.example"), Some(1));
    assert_eq!(at("z.c.b.example"), Some(3));
    assert_eq!(at("q.example"), Some(0));
    assert_eq!(at("example"), None);
    assert_eq!(at("other.org"), None);
}

proptest! {
    /// Any cut of a real ClientHello into records and reads gives the same answer, and
    /// every read before the last asks for more.
    #[test]
    fn any_record_and_read_split_gives_the_name(
        sizes in prop::collection::vec(1usize..300, 1..40),
        reads in prop::collection::vec(1usize..400, 1..20),
    ) {
        let msg = message_of(&rustls_client_hello("x.b.example"));
        let wire = records(&msg, &sizes);
        let mut have = 0;
        for r in reads.iter().cycle() {
            have = (have + r).min(wire.len());
            let got = parse_client_hello(&wire[..have], 64 * 1024).unwrap();
            if have == wire.len() {
                prop_assert_eq!(got, Peek::Complete(name("x.b.example")));
                break;
            }
            prop_assert_eq!(got, Peek::NeedMore);
        }
    }

    /// Arbitrary bytes (behind a plausible record header or not) never panic, and an
    /// answer of "need more" only comes while the input is below the limit.
    #[test]
    fn arbitrary_bytes_never_panic(
        header in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..600),
        max in 1usize..700,
    ) {
        let mut input = Vec::new();
        if header {
            input.extend_from_slice(&[22, 3, 3]);
            input.extend_from_slice(&(body.len() as u16).to_be_bytes());
            input.extend_from_slice(&[1, 0]);
        }
        input.extend_from_slice(&body);
        if let Ok(Peek::NeedMore) = parse_client_hello(&input, max) {
            prop_assert!(input.len() < max);
        }
    }
}

/// ClientHellos made by OpenSSL (Python's `ssl` module), committed as fuzz corpus seeds; the
/// first two bytes of a corpus file are the fuzz target's settings.
#[test]
fn openssl_client_hellos_from_the_fuzz_corpus() {
    let cases: [(&[u8], Option<ServerName>); 4] = [
        (
            include_bytes!("../../../fuzz/corpus/sni/openssl-sni"),
            name("a.example"),
        ),
        (
            include_bytes!("../../../fuzz/corpus/sni/openssl-sni-uppercase"),
            name("x.b.example"),
        ),
        (
            include_bytes!("../../../fuzz/corpus/sni/openssl-tls12"),
            name("c.example"),
        ),
        (
            include_bytes!("../../../fuzz/corpus/sni/openssl-no-sni"),
            None,
        ),
    ];
    for (file, expected) in cases {
        assert_eq!(
            parse_client_hello(&file[2..], DEFAULT_MAX_BYTES),
            Ok(Peek::Complete(expected))
        );
    }
    let recut = include_bytes!("../../../fuzz/corpus/sni/records-of-7");
    assert_eq!(
        parse_client_hello(&recut[2..], DEFAULT_MAX_BYTES),
        Ok(Peek::Complete(name("a.example")))
    );
}
