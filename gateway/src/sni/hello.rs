//! The sans-io ClientHello reader: from the first bytes a client sent, the server name it
//! asks for (RFC 6066 `server_name`), "need more bytes", or why the bytes cannot be a TLS
//! ClientHello.
//!
//! The input is the raw byte stream: TLS records of content type 22 (handshake), each with
//! a 5-byte header, whose payloads concatenate to the handshake message. A ClientHello may
//! be split over several records, and the records over several reads; the caller keeps
//! appending to one buffer and calls [`parse_client_hello`] again. Nothing is allocated
//! unless the message spans records, and then at most the message's length, which is
//! bounded by the caller's `max_bytes` (also the most bytes the caller should ever read).

use super::names::{NameError, ServerName};

/// Header of a TLS record: type, version (2), length (2).
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest plaintext record payload (RFC 8446 §5.1).
pub const MAX_RECORD_PAYLOAD: usize = 16 * 1024;
/// Header of a handshake message: type, length (3).
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// A sane default for `max_bytes`: 16 KiB of ClientHello plus its record and handshake
/// headers. Real ClientHellos are 200 bytes to 2 KiB (post-quantum key shares, 1.5 KiB).
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;

const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;

/// What the bytes read so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// The ClientHello is not complete yet; read more (up to `max_bytes` in all).
    NeedMore,
    /// A complete ClientHello: the server name it asks for (lower case), if any.
    Complete(Option<ServerName>),
}

/// Why the bytes cannot be routed by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The first record is not a TLS handshake record (plain text, SSLv2, HTTP...).
    #[error("not TLS: {0}")]
    NotTls(&'static str),
    /// TLS records, but not a well-formed ClientHello.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
    /// The ClientHello (with its record headers) would exceed the size limit.
    #[error("ClientHello larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The server_name extension holds a name that is not a valid DNS host name.
    #[error("invalid server name: {0}")]
    InvalidName(#[from] NameError),
}

impl HelloError {
    /// A fixed label for statistics: `not_tls`, `malformed`, `too_large`, `invalid_name`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotTls(_) => "not_tls",
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::InvalidName(_) => "invalid_name",
        }
    }
}

/// Reads the ClientHello at the start of `input` (every byte the client sent so far),
/// allowing it and its record headers at most `max_bytes`.
///
/// Returns [`Peek::NeedMore`] while the message is incomplete and `input` is shorter than
/// `max_bytes`; an error as soon as the bytes cannot start a valid ClientHello (one byte of
/// plain text is enough to tell). Bytes after the ClientHello are ignored.
pub fn parse_client_hello(input: &[u8], max_bytes: usize) -> Result<Peek, HelloError> {
    let Some(message) = gather_message(input, max_bytes)? else {
        return Ok(Peek::NeedMore);
    };
    let body = match &message {
        Gathered::InPlace(b) => b,
        Gathered::Copied(v) => v.as_slice(),
    };
    client_hello_body(body).map(Peek::Complete)
}

/// The handshake message's body, borrowed when it sits in one record.
enum Gathered<'a> {
    InPlace(&'a [u8]),
    Copied(Vec<u8>),
}

/// Walks the records, checking each header, until the handshake message (header and body)
/// is complete; `None` when more bytes are needed.
fn gather_message(input: &[u8], max_bytes: usize) -> Result<Option<Gathered<'_>>, HelloError> {
    let too_large = HelloError::TooLarge { max: max_bytes };
    // The handshake message's length, once its 4-byte header has arrived.
    let mut msg_len: Option<usize> = None;
    // Handshake bytes seen so far and where each record's payload is.
    let mut have = 0usize;
    let mut pos = 0usize;
    let mut first_payload: Option<&[u8]> = None;
    let mut spans_records = false;
    let mut header = [0u8; HANDSHAKE_HEADER_LEN];
    loop {
        if let Some(len) = msg_len
            && have >= HANDSHAKE_HEADER_LEN + len
        {
            break;
        }
        // Decided on the position alone, before looking at the bytes, so that a prefix of
        // the input never gets another answer than the whole input.
        if pos + RECORD_HEADER_LEN > max_bytes {
            return Err(too_large);
        }
        let rest = &input[pos..];
        check_record_start(rest)?;
        if rest.len() < RECORD_HEADER_LEN {
            return need_more(input, max_bytes, too_large);
        }
        let payload_len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if payload_len == 0 {
            return Err(HelloError::Malformed("empty handshake record"));
        }
        if payload_len > MAX_RECORD_PAYLOAD {
            return Err(HelloError::Malformed("record longer than 16 KiB"));
        }
        if pos + RECORD_HEADER_LEN + payload_len > max_bytes {
            return Err(too_large);
        }
        let before = have;
        let available = (rest.len() - RECORD_HEADER_LEN).min(payload_len);
        let payload = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + available];
        if first_payload.is_none() {
            first_payload = Some(payload);
        } else {
            spans_records = true;
        }
        for (i, &b) in payload.iter().enumerate() {
            let at = have + i;
            if at < HANDSHAKE_HEADER_LEN {
                header[at] = b;
            } else {
                break;
            }
        }
        have += available;
        if msg_len.is_none() && have >= HANDSHAKE_HEADER_LEN {
            if header[0] != HANDSHAKE_CLIENT_HELLO {
                return Err(HelloError::Malformed(
                    "first handshake message is not a ClientHello",
                ));
            }
            let len =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            // The body plus its header plus at least one record header must fit.
            if len + HANDSHAKE_HEADER_LEN + RECORD_HEADER_LEN > max_bytes {
                return Err(too_large);
            }
            msg_len = Some(len);
        }
        if let Some(len) = msg_len
            && before + payload_len > HANDSHAKE_HEADER_LEN + len
        {
            // The record carries more than the ClientHello: only legal if the rest is a
            // further handshake message, which a client must not send before the server's
            // answer.
            return Err(HelloError::Malformed(
                "data after the ClientHello in its record",
            ));
        }
        if available < payload_len {
            return need_more(input, max_bytes, too_large);
        }
        pos += RECORD_HEADER_LEN + payload_len;
    }
    let len = msg_len.unwrap_or(0);
    let first = first_payload.unwrap_or_default();
    if !spans_records {
        return Ok(Some(Gathered::InPlace(
            &first[HANDSHAKE_HEADER_LEN..][..len],
        )));
    }
    // Copy the message out of its records (bounded: `len` is below `max_bytes`).
    let mut out = Vec::with_capacity(HANDSHAKE_HEADER_LEN + len);
    let mut at = 0usize;
    while out.len() < HANDSHAKE_HEADER_LEN + len {
        let n = usize::from(u16::from_be_bytes([input[at + 3], input[at + 4]]));
        let payload = &input[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + n];
        out.extend_from_slice(payload);
        at += RECORD_HEADER_LEN + n;
    }
    out.drain(..HANDSHAKE_HEADER_LEN);
    Ok(Some(Gathered::Copied(out)))
}

/// Whatever part of a record header `rest` holds must be a TLS handshake record's.
fn check_record_start(rest: &[u8]) -> Result<(), HelloError> {
    if let Some(&t) = rest.first()
        && t != CONTENT_HANDSHAKE
    {
        return Err(HelloError::NotTls("first byte is not a handshake record"));
    }
    if let Some(&major) = rest.get(1)
        && major != 3
    {
        return Err(HelloError::NotTls("record version is not 3.x"));
    }
    if let Some(&minor) = rest.get(2)
        && minor > 4
    {
        return Err(HelloError::NotTls("record version is not 3.0-3.4"));
    }
    Ok(())
}

fn need_more(
    input: &[u8],
    max_bytes: usize,
    too_large: HelloError,
) -> Result<Option<Gathered<'_>>, HelloError> {
    if input.len() >= max_bytes {
        Err(too_large)
    } else {
        Ok(None)
    }
}

/// A cursor over a message body that never reads past its end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HelloError> {
        if self.rest.len() < n {
            return Err(HelloError::Malformed(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, HelloError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, HelloError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one-byte length prefix.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    /// A vector with a two-byte length prefix.
    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

/// The ClientHello body (RFC 8446 §4.1.2, also TLS 1.0-1.2): the requested name, if any.
fn client_hello_body(body: &[u8]) -> Result<Option<ServerName>, HelloError> {
    let mut r = Reader { rest: body };
    let version = r.take(2, "truncated version")?;
    if version[0] != 3 {
        return Err(HelloError::Malformed("client version is not 3.x"));
    }
    r.take(32, "truncated random")?;
    let session_id = r.vec8("truncated session id")?;
    if session_id.len() > 32 {
        return Err(HelloError::Malformed("session id longer than 32 bytes"));
    }
    let suites = r.vec16("truncated cipher suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(HelloError::Malformed("cipher suite list empty or odd"));
    }
    let compression = r.vec8("truncated compression methods")?;
    if compression.is_empty() {
        return Err(HelloError::Malformed("no compression method"));
    }
    if r.rest.is_empty() {
        return Ok(None); // No extensions (TLS 1.0 style).
    }
    let extensions = r.vec16("truncated extensions")?;
    if !r.rest.is_empty() {
        return Err(HelloError::Malformed("bytes after the extensions"));
    }
    let mut exts = Reader { rest: extensions };
    let mut name = None;
    let mut seen_sni = false;
    while !exts.rest.is_empty() {
        let kind = exts.u16("truncated extension type")?;
        let data = exts.vec16("truncated extension")?;
        if kind == EXT_SERVER_NAME {
            if seen_sni {
                return Err(HelloError::Malformed("two server_name extensions"));
            }
            seen_sni = true;
            name = server_name_extension(data)?;
        }
    }
    Ok(name)
}

/// The `server_name` extension: a list of (type, name); one host name at most.
fn server_name_extension(data: &[u8]) -> Result<Option<ServerName>, HelloError> {
    if data.is_empty() {
        // A server's (empty) echo; a client must not send it, but nothing is asked for.
        return Ok(None);
    }
    let mut r = Reader { rest: data };
    let list = r.vec16("truncated server name list")?;
    if !r.rest.is_empty() {
        return Err(HelloError::Malformed("bytes after the server name list"));
    }
    if list.is_empty() {
        return Err(HelloError::Malformed("empty server name list"));
    }
    let mut entries = Reader { rest: list };
    let mut host = None;
    while !entries.rest.is_empty() {
        let kind = entries.u8("truncated server name type")?;
        let name = entries.vec16("truncated server name")?;
        if kind == NAME_TYPE_HOST {
            if host.is_some() {
                return Err(HelloError::Malformed("two host names"));
            }
            host = Some(ServerName::from_wire(name)?);
        }
    }
    Ok(host)
}
