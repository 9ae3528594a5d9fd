//! The properties the fuzz targets check, shared with the plain `cargo test` run over the
//! corpus (`crates/krpc/tests/fuzz_corpus.rs` includes this file by path). Each function panics
//! when a property fails and returns quietly otherwise, whatever the input.

use bencode::{Encoder, Value};
use krpc::{Kind, Message};

/// Writes `v` with dictionary entries in their original order (or sorted by key).
fn encode(v: Value<'_>, sorted: bool, out: &mut Vec<u8>) {
    match v {
        Value::Int(i) => {
            Encoder::new(out).int(i).unwrap();
        }
        Value::Bytes(b) => {
            Encoder::new(out).bytes(b).unwrap();
        }
        Value::List(l) => {
            out.push(b'l');
            for item in l.iter() {
                encode(item, sorted, out);
            }
            out.push(b'e');
        }
        Value::Dict(d) => {
            let mut entries: Vec<_> = d.iter().collect();
            if sorted {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push(b'd');
            for (k, v) in entries {
                Encoder::new(out).bytes(k).unwrap();
                encode(v, sorted, out);
            }
            out.push(b'e');
        }
    }
}

/// Structural equality, walking both values through the lazy iterators.
fn deep_eq(a: Value<'_>, b: Value<'_>) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            let (mut i, mut j) = (x.iter(), y.iter());
            loop {
                match (i.next(), j.next()) {
                    (None, None) => return true,
                    (Some(p), Some(q)) if deep_eq(p, q) => {}
                    _ => return false,
                }
            }
        }
        (Value::Dict(x), Value::Dict(y)) => {
            let (mut i, mut j) = (x.iter(), y.iter());
            loop {
                match (i.next(), j.next()) {
                    (None, None) => return true,
                    (Some((k1, v1)), Some((k2, v2))) if k1 == k2 && deep_eq(v1, v2) => {}
                    _ => return false,
                }
            }
        }
        _ => false,
    }
}

/// `bencode::decode` must not panic; whatever it accepts must survive re-encoding:
/// * re-encoding the value (keys in their encoded order) reproduces the input byte for byte,
///   because the decoder accepts only canonical integers and length prefixes;
/// * decoding that re-encoding gives a structurally equal value;
/// * the canonical form (dictionary keys sorted) decodes, and re-encoding it canonically again
///   is a fixed point.
pub(crate) fn bencode_roundtrip(data: &[u8]) {
    let Ok(v) = bencode::decode(data) else {
        // decode_prefix must agree that this is not one whole value.
        if let Ok((_, used)) = bencode::decode_prefix(data) {
            assert!(
                used < data.len(),
                "decode failed but decode_prefix used everything"
            );
        }
        return;
    };
    let _ = format!("{v:?}");

    let mut exact = Vec::new();
    encode(v, false, &mut exact);
    assert_eq!(exact, data, "accepted input is not canonical bencode");
    let again = bencode::decode(&exact).expect("re-encoding must decode");
    assert!(
        deep_eq(v, again),
        "re-encoding decodes to a different value"
    );
    assert_eq!(v, again);

    let mut canon = Vec::new();
    encode(v, true, &mut canon);
    assert_eq!(canon.len(), data.len());
    let c = bencode::decode(&canon).expect("canonical form must decode");
    let mut canon2 = Vec::new();
    encode(c, true, &mut canon2);
    assert_eq!(canon, canon2, "canonical re-encoding is not a fixed point");
}

/// `krpc::Message::decode` must not panic; any message it accepts must re-encode to bytes
/// that decode to an equal message and re-encode identically.
pub(crate) fn krpc_roundtrip(data: &[u8]) {
    let Ok(m) = Message::decode(data) else {
        return;
    };
    // A KRPC message is a bencode dictionary.
    assert!(bencode::decode(data).is_ok());

    // The lazy views over validated spans must yield exactly what they claim.
    if let Kind::Response(r) = m.kind {
        assert_eq!(r.nodes.iter().count(), r.nodes.len());
        assert!(r.nodes.iter().all(|n| n.addr.is_ipv4()));
        assert_eq!(r.nodes6.iter().count(), r.nodes6.len());
        assert!(r.nodes6.iter().all(|n| n.addr.is_ipv6()));
        if let krpc::Peers::Encoded(l) = r.values {
            assert_eq!(r.values.iter().count(), l.len());
        }
        if let Some(s) = r.samples {
            assert_eq!(s.iter().count(), s.len());
        }
    }

    let mut out = Vec::new();
    m.encode(&mut out).expect("a Vec sink never overflows");
    let m2 =
        Message::decode(&out).unwrap_or_else(|e| panic!("re-encoding does not decode: {e}\n{m:?}"));
    assert_eq!(m, m2, "decode(encode(m)) != m");
    let mut out2 = Vec::new();
    m2.encode(&mut out2).expect("a Vec sink never overflows");
    assert_eq!(out, out2, "encode is not a fixed point");
}
