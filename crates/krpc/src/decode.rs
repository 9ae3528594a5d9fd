//! Decoding KRPC messages from datagram bytes.

use bencode::{Dict, Value};
use infohash::InfoHash;

use crate::compact::{NODE_V4_LEN, NODE_V6_LEN, PEER_V4_LEN, PEER_V6_LEN, decode_compact_addr};
use crate::message::{ErrorReply, Kind, Message, Method, Query, Response, Want};
use crate::{Id20, Nodes, Peers, Samples};

/// Longest transaction id accepted. Real clients use 2 to 8 bytes.
pub(crate) const MAX_TID_LEN: usize = 32;
/// Longest write token accepted.
pub(crate) const MAX_TOKEN_LEN: usize = 64;

/// Why a datagram is not a KRPC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid bencode.
    #[error(transparent)]
    Bencode(#[from] bencode::Error),
    /// The top-level value is not a dictionary.
    #[error("krpc: message is not a dictionary")]
    NotADict,
    /// A required key is missing.
    #[error("krpc: missing key {0}")]
    Missing(&'static str),
    /// A key holds the wrong bencode type.
    #[error("krpc: key {0} has the wrong type")]
    WrongType(&'static str),
    /// A key holds a string or integer of an invalid length or range.
    #[error("krpc: key {field} has invalid length or value {len}")]
    BadLength {
        /// The key.
        field: &'static str,
        /// The offending length (or value).
        len: i64,
    },
    /// `y` is not `q`, `r` or `e`.
    #[error("krpc: unknown message type")]
    UnknownType,
}

use DecodeError::{BadLength, Missing, WrongType};

fn bytes<'a>(v: Value<'a>, field: &'static str) -> Result<&'a [u8], DecodeError> {
    v.as_bytes().ok_or(WrongType(field))
}

fn int(v: Value<'_>, field: &'static str) -> Result<i64, DecodeError> {
    v.as_int().ok_or(WrongType(field))
}

fn id20(v: Value<'_>, field: &'static str) -> Result<Id20, DecodeError> {
    let b = bytes(v, field)?;
    Id20::from_slice(b).ok_or(BadLength {
        field,
        len: b.len() as i64,
    })
}

fn infohash(v: Value<'_>) -> Result<InfoHash, DecodeError> {
    let b = bytes(v, "info_hash")?;
    InfoHash::from_v1_slice(b).ok_or(BadLength {
        field: "info_hash",
        len: b.len() as i64,
    })
}

fn flag(v: Value<'_>, field: &'static str) -> Result<bool, DecodeError> {
    // Integers are the norm; some clients send "1" as a string. Accept both.
    match v {
        Value::Int(i) => Ok(i != 0),
        Value::Bytes(b) => Ok(b == b"1"),
        _ => Err(WrongType(field)),
    }
}

fn nodes<'a>(v: Value<'a>, field: &'static str, v6: bool) -> Result<Nodes<'a>, DecodeError> {
    let b = bytes(v, field)?;
    let step = if v6 { NODE_V6_LEN } else { NODE_V4_LEN };
    if b.len() % step != 0 {
        return Err(BadLength {
            field,
            len: b.len() as i64,
        });
    }
    Ok(Nodes::Compact { bytes: b, v6 })
}

fn want(v: Value<'_>) -> Result<Want, DecodeError> {
    let l = v.as_list().ok_or(WrongType("want"))?;
    let mut w = Want::default();
    for item in l.iter() {
        match item.as_bytes() {
            Some(b"n4") => w.v4 = true,
            Some(b"n6") => w.v6 = true,
            Some(_) => {}
            None => return Err(WrongType("want")),
        }
    }
    Ok(w)
}

impl<'a> Message<'a> {
    /// Decodes one datagram.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let top = bencode::decode(buf)?
            .as_dict()
            .ok_or(DecodeError::NotADict)?;
        let mut tid = None;
        let mut y = None;
        let mut q = None;
        let mut a = None;
        let mut r = None;
        let mut e = None;
        let mut version = None;
        let mut ip = None;
        let mut read_only = false;
        for (k, v) in top.iter() {
            match k {
                b"t" => tid = Some(bytes(v, "t")?),
                b"y" => y = Some(bytes(v, "y")?),
                b"q" => q = Some(bytes(v, "q")?),
                b"a" => a = Some(v.as_dict().ok_or(WrongType("a"))?),
                b"r" => r = Some(v.as_dict().ok_or(WrongType("r"))?),
                b"e" => e = Some(v),
                b"v" => version = v.as_bytes(),
                b"ip" => {
                    let b = bytes(v, "ip")?;
                    ip = Some(decode_compact_addr(b).ok_or(BadLength {
                        field: "ip",
                        len: b.len() as i64,
                    })?);
                }
                b"ro" => read_only = flag(v, "ro")?,
                _ => {}
            }
        }
        let tid = tid.ok_or(Missing("t"))?;
        if tid.len() > MAX_TID_LEN {
            return Err(BadLength {
                field: "t",
                len: tid.len() as i64,
            });
        }
        let kind = match y.ok_or(Missing("y"))? {
            b"q" => Kind::Query(decode_query(
                q.ok_or(Missing("q"))?,
                a.ok_or(Missing("a"))?,
            )?),
            b"r" => Kind::Response(decode_response(r.ok_or(Missing("r"))?)?),
            b"e" => Kind::Error(decode_error(e.ok_or(Missing("e"))?)?),
            _ => return Err(DecodeError::UnknownType),
        };
        Ok(Message {
            tid,
            version,
            ip,
            read_only,
            kind,
        })
    }
}

#[inline(always)]
fn decode_query<'a>(name: &'a [u8], args: Dict<'a>) -> Result<Query<'a>, DecodeError> {
    let mut id = None;
    let mut target = None;
    let mut info_hash = None;
    let mut w = Want::default();
    let mut noseed = false;
    let mut scrape = false;
    let mut seed = false;
    let mut implied_port = false;
    let mut port = None;
    let mut token = None;
    for (k, v) in args.iter() {
        match k {
            b"id" => id = Some(id20(v, "id")?),
            b"target" => target = Some(v),
            b"info_hash" => info_hash = Some(v),
            b"want" => w = want(v)?,
            b"noseed" => noseed = flag(v, "noseed")?,
            b"scrape" => scrape = flag(v, "scrape")?,
            b"seed" => seed = flag(v, "seed")?,
            b"implied_port" => implied_port = flag(v, "implied_port")?,
            b"port" => port = Some(int(v, "port")?),
            b"token" => token = Some(bytes(v, "token")?),
            _ => {}
        }
    }
    let id = id.ok_or(Missing("id"))?;
    let method = match name {
        b"ping" => Method::Ping,
        b"find_node" => Method::FindNode {
            target: id20(target.ok_or(Missing("target"))?, "target")?,
            want: w,
        },
        b"get_peers" => Method::GetPeers {
            info_hash: infohash(info_hash.ok_or(Missing("info_hash"))?)?,
            want: w,
            noseed,
            scrape,
        },
        b"announce_peer" => {
            let info_hash = infohash(info_hash.ok_or(Missing("info_hash"))?)?;
            let token = token.ok_or(Missing("token"))?;
            if token.len() > MAX_TOKEN_LEN {
                return Err(BadLength {
                    field: "token",
                    len: token.len() as i64,
                });
            }
            let port = match port {
                Some(p) if (0..=65535).contains(&p) => p as u16,
                Some(p) => {
                    return Err(BadLength {
                        field: "port",
                        len: p,
                    });
                }
                None if implied_port => 0,
                None => return Err(Missing("port")),
            };
            Method::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                seed,
            }
        }
        b"sample_infohashes" => Method::SampleInfohashes {
            target: id20(target.ok_or(Missing("target"))?, "target")?,
            want: w,
        },
        other => Method::Unknown {
            name: other,
            target: target.and_then(|v| v.as_bytes()).and_then(Id20::from_slice),
            info_hash: info_hash
                .and_then(|v| v.as_bytes())
                .and_then(InfoHash::from_v1_slice),
        },
    };
    Ok(Query { id, method })
}

#[inline(always)]
fn decode_response(r: Dict<'_>) -> Result<Response<'_>, DecodeError> {
    let mut id = None;
    let mut resp = Response::new(Id20::ZERO);
    for (k, v) in r.iter() {
        match k {
            b"id" => id = Some(id20(v, "id")?),
            b"nodes" => resp.nodes = nodes(v, "nodes", false)?,
            b"nodes6" => resp.nodes6 = nodes(v, "nodes6", true)?,
            b"values" => {
                let l = v.as_list().ok_or(WrongType("values"))?;
                for p in l.iter() {
                    let b = bytes(p, "values")?;
                    if b.len() != PEER_V4_LEN && b.len() != PEER_V6_LEN {
                        return Err(BadLength {
                            field: "values",
                            len: b.len() as i64,
                        });
                    }
                }
                // An empty list is no peers, the same as an absent key: normalise it so a
                // decoded message equals the one decoded from its re-encoding (which omits it).
                resp.values = if l.is_empty() {
                    Peers::default()
                } else {
                    Peers::Encoded(l)
                };
            }
            b"token" => {
                let t = bytes(v, "token")?;
                if t.len() > MAX_TOKEN_LEN {
                    return Err(BadLength {
                        field: "token",
                        len: t.len() as i64,
                    });
                }
                resp.token = Some(t);
            }
            b"samples" => {
                let b = bytes(v, "samples")?;
                resp.samples = Some(Samples::new(b).ok_or(BadLength {
                    field: "samples",
                    len: b.len() as i64,
                })?);
            }
            b"interval" => resp.interval = Some(int(v, "interval")?),
            b"num" => resp.num = Some(int(v, "num")?),
            b"BFsd" => {
                let b = bytes(v, "BFsd")?;
                resp.bf_seeds = Some(b.try_into().map_err(|_| BadLength {
                    field: "BFsd",
                    len: b.len() as i64,
                })?);
            }
            b"BFpe" => {
                let b = bytes(v, "BFpe")?;
                resp.bf_peers = Some(b.try_into().map_err(|_| BadLength {
                    field: "BFpe",
                    len: b.len() as i64,
                })?);
            }
            _ => {}
        }
    }
    resp.id = id.ok_or(Missing("id"))?;
    Ok(resp)
}

fn decode_error(e: Value<'_>) -> Result<ErrorReply<'_>, DecodeError> {
    // BEP-5 says a list [code, message]; be lenient about a missing message.
    let l = e.as_list().ok_or(WrongType("e"))?;
    let mut it = l.iter();
    let code = it.next().and_then(|v| v.as_int()).ok_or(WrongType("e"))?;
    let message = it.next().and_then(|v| v.as_bytes()).unwrap_or(b"");
    Ok(ErrorReply { code, message })
}
