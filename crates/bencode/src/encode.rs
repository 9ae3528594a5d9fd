//! The allocation-free encoder.

/// The encoder ran out of room in a fixed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bencode: output buffer full")]
pub struct Overflow;

/// Somewhere to write encoded bytes.
pub trait Sink {
    /// Appends `bytes`, or reports that there is no room.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow>;
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A [`Sink`] over a fixed slice, e.g. a stack array sized for one UDP datagram.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// Writes into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, len: 0 }
    }
    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// Writes bencode tokens into a [`Sink`].
///
/// The caller is responsible for structure: open containers are closed with [`Encoder::end`],
/// and dictionary keys are written in sorted order (as BEP-3 requires) by calling
/// [`Encoder::bytes`] for the key before the value.
#[derive(Debug)]
pub struct Encoder<'s, S: Sink + ?Sized> {
    sink: &'s mut S,
}

impl<'s, S: Sink + ?Sized> Encoder<'s, S> {
    /// An encoder appending to `sink`.
    pub fn new(sink: &'s mut S) -> Self {
        Encoder { sink }
    }

    /// `i<n>e`
    pub fn int(&mut self, n: i64) -> Result<&mut Self, Overflow> {
        let mut tmp = [0u8; 22];
        let s = fmt_i64(n, &mut tmp[1..21]);
        let start = 21 - s;
        tmp[start - 1] = b'i';
        tmp[21] = b'e';
        self.sink.put(&tmp[start - 1..22])?;
        Ok(self)
    }

    /// `<len>:<bytes>`
    pub fn bytes(&mut self, b: &[u8]) -> Result<&mut Self, Overflow> {
        let mut tmp = [0u8; 21];
        let n = fmt_u64(b.len() as u64, &mut tmp[..20]);
        let start = 20 - n;
        tmp[20] = b':';
        self.sink.put(&tmp[start..21])?;
        self.sink.put(b)?;
        Ok(self)
    }

    /// A key followed by a byte-string value.
    pub fn kv_bytes(&mut self, key: &[u8], val: &[u8]) -> Result<&mut Self, Overflow> {
        self.bytes(key)?.bytes(val)
    }

    /// A key followed by an integer value.
    pub fn kv_int(&mut self, key: &[u8], val: i64) -> Result<&mut Self, Overflow> {
        self.bytes(key)?.int(val)
    }

    /// Opens a list; close it with [`Encoder::end`].
    pub fn list(&mut self) -> Result<&mut Self, Overflow> {
        self.sink.put(b"l")?;
        Ok(self)
    }

    /// Opens a dictionary; close it with [`Encoder::end`].
    pub fn dict(&mut self) -> Result<&mut Self, Overflow> {
        self.sink.put(b"d")?;
        Ok(self)
    }

    /// Closes the innermost open container.
    pub fn end(&mut self) -> Result<&mut Self, Overflow> {
        self.sink.put(b"e")?;
        Ok(self)
    }

    /// Writes already-encoded bencode verbatim.
    pub fn raw(&mut self, encoded: &[u8]) -> Result<&mut Self, Overflow> {
        self.sink.put(encoded)?;
        Ok(self)
    }
}

/// Writes the decimal digits of `n` right-aligned into `out` (20 bytes); returns the count.
fn fmt_u64(mut n: u64, out: &mut [u8]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.len() - i
}

fn fmt_i64(n: i64, out: &mut [u8]) -> usize {
    let digits = fmt_u64(n.unsigned_abs(), out);
    if n < 0 {
        let i = out.len() - digits - 1;
        out[i] = b'-';
        digits + 1
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Value, decode};

    #[test]
    fn ints_roundtrip() {
        for n in [0, 1, -1, 42, -42, 10, i64::MAX, i64::MIN, 1_000_000] {
            let mut v = Vec::new();
            Encoder::new(&mut v).int(n).unwrap();
            assert_eq!(v, format!("i{n}e").as_bytes());
            assert_eq!(decode(&v).unwrap(), Value::Int(n));
        }
    }

    #[test]
    fn bytes_and_containers() {
        let mut v = Vec::new();
        let mut e = Encoder::new(&mut v);
        e.dict().unwrap();
        e.kv_bytes(b"a", b"xyz").unwrap();
        e.bytes(b"l")
            .unwrap()
            .list()
            .unwrap()
            .int(1)
            .unwrap()
            .bytes(b"")
            .unwrap()
            .end()
            .unwrap();
        e.end().unwrap();
        assert_eq!(v, b"d1:a3:xyz1:lli1e0:ee");
        assert!(decode(&v).is_ok());
    }

    #[test]
    fn slice_sink_overflows_cleanly() {
        let mut buf = [0u8; 5];
        let mut s = SliceSink::new(&mut buf);
        assert!(Encoder::new(&mut s).bytes(b"abc").is_ok());
        assert_eq!(s.written(), b"3:abc");
        assert_eq!(Encoder::new(&mut s).int(1).err(), Some(Overflow));
        assert_eq!(s.len(), 5);
    }
}
