//! rkyv encoding of [`Message`]; decoding always goes through checked access.

use crate::message::{ArchivedMessage, ArchivedResponseBody, Message, ResponseBody};
use rkyv::rancor;
use thiserror::Error;

/// Largest encoded message; reassembly refuses anything bigger before buffering it.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;

/// A message could not be encoded or decoded.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The bytes are not a valid archived message.
    #[error("invalid message archive: {0}")]
    Invalid(#[source] rancor::Error),
    /// The message could not be serialised.
    #[error("cannot encode message: {0}")]
    Encode(#[source] rancor::Error),
    /// The encoded message is above [`MAX_MESSAGE_LEN`].
    #[error("message of {0} bytes exceeds the maximum of {MAX_MESSAGE_LEN}")]
    TooLarge(usize),
}

/// Serialises a message.
pub fn encode_message(msg: &Message) -> Result<Vec<u8>, CodecError> {
    let bytes = rkyv::to_bytes::<rancor::Error>(msg).map_err(CodecError::Encode)?;
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    Ok(bytes.into_vec())
}

/// Validates an archive and returns a view of it without copying.
pub fn access_message(bytes: &[u8]) -> Result<&ArchivedMessage, CodecError> {
    rkyv::access::<ArchivedMessage, rancor::Error>(bytes).map_err(CodecError::Invalid)
}

/// Validates an archive and deserialises it.
pub fn decode_message(bytes: &[u8]) -> Result<Message, CodecError> {
    let archived = access_message(bytes)?;
    rkyv::deserialize::<Message, rancor::Error>(archived).map_err(CodecError::Invalid)
}

/// Serialises a final answer on its own: the bytes a streamed answer's chunks carry (see
/// [`crate::ops`]). Not limited to [`MAX_MESSAGE_LEN`]: that is what streaming is for.
pub fn encode_response_body(body: &ResponseBody) -> Result<Vec<u8>, CodecError> {
    rkyv::to_bytes::<rancor::Error>(body)
        .map(|b| b.into_vec())
        .map_err(CodecError::Encode)
}

/// Validates and deserialises the reassembled bytes of a streamed answer.
pub fn decode_response_body(bytes: &[u8]) -> Result<ResponseBody, CodecError> {
    // The workspace's rkyv format is unaligned, so a plain reassembled `Vec` is read in place.
    let archived =
        rkyv::access::<ArchivedResponseBody, rancor::Error>(bytes).map_err(CodecError::Invalid)?;
    rkyv::deserialize::<ResponseBody, rancor::Error>(archived).map_err(CodecError::Invalid)
}

#[cfg(test)]
mod tests;
