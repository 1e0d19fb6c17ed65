//! The gateway's ClientHello reader fed the same bytes whole and as growing prefixes.

use gateway::sni::{HelloError, Peek, ServerName, parse_client_hello};

/// Target `sni`: byte 0 picks the size limit (`512 + 64 * byte`, so 512 to 16,832 bytes),
/// byte 1 the read size (1 to 256 bytes); the rest is what a client sent, given to
/// `gateway::sni::parse_client_hello` whole and as the prefixes a connection would have
/// after each read.
///
/// Checks: no panic, hang or unbounded allocation; "need more" only while the input is
/// below the limit; every prefix answers "need more" or exactly what the whole input
/// answers (an answer never changes once given, as the gateway acts on the first one);
/// a name found is a valid lower-case host name.
pub fn sni(data: &[u8]) {
    let [limit, piece, wire @ ..] = data else {
        return;
    };
    let max = 512 + 64 * usize::from(*limit);
    let piece = usize::from(*piece) + 1;
    let whole = parse_client_hello(wire, max);
    check_answer(wire.len(), max, &whole);
    let mut have = 0;
    while have < wire.len() {
        have = (have + piece).min(wire.len());
        let prefix = parse_client_hello(&wire[..have], max);
        check_answer(have, max, &prefix);
        if prefix != Ok(Peek::NeedMore) {
            assert_eq!(prefix, whole, "a prefix of {have} bytes answers otherwise");
            break;
        }
    }
}

fn check_answer(len: usize, max: usize, answer: &Result<Peek, HelloError>) {
    match answer {
        Ok(Peek::NeedMore) => assert!(len < max, "needs more past the limit"),
        Ok(Peek::Complete(Some(name))) => {
            let again = ServerName::new(name.as_str()).expect("a returned name is valid");
            assert_eq!(&again, name);
            assert!(!name.as_str().bytes().any(|b| b.is_ascii_uppercase()));
        }
        Ok(Peek::Complete(None)) | Err(_) => {}
    }
}
