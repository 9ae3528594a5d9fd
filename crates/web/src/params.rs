//! Query-string parameters to a [`SearchRequest`], the same for the API, the UI and RSS.
//!
//! Every value is checked here and a bad one is an [`ApiError::BadParam`] naming it (never
//! a 500, never a panic). Unknown parameters are ignored (Torznab clients send many); a
//! repeated one takes its last value.
//!
//! | parameter | accepts |
//! |---|---|
//! | `q` | the query syntax of `docs/search.md` (at most 512 bytes) |
//! | `type`, `tag` | a content type / tag name (letters, digits, `_ - .`, at most 64) |
//! | `min_size`, `max_size` | bytes, or with a unit: `700MB`, `1.5GiB`, `2G` (K/M/G/T: powers of 1024) |
//! | `min_seeders`, `min_files`, `max_files` | non-negative integers |
//! | `since`, `until` | first seen: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, Unix seconds, or an age (`90m`, `24h`, `7d`, `2w`) |
//! | `sort` | `relevance`, `seeders`, `size`, `files`, `first_seen`, `last_seen`, `name` |
//! | `order` | `asc`, `desc` |
//! | `limit` | 1 to 100 |
//! | `cursor` | a `next_cursor` from the previous page |

use store::{MAX_PAGE, Order, SearchRequest, SortKey, UnixSeconds};

use crate::ApiError;

/// Longest accepted `q`.
pub(crate) const MAX_Q_BYTES: usize = 512;

/// The last value of each parameter, as sent.
pub(crate) fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A search from query pairs. `now` anchors relative ages (`since=7d`).
pub(crate) fn search_request(
    pairs: &[(String, String)],
    now: UnixSeconds,
) -> Result<SearchRequest, ApiError> {
    let mut r = SearchRequest::default();
    if let Some(q) = last(pairs, "q") {
        if q.len() > MAX_Q_BYTES {
            return Err(ApiError::param(
                "q",
                format!("longer than {MAX_Q_BYTES} bytes"),
            ));
        }
        r.text = q.to_owned();
    }
    r.content_type = name_param(pairs, "type")?;
    r.tag = name_param(pairs, "tag")?;
    r.min_size = opt(pairs, "min_size", parse_size)?;
    r.max_size = opt(pairs, "max_size", parse_size)?;
    r.min_seeders = opt(pairs, "min_seeders", parse_int::<u32>)?;
    r.min_files = opt(pairs, "min_files", parse_int::<u64>)?;
    r.max_files = opt(pairs, "max_files", parse_int::<u64>)?;
    r.since = opt(pairs, "since", |v| parse_time(v, now))?;
    r.until = opt(pairs, "until", |v| parse_time(v, now))?;
    if let (Some(a), Some(b)) = (r.min_size, r.max_size)
        && a > b
    {
        return Err(ApiError::param("max_size", "smaller than min_size"));
    }
    if let (Some(a), Some(b)) = (r.min_files, r.max_files)
        && a > b
    {
        return Err(ApiError::param("max_files", "smaller than min_files"));
    }
    if let (Some(a), Some(b)) = (r.since, r.until)
        && a > b
    {
        return Err(ApiError::param("until", "earlier than since"));
    }
    if let Some(s) = nonempty(pairs, "sort") {
        r.sort = SortKey::parse(s).ok_or_else(|| {
            let all: Vec<&str> = SortKey::ALL.iter().map(|(n, _)| *n).collect();
            ApiError::param("sort", format!("one of {}", all.join(", ")))
        })?;
    }
    if let Some(o) = nonempty(pairs, "order") {
        r.order = Some(Order::parse(o).ok_or_else(|| ApiError::param("order", "asc or desc"))?);
    }
    if let Some(l) = nonempty(pairs, "limit") {
        let l: usize = parse_int(l).map_err(|e| ApiError::param("limit", e))?;
        if l == 0 || l > MAX_PAGE {
            return Err(ApiError::param("limit", format!("1 to {MAX_PAGE}")));
        }
        r.limit = l;
    }
    if let Some(c) = nonempty(pairs, "cursor") {
        if c.len() > 256 || !c.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::param("cursor", "not a cursor this server issued"));
        }
        r.cursor = Some(c.to_owned());
    }
    Ok(r)
}

fn nonempty<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    last(pairs, key).map(str::trim).filter(|v| !v.is_empty())
}

fn opt<T>(
    pairs: &[(String, String)],
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ApiError> {
    nonempty(pairs, key)
        .map(|v| parse(v).map_err(|e| ApiError::param(key, e)))
        .transpose()
}

/// A content type or tag: short, and only characters our rules produce.
fn name_param(pairs: &[(String, String)], key: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = nonempty(pairs, key) else {
        return Ok(None);
    };
    if v.len() > 64
        || !v
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ApiError::param(
            key,
            "letters, digits, '_', '-' or '.', at most 64",
        ));
    }
    Ok(Some(v.to_owned()))
}

pub(crate) fn parse_int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a non-negative integer in range"))
}

/// Bytes, or a number with a unit (`K`, `M`, `G`, `T`, optionally followed by `B` or `iB`;
/// all powers of 1024; case-insensitive).
pub(crate) fn parse_size(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "{v:?}: a size is bytes or a number with K, M, G or T"
            ));
        }
    };
    let bad = || format!("{v:?}: a size is bytes or a number with K, M, G or T");
    if num.is_empty() || num.chars().filter(|c| *c == '.').count() > 1 {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("{v:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// A moment: `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM:SSZ`, Unix seconds, or an age
/// before `now` (`90m`, `24h`, `7d`, `2w`).
pub(crate) fn parse_time(v: &str, now: UnixSeconds) -> Result<UnixSeconds, String> {
    let v = v.trim();
    let bad = || {
        format!("{v:?}: a time is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, Unix seconds or an age like 7d")
    };
    if let Some(unit) = v.chars().last().filter(|c| "mhdw".contains(*c)) {
        let n: i64 = v[..v.len() - 1].parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        let secs = match unit {
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => 7 * 86_400,
        };
        return n
            .checked_mul(secs)
            .and_then(|d| now.checked_sub(d))
            .ok_or_else(bad);
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().map_err(|_| bad());
    }
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (v, None),
    };
    let mut d = date.split('-');
    let (Some(y), Some(m), Some(day), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    let (y, m, day): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        day.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || day == 0 || day > days_in(y, m) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, day) * 86_400;
    if let Some(t) = time {
        let mut p = t.split(':');
        let (Some(h), Some(mi), Some(s), None) = (p.next(), p.next(), p.next(), p.next()) else {
            return Err(bad());
        };
        let (h, mi, s): (i64, i64, i64) = (
            h.parse().map_err(|_| bad())?,
            mi.parse().map_err(|_| bad())?,
            s.parse().map_err(|_| bad())?,
        );
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..61).contains(&s) {
            return Err(bad());
        }
        secs += h * 3_600 + mi * 60 + s;
    }
    Ok(secs)
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The query string's pairs, percent-decoded (`+` is a space). A value that is not UTF-8
/// once decoded is a 400 naming its parameter; a name that is not UTF-8 is no parameter of
/// ours and is dropped.
pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let Ok(k) = String::from_utf8(percent_decode(k)) else {
            continue;
        };
        let v = String::from_utf8(percent_decode(v)).map_err(|_| {
            ApiError::param(&k, "not UTF-8 once percent-decoded (encode text as UTF-8)")
        })?;
        out.push((k, v));
    }
    Ok(out)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push((hex(b[i + 1]).unwrap_or(0) << 4) | hex(b[i + 2]).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The query's pairs for a browser: like [`query_pairs`], but bytes that are not UTF-8 become
/// U+FFFD instead of an error (a page shows what it can).
pub(crate) fn query_pairs_lossy(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_lossy(k), decode_lossy(v))
        })
        .collect()
}

/// One component, percent-decoded, invalid UTF-8 as U+FFFD.
pub(crate) fn decode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode(s)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn a_full_request() {
        let r = search_request(
            &pairs(&[
                ("q", "\"big buck\" -trailer"),
                ("type", "movie"),
                ("min_size", "700MB"),
                ("max_size", "1.5GiB"),
                ("min_seeders", "3"),
                ("since", "2024-02-29"),
                ("until", "7d"),
                ("sort", "seeders"),
                ("order", "asc"),
                ("limit", "50"),
                ("unknown", "ignored"),
            ]),
            1_800_000_000,
        )
        .unwrap();
        assert_eq!(r.text, "\"big buck\" -trailer");
        assert_eq!(r.content_type.as_deref(), Some("movie"));
        assert_eq!(r.min_size, Some(700 << 20));
        assert_eq!(r.max_size, Some(1_610_612_736));
        assert_eq!(r.min_seeders, Some(3));
        assert_eq!(r.since, Some(1_709_164_800));
        assert_eq!(r.until, Some(1_800_000_000 - 7 * 86_400));
        assert_eq!(
            (r.sort, r.order, r.limit),
            (SortKey::Seeders, Some(Order::Asc), 50)
        );
    }

    #[test]
    fn each_bad_value_names_its_parameter() {
        for (k, v) in [
            ("min_size", "lots"),
            ("min_size", "-1"),
            ("max_size", "1e400"),
            ("min_seeders", "-3"),
            ("min_files", "1.5"),
            ("since", "2024-02-30"),
            ("until", "yesterday"),
            ("sort", "popularity"),
            ("order", "up"),
            ("limit", "0"),
            ("limit", "101"),
            ("type", "<script>"),
            ("cursor", "a b"),
        ] {
            match search_request(&pairs(&[(k, v)]), 0) {
                Err(ApiError::BadParam { param, .. }) => assert_eq!(param, k, "{k}={v}"),
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        let long = "x".repeat(MAX_Q_BYTES + 1);
        assert!(matches!(search_request(&pairs(&[("q", &long)]), 0),
            Err(ApiError::BadParam { param, .. }) if param == "q"));
        assert!(matches!(
            search_request(&pairs(&[("min_size", "2G"), ("max_size", "1G")]), 0),
            Err(ApiError::BadParam { param, .. }) if param == "max_size"
        ));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01", 0), Ok(0));
        assert_eq!(parse_time("2000-03-01T12:00:00Z", 0), Ok(951_912_000));
        assert_eq!(parse_time("1700000000", 0), Ok(1_700_000_000));
        assert_eq!(parse_time("90m", 10_000), Ok(10_000 - 5_400));
        assert!(parse_time("99999999999999999999d", 0).is_err());
        assert!(parse_time("2023-13-01", 0).is_err());
        assert!(parse_time("2023-01-01T25:00:00Z", 0).is_err());
    }
}
