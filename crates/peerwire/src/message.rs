//! Length-prefixed peer-wire framing (BEP-3): `<len: u32 BE><id: u8><payload>`, and `len = 0`
//! for a keep-alive.
//!
//! [`parse_header`] looks at the start of a buffer and says "need more bytes" as a plain
//! `Ok(None)`; only a length above the caller's bound is an error.

use crate::error::ProtocolError;

/// Message id of BEP-10 extended messages.
pub const EXTENDED: u8 = 20;

/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 4;

/// The start of one framed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `len = 0`: nothing follows; the whole frame is the 4-byte prefix.
    KeepAlive,
    /// A message with an id; `payload_len` bytes follow the id byte.
    Message {
        /// The message id.
        id: u8,
        /// Payload bytes after the id byte.
        payload_len: usize,
    },
}

impl Header {
    /// Bytes of the header itself (prefix, plus the id byte for a message).
    pub fn header_len(&self) -> usize {
        match self {
            Self::KeepAlive => LEN_PREFIX,
            Self::Message { .. } => LEN_PREFIX + 1,
        }
    }
}

/// Parses the header at the start of `buf`: `Ok(None)` when fewer than 5 bytes (4 for a
/// keep-alive) are there, an error when the length exceeds `max_len`.
pub fn parse_header(buf: &[u8], max_len: u32) -> Result<Option<Header>, ProtocolError> {
    let Some(prefix) = buf.get(..LEN_PREFIX) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if len == 0 {
        return Ok(Some(Header::KeepAlive));
    }
    if len > max_len {
        return Err(ProtocolError::MessageTooLong { len });
    }
    let Some(&id) = buf.get(LEN_PREFIX) else {
        return Ok(None);
    };
    Ok(Some(Header::Message {
        id,
        payload_len: len as usize - 1,
    }))
}

/// Appends a framed message `<len><id><payload>`.
///
/// Panics only if the payload exceeds `u32::MAX - 1` bytes, which no caller in this crate
/// produces (its largest message is a 16 KiB metadata piece).
pub fn encode_message(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len() + 1).expect("peer-wire message over 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.push(id);
    out.extend_from_slice(payload);
}

/// Appends a keep-alive (`len = 0`).
pub fn encode_keep_alive(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_more_is_not_an_error() {
        assert_eq!(parse_header(b"", 100), Ok(None));
        assert_eq!(parse_header(&[0, 0, 0], 100), Ok(None));
        assert_eq!(parse_header(&[0, 0, 0, 5], 100), Ok(None));
        assert_eq!(
            parse_header(&[0, 0, 0, 0], 100),
            Ok(Some(Header::KeepAlive))
        );
        assert_eq!(
            parse_header(&[0, 0, 0, 5, 20], 100),
            Ok(Some(Header::Message {
                id: 20,
                payload_len: 4
            }))
        );
    }

    #[test]
    fn oversized_is_an_error_before_any_payload() {
        assert_eq!(
            parse_header(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(ProtocolError::MessageTooLong { len: u32::MAX })
        );
        assert_eq!(
            parse_header(&[0, 0, 0, 101], 100),
            Err(ProtocolError::MessageTooLong { len: 101 })
        );
    }

    #[test]
    fn encode_roundtrip() {
        let mut out = Vec::new();
        encode_message(&mut out, 20, b"abc");
        encode_keep_alive(&mut out);
        assert_eq!(out, b"\0\0\0\x04\x14abc\0\0\0\0");
        let h = parse_header(&out, 100).unwrap().unwrap();
        assert_eq!(h.header_len(), 5);
    }
}
