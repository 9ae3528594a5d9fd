//! A small XML writer for Torznab and RSS: well-formed output whatever the text contains.
//!
//! Every text node and attribute value goes through [`Xml::text`] / [`Xml::open`], which
//! escape markup (`&`, `<`, `>`, and in attributes `"` and `'`) and drop the characters
//! XML 1.0 cannot carry at all: the control characters U+0000–U+0008, U+000B, U+000C,
//! U+000E–U+001F, and the noncharacters U+FFFE and U+FFFF (lone surrogates cannot occur in a
//! Rust string). Tab, newline and carriage return are kept, as character references where a
//! parser would otherwise normalise them away, so a parsed value equals the original minus
//! the dropped characters. CDATA is never used: `]]>` in a name is just escaped text.

use std::fmt::Write as _;

/// Whether XML 1.0 can carry `c` (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `s` escaped for a text node (or, with `attr`, for a double- or single-quoted
/// attribute value).
fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // Always escaped: `]]>` must never appear in character data.
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\'' if attr => out.push_str("&apos;"),
            // Attribute-value normalisation would turn these into spaces, and a parser turns
            // a CR in text into a newline: references keep them as they are.
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => {}
            c => out.push(c),
        }
    }
}

/// An XML document being written, element by element. Elements must be closed in order;
/// [`finish`](Self::finish) closes whatever is still open.
#[derive(Debug, Default)]
pub(crate) struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document starting with the XML declaration (UTF-8).
    pub(crate) fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            open: Vec::new(),
        }
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v, true);
            self.out.push('"');
        }
    }

    /// Opens `<name attrs...>`. Names and attribute names are ours (static); values are
    /// escaped.
    pub(crate) fn open(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start(name, attrs);
        self.out.push('>');
        self.open.push(name);
        self
    }

    /// Writes the empty element `<name attrs.../>`.
    pub(crate) fn empty(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start(name, attrs);
        self.out.push_str("/>");
        self
    }

    /// Writes `<name>text</name>`.
    pub(crate) fn element(&mut self, name: &'static str, text: &str) -> &mut Self {
        self.open(name, &[]);
        self.text(text);
        self.close()
    }

    /// Writes an escaped text node.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.out, text, false);
        self
    }

    /// Closes the innermost open element.
    pub(crate) fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            let _ = write!(self.out, "</{name}>");
        }
        self
    }

    /// The document, every element closed.
    pub(crate) fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out.push('\n');
        self.out
    }
}

/// An RFC 822 date (as RSS 2.0 wants it, with a four-digit year): `Tue, 14 Nov 2023 22:13:20
/// +0000`.
pub(crate) fn rfc822(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {d:02} {} {y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

/// Year, month (1–12) and day of the days since 1970-01-01 (Howard Hinnant's algorithm; the
/// inverse of [`crate::params::days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_carry() {
        let mut x = Xml::new();
        x.open("a", &[("v", "q\"'<&>\t\n\r\u{1}x")]);
        x.text("]]> <b>&\u{0}\u{FFFF}\u{FFFE}\u{202E}\r\u{7F}");
        let doc = x.finish();
        assert!(doc.ends_with(
            "<a v=\"q&quot;&apos;&lt;&amp;&gt;&#9;&#10;&#13;x\">\
             ]]&gt; &lt;b&gt;&amp;\u{202E}&#13;\u{7F}</a>\n"
        ));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        for days in [-1_000, 0, 59, 60, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(crate::params::days_from_civil(y, m, d), days);
        }
    }
}
