//! BEP-9 `ut_metadata`: its three messages and the assembly of the info dictionary from
//! 16 KiB pieces.
//!
//! A `ut_metadata` message is an extended message whose payload is a bencoded dictionary
//! `{msg_type, piece[, total_size]}`; a data message (`msg_type` 1) carries the raw piece bytes
//! right after the dictionary.

use bencode::Encoder;
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// Whether `info` hashes to `info_hash`: its SHA-1 (v1), or its SHA-256 truncated to 20 bytes
/// (the v2 infohash as BEP-52 puts it on the DHT).
pub fn matches_info_hash(info: &[u8], info_hash: &[u8; 20]) -> bool {
    let v1: [u8; 20] = Sha1::digest(info).into();
    if &v1 == info_hash {
        return true;
    }
    let v2 = Sha256::digest(info);
    v2[..20] == info_hash[..]
}

use crate::error::{FetchError, ProtocolError};
use crate::message::{EXTENDED, encode_message};

/// Size of every metadata piece but the last.
pub const PIECE_SIZE: usize = 16 * 1024;

/// `msg_type` of a request.
pub const MSG_REQUEST: i64 = 0;
/// `msg_type` of a data message.
pub const MSG_DATA: i64 = 1;
/// `msg_type` of a reject.
pub const MSG_REJECT: i64 = 2;

/// One parsed `ut_metadata` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMsg<'a> {
    /// `msg_type` 0: the peer asks for a piece.
    Request {
        /// Piece index, as sent.
        piece: i64,
    },
    /// `msg_type` 1: a piece.
    Data {
        /// Piece index, as sent.
        piece: i64,
        /// `total_size`, if sent.
        total_size: Option<i64>,
        /// The piece bytes following the dictionary.
        data: &'a [u8],
    },
    /// `msg_type` 2: the peer will not send a piece.
    Reject {
        /// Piece index, as sent.
        piece: i64,
    },
    /// A `msg_type` this crate does not know; ignored.
    Unknown {
        /// The `msg_type`.
        msg_type: i64,
    },
}

impl<'a> MetadataMsg<'a> {
    /// Parses the payload after the extension id byte.
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        let bad = ProtocolError::BadMetadataMessage;
        let (v, used) = bencode::decode_prefix(payload).map_err(|_| bad)?;
        let d = v.as_dict().ok_or(bad)?;
        let msg_type = d.get(b"msg_type").and_then(|v| v.as_int()).ok_or(bad)?;
        if !(MSG_REQUEST..=MSG_REJECT).contains(&msg_type) {
            return Ok(MetadataMsg::Unknown { msg_type });
        }
        let piece = d.get(b"piece").and_then(|v| v.as_int()).ok_or(bad)?;
        Ok(match msg_type {
            MSG_REQUEST => MetadataMsg::Request { piece },
            MSG_DATA => MetadataMsg::Data {
                piece,
                total_size: d.get(b"total_size").and_then(|v| v.as_int()),
                data: payload.get(used..).unwrap_or_default(),
            },
            _ => MetadataMsg::Reject { piece },
        })
    }
}

fn encode(
    out: &mut Vec<u8>,
    ext_id: u8,
    msg_type: i64,
    piece: u32,
    total: Option<u64>,
    data: &[u8],
) {
    let mut payload = Vec::with_capacity(48 + data.len());
    payload.push(ext_id);
    let mut e = Encoder::new(&mut payload);
    let r = (|| {
        e.dict()?.kv_int(b"msg_type", msg_type)?;
        e.kv_int(b"piece", i64::from(piece))?;
        if let Some(t) = total {
            e.kv_int(b"total_size", i64::try_from(t).unwrap_or(i64::MAX))?;
        }
        e.end()?;
        Ok::<(), bencode::Overflow>(())
    })();
    debug_assert!(r.is_ok(), "a Vec sink never overflows");
    payload.extend_from_slice(data);
    encode_message(out, EXTENDED, &payload);
}

/// Appends a framed request for `piece`, sent with the peer's `ut_metadata` id.
pub fn encode_request(out: &mut Vec<u8>, peer_ext_id: u8, piece: u32) {
    encode(out, peer_ext_id, MSG_REQUEST, piece, None, &[]);
}

/// Appends a framed data message: piece `piece` of metadata of `total_size` bytes.
pub fn encode_data(out: &mut Vec<u8>, peer_ext_id: u8, piece: u32, total_size: u64, data: &[u8]) {
    encode(out, peer_ext_id, MSG_DATA, piece, Some(total_size), data);
}

/// Appends a framed reject of `piece`.
pub fn encode_reject(out: &mut Vec<u8>, peer_ext_id: u8, piece: u32) {
    encode(out, peer_ext_id, MSG_REJECT, piece, None, &[]);
}

/// Number of pieces of metadata of `size` bytes.
pub fn piece_count(size: usize) -> usize {
    size.div_ceil(PIECE_SIZE)
}

/// The metadata of one torrent, piece by piece.
///
/// Allocates its `size` bytes once, in [`Assembly::new`], and only after checking the size
/// against the caller's limit.
#[derive(Debug)]
pub struct Assembly {
    buf: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
}

impl Assembly {
    /// Room for `size` bytes of metadata, or [`FetchError::TooBig`] (without allocating) when
    /// `size > max`. `size` must be positive: a peer announcing 0 has no metadata.
    pub fn new(size: u64, max: usize) -> Result<Self, FetchError> {
        let len = usize::try_from(size)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(FetchError::TooBig { size })?;
        if len == 0 {
            return Err(FetchError::NoMetadataSupport);
        }
        let n = piece_count(len);
        Ok(Self {
            buf: vec![0; len],
            have: vec![false; n],
            missing: n,
        })
    }

    /// Total metadata size.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> usize {
        self.have.len()
    }

    /// Exact size of piece `i` (every piece is 16 KiB except a shorter last one).
    pub fn piece_len(&self, i: usize) -> usize {
        let start = i.saturating_mul(PIECE_SIZE).min(self.buf.len());
        (self.buf.len() - start).min(PIECE_SIZE)
    }

    /// Whether piece `i` has arrived.
    pub fn has(&self, i: usize) -> bool {
        self.have.get(i).copied().unwrap_or(false)
    }

    /// Whether every piece has arrived.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Stores piece `piece`. Returns whether it was new (a repeated piece is ignored). The
    /// index must be in range and the data exactly [`Assembly::piece_len`] bytes.
    pub fn insert(&mut self, piece: i64, data: &[u8]) -> Result<bool, ProtocolError> {
        let i = usize::try_from(piece)
            .ok()
            .filter(|&i| i < self.have.len())
            .ok_or(ProtocolError::PieceOutOfRange { piece })?;
        let expected = self.piece_len(i);
        if data.len() != expected {
            return Err(ProtocolError::BadPieceSize {
                piece: i as u32,
                got: data.len(),
                expected,
            });
        }
        if self.have[i] {
            return Ok(false);
        }
        let start = i * PIECE_SIZE;
        self.buf[start..start + expected].copy_from_slice(data);
        self.have[i] = true;
        self.missing -= 1;
        Ok(true)
    }

    /// The complete metadata, if it hashes to `info_hash`; [`FetchError::HashMismatch`]
    /// otherwise (or when pieces are missing).
    ///
    /// `info_hash` may be a v1 infohash (SHA-1 of the info dict) or, for BEP-52 torrents, the
    /// v2 infohash truncated to 20 bytes (SHA-256 of the info dict), which is what the DHT
    /// carries for v2-only torrents and, beside the v1 hash, for hybrids.
    pub fn finish(self, info_hash: &[u8; 20]) -> Result<Vec<u8>, FetchError> {
        if !self.is_complete() {
            return Err(FetchError::HashMismatch);
        }
        if matches_info_hash(&self.buf, info_hash) {
            Ok(self.buf)
        } else {
            Err(FetchError::HashMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_roundtrip() {
        let mut out = Vec::new();
        encode_request(&mut out, 2, 7);
        assert_eq!(&out[4..], b"\x14\x02d8:msg_typei0e5:piecei7ee");
        assert_eq!(
            MetadataMsg::parse(&out[6..]),
            Ok(MetadataMsg::Request { piece: 7 })
        );
        out.clear();
        encode_data(&mut out, 2, 1, 20_000, b"xyz");
        assert_eq!(
            MetadataMsg::parse(&out[6..]),
            Ok(MetadataMsg::Data {
                piece: 1,
                total_size: Some(20_000),
                data: b"xyz"
            })
        );
        out.clear();
        encode_reject(&mut out, 2, 3);
        assert_eq!(
            MetadataMsg::parse(&out[6..]),
            Ok(MetadataMsg::Reject { piece: 3 })
        );
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei9ee"),
            Ok(MetadataMsg::Unknown { msg_type: 9 })
        );
        for bad in [
            &b""[..],
            b"de",
            b"d8:msg_typei1ee",
            b"d8:msg_type1:xe",
            b"li1ee",
        ] {
            assert_eq!(
                MetadataMsg::parse(bad),
                Err(ProtocolError::BadMetadataMessage)
            );
        }
    }

    #[test]
    fn assembly_checks_sizes_and_hash() {
        assert_eq!(
            Assembly::new(2 << 30, 10 << 20).unwrap_err(),
            FetchError::TooBig { size: 2 << 30 }
        );
        assert_eq!(
            Assembly::new(u64::MAX, 10 << 20).unwrap_err(),
            FetchError::TooBig { size: u64::MAX }
        );
        let data: Vec<u8> = (0..PIECE_SIZE + 10).map(|i| i as u8).collect();
        let hash: [u8; 20] = Sha1::digest(&data).into();
        let mut a = Assembly::new(data.len() as u64, 1 << 20).unwrap();
        assert_eq!(
            (a.piece_count(), a.piece_len(0), a.piece_len(1)),
            (2, PIECE_SIZE, 10)
        );
        assert_eq!(
            a.insert(2, &data[..10]),
            Err(ProtocolError::PieceOutOfRange { piece: 2 })
        );
        assert_eq!(
            a.insert(-1, &data[..10]),
            Err(ProtocolError::PieceOutOfRange { piece: -1 })
        );
        assert!(matches!(
            a.insert(1, &data[..9]),
            Err(ProtocolError::BadPieceSize { .. })
        ));
        assert_eq!(a.insert(1, &data[PIECE_SIZE..]), Ok(true));
        assert_eq!(a.insert(1, &data[PIECE_SIZE..]), Ok(false));
        assert!(!a.is_complete());
        assert_eq!(a.insert(0, &data[..PIECE_SIZE]), Ok(true));
        assert!(a.is_complete());
        assert_eq!(a.finish(&hash).unwrap(), data);

        let mut b = Assembly::new(10, 100).unwrap();
        b.insert(0, &[0; 10]).unwrap();
        assert_eq!(b.finish(&hash), Err(FetchError::HashMismatch));
    }

    #[test]
    fn v2_truncated_sha256_infohash_verifies() {
        // The BEP-52 v2 infohash of a libtorrent-made v2-only info dict, cut to 20 bytes.
        let info = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/multi_v2.info"
        ))
        .unwrap();
        let full = Sha256::digest(&info);
        let mut v2 = [0u8; 20];
        v2.copy_from_slice(&full[..20]);
        let v1: [u8; 20] = Sha1::digest(&info).into();
        assert!(matches_info_hash(&info, &v2));
        assert!(matches_info_hash(&info, &v1));
        let mut wrong = v2;
        wrong[0] ^= 1;
        assert!(!matches_info_hash(&info, &wrong));
        let mut a = Assembly::new(info.len() as u64, 1 << 20).unwrap();
        for i in 0..a.piece_count() {
            let start = i * PIECE_SIZE;
            let end = (start + PIECE_SIZE).min(info.len());
            a.insert(i as i64, &info[start..end]).unwrap();
        }
        assert_eq!(a.finish(&v2).unwrap(), info);
    }
}
