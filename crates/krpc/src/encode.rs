//! Encoding KRPC messages. Keys are written in sorted order as bencode requires.

use bencode::{Encoder, Overflow, Sink};

use crate::compact::{NodeInfo, encode_compact_addr};
use crate::message::{Kind, Message, Method, Query, Response, Want};
use crate::{Nodes, Peers};

impl Message<'_> {
    /// Encodes the message into `sink`.
    pub fn encode<S: Sink + ?Sized>(&self, sink: &mut S) -> Result<(), Overflow> {
        let mut e = Encoder::new(sink);
        e.dict()?;
        // Sorted top-level keys: a, e, ip, q, r, ro, t, v, y.
        if let Kind::Query(q) = &self.kind {
            e.bytes(b"a")?;
            encode_args(&mut e, q)?;
        }
        if let Kind::Error(err) = &self.kind {
            e.bytes(b"e")?
                .list()?
                .int(err.code)?
                .bytes(err.message)?
                .end()?;
        }
        if let Some(ip) = &self.ip {
            let mut a = [0u8; 18];
            let n = encode_compact_addr(ip, &mut a);
            e.kv_bytes(b"ip", &a[..n])?;
        }
        if let Kind::Query(q) = &self.kind {
            e.kv_bytes(b"q", q.method.name())?;
        }
        if let Kind::Response(r) = &self.kind {
            e.bytes(b"r")?;
            encode_response(&mut e, r)?;
        }
        if self.read_only {
            e.kv_int(b"ro", 1)?;
        }
        e.kv_bytes(b"t", self.tid)?;
        if let Some(v) = self.version {
            e.kv_bytes(b"v", v)?;
        }
        let y: &[u8] = match self.kind {
            Kind::Query(_) => b"q",
            Kind::Response(_) => b"r",
            Kind::Error(_) => b"e",
        };
        e.kv_bytes(b"y", y)?;
        e.end()?;
        Ok(())
    }
}

fn encode_want<S: Sink + ?Sized>(e: &mut Encoder<'_, S>, w: &Want) -> Result<(), Overflow> {
    if w.is_unspecified() {
        return Ok(());
    }
    e.bytes(b"want")?.list()?;
    if w.v4 {
        e.bytes(b"n4")?;
    }
    if w.v6 {
        e.bytes(b"n6")?;
    }
    e.end()?;
    Ok(())
}

fn encode_args<S: Sink + ?Sized>(e: &mut Encoder<'_, S>, q: &Query<'_>) -> Result<(), Overflow> {
    e.dict()?;
    // Sorted: id, implied_port, info_hash, noseed, port, scrape, seed, target, token, want.
    e.kv_bytes(b"id", &q.id.0)?;
    match &q.method {
        Method::Ping => {}
        Method::FindNode { target, want } | Method::SampleInfohashes { target, want } => {
            e.kv_bytes(b"target", &target.0)?;
            encode_want(e, want)?;
        }
        Method::GetPeers {
            info_hash,
            want,
            noseed,
            scrape,
        } => {
            e.kv_bytes(b"info_hash", &info_hash.dht_key())?;
            if *noseed {
                e.kv_int(b"noseed", 1)?;
            }
            if *scrape {
                e.kv_int(b"scrape", 1)?;
            }
            encode_want(e, want)?;
        }
        Method::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
            seed,
        } => {
            if *implied_port {
                e.kv_int(b"implied_port", 1)?;
            }
            e.kv_bytes(b"info_hash", &info_hash.dht_key())?;
            e.kv_int(b"port", i64::from(*port))?;
            if *seed {
                e.kv_int(b"seed", 1)?;
            }
            e.kv_bytes(b"token", token)?;
        }
        Method::Unknown {
            info_hash, target, ..
        } => {
            if let Some(h) = info_hash {
                e.kv_bytes(b"info_hash", &h.dht_key())?;
            }
            if let Some(t) = target {
                e.kv_bytes(b"target", &t.0)?;
            }
        }
    }
    e.end()?;
    Ok(())
}

fn encode_nodes<S: Sink + ?Sized>(
    e: &mut Encoder<'_, S>,
    key: &[u8],
    nodes: &Nodes<'_>,
    v6: bool,
) -> Result<(), Overflow> {
    match nodes {
        Nodes::Compact { bytes, .. } => {
            if !bytes.is_empty() {
                e.kv_bytes(key, bytes)?;
            }
        }
        Nodes::Infos(infos) => {
            let fam = |n: &&NodeInfo| n.addr.is_ipv6() == v6;
            let count = infos.iter().filter(fam).count();
            if count == 0 {
                return Ok(());
            }
            let entry = if v6 { 38 } else { 26 };
            e.bytes(key)?;
            // Length prefix, then the entries written straight into the sink.
            let total = count * entry;
            let mut digits = [0u8; 21];
            let mut n = total;
            let mut i = 20;
            digits[20] = b':';
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            e.raw(&digits[i..])?;
            for n in infos.iter().filter(fam) {
                let mut a = [0u8; 18];
                let len = encode_compact_addr(&n.addr, &mut a);
                e.raw(&n.id.0)?.raw(&a[..len])?;
            }
        }
    }
    Ok(())
}

fn encode_response<S: Sink + ?Sized>(
    e: &mut Encoder<'_, S>,
    r: &Response<'_>,
) -> Result<(), Overflow> {
    e.dict()?;
    // Sorted: BFpe, BFsd, id, interval, nodes, nodes6, num, samples, token, values.
    if let Some(bf) = r.bf_peers {
        e.kv_bytes(b"BFpe", bf)?;
    }
    if let Some(bf) = r.bf_seeds {
        e.kv_bytes(b"BFsd", bf)?;
    }
    e.kv_bytes(b"id", &r.id.0)?;
    if let Some(i) = r.interval {
        e.kv_int(b"interval", i)?;
    }
    encode_nodes(e, b"nodes", &r.nodes, false)?;
    encode_nodes(e, b"nodes6", &r.nodes6, true)?;
    if let Some(n) = r.num {
        e.kv_int(b"num", n)?;
    }
    if let Some(s) = &r.samples {
        e.kv_bytes(b"samples", s.as_bytes())?;
    }
    if let Some(t) = r.token {
        e.kv_bytes(b"token", t)?;
    }
    if !r.values.is_empty() {
        e.bytes(b"values")?.list()?;
        match &r.values {
            Peers::Encoded(l) => {
                e.raw(l.raw_items())?;
            }
            Peers::Addrs(addrs) => {
                for a in addrs.iter() {
                    let mut buf = [0u8; 18];
                    let n = encode_compact_addr(a, &mut buf);
                    e.bytes(&buf[..n])?;
                }
            }
        }
        e.end()?;
    }
    e.end()?;
    Ok(())
}
