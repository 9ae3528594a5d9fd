//! Synthetic torrents: a deterministic generator of realistic names and file trees, and their
//! bencoded v1 info dictionaries.
//!
//! It owns the test and benchmark torrents, nothing else: pure functions of a seed, with no IO,
//! no clock and no OS randomness, built on `bencode` (the encoding), `sha1` and `rand_chacha`.
//! `lab` depends on it (its swarm seeds these torrents); `store` and `crawler` take it only as
//! a dev-dependency (benches, tests), so it must not depend on them, nor on `net` or `dht`.
//!
//! [`generate`] (or the streaming [`Generator`]) draws torrents from a seeded ChaCha RNG:
//! release-style names and layouts across content types ([`KINDS`]: scene-named movies with a
//! `.nfo` and a `Sample/` folder, TV episodes and season packs, music albums with track files,
//! audiobooks, ebooks, comics, software, games, adult, and miscellaneous dumps), in several
//! languages (English mostly; French, German, Spanish, Russian, Japanese and Chinese names
//! carry non-ASCII UTF-8), single-file and multi-file, from one file to ~100 (occasionally a
//! few hundred), with realistic sizes. The same seed always gives the same torrents, and
//! `generate(seed, n)` is a prefix of `generate(seed, m)` for `n <= m`.
//!
//! Generation and encoding are separate: a [`SynthTorrent`] holds only the name, the files
//! and a seed for its piece hashes. [`SynthTorrent::info_bytes`] bencodes the info dictionary
//! on demand (the `pieces` string is the bulk of it: up to ~1,500 x 20 pseudo-random bytes),
//! and [`SynthTorrent::info_hash`] hashes the same encoding without materialising it.
//!
//! Single-file torrents have exactly one file whose path is the torrent's name (which is how
//! the store represents them); multi-file torrents always have at least two files.
//!
//! The `pieces` filler is SplitMix64 of the torrent's `pieces_seed`, not the ChaCha stream:
//! it is a cheap fixed function of the seed (30 KB per torrent at most), and the info hashes
//! of every generated torrent, which the lab and the store benches rely on being stable
//! across releases, depend on it.

#![warn(missing_docs)]

use std::collections::HashSet;

use bencode::{Encoder, Overflow, Sink};
use infohash::InfoHash;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha1::{Digest, Sha1};

/// The content-type labels [`SynthTorrent::kind`] takes.
pub const KINDS: &[&str] = &[
    "movie",
    "tv",
    "music",
    "audiobook",
    "ebook",
    "comic",
    "software",
    "game",
    "xxx",
    "other",
];

/// The language labels [`SynthTorrent::lang`] takes (ISO 639-1).
pub const LANGS: &[&str] = &["en", "fr", "de", "es", "ru", "ja", "zh"];

/// Smallest piece length chosen (16 KiB).
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;

/// Most pieces [`piece_length_for`] aims at: the smallest power of two giving at most this
/// many pieces is chosen, so the `pieces` string stays under 30 KB.
pub const TARGET_MAX_PIECES: u64 = 1_500;

/// One synthetic torrent: what an indexer would show, plus the seed of its piece hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthTorrent {
    /// The torrent's name (a file name for single-file torrents, a directory otherwise).
    pub name: String,
    /// Files as (path with components joined by `/`, size in bytes). A single-file torrent
    /// has one entry whose path is [`SynthTorrent::name`].
    pub files: Vec<(String, u64)>,
    /// Piece length: a power of two, at least [`MIN_PIECE_LENGTH`].
    pub piece_length: u64,
    /// BEP-27 private flag.
    pub private: bool,
    /// Content type, one of [`KINDS`].
    pub kind: &'static str,
    /// Language of the name, one of [`LANGS`].
    pub lang: &'static str,
    /// Seed of the pseudo-random `pieces` bytes.
    pub pieces_seed: u64,
}

impl SynthTorrent {
    /// Sum of the file sizes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|(_, s)| s).sum()
    }

    /// Whether this is a single-file torrent (one file, named like the torrent).
    pub fn is_single_file(&self) -> bool {
        self.files.len() == 1 && self.files[0].0 == self.name
    }

    /// Number of pieces: `ceil(total_size / piece_length)`.
    pub fn piece_count(&self) -> u64 {
        self.total_size().div_ceil(self.piece_length)
    }

    /// The bencoded v1 info dictionary: the bytes a BEP-9 peer serves, whose SHA-1 is
    /// [`SynthTorrent::info_hash`]. Encoded afresh on every call (up to ~30 KB, mostly
    /// `pieces`), so a caller that serves it keeps the result.
    pub fn info_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode(&mut out).expect("a Vec never overflows");
        out
    }

    /// SHA-1 of [`SynthTorrent::info_bytes`] (computed without building them).
    pub fn info_hash(&self) -> InfoHash {
        let mut h = HashSink(Sha1::new());
        self.encode(&mut h).expect("a hasher never overflows");
        InfoHash::v1(h.0.finalize().into())
    }

    /// Writes the bencoded info dictionary into `sink` (keys in sorted order, as BEP-3 and
    /// bencode require).
    pub fn encode<S: Sink + ?Sized>(&self, sink: &mut S) -> Result<(), Overflow> {
        let mut e = Encoder::new(sink);
        e.dict()?;
        if self.is_single_file() {
            e.kv_int(b"length", to_i64(self.files[0].1))?;
        } else {
            e.bytes(b"files")?.list()?;
            for (path, size) in &self.files {
                e.dict()?.kv_int(b"length", to_i64(*size))?;
                e.bytes(b"path")?.list()?;
                for part in path.split('/') {
                    e.bytes(part.as_bytes())?;
                }
                e.end()?.end()?;
            }
            e.end()?;
        }
        e.kv_bytes(b"name", self.name.as_bytes())?;
        e.kv_int(b"piece length", to_i64(self.piece_length))?;
        e.bytes(b"pieces")?;
        write_pieces(&mut e, self.piece_count(), self.pieces_seed)?;
        if self.private {
            e.kv_int(b"private", 1)?;
        }
        e.end()?;
        Ok(())
    }

    fn encoded_len_hint(&self) -> usize {
        let files: usize = self.files.iter().map(|(p, _)| p.len() + 40).sum();
        files + self.name.len() + 80 + self.piece_count() as usize * 20
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `<len>:<bytes>` for `count * 20` bytes drawn from SplitMix64 seeded with `seed`.
fn write_pieces<S: Sink + ?Sized>(
    e: &mut Encoder<'_, S>,
    count: u64,
    seed: u64,
) -> Result<(), Overflow> {
    let total = count * 20;
    e.raw(total.to_string().as_bytes())?.raw(b":")?;
    let mut state = seed;
    let mut buf = [0u8; 4096];
    let mut left = total as usize;
    while left > 0 {
        let n = left.min(buf.len());
        for chunk in buf[..n].chunks_mut(8) {
            let r = splitmix64(&mut state).to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        e.raw(&buf[..n])?;
        left -= n;
    }
    Ok(())
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A [`Sink`] feeding SHA-1.
struct HashSink(Sha1);

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        self.0.update(bytes);
        Ok(())
    }
}

/// The smallest power of two, at least [`MIN_PIECE_LENGTH`], that cuts `total` bytes into at
/// most [`TARGET_MAX_PIECES`] pieces.
pub fn piece_length_for(total: u64) -> u64 {
    let mut pl = MIN_PIECE_LENGTH;
    while total.div_ceil(pl) > TARGET_MAX_PIECES {
        pl *= 2;
    }
    pl
}

/// `count` torrents from `seed`, names unique. Deterministic; a prefix of any longer run with
/// the same seed.
pub fn generate(seed: u64, count: usize) -> Vec<SynthTorrent> {
    let mut g = Generator::new(seed);
    (0..count).map(|_| g.next_torrent()).collect()
}

/// Streaming form of [`generate`]: yields torrents one at a time, names unique across the run
/// (it remembers the names it gave out).
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    names: HashSet<String>,
}

impl Generator {
    /// A generator seeded with `seed`: its first `n` torrents are `generate(seed, n)`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5359_4e54_485f_4c41),
            names: HashSet::new(),
        }
    }

    /// The next torrent, named unlike every earlier one from this generator (after 16
    /// colliding draws the name gets a ` (n)` suffix). It never runs out, so the
    /// [`Iterator`] impl never returns `None`.
    pub fn next_torrent(&mut self) -> SynthTorrent {
        let mut t = draw(&mut self.rng);
        let mut attempt = 0u32;
        while self.names.contains(&t.name) {
            attempt += 1;
            if attempt < 16 {
                t = draw(&mut self.rng);
            } else {
                // Bounded: after a run of collisions, make the name unique by a suffix.
                rename(&mut t, &format!(" ({attempt})"));
            }
        }
        self.names.insert(t.name.clone());
        t
    }
}

impl Iterator for Generator {
    type Item = SynthTorrent;

    fn next(&mut self) -> Option<SynthTorrent> {
        Some(self.next_torrent())
    }
}

/// Appends `suffix` to the name (keeping a single file's path equal to it).
fn rename(t: &mut SynthTorrent, suffix: &str) {
    let single = t.is_single_file();
    t.name.push_str(suffix);
    if single {
        t.files[0].0.clone_from(&t.name);
    }
}

// ------------------------------------------------------------------ vocabulary

const GROUPS: &[&str] = &[
    "GRP", "NOGRP", "XEBEC", "ORBiT", "KOMPAS", "NiTRO", "VELOX", "PRiSM", "LUMEN", "HALCYON",
    "RAViN", "QUARTZ", "MiRAGE", "SOLARiS", "FALCON", "ZEPHYR", "NOMAD", "ARCHiVE", "CiNEFiLE",
    "DUSK",
];
const RES: &[&str] = &["480p", "720p", "1080p", "1080p", "1080p", "2160p"];
const SOURCES: &[&str] = &[
    "BluRay", "WEB-DL", "WEBRip", "HDTV", "BDRip", "DVDRip", "HDRip", "REMUX",
];
const CODECS: &[&str] = &["x264", "x265", "H.264", "HEVC", "XviD", "AV1", "10bit.x265"];
const AUDIO: &[&str] = &[
    "AAC2.0",
    "DDP5.1",
    "DTS-HD.MA.5.1",
    "TrueHD.7.1.Atmos",
    "AC3",
    "DD5.1",
    "FLAC2.0",
];

const EN_ADJ: &[&str] = &[
    "Silent", "Broken", "Last", "Dark", "Golden", "Hidden", "Lost", "Red", "Final", "Wild", "Cold",
    "Iron", "Black", "Secret", "Burning", "Frozen", "Crimson", "Endless", "Quiet", "Savage",
    "Little", "Electric", "Midnight", "Distant", "Hollow", "Bright", "Sacred", "Lonely",
];
const EN_NOUN: &[&str] = &[
    "Harbor",
    "Crown",
    "Protocol",
    "River",
    "Kingdom",
    "Signal",
    "Empire",
    "Garden",
    "Witness",
    "Horizon",
    "Shadow",
    "Frontier",
    "Memory",
    "Station",
    "Island",
    "Machine",
    "Storm",
    "Dream",
    "Highway",
    "Summer",
    "Winter",
    "Heart",
    "Mountain",
    "Code",
    "Hunter",
    "Planet",
    "City",
    "Stranger",
    "Mirror",
    "Voyage",
    "Engine",
    "Orchard",
    "Lighthouse",
    "Prophecy",
    "Ritual",
];
const FR_WORDS: &[&str] = &[
    "Château",
    "Forêt",
    "Rêve",
    "Lumière",
    "Étoile",
    "Cœur",
    "Été",
    "Fenêtre",
    "Bête",
    "Garçon",
    "Noël",
    "Mystère",
    "Dernière",
    "Île",
    "Hôtel",
    "Mémoire",
    "Frère",
    "Tempête",
    "Fièvre",
    "Pâques",
    "Théâtre",
    "Élève",
];
const FR_ART: &[&str] = &["Le", "La", "Les", "Un", "Une", "L'"];
const DE_WORDS: &[&str] = &[
    "Straße",
    "Mädchen",
    "Brücke",
    "Wölfe",
    "Nächte",
    "Märchen",
    "Glück",
    "König",
    "Größe",
    "Bär",
    "Schlüssel",
    "Träume",
    "Grün",
    "Öl",
    "Fähre",
    "Hütte",
    "Müller",
    "Löwe",
    "Schönheit",
    "Tür",
];
const DE_ART: &[&str] = &["Der", "Die", "Das", "Über", "Im", "Für"];
const ES_WORDS: &[&str] = &[
    "Corazón", "Canción", "Señor", "Mañana", "Pequeño", "Jardín", "Último", "Sueño", "Montaña",
    "Niño", "Camión", "Pájaro", "Árbol", "Invierno", "Ladrón", "Música", "Isla", "Día", "Años",
];
const ES_ART: &[&str] = &["El", "La", "Los", "Las", "Un", "Una"];
const RU_WORDS: &[&str] = &[
    "Брат",
    "Война",
    "Мир",
    "Тихий",
    "Дон",
    "Москва",
    "Зима",
    "Ночь",
    "Солнце",
    "Город",
    "Любовь",
    "Последний",
    "Белый",
    "Снег",
    "Дорога",
    "Море",
    "Звезда",
    "Сердце",
    "Лес",
    "Река",
    "Граница",
    "Осень",
];
const JA_WORDS: &[&str] = &[
    "千と千尋",
    "風の谷",
    "夜明け",
    "東京",
    "物語",
    "桜",
    "空の城",
    "海辺",
    "星の",
    "君の名は",
    "夏の日",
    "猫",
    "剣士",
    "少女",
    "月光",
    "雪国",
    "花火",
    "忍者",
    "魔法",
    "時計",
];
const ZH_WORDS: &[&str] = &[
    "霸王",
    "别姬",
    "天空",
    "之城",
    "长安",
    "故事",
    "月亮",
    "江湖",
    "英雄",
    "红色",
    "山河",
    "春天",
    "少年",
    "大海",
    "龙",
    "风云",
    "无间道",
    "花样年华",
    "功夫",
    "西游",
];
const ARTISTS: &[&str] = &[
    "The Velvet Owls",
    "Marina Kessler",
    "Northbound",
    "Delta Static",
    "Los Hermanos Ruiz",
    "Kōji Tanaka",
    "Élodie Marchand",
    "Die Zöllner",
    "Группа Восток",
    "Silver Coast",
    "DJ Nebula",
    "Amber Fields",
    "The Paper Kites Club",
    "Orquesta Luna",
    "Hyperion Drive",
    "Björn Åkesson",
    "陈晓东",
    "Mr. Lowkey",
    "Cold Harbor",
    "Anja Weiß",
];
const AUTHORS: &[&str] = &[
    "J. R. Hartley",
    "Margaret Lind",
    "Stephen Cole",
    "Agatha Brennan",
    "Haruki Mori",
    "Émile Fournier",
    "Günter Schwarz",
    "Gabriela Núñez",
    "Фёдор Орлов",
    "Li Wei",
    "Ann Carver",
    "Neil Whitfield",
    "Terry Gould",
    "Isabel Ortega",
    "Orson Pike",
];
const SOFTWARE: &[&str] = &[
    "PhotoStudio Pro",
    "Office Suite",
    "CAD Master",
    "Video Converter Ultimate",
    "Antivirus Plus",
    "Sound Forge Lab",
    "3D Modeler",
    "PDF Editor",
    "Disk Utility",
    "Code Studio",
    "Music Maker",
    "Backup Manager",
];
const DISTROS: &[&str] = &[
    "ubuntu",
    "debian",
    "fedora",
    "archlinux",
    "linuxmint",
    "opensuse",
    "kali-linux",
    "manjaro",
];
const GAMES: &[&str] = &[
    "Stellar Conquest",
    "Dungeon Depths",
    "Racing Legends",
    "Shadow Tactics Redux",
    "Farm Life Simulator",
    "Cyber Knights",
    "Mystic Isles",
    "Zombie Frontier",
    "Space Trucker",
    "Kingdoms of Ash",
    "Pixel Quest",
    "Ocean Tycoon",
];
const XXX_RES: &[&str] = &["720p", "1080p", "2160p"];
const STUDIOS: &[&str] = &[
    "StudioX",
    "PrivateLens",
    "VelvetRoom",
    "RedLightHD",
    "NightShift",
    "SunsetBabes",
];
const PERFORMERS: &[&str] = &[
    "Alexa Star",
    "Mia Rose",
    "Lana Fox",
    "Jade Lune",
    "Nina Kross",
    "Eva Stone",
    "Kira Blaze",
];
const MISC: &[&str] = &[
    "New folder",
    "Photos 2014",
    "backup",
    "Курс лекций",
    "Vacation Pics",
    "dataset",
    "Wallpapers HD",
    "Fonts Collection",
    "Sample Pack",
    "Tutorials",
    "素材合集",
    "Sammlung",
    "Documentos",
    "Dokumente",
];

fn pick<'a, T: ?Sized>(rng: &mut impl Rng, items: &'a [&'a T]) -> &'a T {
    items[rng.random_range(0..items.len())]
}

/// A size drawn log-uniformly from `lo..hi` bytes.
fn size(rng: &mut impl Rng, lo: u64, hi: u64) -> u64 {
    let (l, h) = ((lo.max(1)) as f64, (hi.max(lo + 1)) as f64);
    let x = rng.random_range(l.ln()..h.ln()).exp();
    (x as u64).clamp(lo, hi)
}

const KB: u64 = 1 << 10;
const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// A title in `lang`, with spaces between words (or none, for Japanese and Chinese).
fn title(rng: &mut impl Rng, lang: &str) -> String {
    match lang {
        "fr" => {
            let (a, b) = two(rng, FR_WORDS);
            format!("{} {a} {b}", pick(rng, FR_ART)).replace("L' ", "L'")
        }
        "de" => {
            let (a, b) = two(rng, DE_WORDS);
            format!("{} {a} {b}", pick(rng, DE_ART))
        }
        "es" => {
            let (a, b) = two(rng, ES_WORDS);
            format!("{} {a} {b}", pick(rng, ES_ART))
        }
        "ru" => {
            let (a, b) = two(rng, RU_WORDS);
            format!("{a} {b}")
        }
        "ja" => {
            let (a, b) = two(rng, JA_WORDS);
            format!("{a}{b}")
        }
        "zh" => {
            let (a, b) = two(rng, ZH_WORDS);
            format!("{a}{b}")
        }
        _ => match rng.random_range(0..4) {
            0 => format!("The {} {}", pick(rng, EN_ADJ), pick(rng, EN_NOUN)),
            1 => format!("{} {}", pick(rng, EN_ADJ), pick(rng, EN_NOUN)),
            2 => {
                let (a, b) = two(rng, EN_NOUN);
                format!("The {a} of {b}")
            }
            _ => {
                let (a, b) = two(rng, EN_NOUN);
                format!("{} {a} {b}", pick(rng, EN_ADJ))
            }
        },
    }
}

/// Two different words of `items` (which has at least two).
fn two<'a>(rng: &mut impl Rng, items: &'a [&'a str]) -> (&'a str, &'a str) {
    let i = rng.random_range(0..items.len());
    let j = (i + rng.random_range(1..items.len())) % items.len();
    (items[i], items[j])
}

fn dotted(s: &str) -> String {
    s.replace("' ", "'").replace(' ', ".")
}

fn lang_tag(lang: &str) -> Option<&'static str> {
    match lang {
        "fr" => Some("FRENCH"),
        "de" => Some("GERMAN"),
        "es" => Some("SPANISH"),
        "ru" => Some("RUS"),
        "ja" => Some("JAPANESE"),
        "zh" => Some("CHINESE"),
        _ => None,
    }
}

fn draw_lang(rng: &mut impl Rng) -> &'static str {
    match rng.random_range(0..100) {
        0..70 => "en",
        70..76 => "fr",
        76..82 => "de",
        82..88 => "es",
        88..94 => "ru",
        94..97 => "ja",
        _ => "zh",
    }
}

/// Layout under construction.
struct Draft {
    name: String,
    files: Vec<(String, u64)>,
    single: bool,
}

impl Draft {
    fn single(name: String, size: u64) -> Self {
        Self {
            files: vec![(name.clone(), size)],
            name,
            single: true,
        }
    }

    fn dir(name: String) -> Self {
        Self {
            name,
            files: Vec::new(),
            single: false,
        }
    }

    fn add(&mut self, path: String, size: u64) {
        self.files.push((path, size));
    }
}

fn draw(rng: &mut ChaCha8Rng) -> SynthTorrent {
    let lang = draw_lang(rng);
    let (kind, mut d) = match rng.random_range(0..100) {
        0..22 => ("movie", movie(rng, lang)),
        22..42 => ("tv", tv(rng, lang)),
        42..54 => ("music", music(rng, lang)),
        54..58 => ("audiobook", audiobook(rng, lang)),
        58..66 => ("ebook", ebook(rng, lang)),
        66..70 => ("comic", comic(rng, lang)),
        70..78 => ("software", software(rng)),
        78..85 => ("game", game(rng, lang)),
        85..93 => ("xxx", xxx(rng)),
        _ => ("other", misc(rng, lang)),
    };
    // A multi-file layout needs two files at least (one file in a folder reads as single).
    if !d.single && d.files.len() < 2 {
        d.add("readme.txt".to_string(), size(rng, 200, 4 * KB));
    }
    let total: u64 = d.files.iter().map(|(_, s)| s).sum();
    SynthTorrent {
        name: d.name,
        files: d.files,
        piece_length: piece_length_for(total),
        private: rng.random_bool(0.03),
        kind,
        lang,
        pieces_seed: rng.next_u64(),
    }
}

fn video_size(rng: &mut impl Rng, res: &str, episode: bool) -> u64 {
    let (lo, hi) = match res {
        "480p" => (300 * MB, 1400 * MB),
        "720p" => (900 * MB, 5 * GB),
        "2160p" => (12 * GB, 70 * GB),
        _ => (2 * GB, 16 * GB),
    };
    if episode {
        size(rng, lo / 5, hi / 5)
    } else {
        size(rng, lo, hi)
    }
}

fn movie(rng: &mut impl Rng, lang: &str) -> Draft {
    let t = title(rng, lang);
    let year = rng.random_range(1950..2025);
    let res = pick(rng, RES);
    let main = video_size(rng, res, false);
    let name = if matches!(lang, "ru" | "ja" | "zh") && rng.random_bool(0.7) {
        format!("{t} ({year}) {} {res}", pick(rng, SOURCES))
    } else {
        let tag = lang_tag(lang).map(|l| format!(".{l}")).unwrap_or_default();
        format!(
            "{}.{year}{tag}.{res}.{}.{}.{}-{}",
            dotted(&t),
            pick(rng, SOURCES),
            pick(rng, AUDIO),
            pick(rng, CODECS),
            pick(rng, GROUPS)
        )
    };
    let ext = if rng.random_bool(0.75) { "mkv" } else { "mp4" };
    if rng.random_bool(0.3) {
        return Draft::single(format!("{name}.{ext}"), main);
    }
    let mut d = Draft::dir(name.clone());
    d.add(format!("{name}.{ext}"), main);
    d.add(format!("{name}.nfo"), size(rng, KB, 12 * KB));
    if rng.random_bool(0.7) {
        d.add(
            format!("Sample/{}-sample.{ext}", name.to_lowercase()),
            size(rng, 20 * MB, 150 * MB),
        );
    }
    if rng.random_bool(0.4) {
        for l in ["English", "French", "German", "Spanish", "Russian"] {
            if rng.random_bool(0.6) {
                d.add(format!("Subs/{l}.srt"), size(rng, 30 * KB, 140 * KB));
            }
        }
    }
    if rng.random_bool(0.2) {
        d.add("Proof/proof.jpg".to_string(), size(rng, 200 * KB, 3 * MB));
    }
    d
}

fn tv(rng: &mut impl Rng, lang: &str) -> Draft {
    let show = dotted(&title(rng, lang));
    let season = rng.random_range(1..12u32);
    let res = pick(rng, RES);
    let tail = format!(
        "{res}.{}.{}.{}-{}",
        pick(rng, SOURCES),
        pick(rng, AUDIO),
        pick(rng, CODECS),
        pick(rng, GROUPS)
    );
    let tag = lang_tag(lang).map(|l| format!("{l}.")).unwrap_or_default();
    if rng.random_bool(0.7) {
        // One episode.
        let ep = rng.random_range(1..25u32);
        let name = format!("{show}.S{season:02}E{ep:02}.{tag}{tail}");
        let s = video_size(rng, res, true);
        if rng.random_bool(0.6) {
            return Draft::single(format!("{name}.mkv"), s);
        }
        let mut d = Draft::dir(name.clone());
        d.add(format!("{name}.mkv"), s);
        d.add(format!("{name}.nfo"), size(rng, KB, 8 * KB));
        if rng.random_bool(0.3) {
            d.add(
                format!("Sample/{}-sample.mkv", name.to_lowercase()),
                size(rng, 10 * MB, 60 * MB),
            );
        }
        return d;
    }
    // A season pack (now and then a whole series).
    let seasons = if rng.random_bool(0.1) {
        rng.random_range(2..8u32)
    } else {
        1
    };
    let name = if seasons > 1 {
        format!("{show}.S01-S{seasons:02}.{tag}{tail}")
    } else {
        format!("{show}.S{season:02}.{tag}{tail}")
    };
    let mut d = Draft::dir(name);
    for s in 1..=seasons {
        let s_no = if seasons > 1 { s } else { season };
        let episodes = rng.random_range(6..25u32);
        for ep in 1..=episodes {
            let file = format!("{show}.S{s_no:02}E{ep:02}.{tag}{tail}.mkv");
            let path = if seasons > 1 {
                format!("Season {s_no}/{file}")
            } else {
                file
            };
            d.add(path, video_size(rng, res, true));
        }
    }
    d
}

fn music(rng: &mut impl Rng, lang: &str) -> Draft {
    let artist = pick(rng, ARTISTS);
    let flac = rng.random_bool(0.5);
    let (fmt, ext, lo, hi) = if flac {
        ("FLAC", "flac", 15 * MB, 60 * MB)
    } else {
        ("MP3 320", "mp3", 5 * MB, 15 * MB)
    };
    if rng.random_bool(0.08) {
        // A discography: one folder per album, often past a hundred files.
        let first = rng.random_range(1965..2010);
        let albums = rng.random_range(5..20u32);
        let mut d = Draft::dir(format!(
            "{artist} - Discography ({first}-{}) [{fmt}]",
            first + 2 * albums as i32
        ));
        for a in 0..albums {
            let folder = format!("{} - {}", first + 2 * a as i32, title(rng, lang));
            for n in 1..=rng.random_range(8..16u32) {
                d.add(
                    format!("{folder}/{n:02} - {}.{ext}", title(rng, lang)),
                    size(rng, lo, hi),
                );
            }
            d.add(format!("{folder}/cover.jpg"), size(rng, 50 * KB, 3 * MB));
        }
        return d;
    }
    let year = rng.random_range(1960..2025);
    let album = title(rng, lang);
    let name = format!("{artist} - {album} ({year}) [{fmt}]");
    if rng.random_bool(0.05) {
        return Draft::single(format!("{artist} - {album}.{ext}"), size(rng, lo, hi));
    }
    let mut d = Draft::dir(name);
    for n in 1..=rng.random_range(6..22u32) {
        d.add(
            format!("{n:02} - {}.{ext}", title(rng, lang)),
            size(rng, lo, hi),
        );
    }
    d.add("cover.jpg".to_string(), size(rng, 50 * KB, 3 * MB));
    if flac {
        d.add(format!("{artist} - {album}.cue"), size(rng, KB, 4 * KB));
        d.add(
            format!("{artist} - {album}.log"),
            size(rng, 2 * KB, 12 * KB),
        );
    }
    d
}

fn audiobook(rng: &mut impl Rng, lang: &str) -> Draft {
    let author = pick(rng, AUTHORS);
    let t = title(rng, lang);
    if rng.random_bool(0.3) {
        return Draft::single(
            format!("{author} - {t} (Unabridged).m4b"),
            size(rng, 100 * MB, 1200 * MB),
        );
    }
    let mut d = Draft::dir(format!("{author} - {t} [Audiobook]"));
    for n in 1..=rng.random_range(8..60u32) {
        d.add(format!("{t} - {n:02}.mp3"), size(rng, 5 * MB, 60 * MB));
    }
    d.add("cover.jpg".to_string(), size(rng, 50 * KB, 2 * MB));
    d
}

fn ebook(rng: &mut impl Rng, lang: &str) -> Draft {
    let exts = ["epub", "pdf", "mobi", "azw3"];
    if rng.random_bool(0.1) {
        // A collection.
        let mut d = Draft::dir(format!(
            "{} Ebook Collection ({})",
            title(rng, lang),
            rng.random_range(2005..2025)
        ));
        for _ in 0..rng.random_range(10..120u32) {
            let ext = exts[rng.random_range(0..exts.len())];
            d.add(
                format!("{} - {}.{ext}", pick(rng, AUTHORS), title(rng, lang)),
                size(rng, 200 * KB, 40 * MB),
            );
        }
        return d;
    }
    let base = format!(
        "{} - {} ({})",
        pick(rng, AUTHORS),
        title(rng, lang),
        rng.random_range(1950..2025)
    );
    if rng.random_bool(0.6) {
        let ext = exts[rng.random_range(0..exts.len())];
        return Draft::single(format!("{base}.{ext}"), size(rng, 200 * KB, 30 * MB));
    }
    let mut d = Draft::dir(base.clone());
    for ext in exts.iter().take(rng.random_range(2..=exts.len())) {
        d.add(format!("{base}.{ext}"), size(rng, 200 * KB, 30 * MB));
    }
    d
}

fn comic(rng: &mut impl Rng, lang: &str) -> Draft {
    let series = title(rng, lang);
    let year = rng.random_range(1980..2025);
    let ext = if rng.random_bool(0.7) { "cbz" } else { "cbr" };
    if rng.random_bool(0.5) {
        let issue = rng.random_range(1..300u32);
        return Draft::single(
            format!(
                "{series} {issue:03} ({year}) (Digital) ({}).{ext}",
                pick(rng, GROUPS)
            ),
            size(rng, 15 * MB, 120 * MB),
        );
    }
    let issues = if rng.random_bool(0.1) {
        rng.random_range(60..250u32)
    } else {
        rng.random_range(4..40u32)
    };
    let mut d = Draft::dir(format!(
        "{series} (Vol. {}) ({year})",
        rng.random_range(1..6)
    ));
    for i in 1..=issues {
        d.add(
            format!("{series} {i:03} ({year}).{ext}"),
            size(rng, 15 * MB, 120 * MB),
        );
    }
    d
}

fn software(rng: &mut impl Rng) -> Draft {
    if rng.random_bool(0.35) {
        let distro = pick(rng, DISTROS);
        let name = format!(
            "{distro}-{}.{:02}.{}-desktop-amd64.iso",
            rng.random_range(8..25),
            rng.random_range(1..13),
            rng.random_range(0..6)
        );
        return Draft::single(name, size(rng, 500 * MB, 5 * GB));
    }
    let product = pick(rng, SOFTWARE);
    let version = format!(
        "v{}.{}.{}",
        rng.random_range(1..30),
        rng.random_range(0..10),
        rng.random_range(0..500)
    );
    let arch = if rng.random_bool(0.8) { "x64" } else { "x86" };
    let name = format!("{}.{version}.{arch}-{}", dotted(product), pick(rng, GROUPS));
    let mut d = Draft::dir(name.clone());
    if rng.random_bool(0.3) {
        d.add(
            format!("{}.iso", name.to_lowercase()),
            size(rng, 500 * MB, 8 * GB),
        );
    } else {
        d.add("Setup.exe".to_string(), size(rng, 5 * MB, 2 * GB));
        for n in 0..rng.random_range(0..6u32) {
            d.add(format!("data{n}.cab"), size(rng, 10 * MB, 500 * MB));
        }
    }
    d.add(format!("{name}.nfo"), size(rng, KB, 10 * KB));
    if rng.random_bool(0.5) {
        d.add("Crack/patch.exe".to_string(), size(rng, 100 * KB, 5 * MB));
        d.add("Crack/readme.txt".to_string(), size(rng, 500, 5 * KB));
    }
    d
}

fn game(rng: &mut impl Rng, lang: &str) -> Draft {
    let g = pick(rng, GAMES);
    let tag = lang_tag(lang).map(|l| format!(" {l}")).unwrap_or_default();
    if rng.random_bool(0.5) {
        let mut d = Draft::dir(format!("{g}{tag} [Repack]"));
        d.add("setup.exe".to_string(), size(rng, 2 * MB, 8 * MB));
        for n in 1..=rng.random_range(2..30u32) {
            d.add(format!("data-{n:02}.bin"), size(rng, 500 * MB, 4 * GB));
        }
        d.add("Verify BIN files before installation.bat".to_string(), 512);
        return d;
    }
    let name = format!("{}-{}", dotted(g), pick(rng, GROUPS));
    let mut d = Draft::dir(name.clone());
    d.add(
        format!("{}.iso", name.to_lowercase()),
        size(rng, 4 * GB, 50 * GB),
    );
    d.add(format!("{name}.nfo"), size(rng, KB, 10 * KB));
    d
}

fn xxx(rng: &mut impl Rng) -> Draft {
    let studio = pick(rng, STUDIOS);
    let res = pick(rng, XXX_RES);
    let name = format!(
        "{studio}.{:02}.{:02}.{:02}.{}.XXX.{res}.MP4-{}",
        rng.random_range(10..25),
        rng.random_range(1..13),
        rng.random_range(1..29),
        dotted(pick(rng, PERFORMERS)),
        pick(rng, GROUPS)
    );
    if rng.random_bool(0.6) {
        return Draft::single(format!("{name}.mp4"), size(rng, 200 * MB, 6 * GB));
    }
    let mut d = Draft::dir(name.clone());
    d.add(format!("{name}.mp4"), size(rng, 200 * MB, 6 * GB));
    for n in 1..=rng.random_range(0..40u32) {
        d.add(format!("Pics/{n:03}.jpg"), size(rng, 200 * KB, 4 * MB));
    }
    d
}

fn misc(rng: &mut impl Rng, lang: &str) -> Draft {
    let base = pick(rng, MISC);
    match rng.random_range(0..4) {
        0 => Draft::single(
            format!("{base}_{}.zip", rng.random_range(2000..2025)),
            size(rng, MB, 20 * GB),
        ),
        1 => Draft::single(
            format!("{}.tar.gz", dotted(&title(rng, lang)).to_lowercase()),
            size(rng, MB, 50 * GB),
        ),
        _ => {
            let mut d = Draft::dir(format!("{base} {}", title(rng, lang)));
            let n = if rng.random_bool(0.05) {
                rng.random_range(100..1200u32)
            } else {
                rng.random_range(2..50u32)
            };
            for i in 0..n {
                let (ext, lo, hi) = match rng.random_range(0..4) {
                    0 => ("jpg", 100 * KB, 8 * MB),
                    1 => ("pdf", 100 * KB, 30 * MB),
                    2 => ("txt", 100, 200 * KB),
                    _ => ("mp4", 10 * MB, 2 * GB),
                };
                d.add(format!("IMG_{i:04}.{ext}"), size(rng, lo, hi));
            }
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerwire::InfoDict;

    #[test]
    fn deterministic_and_prefix_stable() {
        let a = generate(7, 300);
        let b = generate(7, 300);
        assert_eq!(a, b);
        let c = generate(7, 100);
        assert_eq!(&a[..100], &c[..]);
        assert_ne!(generate(8, 50), a[..50]);
    }

    #[test]
    fn names_and_hashes_unique() {
        let ts = generate(1, 5000);
        let names: HashSet<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), ts.len());
        let hashes: HashSet<InfoHash> = ts.iter().map(SynthTorrent::info_hash).collect();
        assert_eq!(hashes.len(), ts.len());
    }

    #[test]
    fn info_dict_round_trips() {
        for t in generate(3, 400) {
            let bytes = t.info_bytes();
            let hash: [u8; 20] = Sha1::digest(&bytes).into();
            assert_eq!(hash, t.info_hash().dht_key(), "{}", t.name);
            let d = InfoDict::parse(&bytes).expect("parses");
            assert_eq!(d.name, t.name);
            assert_eq!(d.total_size, t.total_size());
            assert_eq!(d.single_file, t.is_single_file(), "{}", t.name);
            assert_eq!(d.private, t.private);
            assert_eq!(d.piece_length, Some(t.piece_length));
            let files: Vec<(String, u64)> = d
                .files
                .iter()
                .map(|f| (f.path.join("/"), f.length))
                .collect();
            assert_eq!(files, t.files);
            // `pieces` is 20 bytes per piece; piece count within the target.
            assert!(t.piece_count() <= TARGET_MAX_PIECES, "{}", t.name);
            assert!(t.piece_length.is_power_of_two() && t.piece_length >= MIN_PIECE_LENGTH);
            let v = bencode::decode(&bytes).unwrap();
            let pieces = v
                .as_dict()
                .unwrap()
                .get(b"pieces")
                .unwrap()
                .as_bytes()
                .unwrap();
            assert_eq!(pieces.len() as u64, t.piece_count() * 20);
        }
    }

    #[test]
    fn variety() {
        let ts = generate(11, 3000);
        for k in KINDS {
            assert!(ts.iter().any(|t| t.kind == *k), "no {k}");
        }
        for l in LANGS {
            assert!(ts.iter().any(|t| t.lang == *l), "no {l}");
        }
        assert!(ts.iter().any(|t| !t.name.is_ascii()));
        assert!(ts.iter().any(SynthTorrent::is_single_file));
        assert!(ts.iter().any(|t| t.files.len() > 100));
        assert!(ts.iter().any(|t| t.private));
        assert!(
            ts.iter()
                .all(|t| !t.files.is_empty() && t.files.len() < 2000)
        );
        assert!(ts.iter().all(|t| t.is_single_file() || t.files.len() >= 2));
        assert!(ts.iter().all(|t| {
            t.files
                .iter()
                .all(|(p, _)| p.split('/').all(|c| !c.is_empty()))
        }));
        let mean = ts.iter().map(|t| t.files.len()).sum::<usize>() / ts.len();
        assert!((2..60).contains(&mean), "mean file count {mean}");
    }

    #[test]
    fn piece_length_rule() {
        assert_eq!(piece_length_for(0), MIN_PIECE_LENGTH);
        assert_eq!(piece_length_for(1), MIN_PIECE_LENGTH);
        assert_eq!(
            piece_length_for(MIN_PIECE_LENGTH * TARGET_MAX_PIECES),
            MIN_PIECE_LENGTH
        );
        assert_eq!(
            piece_length_for(MIN_PIECE_LENGTH * TARGET_MAX_PIECES + 1),
            2 * MIN_PIECE_LENGTH
        );
        assert_eq!(piece_length_for(50 << 30), 64 << 20);
    }
}
