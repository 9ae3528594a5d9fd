//! The BEP-10 extension protocol: the extension handshake (extended message id 0).
//!
//! Every extended message is a peer-wire message with id 20 whose payload starts with an
//! extension id byte: 0 for the handshake, otherwise the id the *receiver* assigned to the
//! extension in its handshake's `m` dictionary.

use bencode::{Encoder, Value};

use crate::error::ProtocolError;
use crate::message::{EXTENDED, encode_message};

/// Extension id byte of the extension handshake.
pub const HANDSHAKE_ID: u8 = 0;

/// The fields of a peer's extension handshake that a metadata fetch uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtHandshake<'a> {
    /// The id the peer wants `ut_metadata` messages sent with (`m.ut_metadata`); `None` when
    /// absent, 0 (disabled) or not a valid one-byte id.
    pub ut_metadata: Option<u8>,
    /// `metadata_size`: the size of the info dictionary, when the peer has it.
    pub metadata_size: Option<u64>,
    /// `v`: the client name and version, if given.
    pub client: Option<&'a [u8]>,
    /// `reqq`: how many outstanding requests the peer accepts, if given.
    pub reqq: Option<i64>,
}

impl<'a> ExtHandshake<'a> {
    /// Parses the bencoded dictionary of an extension handshake (the payload after the
    /// extension id byte). Unknown keys are ignored; bytes after the dictionary are tolerated.
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        let bad = ProtocolError::BadExtHandshake;
        let (v, _) = bencode::decode_prefix(payload).map_err(|_| bad)?;
        let d = v.as_dict().ok_or(bad)?;
        let mut h = ExtHandshake::default();
        if let Some(m) = d.get(b"m") {
            let m = m.as_dict().ok_or(bad)?;
            h.ut_metadata = m
                .get(b"ut_metadata")
                .and_then(|v| v.as_int())
                .and_then(|id| u8::try_from(id).ok())
                .filter(|&id| id != 0);
        }
        match d.get(b"metadata_size") {
            None => {}
            Some(Value::Int(n)) => h.metadata_size = Some(u64::try_from(n).map_err(|_| bad)?),
            Some(_) => return Err(bad),
        }
        h.client = d.get(b"v").and_then(|v| v.as_bytes());
        h.reqq = d.get(b"reqq").and_then(|v| v.as_int());
        Ok(h)
    }
}

/// Appends a framed extension handshake advertising `ut_metadata` under `ut_metadata_id`,
/// with `metadata_size` when the sender has the metadata and `v` when `client` is given.
pub fn encode_ext_handshake(
    out: &mut Vec<u8>,
    ut_metadata_id: u8,
    metadata_size: Option<u64>,
    client: Option<&[u8]>,
) {
    encode_ext_handshake_with_port(out, ut_metadata_id, metadata_size, client, None);
}

/// [`encode_ext_handshake`] plus `p`, the TCP port the sender listens on (BEP-10), when given.
pub fn encode_ext_handshake_with_port(
    out: &mut Vec<u8>,
    ut_metadata_id: u8,
    metadata_size: Option<u64>,
    client: Option<&[u8]>,
    listen_port: Option<u16>,
) {
    let mut payload = vec![HANDSHAKE_ID];
    // Keys in sorted order, as bencode requires: m, metadata_size, p, v.
    let mut e = Encoder::new(&mut payload);
    let r = (|| {
        e.dict()?;
        e.bytes(b"m")?.dict()?;
        e.kv_int(b"ut_metadata", i64::from(ut_metadata_id))?.end()?;
        if let Some(size) = metadata_size {
            e.kv_int(b"metadata_size", i64::try_from(size).unwrap_or(i64::MAX))?;
        }
        if let Some(port) = listen_port {
            e.kv_int(b"p", i64::from(port))?;
        }
        if let Some(v) = client {
            e.kv_bytes(b"v", v)?;
        }
        e.end()?;
        Ok::<(), bencode::Overflow>(())
    })();
    debug_assert!(r.is_ok(), "a Vec sink never overflows");
    encode_message(out, EXTENDED, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload_of(framed: &[u8]) -> &[u8] {
        assert_eq!(framed[4], EXTENDED);
        assert_eq!(framed[5], HANDSHAKE_ID);
        &framed[6..]
    }

    #[test]
    fn listen_port_is_sent_in_key_order() {
        let mut out = Vec::new();
        encode_ext_handshake_with_port(&mut out, 1, None, Some(b"BA"), Some(3334));
        assert_eq!(
            payload_of(&out),
            b"d1:md11:ut_metadatai1ee1:pi3334e1:v2:BAe"
        );
    }

    #[test]
    fn roundtrip() {
        let mut out = Vec::new();
        encode_ext_handshake(&mut out, 3, Some(31_235), Some(b"BitAgent 0.1"));
        assert_eq!(
            payload_of(&out),
            b"d1:md11:ut_metadatai3ee13:metadata_sizei31235e1:v12:BitAgent 0.1e"
        );
        let h = ExtHandshake::parse(payload_of(&out)).unwrap();
        assert_eq!(h.ut_metadata, Some(3));
        assert_eq!(h.metadata_size, Some(31_235));
        assert_eq!(h.client, Some(&b"BitAgent 0.1"[..]));
    }

    #[test]
    fn libtorrent_shape() {
        // The shape libtorrent 2.x sends (abridged): more extensions, reqq, yourip, ...
        let p = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei684e4:reqqi500e11:upload_onlyi1e1:v18:libtorrent/2.1.1.06:yourip4:\x7f\0\0\x01e";
        let h = ExtHandshake::parse(p).unwrap();
        assert_eq!(h.ut_metadata, Some(2));
        assert_eq!(h.metadata_size, Some(684));
        assert_eq!(h.reqq, Some(500));
    }

    #[test]
    fn missing_and_malformed() {
        let h = ExtHandshake::parse(b"d1:md6:ut_pexi1eee").unwrap();
        assert_eq!((h.ut_metadata, h.metadata_size), (None, None));
        let h = ExtHandshake::parse(b"d1:md11:ut_metadatai0eee").unwrap();
        assert_eq!(h.ut_metadata, None, "0 disables an extension");
        let h = ExtHandshake::parse(b"d1:md11:ut_metadatai300eee").unwrap();
        assert_eq!(h.ut_metadata, None, "ids are one byte");
        for bad in [
            &b""[..],
            b"le",
            b"d1:mi1ee",
            b"d13:metadata_sizei-1ee",
            b"d13:metadata_size1:xe",
            b"d1:m",
        ] {
            assert_eq!(
                ExtHandshake::parse(bad),
                Err(ProtocolError::BadExtHandshake),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
