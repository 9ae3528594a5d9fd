//! The routing table saved across restarts, so a restart does not depend on the routers.
//!
//! A text file, one node per line: `<40-hex id> <ip:port>`, `#` comments. Written to a
//! temporary file, synced and renamed over the old one, so a crash leaves either the old or
//! the new file, never half of one. Unreadable lines are skipped (and counted), so a damaged
//! file costs at most the nodes on those lines.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::Path;

use dht::{Id20, NodeInfo};

/// Most nodes read back (a sane bound whatever the file holds).
pub const MAX_NODES: usize = 4096;

/// Writes `nodes` to `path` atomically.
pub fn save(path: &Path, nodes: &[NodeInfo]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = io::BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(
            f,
            "# BitAgent routing table: <node id> <address>, reused as bootstrap nodes at start"
        )?;
        for n in nodes.iter().take(MAX_NODES) {
            writeln!(f, "{} {}", hex(&n.id.0), n.addr)?;
        }
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads nodes saved by [`save`]. A missing file is an empty list. Returns the nodes and how
/// many lines were skipped as unreadable.
pub fn load(path: &Path) -> io::Result<(Vec<NodeInfo>, usize)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut nodes = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some(n) if nodes.len() < MAX_NODES => nodes.push(n),
            Some(_) => break,
            None => skipped += 1,
        }
    }
    Ok((nodes, skipped))
}

fn parse_line(line: &str) -> Option<NodeInfo> {
    let (id, addr) = line.split_once(' ')?;
    let id = unhex(id)?;
    let addr: SocketAddr = addr.trim().parse().ok()?;
    (addr.port() != 0).then_some(NodeInfo { id: Id20(id), addr })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 20]> {
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_tolerance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dht_nodes.txt");
        assert_eq!(load(&path).unwrap().0, vec![]);
        let nodes = vec![
            NodeInfo {
                id: Id20([7; 20]),
                addr: "127.0.0.5:6881".parse().unwrap(),
            },
            NodeInfo {
                id: Id20([0xab; 20]),
                addr: "[::1]:7000".parse().unwrap(),
            },
        ];
        save(&path, &nodes).unwrap();
        assert_eq!(load(&path).unwrap(), (nodes.clone(), 0));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("zz not-a-node\n0707070707070707070707070707070707070707 127.0.0.1:0\n");
        std::fs::write(&path, text).unwrap();
        assert_eq!(load(&path).unwrap(), (nodes, 2));
        assert!(!path.with_extension("tmp").exists());
    }
}
