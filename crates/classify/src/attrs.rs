//! What can be read from a torrent's name and file list without any rule: words, resolution,
//! year, season and episode, languages, codecs, source, version, release group, and the
//! extension groups of the files.
//!
//! Everything here is plain Rust run once per torrent, so rules (CEL) only compare ready-made
//! values: see [`crate::rules`] for how these are exposed, and `docs/rules.md`.

use regex::Regex;
use std::sync::LazyLock;

/// Most words kept from a name (the rest are ignored by rules).
pub const MAX_WORDS: usize = 64;

/// What [`parse_name`] reads from a torrent name. Absent values are `None` or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameAttrs {
    /// Lowercase alphanumeric runs of the name, in order, at most [`MAX_WORDS`].
    pub words: Vec<String>,
    /// `2160p`, `1440p`, `1080p`, `720p`, `576p`, `480p` or `360p` (`4K`/`UHD` is `2160p`,
    /// `1920x1080` is `1080p`).
    pub resolution: Option<&'static str>,
    /// A year between 1920 and 2039: the last one in the name.
    pub year: Option<u16>,
    /// Season number (`S02`, `S02E03`, Spanish `T02E03`, `2x03`, `Season 2`, `Saison 2`, `Staffel 2`,
    /// `Temporada 2`, `Сезон 2`, `第2季`...).
    pub season: Option<u16>,
    /// Episode number (`S02E03`, `2x03`, `E03`, `Ep 3`, `第3集`, anime `- 03 [..]`).
    pub episode: Option<u16>,
    /// ISO 639-1 codes from language words (`FRENCH`, `VOSTFR`, `German`, `RUS`, `ITA`...) and
    /// from the scripts the name is written in (Cyrillic `ru`, kana `ja`, Hangul `ko`, Han
    /// `zh`...), plus `multi` for `MULTi`. Sorted, distinct.
    pub languages: Vec<&'static str>,
    /// Video codec: `h264`, `h265`, `av1`, `xvid`, `vp9`, `mpeg2`, `vc1`.
    pub codec: Option<&'static str>,
    /// Audio codec or format: `flac`, `alac`, `ape`, `wav`, `dsd`, `mp3`, `aac`, `ogg`,
    /// `opus`, `ac3`, `eac3`, `dts`, `truehd`, `atmos`.
    pub audio: Option<&'static str>,
    /// Source: `bluray`, `remux`, `web-dl`, `webrip`, `web`, `hdtv`, `dvd`, `cam`,
    /// `telesync`, `hdrip`, `vinyl`, `cd`.
    pub source: Option<&'static str>,
    /// HDR markers (`HDR`, `HDR10`, `HDR10+`, `DV`, `DoVi`, `Dolby Vision`).
    pub hdr: bool,
    /// Audio bit rate in kbit/s (`320kbps`, `320k`, `V0` is 245), if given.
    pub bitrate: Option<u16>,
    /// Audio bit depth (`24bit`, `24-bit`, `24-96`, `16-44`), if given.
    pub bit_depth: Option<u8>,
    /// A software version: `v1.2`, `v25.0.0.37` or a number with two dots or more (`3.0.20`),
    /// without a leading `v`.
    pub version: Option<String>,
    /// Release group: the `-GROUP` suffix of a scene name or a leading `[Group]`.
    pub group: Option<String>,
    /// `Complete`, `Intégrale`, `Komplett`, `Completa`, `全集`: a complete series or collection.
    pub complete: bool,
}

static SXXEYY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])[st](\d{1,2})[ ._-]?e(\d{1,4})").expect("regex")
});
static NXNN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])(\d{1,2})x(\d{2,3})(?:[^0-9a-z]|$)").expect("regex")
});
static SXX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])s(\d{1,2})(?:[^0-9a-z]|$|-s\d)").expect("regex")
});
static SEASON_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:season|saison|staffel|temporada|stagione|seizoen|sezon|сезон|sæson|säsong)[ ._:-]*(\d{1,2})(?-u:\b)|(\d{1,2})(?:-?й)?[ ._-]*сезон|第\s*(\d{1,2})\s*[季部]",
    )
    .expect("regex")
});
static EPISODE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[^a-z0-9])(?:e|ep|episode|épisode|episodio|folge|серия)[ ._]?(\d{1,3})(?:[^0-9]|$)|第\s*(\d{1,4})\s*[集話话]",
    )
    .expect("regex")
});
/// Anime fansub episodes: `[Group] Title - 05 (1080p) [CRC].mkv`, `Title - 05v2 [..]`.
static ANIME_EPISODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s-\s(\d{1,4})(?:v\d)?(?:\s*[\[(]|\s*$|\s+(?:END|FINAL)(?-u:\b))").expect("regex")
});
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])(?:v(\d+(?:\.\d+){0,4})|(\d+(?:\.\d+){2,4}))(?:[^0-9]|$)")
        .expect("regex")
});
static BIT_DEPTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[^0-9])(16|24|32)[ -]?bits?(?-u:\b)|(?:^|[^0-9])(16|24)[-/](44|48|88|96|176|192)",
    )
    .expect("regex")
});

/// Splits `name` into lowercase alphanumeric words (at most [`MAX_WORDS`]).
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in name.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        if out.len() == MAX_WORDS {
            break;
        }
        out.push(w.to_lowercase());
    }
    out
}

fn language_of_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "french" | "francais" | "français" | "vff" | "vfq" | "vf" | "vf2" | "vfi"
        | "truefrench" | "vostfr" | "fra" | "fre" => "fr",
        "german" | "deutsch" | "ger" | "deu" => "de",
        "spanish" | "español" | "espanol" | "castellano" | "spa" | "esp" | "latino" => "es",
        "italian" | "italiano" | "ita" => "it",
        "portuguese" | "português" | "portugues" | "por" | "dublado" | "ptbr" => "pt",
        "russian" | "rus" => "ru",
        "ukrainian" | "ukr" => "uk",
        "polish" | "pol" | "lektor" | "pldub" => "pl",
        "japanese" | "jap" | "jpn" => "ja",
        "chinese" | "chs" | "cht" | "chn" | "mandarin" | "cantonese" | "big5" => "zh",
        "korean" | "kor" => "ko",
        "english" | "eng" => "en",
        "hindi" | "hin" => "hi",
        "turkish" | "tur" => "tr",
        "dutch" | "nld" => "nl",
        "swedish" | "swe" => "sv",
        "norwegian" | "nor" => "no",
        "danish" | "dan" => "da",
        "hungarian" | "hun" => "hu",
        "czech" | "cze" | "ces" => "cs",
        "arabic" | "ara" => "ar",
        "hebrew" | "heb" => "he",
        "thai" => "th",
        "greek" | "gre" => "el",
        "romanian" | "rum" => "ro",
        "vietnamese" | "vie" => "vi",
        "multi" | "multisub" | "multisubs" => "multi",
        _ => return None,
    })
}

fn languages_of_script(name: &str) -> Vec<&'static str> {
    let (mut cyr, mut kana, mut hangul, mut han, mut arabic, mut hebrew, mut thai, mut greek) =
        (false, false, false, false, false, false, false, false);
    for c in name.chars() {
        match c as u32 {
            0x0400..=0x04FF => cyr = true,
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => kana = true,
            0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => hangul = true,
            0x4E00..=0x9FFF | 0x3400..=0x4DBF => han = true,
            0x0600..=0x06FF => arabic = true,
            0x0590..=0x05FF => hebrew = true,
            0x0E00..=0x0E7F => thai = true,
            0x0370..=0x03FF => greek = true,
            _ => {}
        }
    }
    let mut out = Vec::new();
    if cyr {
        out.push("ru");
    }
    if kana {
        out.push("ja");
    } else if han {
        out.push("zh");
    }
    if hangul {
        out.push("ko");
    }
    if arabic {
        out.push("ar");
    }
    if hebrew {
        out.push("he");
    }
    if thai {
        out.push("th");
    }
    if greek {
        out.push("el");
    }
    out
}

fn resolution_of_height(h: u32) -> &'static str {
    match h {
        1900.. => "2160p",
        1300..=1899 => "1440p",
        1000..=1299 => "1080p",
        700..=999 => "720p",
        560..=699 => "576p",
        400..=559 => "480p",
        _ => "360p",
    }
}

fn resolution_of_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "2160p" | "4k" | "uhd" | "4320p" => "2160p",
        "1440p" => "1440p",
        "1080p" | "1080i" | "fhd" => "1080p",
        "720p" => "720p",
        "576p" | "576i" => "576p",
        "480p" | "480i" => "480p",
        "360p" => "360p",
        _ => {
            let (w_, h) = w.split_once('x')?;
            let (w_, h): (u32, u32) = (w_.parse().ok()?, h.parse().ok()?);
            if !(320..=8000).contains(&w_) || !(240..=4400).contains(&h) {
                return None;
            }
            resolution_of_height(h)
        }
    })
}

fn codec_of_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "x264" | "h264" | "avc" => "h264",
        "x265" | "h265" | "hevc" => "h265",
        "av1" => "av1",
        "xvid" | "divx" => "xvid",
        "vp9" => "vp9",
        "mpeg2" => "mpeg2",
        "vc1" => "vc1",
        _ => return None,
    })
}

fn audio_of_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "flac" => "flac",
        "alac" => "alac",
        "ape" => "ape",
        "wav" => "wav",
        "dsd" | "dsf" | "dsd64" | "dsd128" | "sacd" => "dsd",
        "mp3" => "mp3",
        "aac" | "aac2" => "aac",
        "ogg" | "vorbis" => "ogg",
        "opus" => "opus",
        "ac3" | "dd" | "dd2" | "dd5" | "dd51" => "ac3",
        "eac3" | "ddp" | "ddp2" | "ddp5" | "ddp51" | "ddp7" => "eac3",
        "dts" | "dtshd" | "dtsx" | "dtsma" => "dts",
        "truehd" => "truehd",
        "atmos" => "atmos",
        _ => return None,
    })
}

fn source_of_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "bluray" | "bdrip" | "brrip" | "bd25" | "bd50" | "bdmv" | "bd" | "uhdbd" => "bluray",
        "remux" | "bdremux" => "remux",
        "webdl" => "web-dl",
        "webrip" => "webrip",
        "web" => "web",
        "hdtv" | "pdtv" | "sdtv" | "dsr" | "tvrip" | "satrip" | "dvb" => "hdtv",
        "dvdrip" | "dvd" | "dvdr" | "dvd5" | "dvd9" | "dvdscr" => "dvd",
        "cam" | "camrip" | "hdcam" => "cam",
        "ts" | "telesync" | "hdts" => "telesync",
        "hdrip" => "hdrip",
        "vinyl" => "vinyl",
        "cd" | "cdda" | "cdrip" => "cd",
        _ => return None,
    })
}

/// Source precedence: a more specific source replaces a vaguer one (`WEB` then `DL`).
fn source_rank(s: &str) -> u8 {
    match s {
        "web" | "bluray" => 1,
        _ => 2,
    }
}

fn parse_u16(s: &str) -> Option<u16> {
    s.parse().ok()
}

/// Reads every attribute of a torrent name. Cheap: one pass over the words and a few
/// precompiled regexes.
pub fn parse_name(name: &str) -> NameAttrs {
    let words = words(name);
    let mut a = NameAttrs::default();
    let mut langs: Vec<&'static str> = Vec::new();
    let mut prev: &str = "";
    for (i, w) in words.iter().enumerate() {
        let w = w.as_str();
        if a.resolution.is_none() {
            a.resolution = resolution_of_word(w);
        }
        if a.codec.is_none() {
            a.codec = codec_of_word(w).or(match (prev, w) {
                ("h" | "x", "264") => Some("h264"),
                ("h" | "x", "265") => Some("h265"),
                _ => None,
            });
        }
        if a.audio.is_none() {
            a.audio = audio_of_word(w);
        }
        let src = source_of_word(w).or(match (prev, w) {
            ("web", "dl") => Some("web-dl"),
            ("web", "rip") => Some("webrip"),
            ("blu", "ray") => Some("bluray"),
            ("dvd", "rip") => Some("dvd"),
            _ => None,
        });
        if let Some(s) = src {
            // Two letters are too ambiguous alone ("TS" is a container, "BD" a word).
            let ambiguous = matches!(s, "telesync") && w == "ts" || w == "bd" && words.len() < 3;
            match a.source {
                _ if ambiguous => {}
                None => a.source = Some(s),
                Some(old) if source_rank(s) > source_rank(old) && s != "remux" => {
                    a.source = Some(s)
                }
                Some(_) if s == "remux" => a.source = Some("remux"),
                _ => {}
            }
        }
        if matches!(w, "hdr" | "hdr10" | "hdr10plus" | "dv" | "dovi")
            || (prev == "dolby" && w == "vision")
            || (prev == "hdr10" && w == "plus")
        {
            a.hdr = true;
        }
        if let Some(l) = language_of_word(w) {
            langs.push(l);
        }
        if a.bitrate.is_none() {
            if let Some(n) = w.strip_suffix("kbps").or_else(|| w.strip_suffix('k')) {
                if let Ok(n) = n.parse::<u16>()
                    && (64..=500).contains(&n)
                {
                    a.bitrate = Some(n);
                }
            } else if w == "kbps" {
                if let Ok(n) = prev.parse::<u16>()
                    && (64..=500).contains(&n)
                {
                    a.bitrate = Some(n);
                }
            } else if w == "v0" {
                a.bitrate = Some(245);
            }
        }
        if w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()) {
            let y: u16 = w.parse().unwrap_or(0);
            // A leading number is usually part of the title ("1917", "2012") unless it is
            // the only year.
            if (1920..=2039).contains(&y) && (i > 0 || a.year.is_none()) {
                a.year = Some(y);
            }
        }
        if matches!(
            w,
            "complete" | "intégrale" | "integrale" | "komplett" | "completa" | "completo" | "全集"
        ) {
            a.complete = true;
        }
        prev = w;
    }
    a.words = words;

    // Seasons and episodes.
    if let Some(c) = SXXEYY.captures(name) {
        a.season = parse_u16(&c[1]);
        a.episode = parse_u16(&c[2]);
    } else if let Some(c) = NXNN.captures(name) {
        a.season = parse_u16(&c[1]);
        a.episode = parse_u16(&c[2]);
    } else {
        if let Some(c) = SXX.captures(name) {
            a.season = parse_u16(&c[1]);
        } else if let Some(c) = SEASON_WORD.captures(name) {
            a.season = c
                .iter()
                .skip(1)
                .flatten()
                .next()
                .and_then(|m| parse_u16(m.as_str()));
        }
        if let Some(c) = EPISODE_WORD.captures(name) {
            a.episode = c
                .iter()
                .skip(1)
                .flatten()
                .next()
                .and_then(|m| parse_u16(m.as_str()));
        } else if (name.starts_with('[') || name.starts_with('【'))
            && let Some(c) = ANIME_EPISODE.captures(name)
        {
            a.episode = parse_u16(&c[1]);
        }
    }
    if let Some(y) = a.year {
        // "Title - 2019 [..]" is a year, not an episode.
        if a.episode == Some(y) {
            a.episode = None;
        }
    }

    if let Some(c) = BIT_DEPTH.captures(name) {
        a.bit_depth = c.get(1).or(c.get(2)).and_then(|m| m.as_str().parse().ok());
    }
    if let Some(c) = VERSION.captures(name) {
        a.version = c.get(1).or(c.get(2)).map(|m| m.as_str().to_string());
    }
    a.group = release_group(name);

    langs.extend(languages_of_script(name));
    langs.sort_unstable();
    langs.dedup();
    a.languages = langs;
    a
}

/// The release group of a name: a leading `[Group]`, else a `-GROUP` suffix (after stripping
/// a file extension) made of letters and digits.
pub fn release_group(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix('[') {
        let end = rest.find(']')?;
        let g = rest[..end].trim();
        if !g.is_empty() && g.len() <= 32 {
            return Some(g.to_string());
        }
        return None;
    }
    let stem = match name.rsplit_once('.') {
        Some((s, e)) if e.len() <= 4 && e.chars().all(|c| c.is_ascii_alphanumeric()) => {
            if e.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                s
            }
        }
        _ => name,
    };
    let (_, g) = stem.rsplit_once('-')?;
    let g = g.trim_end_matches([']', ')']);
    if g.len() >= 2
        && g.len() <= 20
        && g.chars().all(|c| c.is_ascii_alphanumeric())
        && g.chars().any(|c| c.is_ascii_alphabetic())
    {
        Some(g.to_string())
    } else {
        None
    }
}

/// Lowercase extension of a path's last component, without the dot; empty when there is
/// none or it does not look like one (longer than 8 or not alphanumeric).
pub fn extension(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match file.rsplit_once('.') {
        Some((stem, e))
            if !stem.is_empty()
                && !e.is_empty()
                && e.len() <= 8
                && e.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            e.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// The groups files are sorted into by extension, in the order of [`ext_group`]'s table.
pub const GROUPS: [&str; 14] = [
    "video",
    "audio",
    "lossless",
    "audiobook",
    "ebook",
    "document",
    "comic",
    "image",
    "subtitle",
    "archive",
    "executable",
    "disk_image",
    "rom",
    "other",
];

/// The groups an extension belongs to, as bits over [`GROUPS`] (`flac` is both `audio` and
/// `lossless`; `m4b` is `audio` and `audiobook`). Unknown or empty extensions are `other`.
pub fn ext_group(ext: &str) -> u16 {
    const VIDEO: u16 = 1;
    const AUDIO: u16 = 1 << 1;
    const LOSSLESS: u16 = 1 << 2;
    const AUDIOBOOK: u16 = 1 << 3;
    const EBOOK: u16 = 1 << 4;
    const DOCUMENT: u16 = 1 << 5;
    const COMIC: u16 = 1 << 6;
    const IMAGE: u16 = 1 << 7;
    const SUBTITLE: u16 = 1 << 8;
    const ARCHIVE: u16 = 1 << 9;
    const EXECUTABLE: u16 = 1 << 10;
    const DISK_IMAGE: u16 = 1 << 11;
    const ROM: u16 = 1 << 12;
    const OTHER: u16 = 1 << 13;
    match ext {
        "mkv" | "mp4" | "avi" | "m4v" | "mov" | "wmv" | "mpg" | "mpeg" | "ts" | "m2ts" | "mts"
        | "vob" | "webm" | "flv" | "rmvb" | "rm" | "ogv" | "divx" | "3gp" | "asf" | "m2v" => VIDEO,
        "flac" | "ape" | "wv" | "alac" | "wav" | "aiff" | "aif" | "dsf" | "dff" | "tak" => {
            AUDIO | LOSSLESS
        }
        "mp3" | "m4a" | "aac" | "ogg" | "oga" | "opus" | "wma" | "mka" | "ac3" | "dts" | "mpc" => {
            AUDIO
        }
        "m4b" | "aax" | "aa" => AUDIO | AUDIOBOOK,
        "epub" | "mobi" | "azw" | "azw3" | "kfx" | "fb2" | "djvu" | "lit" | "ibooks" => EBOOK,
        "pdf" | "doc" | "docx" | "rtf" | "txt" | "chm" | "odt" | "md" | "htm" | "html" => DOCUMENT,
        "cbz" | "cbr" | "cb7" | "cbt" => COMIC,
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "heic" | "avif" => IMAGE,
        "srt" | "ass" | "ssa" | "sub" | "idx" | "vtt" | "sup" | "smi" => SUBTITLE,
        "zip" | "rar" | "7z" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" | "lz" => ARCHIVE,
        "exe" | "msi" | "dmg" | "pkg" | "apk" | "xapk" | "appimage" | "deb" | "rpm" | "ipa"
        | "jar" | "app" | "bat" | "sh" | "dll" | "so" | "msix" | "appx" | "run" | "flatpak" => {
            EXECUTABLE
        }
        "iso" | "img" | "bin" | "cue" | "mdf" | "mds" | "nrg" | "vhd" | "vhdx" | "vmdk" | "ova"
        | "qcow2" | "wim" | "esd" => DISK_IMAGE,
        "nsp" | "xci" | "nsz" | "3ds" | "cia" | "nds" | "gba" | "gbc" | "sfc" | "smc" | "nes"
        | "n64" | "z64" | "wbfs" | "rvz" | "chd" | "cso" | "pbp" | "gcm" => ROM,
        e if e.len() == 3
            && (e.starts_with('r') || e.starts_with('z'))
            && e[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            ARCHIVE
        }
        e if e.len() == 3 && e.bytes().all(|b| b.is_ascii_digit()) => ARCHIVE,
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_movie() {
        let a =
            parse_name("Oppenheimer.2023.2160p.UHD.BluRay.REMUX.HDR10.HEVC.TrueHD.7.1.Atmos-FGT");
        assert_eq!(a.resolution, Some("2160p"));
        assert_eq!(a.year, Some(2023));
        assert_eq!(a.source, Some("remux"));
        assert_eq!(a.codec, Some("h265"));
        assert_eq!(a.audio, Some("truehd"));
        assert!(a.hdr);
        assert_eq!(a.group.as_deref(), Some("FGT"));
        assert_eq!(a.season, None);
        assert_eq!(a.episode, None);
    }

    #[test]
    fn seasons_and_episodes() {
        let a = parse_name("The.Last.of.Us.S01E03.1080p.WEB-DL.DDP5.1.H.264-NTb");
        assert_eq!((a.season, a.episode), (Some(1), Some(3)));
        assert_eq!(a.source, Some("web-dl"));
        assert_eq!(a.codec, Some("h264"));
        assert_eq!(a.audio, Some("eac3"));
        let a = parse_name("Friends 3x12 The One with the Jam");
        assert_eq!((a.season, a.episode), (Some(3), Some(12)));
        let a = parse_name("Breaking Bad Season 2 Complete 720p");
        assert_eq!((a.season, a.episode), (Some(2), None));
        assert!(a.complete);
        let a = parse_name("Dark.S02.GERMAN.1080p.WEBRip.x265-GROUP");
        assert_eq!((a.season, a.episode), (Some(2), None));
        assert_eq!(a.languages, vec!["de"]);
        let a = parse_name("Шерлок / Sherlock [Сезон 4] (2017) WEB-DL 1080p");
        assert_eq!(a.season, Some(4));
        assert_eq!(a.languages, vec!["ru"]);
        let a = parse_name("[SubsPlease] Sousou no Frieren - 05 (1080p) [A1B2C3D4].mkv");
        assert_eq!((a.season, a.episode), (None, Some(5)));
        assert_eq!(a.group.as_deref(), Some("SubsPlease"));
        let a = parse_name("庆余年 第二季 第05集 4K");
        assert_eq!(a.episode, Some(5));
        assert_eq!(a.languages, vec!["zh"]);
        // A resolution is not an episode.
        let a = parse_name("Movie 1920x1080 2019");
        assert_eq!((a.season, a.episode), (None, None));
        assert_eq!(a.resolution, Some("1080p"));
    }

    #[test]
    fn years() {
        assert_eq!(parse_name("1917.2019.1080p.BluRay").year, Some(2019));
        assert_eq!(parse_name("Blade.Runner.2049.1080p").year, None);
        assert_eq!(parse_name("2001 A Space Odyssey (1968)").year, Some(1968));
        assert_eq!(parse_name("1984 - George Orwell.epub").year, Some(1984));
    }

    #[test]
    fn languages_and_audio() {
        let a = parse_name("Le.Comte.de.Monte-Cristo.2024.MULTi.TRUEFRENCH.1080p.WEB.x264");
        assert_eq!(a.languages, vec!["fr", "multi"]);
        let a = parse_name("Miles Davis - Kind of Blue (1959) [FLAC 24bit-192kHz]");
        assert_eq!(a.audio, Some("flac"));
        assert_eq!(a.bit_depth, Some(24));
        assert_eq!(a.year, Some(1959));
        let a = parse_name("Taylor Swift - 1989 (Taylor's Version) (2023) MP3 320kbps");
        assert_eq!(a.bitrate, Some(320));
        assert_eq!(a.audio, Some("mp3"));
        let a = parse_name("宮崎駿 千と千尋の神隠し");
        assert_eq!(a.languages, vec!["ja"]);
    }

    #[test]
    fn versions_and_groups() {
        let a = parse_name("Adobe.Photoshop.2024.v25.0.0.37.x64.Multilingual");
        assert_eq!(a.version.as_deref(), Some("25.0.0.37"));
        assert_eq!(
            parse_name("VLC media player 3.0.20").version.as_deref(),
            Some("3.0.20")
        );
        assert_eq!(parse_name("Movie.DD5.1.x264").version, None);
        assert_eq!(
            parse_name("ubuntu-22.04.3-desktop-amd64.iso")
                .version
                .as_deref(),
            Some("22.04.3")
        );
        assert_eq!(
            release_group("Baldurs.Gate.3-RUNE").as_deref(),
            Some("RUNE")
        );
        assert_eq!(release_group("Artist - Album (2020) [FLAC]"), None);
        assert_eq!(release_group("movie-GRP.mkv").as_deref(), Some("GRP"));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("a/b/Movie.2019.MKV"), "mkv");
        assert_eq!(extension("README"), "");
        assert_eq!(extension(".hidden"), "");
        assert_eq!(extension("dir.d/file"), "");
        assert_eq!(ext_group("flac"), 0b110);
        assert_eq!(ext_group("r07"), 1 << 9);
        assert_eq!(ext_group("whatever"), 1 << 13);
    }
}
