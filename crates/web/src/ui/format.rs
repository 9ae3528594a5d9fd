//! Numbers and times as people read them.

/// Bytes in binary units: `512 B`, `700 MiB`, `1.5 GiB` (one decimal below 10 of a unit).
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// How long ago `then` was, shortly: `45 s`, `12 min`, `3 h`, `5 d`, `4 mo`, `2 y`.
pub(crate) fn age(then: i64, now: i64) -> String {
    let s = now.saturating_sub(then).max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h", s / 3_600),
        86_400..5_184_000 => format!("{} d", s / 86_400),
        5_184_000..63_072_000 => format!("{} mo", s / 2_592_000),
        _ => format!("{} y", s / 31_536_000),
    }
}

/// A duration in seconds: `3 d 4 h`, `2 h 5 min`, `40 s`.
pub(crate) fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

/// A moment in UTC: `2023-11-14 22:13 UTC`.
pub(crate) fn date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60
    )
}

/// A count with thin grouping: `1 234 567`.
pub(crate) fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// (year, month, day) of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(700 << 20), "700 MiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
        assert_eq!(size(u64::MAX), "16384 PiB");
    }

    #[test]
    fn ages_and_dates() {
        assert_eq!(age(100, 100), "0 s");
        assert_eq!(age(200, 100), "0 s", "a future time is now");
        assert_eq!(age(0, 3 * 3_600 + 5), "3 h");
        assert_eq!(age(0, 90), "1 min");
        assert_eq!(age(0, 3 * 86_400), "3 d");
        assert_eq!(age(0, 400 * 86_400), "13 mo");
        assert_eq!(age(0, 800 * 86_400), "2 y");
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(date(951_912_000), "2000-03-01 12:00 UTC");
        assert_eq!(duration(93_784), "1 d 2 h");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(count(12), "12");
    }
}
