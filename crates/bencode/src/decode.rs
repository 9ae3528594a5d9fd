//! The borrowed decoder.

use std::fmt;

/// Deepest nesting of lists and dictionaries accepted. KRPC needs 3; 64 is generous.
pub const MAX_DEPTH: usize = 64;

/// Why a buffer is not valid bencode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bencode: {kind} at byte {offset}")]
pub struct Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Byte offset in the input where it was detected.
    pub offset: usize,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended inside a value.
    UnexpectedEof,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte(u8),
    /// An integer that is empty, has leading zeros, is `-0`, or overflows `i64`.
    BadInteger,
    /// A string length prefix that is malformed or longer than the input.
    BadLength,
    /// A dictionary key that is not a byte string.
    NonStringKey,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes left over after the top-level value.
    TrailingBytes,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof => f.write_str("unexpected end of input"),
            Self::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            Self::BadInteger => f.write_str("malformed integer"),
            Self::BadLength => f.write_str("malformed or oversized string length"),
            Self::NonStringKey => f.write_str("dictionary key is not a string"),
            Self::TooDeep => f.write_str("nesting too deep"),
            Self::TrailingBytes => f.write_str("trailing bytes after value"),
        }
    }
}

fn err<T>(kind: ErrorKind, offset: usize) -> Result<T, Error> {
    Err(Error { kind, offset })
}

/// A decoded value borrowing from the input buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i...e`
    Int(i64),
    /// `N:...`
    Bytes(&'a [u8]),
    /// `l...e`
    List(List<'a>),
    /// `d...e`
    Dict(Dict<'a>),
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The list, if this is one.
    pub fn as_list(&self) -> Option<List<'a>> {
        match *self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<Dict<'a>> {
        match *self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// A short name of the variant, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) if s.chars().all(|c| !c.is_control()) => write!(f, "{s:?}"),
                _ => {
                    f.write_str("0x")?;
                    for x in b.iter() {
                        write!(f, "{x:02x}")?;
                    }
                    Ok(())
                }
            },
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Dict(d) => f
                .debug_map()
                .entries(d.iter().map(|(k, v)| (Value::Bytes(k), v)))
                .finish(),
        }
    }
}

/// A validated list; its items are decoded lazily by [`List::iter`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct List<'a> {
    /// The items' bytes, without the surrounding `l` and `e`.
    body: &'a [u8],
}

/// A validated dictionary; its entries are decoded lazily by [`Dict::iter`] and [`Dict::get`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Dict<'a> {
    body: &'a [u8],
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Value::List(*self), f)
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Value::Dict(*self), f)
    }
}

impl<'a> List<'a> {
    /// Iterates the items in order.
    pub fn iter(&self) -> ListIter<'a> {
        ListIter { rest: self.body }
    }
    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
    /// The number of items (walks the list).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
    /// The raw encoded items, without the surrounding `l`/`e`.
    pub fn raw_items(&self) -> &'a [u8] {
        self.body
    }
}

impl<'a> IntoIterator for List<'a> {
    type Item = Value<'a>;
    type IntoIter = ListIter<'a>;
    fn into_iter(self) -> ListIter<'a> {
        self.iter()
    }
}

impl<'a> Dict<'a> {
    /// Iterates `(key, value)` pairs in encoded order.
    pub fn iter(&self) -> DictIter<'a> {
        DictIter { rest: self.body }
    }
    /// The value of the first entry whose key equals `key`.
    ///
    /// A linear scan: KRPC dictionaries have a handful of keys.
    pub fn get(&self, key: &[u8]) -> Option<Value<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub struct ListIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Value<'a>;
    #[inline]
    fn next(&mut self) -> Option<Value<'a>> {
        // The span was validated by `decode`, so `next_validated` cannot fail here; if it
        // somehow did we end the iteration rather than panic.
        match next_validated(self.rest) {
            Some((v, rest)) => {
                self.rest = rest;
                Some(v)
            }
            None => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Iterator over a [`Dict`].
#[derive(Debug, Clone)]
pub struct DictIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for DictIter<'a> {
    type Item = (&'a [u8], Value<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let entry = next_validated(self.rest).and_then(|(k, rest)| match k {
            Value::Bytes(k) => next_validated(rest).map(|(v, rest)| (k, v, rest)),
            _ => None,
        });
        match entry {
            Some((k, v, rest)) => {
                self.rest = rest;
                Some((k, v))
            }
            None => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Decodes exactly one value that spans the whole buffer.
pub fn decode(buf: &[u8]) -> Result<Value<'_>, Error> {
    let (v, used) = decode_prefix(buf)?;
    if used != buf.len() {
        return err(ErrorKind::TrailingBytes, used);
    }
    Ok(v)
}

/// Decodes one value from the start of `buf`, returning it and the number of bytes it used.
pub fn decode_prefix(buf: &[u8]) -> Result<(Value<'_>, usize), Error> {
    let end = validate(buf, 0)?;
    // `buf[..end]` is now known to be exactly one valid value: build it without walking it
    // again (a container's body is everything between its first and last byte).
    let v = match buf[0] {
        b'l' => Value::List(List {
            body: &buf[1..end - 1],
        }),
        b'd' => Value::Dict(Dict {
            body: &buf[1..end - 1],
        }),
        _ => match next_validated(&buf[..end]) {
            Some((v, _)) => v,
            // Unreachable for a validated span; reported rather than panicking.
            None => return err(ErrorKind::UnexpectedEof, end),
        },
    };
    Ok((v, end))
}

/// Validates the value starting at `start` and returns the offset just past it.
///
/// This is the only place input is checked; everything else walks spans it accepted.
/// Iterative (a depth counter and a bit stack instead of recursion), so hostile nesting costs
/// no stack.
fn validate(buf: &[u8], start: usize) -> Result<usize, Error> {
    // Bit i of `dict_bits` is set when open container i is a dictionary. `in_dict` caches the
    // innermost one's bit; `expect_key` says whether that dictionary's next item is a key.
    let mut depth = 0usize;
    let mut dict_bits: u64 = 0;
    let mut in_dict = false;
    let mut expect_key = false;
    let mut pos = start;
    loop {
        let Some(&b) = buf.get(pos) else {
            return err(ErrorKind::UnexpectedEof, pos);
        };
        if b.is_ascii_digit() {
            pos = skip_string(buf, pos)?;
        } else if in_dict && expect_key && b != b'e' {
            return err(ErrorKind::NonStringKey, pos);
        } else {
            match b {
                b'i' => pos = skip_int(buf, pos + 1)?,
                b'l' | b'd' => {
                    if depth >= MAX_DEPTH {
                        return err(ErrorKind::TooDeep, pos);
                    }
                    in_dict = b == b'd';
                    if in_dict {
                        dict_bits |= 1 << depth;
                    } else {
                        dict_bits &= !(1 << depth);
                    }
                    depth += 1;
                    pos += 1;
                    expect_key = in_dict;
                    continue;
                }
                b'e' if depth > 0 => {
                    if in_dict && !expect_key {
                        // A key without a value.
                        return err(ErrorKind::UnexpectedByte(b), pos);
                    }
                    depth -= 1;
                    pos += 1;
                    if depth == 0 {
                        return Ok(pos);
                    }
                    // The closed container was an item of its parent; a dictionary parent
                    // now wants a key.
                    in_dict = (dict_bits >> (depth - 1)) & 1 == 1;
                    expect_key = in_dict;
                    continue;
                }
                other => return err(ErrorKind::UnexpectedByte(other), pos),
            }
        }
        if depth == 0 {
            return Ok(pos);
        }
        if in_dict {
            expect_key = !expect_key;
        }
    }
}

/// Checks the integer whose digits start at `pos` (just past the `i`); returns the offset past
/// its closing `e`.
#[inline]
fn skip_int(buf: &[u8], pos: usize) -> Result<usize, Error> {
    parse_int(buf, pos).map(|(_, end)| end)
}

/// Parses the integer whose digits start at `pos` (just past the `i`); returns it and the
/// offset past its closing `e`. Rejects empty, leading-zero, `-0` and out-of-range integers.
fn parse_int(buf: &[u8], pos: usize) -> Result<(i64, usize), Error> {
    let neg = buf.get(pos) == Some(&b'-');
    let digits_start = pos + usize::from(neg);
    // -(2^63) is the one magnitude that only fits negated.
    let limit = if neg {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX.unsigned_abs()
    };
    let mut p = digits_start;
    let mut mag: u64 = 0;
    loop {
        match buf.get(p) {
            None => return err(ErrorKind::UnexpectedEof, p),
            Some(&c @ b'0'..=b'9') => {
                // Reported at the digit that leaves the range, as soon as it happens.
                mag = match mag
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(c - b'0')))
                {
                    Some(m) if m <= limit => m,
                    _ => return err(ErrorKind::BadInteger, p),
                };
                p += 1;
            }
            Some(b'e') => break,
            Some(&c) => return err(ErrorKind::UnexpectedByte(c), p),
        }
    }
    let ndigits = p - digits_start;
    if ndigits == 0 || (ndigits > 1 && buf[digits_start] == b'0') || (neg && mag == 0) {
        return err(ErrorKind::BadInteger, pos);
    }
    // In range: checked in the loop.
    let val = if neg {
        0i64.wrapping_sub_unsigned(mag)
    } else {
        mag as i64
    };
    Ok((val, p + 1))
}

/// Checks the string whose length prefix starts at `pos`; returns the offset past its bytes.
#[inline]
fn skip_string(buf: &[u8], pos: usize) -> Result<usize, Error> {
    // Nearly every length on the wire has 1 to 3 digits: take those without the general loop.
    let (len, colon) = match short_len(buf, pos) {
        Some(lc) => lc,
        None => parse_len(buf, pos)?,
    };
    let end = colon + 1 + len;
    if end > buf.len() {
        return err(ErrorKind::BadLength, pos);
    }
    Ok(end)
}

/// A canonical 1- to 3-digit length prefix at `pos` (whose first byte is a digit): the length
/// and the offset of the colon. `None` means "use [`parse_len`]" (longer, malformed or at the
/// end of the input), never an error by itself; the caller checks the length against the input.
#[inline(always)]
fn short_len(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let w = buf.get(pos..pos + 4)?;
    let d = |c: u8| usize::from(c.wrapping_sub(b'0'));
    let is_digit = |c: u8| c.wrapping_sub(b'0') < 10;
    if w[1] == b':' {
        return Some((d(w[0]), pos + 1));
    }
    // Two or more digits: no leading zero.
    if w[0] == b'0' || !is_digit(w[1]) {
        return None;
    }
    if w[2] == b':' {
        return Some((d(w[0]) * 10 + d(w[1]), pos + 2));
    }
    if is_digit(w[2]) && w[3] == b':' {
        return Some((d(w[0]) * 100 + d(w[1]) * 10 + d(w[2]), pos + 3));
    }
    None
}

/// Parses a string length prefix at `pos`; returns the length and the offset of the colon.
/// The length is checked against the input: `colon + 1 + len <= buf.len()`.
#[inline]
fn parse_len(buf: &[u8], pos: usize) -> Result<(usize, usize), Error> {
    let mut p = pos;
    let mut len: usize = 0;
    loop {
        match buf.get(p) {
            None => return err(ErrorKind::UnexpectedEof, p),
            Some(&c @ b'0'..=b'9') => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(c - b'0')))
                    .ok_or(Error {
                        kind: ErrorKind::BadLength,
                        offset: pos,
                    })?;
                p += 1;
            }
            Some(b':') => break,
            Some(&c) => return err(ErrorKind::UnexpectedByte(c), p),
        }
    }
    if p == pos || (p - pos > 1 && buf[pos] == b'0') {
        return err(ErrorKind::BadLength, pos);
    }
    // `p < buf.len()`, so the subtraction cannot underflow.
    if len > buf.len() - p - 1 {
        return err(ErrorKind::BadLength, pos);
    }
    Ok((len, p))
}

/// The first value of `span`, which [`validate`] accepted, and the rest of the span after it.
///
/// Nothing is re-checked, but nothing is trusted blindly either: every index is bounds-checked
/// and an inconsistency yields `None` (never a panic). Containers are skipped by counting
/// nesting, which is O(number of tokens inside) and much cheaper than validating them again.
#[inline(always)]
fn next_validated(span: &[u8]) -> Option<(Value<'_>, &[u8])> {
    match *span.first()? {
        b'i' => {
            let (v, end) = int_validated(span)?;
            Some((Value::Int(v), span.get(end..)?))
        }
        b'l' => {
            let end = skip_validated(span, 0)?;
            let body = span.get(1..end - 1)?;
            Some((Value::List(List { body }), span.get(end..)?))
        }
        b'd' => {
            let end = skip_validated(span, 0)?;
            let body = span.get(1..end - 1)?;
            Some((Value::Dict(Dict { body }), span.get(end..)?))
        }
        _ => {
            let (start, end) = string_validated(span, 0)?;
            Some((Value::Bytes(span.get(start..end)?), span.get(end..)?))
        }
    }
}

/// The bytes of the validated string at `pos`: `(start, end)` offsets of its contents.
#[inline]
fn string_validated(span: &[u8], pos: usize) -> Option<(usize, usize)> {
    if let Some((len, colon)) = short_len(span, pos) {
        let end = colon + 1 + len;
        return (end <= span.len()).then_some((colon + 1, end));
    }
    let mut p = pos;
    let mut len = 0usize;
    loop {
        let c = *span.get(p)?;
        if c == b':' {
            break;
        }
        len = len
            .wrapping_mul(10)
            .wrapping_add(usize::from(c.wrapping_sub(b'0')));
        p += 1;
    }
    let start = p + 1;
    let end = start.checked_add(len)?;
    (end <= span.len()).then_some((start, end))
}

/// The validated integer at the start of `span` and the offset past its `e`.
#[inline]
fn int_validated(span: &[u8]) -> Option<(i64, usize)> {
    let neg = span.get(1) == Some(&b'-');
    let mut p = 1 + usize::from(neg);
    let mut v: i64 = 0;
    loop {
        let c = *span.get(p)?;
        if c == b'e' {
            break;
        }
        // Accumulating negatively reaches i64::MIN without overflow.
        let d = i64::from(c.wrapping_sub(b'0'));
        v = v.wrapping_mul(10);
        v = if neg {
            v.wrapping_sub(d)
        } else {
            v.wrapping_add(d)
        };
        p += 1;
    }
    Some((v, p + 1))
}

/// The offset just past the validated container that opens at `pos`.
fn skip_validated(span: &[u8], pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut p = pos;
    loop {
        match *span.get(p)? {
            b'l' | b'd' => {
                depth += 1;
                p += 1;
            }
            b'e' => {
                depth = depth.checked_sub(1)?;
                p += 1;
                if depth == 0 {
                    return Some(p);
                }
            }
            b'i' => {
                let digits = span.get(p + 1..)?;
                p += 2 + digits.iter().position(|&c| c == b'e')?;
            }
            _ => p = string_validated(span, p)?.1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(buf: &[u8]) -> ErrorKind {
        decode(buf).unwrap_err().kind
    }

    #[test]
    fn scalars() {
        assert_eq!(decode(b"i42e").unwrap(), Value::Int(42));
        assert_eq!(decode(b"i-42e").unwrap(), Value::Int(-42));
        assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
        assert_eq!(decode(b"4:spam").unwrap(), Value::Bytes(b"spam"));
        assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
        assert_eq!(
            decode(b"i9223372036854775807e").unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            decode(b"i-9223372036854775808e").unwrap(),
            Value::Int(i64::MIN)
        );
    }

    #[test]
    fn bad_integers() {
        for b in [
            &b"ie"[..],
            b"i-0e",
            b"i03e",
            b"i-e",
            b"i9223372036854775808e",
            b"i1x2e",
        ] {
            assert!(decode(b).is_err(), "{:?}", String::from_utf8_lossy(b));
        }
        assert_eq!(kind(b"i12"), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn bad_strings() {
        assert_eq!(kind(b"5:spam"), ErrorKind::BadLength);
        assert_eq!(kind(b"05:spams"), ErrorKind::BadLength);
        assert_eq!(kind(b"99999999999999999999999:x"), ErrorKind::BadLength);
        assert_eq!(kind(b"4spam"), ErrorKind::UnexpectedByte(b's'));
    }

    #[test]
    fn containers() {
        let v = decode(b"d3:bar4:spam3:fooi42e4:listl1:a1:bee").unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get(b"bar"), Some(Value::Bytes(b"spam")));
        assert_eq!(d.get(b"foo"), Some(Value::Int(42)));
        let l = d.get(b"list").unwrap().as_list().unwrap();
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            vec![Value::Bytes(b"a"), Value::Bytes(b"b")]
        );
        assert_eq!(l.len(), 2);
        assert!(d.get(b"nope").is_none());
        assert_eq!(decode(b"le").unwrap().as_list().unwrap().len(), 0);
        assert!(decode(b"de").unwrap().as_dict().unwrap().is_empty());
    }

    #[test]
    fn bad_containers() {
        assert_eq!(kind(b"l"), ErrorKind::UnexpectedEof);
        assert_eq!(kind(b"d3:fooe"), ErrorKind::UnexpectedByte(b'e'));
        assert_eq!(kind(b"di1ei2ee"), ErrorKind::NonStringKey);
        assert_eq!(kind(b"dlei2ee"), ErrorKind::NonStringKey);
        assert_eq!(kind(b"i1ei2e"), ErrorKind::TrailingBytes);
        assert_eq!(kind(b"e"), ErrorKind::UnexpectedByte(b'e'));
        assert_eq!(kind(b""), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn nested_dict_value_then_key() {
        let v = decode(b"d1:ad1:bi1ee1:ci2ee").unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get(b"c"), Some(Value::Int(2)));
        assert_eq!(
            d.get(b"a").unwrap().as_dict().unwrap().get(b"b"),
            Some(Value::Int(1))
        );
    }

    #[test]
    fn depth_limit() {
        let mut deep = vec![b'l'; MAX_DEPTH];
        deep.extend(vec![b'e'; MAX_DEPTH]);
        assert!(decode(&deep).is_ok());
        let mut too_deep = vec![b'l'; MAX_DEPTH + 1];
        too_deep.extend(vec![b'e'; MAX_DEPTH + 1]);
        assert_eq!(kind(&too_deep), ErrorKind::TooDeep);
        // A hostile input of a million opens fails fast without recursion.
        assert_eq!(kind(&vec![b'l'; 1_000_000]), ErrorKind::TooDeep);
    }

    #[test]
    fn prefix() {
        let (v, used) = decode_prefix(b"i1eXYZ").unwrap();
        assert_eq!((v, used), (Value::Int(1), 3));
    }

    #[test]
    fn spec_krpc_examples_decode() {
        // BEP-5 examples.
        let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let v = decode(ping).unwrap().as_dict().unwrap();
        assert_eq!(v.get(b"q"), Some(Value::Bytes(b"ping")));
        assert_eq!(
            v.get(b"a").unwrap().as_dict().unwrap().get(b"id"),
            Some(Value::Bytes(b"abcdefghij0123456789"))
        );
        let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        let v = decode(err).unwrap().as_dict().unwrap();
        let l: Vec<_> = v.get(b"e").unwrap().as_list().unwrap().iter().collect();
        assert_eq!(
            l,
            vec![Value::Int(201), Value::Bytes(b"A Generic Error Ocurred")]
        );
    }

    #[test]
    fn debug_is_readable() {
        let v = decode(b"d1:ai1e1:bl2:\x00\x01ee").unwrap();
        assert_eq!(format!("{v:?}"), "{\"a\": 1, \"b\": [0x0001]}");
    }
}
