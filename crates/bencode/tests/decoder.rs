//! The zero-copy decoder against a small, obviously-correct recursive reference decoder, on
//! random valid values and on many mutations of them; plus the integer, length and nesting
//! edge cases.

use bencode::{Encoder, ErrorKind, MAX_DEPTH, Value, decode, decode_prefix};

/// An owned bencode tree.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Self>),
    Dict(Vec<(Vec<u8>, Self)>),
}

// ---- the reference decoder ------------------------------------------------------------------

fn ref_decode(buf: &[u8]) -> Option<Tree> {
    let (t, used) = ref_value(buf, 0, 0)?;
    (used == buf.len()).then_some(t)
}

/// Canonical decimal: digits only (after an optional `-` for integers), no leading zeros.
fn canonical_digits(s: &[u8], signed: bool) -> bool {
    let d = if signed {
        s.strip_prefix(b"-").unwrap_or(s)
    } else {
        s
    };
    !d.is_empty()
        && d.iter().all(u8::is_ascii_digit)
        && (d.len() == 1 || d[0] != b'0')
        && !(signed && s.starts_with(b"-") && d == b"0")
}

fn ref_value(buf: &[u8], pos: usize, depth: usize) -> Option<(Tree, usize)> {
    match *buf.get(pos)? {
        b'i' => {
            let end = pos + 1 + buf.get(pos + 1..)?.iter().position(|&c| c == b'e')?;
            let s = &buf[pos + 1..end];
            if !canonical_digits(s, true) {
                return None;
            }
            let v = std::str::from_utf8(s).ok()?.parse::<i64>().ok()?;
            Some((Tree::Int(v), end + 1))
        }
        b'0'..=b'9' => {
            let colon = pos + buf[pos..].iter().position(|&c| c == b':')?;
            let s = &buf[pos..colon];
            if !canonical_digits(s, false) {
                return None;
            }
            let len = std::str::from_utf8(s).ok()?.parse::<usize>().ok()?;
            let end = (colon + 1).checked_add(len)?;
            Some((Tree::Bytes(buf.get(colon + 1..end)?.to_vec()), end))
        }
        b'l' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut p = pos + 1;
            let mut items = Vec::new();
            while *buf.get(p)? != b'e' {
                let (t, next) = ref_value(buf, p, depth + 1)?;
                items.push(t);
                p = next;
            }
            Some((Tree::List(items), p + 1))
        }
        b'd' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut p = pos + 1;
            let mut entries = Vec::new();
            while *buf.get(p)? != b'e' {
                if !buf[p].is_ascii_digit() {
                    return None;
                }
                let (Tree::Bytes(k), next) = ref_value(buf, p, depth + 1)? else {
                    return None;
                };
                let (v, next) = ref_value(buf, next, depth + 1)?;
                entries.push((k, v));
                p = next;
            }
            Some((Tree::Dict(entries), p + 1))
        }
        _ => None,
    }
}

// ---- conversions ----------------------------------------------------------------------------

/// Walks a decoded value through the lazy iterators.
fn to_tree(v: Value<'_>) -> Tree {
    match v {
        Value::Int(i) => Tree::Int(i),
        Value::Bytes(b) => Tree::Bytes(b.to_vec()),
        Value::List(l) => Tree::List(l.iter().map(to_tree).collect()),
        Value::Dict(d) => Tree::Dict(d.iter().map(|(k, v)| (k.to_vec(), to_tree(v))).collect()),
    }
}

fn encode_tree(t: &Tree, out: &mut Vec<u8>) {
    match t {
        Tree::Int(i) => {
            Encoder::new(out).int(*i).unwrap();
        }
        Tree::Bytes(b) => {
            Encoder::new(out).bytes(b).unwrap();
        }
        Tree::List(items) => {
            Encoder::new(out).list().unwrap();
            for i in items {
                encode_tree(i, out);
            }
            Encoder::new(out).end().unwrap();
        }
        Tree::Dict(entries) => {
            Encoder::new(out).dict().unwrap();
            for (k, v) in entries {
                Encoder::new(out).bytes(k).unwrap();
                encode_tree(v, out);
            }
            Encoder::new(out).end().unwrap();
        }
    }
}

/// The decoder and the reference must agree on acceptance and on the value.
fn agree(buf: &[u8]) {
    let ours = decode(buf).map(to_tree).ok();
    let reference = ref_decode(buf);
    assert_eq!(ours, reference, "disagree on {}", buf.escape_ascii());
    // decode_prefix agrees with decode on whole inputs.
    if let Some(t) = &ours {
        let (v, used) = decode_prefix(buf).unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(&to_tree(v), t);
    }
}

// ---- random values --------------------------------------------------------------------------

/// Random bencode trees drawn from the workspace's seeded test RNG.
struct Rng(testkit::TestRng);

impl Rng {
    /// A generator for `seed` (or `BITAGENT_TEST_SEED`), with a guard that prints the seed if
    /// the test fails.
    fn new(test: &str, seed: u64) -> (Self, testkit::SeedGuard) {
        let seed = testkit::rng::seed_or(seed);
        (
            Self(testkit::seeded(seed)),
            testkit::SeedGuard::new(test, seed),
        )
    }
    fn next(&mut self) -> u64 {
        testkit::rng::RngCore::next_u64(&mut self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = match self.below(4) {
            0 => 0,
            1 => self.below(4),
            2 => self.below(30),
            _ => self.below(300),
        };
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn int(&mut self) -> i64 {
        match self.below(5) {
            0 => 0,
            1 => i64::MIN + self.below(3) as i64,
            2 => i64::MAX - self.below(3) as i64,
            _ => (self.next() as i64) >> self.below(64),
        }
    }
    fn tree(&mut self, depth: usize) -> Tree {
        let leaf = depth == 0 || self.below(3) == 0;
        match (leaf, self.below(2)) {
            (true, 0) => Tree::Int(self.int()),
            (true, _) => Tree::Bytes(self.bytes()),
            (false, 0) => Tree::List((0..self.below(6)).map(|_| self.tree(depth - 1)).collect()),
            (false, _) => Tree::Dict(
                (0..self.below(6))
                    .map(|_| {
                        let k = self.bytes();
                        (k, self.tree(depth - 1))
                    })
                    .collect(),
            ),
        }
    }
}

#[test]
fn random_values_roundtrip_and_match_reference() {
    let (mut rng, _seed) = Rng::new(
        "random_values_roundtrip_and_match_reference",
        0x00be_9c0d_e5ee_d001,
    );
    for case in 0..3_000 {
        let t = rng.tree(5);
        let mut buf = Vec::new();
        encode_tree(&t, &mut buf);
        let v =
            decode(&buf).unwrap_or_else(|e| panic!("case {case}: {e} on {}", buf.escape_ascii()));
        assert_eq!(to_tree(v), t, "case {case}");
        assert_eq!(ref_decode(&buf), Some(t), "reference, case {case}");
    }
}

#[test]
fn mutations_match_reference() {
    const INTERESTING: &[u8] = b"0123456789ield:-e\x00\xff";
    let (mut rng, _seed) = Rng::new("mutations_match_reference", 0x0007_a7e5_0000_0001);
    for _ in 0..1_500 {
        let t = rng.tree(4);
        let mut buf = Vec::new();
        encode_tree(&t, &mut buf);
        for _ in 0..20 {
            let mut m = buf.clone();
            for _ in 0..=rng.below(3) {
                if m.is_empty() {
                    break;
                }
                let i = rng.below(m.len() as u64) as usize;
                match rng.below(4) {
                    0 => m[i] = INTERESTING[rng.below(INTERESTING.len() as u64) as usize],
                    1 => m.truncate(i),
                    2 => m.insert(i, INTERESTING[rng.below(INTERESTING.len() as u64) as usize]),
                    _ => {
                        m.remove(i);
                    }
                }
            }
            agree(&m);
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let (mut rng, _seed) = Rng::new("every_truncation_is_an_error", 99);
    for _ in 0..200 {
        let t = rng.tree(4);
        let mut buf = Vec::new();
        encode_tree(&t, &mut buf);
        for cut in 0..buf.len() {
            assert!(
                decode(&buf[..cut]).is_err(),
                "{}",
                buf[..cut].escape_ascii()
            );
        }
    }
}

// ---- edge cases -----------------------------------------------------------------------------

fn kind(buf: &[u8]) -> ErrorKind {
    decode(buf).unwrap_err().kind
}

#[test]
fn integer_edges() {
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(decode(b"i-1e").unwrap(), Value::Int(-1));
    assert_eq!(
        decode(b"i1000000000000000000e").unwrap(),
        Value::Int(10i64.pow(18))
    );
    for bad in [
        &b"i9223372036854775808e"[..],
        b"i-9223372036854775809e",
        b"i10000000000000000000e",
        // Passes u64::MAX: must be reported, not overflow the accumulator.
        b"i18446744073709551619e",
        b"i99999999999999999999999999e",
        b"i-0e",
        b"i00e",
        b"i01e",
        b"i-01e",
        b"ie",
        b"i-e",
    ] {
        assert_eq!(kind(bad), ErrorKind::BadInteger, "{}", bad.escape_ascii());
        agree(bad);
    }
    // The offset of an overflow is the digit that overflows.
    assert_eq!(decode(b"i9223372036854775808e").unwrap_err().offset, 19);
    assert_eq!(kind(b"i+1e"), ErrorKind::UnexpectedByte(b'+'));
    assert_eq!(kind(b"i1.5e"), ErrorKind::UnexpectedByte(b'.'));
    assert_eq!(kind(b"i--1e"), ErrorKind::UnexpectedByte(b'-'));
    assert_eq!(kind(b"i12"), ErrorKind::UnexpectedEof);
}

#[test]
fn length_edges() {
    assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
    assert_eq!(
        decode(b"10:0123456789").unwrap(),
        Value::Bytes(b"0123456789")
    );
    for bad in [
        &b"00:"[..],
        b"01:a",
        b"2:a",
        b"18446744073709551615:x",
        b"18446744073709551616:x",
        b"99999999999999999999999999:x",
    ] {
        assert_eq!(kind(bad), ErrorKind::BadLength, "{}", bad.escape_ascii());
        agree(bad);
    }
    assert_eq!(kind(b"1"), ErrorKind::UnexpectedEof);
    assert_eq!(kind(b"1x:a"), ErrorKind::UnexpectedByte(b'x'));
    assert_eq!(kind(b"-1:a"), ErrorKind::UnexpectedByte(b'-'));
}

#[test]
fn nesting_edges() {
    // Alternate dicts and lists to the limit: the key/value state must survive every close.
    let mut open = Vec::new();
    let mut close = Vec::new();
    for i in 0..MAX_DEPTH {
        if i % 2 == 0 {
            open.extend_from_slice(b"d1:k");
        } else {
            open.push(b'l');
        }
        close.push(b'e');
    }
    let ok = [open.clone(), b"i1e".to_vec(), close.clone()].concat();
    agree(&ok);
    assert!(decode(&ok).is_ok());
    let too_deep = [open, b"le".to_vec(), close].concat();
    assert_eq!(kind(&too_deep), ErrorKind::TooDeep);
    agree(&too_deep);

    // After a nested container closes, its dict parent expects a key again.
    let v = decode(b"d1:ald1:bi1eee1:ci2ee").unwrap();
    assert_eq!(v.as_dict().unwrap().get(b"c"), Some(Value::Int(2)));
    assert_eq!(kind(b"d1:alei1ee"), ErrorKind::NonStringKey);
    assert_eq!(kind(b"d1:ad1:bi1eei2ee"), ErrorKind::NonStringKey);
    assert_eq!(kind(b"d1:ad1:bee"), ErrorKind::UnexpectedByte(b'e'));
    assert_eq!(kind(b"lde"), ErrorKind::UnexpectedEof);
}

#[test]
fn dicts_keep_encoded_order_and_get_finds_the_first() {
    // Neither sorted nor unique keys are required; lookups see the first occurrence.
    let v = decode(b"d1:bi1e1:ai2e1:bi3ee").unwrap();
    let d = v.as_dict().unwrap();
    let keys: Vec<&[u8]> = d.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![&b"b"[..], b"a", b"b"]);
    assert_eq!(d.get(b"b"), Some(Value::Int(1)));
}

#[test]
fn nested_spans_are_exact() {
    let buf = b"d4:listli1eli2eee4:next3:ende";
    let v = decode(buf).unwrap();
    let d = v.as_dict().unwrap();
    let l = d.get(b"list").unwrap().as_list().unwrap();
    assert_eq!(l.raw_items(), b"i1eli2ee");
    assert_eq!(l.len(), 2);
    assert_eq!(d.get(b"next"), Some(Value::Bytes(b"end")));
    assert_eq!(d.get(b"i"), None);
    assert_eq!(d.iter().count(), 2);
    // A container equals another with the same encoding, wherever it sits.
    let other = decode(b"li1eli2eee").unwrap();
    assert_eq!(Value::List(l), other);
}
