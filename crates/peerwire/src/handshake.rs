//! The 68-byte BitTorrent handshake (BEP-3) with the BEP-10 extension bit.
//!
//! ```text
//! <pstrlen=19><pstr="BitTorrent protocol"><reserved: 8 bytes><info_hash: 20><peer_id: 20>
//! ```

use crate::error::HandshakeError;

/// The protocol string, with its length byte in front.
pub const PROTOCOL_PREFIX: &[u8; 20] = b"\x13BitTorrent protocol";

/// Length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 68;

/// Byte and bit of the reserved field that announce the extension protocol (BEP-10).
const EXTENSION_BYTE: usize = 5;
const EXTENSION_BIT: u8 = 0x10;

/// A peer's handshake, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The eight reserved (feature) bytes.
    pub reserved: [u8; 8],
    /// The torrent the peer speaks about.
    pub info_hash: [u8; 20],
    /// The peer's id.
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// Parses a complete handshake. Only the protocol string is checked here; the caller
    /// compares the info hash.
    pub fn parse(buf: &[u8; HANDSHAKE_LEN]) -> Result<Self, HandshakeError> {
        if buf[..20] != PROTOCOL_PREFIX[..] {
            return Err(HandshakeError::BadProtocol);
        }
        let mut h = Self {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        h.reserved.copy_from_slice(&buf[20..28]);
        h.info_hash.copy_from_slice(&buf[28..48]);
        h.peer_id.copy_from_slice(&buf[48..68]);
        Ok(h)
    }

    /// Whether the peer announces the extension protocol (BEP-10).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXTENSION_BYTE] & EXTENSION_BIT != 0
    }
}

/// Whether the first bytes of a handshake (possibly fewer than 20) can still be the protocol
/// string: lets a reader reject garbage at its first wrong byte instead of waiting for 68.
pub fn prefix_plausible(start: &[u8]) -> bool {
    let n = start.len().min(PROTOCOL_PREFIX.len());
    start[..n] == PROTOCOL_PREFIX[..n]
}

/// Our handshake: the extension bit set, every other reserved bit clear.
pub fn encode_handshake(info_hash: &[u8; 20], peer_id: &[u8; 20]) -> [u8; HANDSHAKE_LEN] {
    encode_handshake_with(info_hash, peer_id, true)
}

/// A handshake with or without the extension bit (tests play peers without BEP-10 with it).
pub fn encode_handshake_with(
    info_hash: &[u8; 20],
    peer_id: &[u8; 20],
    extensions: bool,
) -> [u8; HANDSHAKE_LEN] {
    let mut out = [0u8; HANDSHAKE_LEN];
    out[..20].copy_from_slice(PROTOCOL_PREFIX);
    if extensions {
        out[20 + EXTENSION_BYTE] = EXTENSION_BIT;
    }
    out[28..48].copy_from_slice(info_hash);
    out[48..68].copy_from_slice(peer_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_bits() {
        let hs = encode_handshake(&[1; 20], &[2; 20]);
        let h = Handshake::parse(&hs).unwrap();
        assert!(h.supports_extensions());
        assert_eq!(h.info_hash, [1; 20]);
        assert_eq!(h.peer_id, [2; 20]);
        assert_eq!(h.reserved, [0, 0, 0, 0, 0, 0x10, 0, 0]);
        let plain = encode_handshake_with(&[1; 20], &[2; 20], false);
        assert!(!Handshake::parse(&plain).unwrap().supports_extensions());
    }

    #[test]
    fn garbage_is_bad_protocol() {
        let mut hs = encode_handshake(&[1; 20], &[2; 20]);
        hs[5] = b'X';
        assert_eq!(Handshake::parse(&hs), Err(HandshakeError::BadProtocol));
        assert!(prefix_plausible(b"\x13BitTo"));
        assert!(prefix_plausible(b""));
        assert!(!prefix_plausible(b"GET / HTTP/1.1"));
        assert!(prefix_plausible(&hs[..5]));
        assert!(!prefix_plausible(&hs[..6]));
    }
}
