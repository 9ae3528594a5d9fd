//! Value parsers shared by every layer: a TOML value from the file, a string from the
//! environment, or the values of a flag. Each returns `None` for a value that is malformed or
//! out of range; the caller reports it with the knob's `expected` text.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::Value;

use super::Status;

/// Largest accepted `max_metadata_size`: 1 GiB (the fetch buffers it in memory).
pub(super) const MAX_METADATA_SIZE_LIMIT: u64 = 1 << 30;

/// A raw value from any layer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Raw<'a> {
    /// From the TOML file.
    Toml(&'a Value),
    /// From an environment variable, or a single-valued flag.
    Str(&'a str),
    /// The values of a repeatable flag (`--bootstrap A --bootstrap B`), one item each.
    Items(&'a [String]),
}

pub(super) fn int_from<T: TryFrom<i64>>(raw: Raw<'_>, lo: i64, hi: i64) -> Option<T> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => *n,
        Raw::Str(s) => s.trim().parse().ok()?,
        Raw::Toml(_) | Raw::Items(_) => return None,
    };
    if (lo..=hi).contains(&n) {
        T::try_from(n).ok()
    } else {
        None
    }
}

pub(super) fn secs_from(raw: Raw<'_>) -> Option<f64> {
    let x = match raw {
        Raw::Toml(Value::Integer(n)) => *n as f64,
        Raw::Toml(Value::Float(x)) => *x,
        Raw::Str(s) => s.trim().parse().ok()?,
        Raw::Toml(_) | Raw::Items(_) => return None,
    };
    (x > 0.0 && x <= 3600.0).then_some(x)
}

fn str_of(raw: Raw<'_>) -> Option<&str> {
    match raw {
        Raw::Toml(Value::String(s)) => Some(s),
        Raw::Str(s) => Some(s),
        Raw::Toml(_) | Raw::Items(_) => None,
    }
}

pub(super) fn addr_from(raw: Raw<'_>) -> Option<SocketAddr> {
    str_of(raw)?.trim().parse().ok()
}

/// An address, or `"off"` / `""` / `false` (`None`: disabled).
pub(super) fn http_from(raw: Raw<'_>) -> Option<Option<SocketAddr>> {
    if let Raw::Toml(Value::Boolean(false)) = raw {
        return Some(None);
    }
    let s = str_of(raw)?.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("off") {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

/// A size from 1 byte to [`MAX_METADATA_SIZE_LIMIT`].
pub(super) fn size_from(raw: Raw<'_>) -> Option<u64> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => u64::try_from(*n).ok()?,
        Raw::Toml(Value::String(s)) => size_str(s)?,
        Raw::Str(s) => size_str(s)?,
        Raw::Toml(_) | Raw::Items(_) => return None,
    };
    (1..=MAX_METADATA_SIZE_LIMIT).contains(&n).then_some(n)
}

/// `"123"`, `"123B"`, `"512 KiB"`, `"10MiB"`, `"1gib"`.
fn size_str(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kib" => 10,
        "mib" => 20,
        "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// `HOST:PORT` or `[IPv6]:PORT` with a port from 1 to 65535; returned trimmed.
pub(super) fn host_port(s: &str) -> Option<String> {
    let s = s.trim();
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || "/:[]".contains(c))
    };
    (port != 0 && host_ok).then(|| s.to_string())
}

/// A non-empty list of `HOST:PORT`: a TOML array, a comma-separated string, or flag items.
pub(super) fn bootstrap_from(raw: Raw<'_>) -> Option<Vec<String>> {
    let list: Vec<String> = match raw {
        Raw::Toml(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().and_then(host_port))
            .collect::<Option<_>>()?,
        Raw::Str(s) => s
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(host_port)
            .collect::<Option<_>>()?,
        Raw::Items(items) => items.iter().map(|s| host_port(s)).collect::<Option<_>>()?,
        Raw::Toml(_) => return None,
    };
    (!list.is_empty()).then_some(list)
}

pub(super) fn status_from(raw: Raw<'_>) -> Option<Status> {
    str_of(raw)?.parse().ok()
}

/// A path from the file is relative to the file's directory (`base`); others are as given.
fn relative(p: PathBuf, base: Option<&Path>) -> PathBuf {
    match base {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p,
    }
}

/// A non-empty path.
pub(super) fn path_from(raw: Raw<'_>, base: Option<&Path>) -> Option<PathBuf> {
    let s = str_of(raw)?;
    (!s.trim().is_empty()).then(|| relative(PathBuf::from(s), base))
}

/// A path, or `""` for none.
pub(super) fn rules_from(raw: Raw<'_>, base: Option<&Path>) -> Option<Option<PathBuf>> {
    let s = str_of(raw)?;
    Some((!s.trim().is_empty()).then(|| relative(PathBuf::from(s.trim()), base)))
}

/// A list of paths: a TOML array of non-empty strings, a comma-separated string, or flag items.
pub(super) fn paths_from(raw: Raw<'_>, base: Option<&Path>) -> Option<Vec<PathBuf>> {
    match raw {
        Raw::Toml(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| relative(PathBuf::from(s), base))
            })
            .collect(),
        Raw::Str(s) => Some(
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| PathBuf::from(p.trim()))
                .collect(),
        ),
        Raw::Items(items) => Some(items.iter().map(PathBuf::from).collect()),
        Raw::Toml(_) => None,
    }
}

/// `"off"` (unlimited) or a size of at least 1 MiB.
pub(super) fn db_size_from(raw: Raw<'_>) -> Option<Option<u64>> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => u64::try_from(*n).ok()?,
        _ => {
            let s = str_of(raw)?;
            if s.trim().eq_ignore_ascii_case("off") {
                return Some(None);
            }
            big_size_str(s)?
        }
    };
    (n >= 1 << 20).then_some(Some(n))
}

/// [`size_str`] plus a TiB suffix.
fn big_size_str(s: &str) -> Option<u64> {
    let t = s.trim();
    match t.to_ascii_lowercase().strip_suffix("tib") {
        Some(n) => n.trim().parse::<u64>().ok()?.checked_mul(1 << 40),
        None => size_str(t),
    }
}
