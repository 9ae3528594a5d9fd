//! The standard Newznab/Torznab categories we serve, and how our content types and
//! attributes map onto them.
//!
//! Each torrent gets its parent category and, when we know it, the most specific
//! subcategory:
//!
//! | content type | parent | subcategory |
//! |---|---|---|
//! | `movie` | 2000 Movies | 2030 SD (`360p`–`576p`), 2040 HD (`720p`–`1440p`), 2045 UHD (`2160p`) |
//! | `music` | 3000 Audio | 3010 MP3 (`audio` = `mp3`), 3040 Lossless (`flac`, `alac`, `ape`, `wav`, `dsd`, or the `lossless` tag) |
//! | `audiobook` | 3000 Audio | 3030 Audiobook |
//! | `software` | 4000 PC | — |
//! | `game` | 4000 PC | 4050 Games |
//! | `tv_show` | 5000 TV | 5030 SD, 5040 HD, 5045 UHD (as for movies) |
//! | `xxx` | 6000 XXX | — |
//! | `ebook` | 7000 Books | 7020 EBook |
//! | `comic` | 7000 Books | 7030 Comics |
//! | anything else, unknown, unclassified | 8000 Other | — |
//!
//! A request for a subcategory gets the torrents of that subcategory **and** those of its
//! parent whose quality we do not know (no resolution attribute for a film or an episode, no
//! recognised format for music): the name may still say what it is, and the client parses
//! titles itself. So Sonarr's default `cat=5030,5040` finds every episode except those we
//! know to be 2160p. A number we do not serve (`2010`, `5070`, `9999`) matches nothing.

use std::collections::BTreeSet;

use store::Hit;

/// One category of the caps document: id, name, subcategories.
pub(crate) struct Category {
    pub(crate) id: u32,
    pub(crate) name: &'static str,
    pub(crate) subcats: &'static [(u32, &'static str)],
}

/// Every category we serve, in the caps document's order.
pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        id: 2000,
        name: "Movies",
        subcats: &[
            (2030, "Movies/SD"),
            (2040, "Movies/HD"),
            (2045, "Movies/UHD"),
        ],
    },
    Category {
        id: 3000,
        name: "Audio",
        subcats: &[
            (3010, "Audio/MP3"),
            (3030, "Audio/Audiobook"),
            (3040, "Audio/Lossless"),
        ],
    },
    Category {
        id: 4000,
        name: "PC",
        subcats: &[(4050, "PC/Games")],
    },
    Category {
        id: 5000,
        name: "TV",
        subcats: &[(5030, "TV/SD"), (5040, "TV/HD"), (5045, "TV/UHD")],
    },
    Category {
        id: 6000,
        name: "XXX",
        subcats: &[],
    },
    Category {
        id: 7000,
        name: "Books",
        subcats: &[(7020, "Books/EBook"), (7030, "Books/Comics")],
    },
    Category {
        id: 8000,
        name: "Other",
        subcats: &[],
    },
];

/// What a torrent is, as far as categories go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    Movie,
    Music,
    Audiobook,
    Software,
    Game,
    Tv,
    Xxx,
    Ebook,
    Comic,
    Other,
}

impl Class {
    const ALL: [Self; 10] = [
        Self::Movie,
        Self::Music,
        Self::Audiobook,
        Self::Software,
        Self::Game,
        Self::Tv,
        Self::Xxx,
        Self::Ebook,
        Self::Comic,
        Self::Other,
    ];

    /// The class of a stored content type.
    pub(crate) fn of(content_type: Option<&str>) -> Self {
        match content_type {
            Some("movie") => Self::Movie,
            Some("music") => Self::Music,
            Some("audiobook") => Self::Audiobook,
            Some("software") => Self::Software,
            Some("game") => Self::Game,
            Some("tv_show") => Self::Tv,
            Some("xxx") => Self::Xxx,
            Some("ebook") => Self::Ebook,
            Some("comic") => Self::Comic,
            _ => Self::Other,
        }
    }

    /// The one stored content type of this class (`None` for Other, which is many).
    pub(crate) fn content_type(self) -> Option<&'static str> {
        Some(match self {
            Self::Movie => "movie",
            Self::Music => "music",
            Self::Audiobook => "audiobook",
            Self::Software => "software",
            Self::Game => "game",
            Self::Tv => "tv_show",
            Self::Xxx => "xxx",
            Self::Ebook => "ebook",
            Self::Comic => "comic",
            Self::Other => return None,
        })
    }

    fn parent(self) -> u32 {
        match self {
            Self::Movie => 2000,
            Self::Music | Self::Audiobook => 3000,
            Self::Software | Self::Game => 4000,
            Self::Tv => 5000,
            Self::Xxx => 6000,
            Self::Ebook | Self::Comic => 7000,
            Self::Other => 8000,
        }
    }

    /// The subcategories a torrent of this class may have; one of them, or (for movies, TV
    /// and music) none when its quality is unknown.
    fn subcats(self) -> &'static [u32] {
        match self {
            Self::Movie => &[2030, 2040, 2045],
            Self::Music => &[3010, 3040],
            Self::Audiobook => &[3030],
            Self::Game => &[4050],
            Self::Tv => &[5030, 5040, 5045],
            Self::Ebook => &[7020],
            Self::Comic => &[7030],
            Self::Software | Self::Xxx | Self::Other => &[],
        }
    }
}

fn attr<'a>(hit: &'a Hit, key: &str) -> Option<&'a str> {
    hit.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A torrent's categories: its parent, then its subcategory when known.
pub(crate) fn of_hit(hit: &Hit) -> (u32, Option<u32>) {
    let class = Class::of(hit.content_type.as_deref());
    (class.parent(), subcat(class, hit))
}

fn subcat(class: Class, hit: &Hit) -> Option<u32> {
    let video = |sd, hd, uhd| match attr(hit, "resolution")? {
        "360p" | "480p" | "576p" => Some(sd),
        "720p" | "1080p" | "1440p" => Some(hd),
        "2160p" => Some(uhd),
        _ => None,
    };
    match class {
        Class::Movie => video(2030, 2040, 2045),
        Class::Tv => video(5030, 5040, 5045),
        Class::Music => {
            let format = attr(hit, "audio");
            if matches!(format, Some("flac" | "alac" | "ape" | "wav" | "dsd"))
                || hit.tags.iter().any(|t| t == "lossless")
            {
                Some(3040)
            } else if format == Some("mp3") {
                Some(3010)
            } else {
                None
            }
        }
        Class::Audiobook => Some(3030),
        Class::Game => Some(4050),
        Class::Ebook => Some(7020),
        Class::Comic => Some(7030),
        Class::Software | Class::Xxx | Class::Other => None,
    }
}

/// The `cat=` of a request: the category numbers asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatFilter(BTreeSet<u32>);

impl CatFilter {
    /// Parses a comma list of numbers (empty items are skipped). Any other text is an
    /// error (the caller names the parameter).
    pub(crate) fn parse(v: &str) -> Result<Option<Self>, String> {
        let mut set = BTreeSet::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n: u32 = part
                .parse()
                .map_err(|_| format!("{part:?} is not a category number"))?;
            set.insert(n);
        }
        Ok((!set.is_empty()).then_some(Self(set)))
    }

    /// Whether a torrent is in one of the requested categories (see the module doc for a
    /// subcategory request and unknown quality).
    pub(crate) fn matches(&self, hit: &Hit) -> bool {
        let class = Class::of(hit.content_type.as_deref());
        self.wants(class, subcat(class, hit))
    }

    fn wants(&self, class: Class, sub: Option<u32>) -> bool {
        if self.0.contains(&class.parent()) {
            return true;
        }
        match sub {
            Some(s) => self.0.contains(&s),
            None => class.subcats().iter().any(|s| self.0.contains(s)),
        }
    }

    /// The classes this filter can match.
    pub(crate) fn classes(&self) -> Vec<Class> {
        Class::ALL
            .into_iter()
            .filter(|c| {
                self.0.contains(&c.parent()) || c.subcats().iter().any(|s| self.0.contains(s))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(content_type: Option<&str>, attrs: &[(&str, &str)], tags: &[&str]) -> Hit {
        Hit {
            info_hash: store::InfoHash::from_v1_slice(&[1; 20]).unwrap(),
            name: String::new(),
            total_size: 0,
            file_count: 1,
            seeders: None,
            leechers: None,
            first_seen: 0,
            last_seen: 0,
            scraped_at: None,
            score: 0.0,
            content_type: content_type.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn each_type_and_quality_has_its_categories() {
        for (ct, attrs, tags, want) in [
            (
                Some("movie"),
                &[("resolution", "1080p")][..],
                &[][..],
                (2000, Some(2040)),
            ),
            (
                Some("movie"),
                &[("resolution", "2160p")],
                &[],
                (2000, Some(2045)),
            ),
            (
                Some("movie"),
                &[("resolution", "480p")],
                &[],
                (2000, Some(2030)),
            ),
            (Some("movie"), &[], &[], (2000, None)),
            (
                Some("tv_show"),
                &[("resolution", "720p")],
                &[],
                (5000, Some(5040)),
            ),
            (
                Some("tv_show"),
                &[("resolution", "weird")],
                &[],
                (5000, None),
            ),
            (Some("music"), &[("audio", "mp3")], &[], (3000, Some(3010))),
            (Some("music"), &[("audio", "flac")], &[], (3000, Some(3040))),
            (Some("music"), &[], &["lossless"], (3000, Some(3040))),
            (Some("music"), &[("audio", "aac")], &[], (3000, None)),
            (Some("audiobook"), &[], &[], (3000, Some(3030))),
            (Some("software"), &[], &[], (4000, None)),
            (Some("game"), &[], &[], (4000, Some(4050))),
            (Some("xxx"), &[], &[], (6000, None)),
            (Some("ebook"), &[], &[], (7000, Some(7020))),
            (Some("comic"), &[], &[], (7000, Some(7030))),
            (Some("unknown"), &[], &[], (8000, None)),
            (Some("podcast"), &[], &[], (8000, None)),
            (None, &[], &[], (8000, None)),
        ] {
            assert_eq!(of_hit(&hit(ct, attrs, tags)), want, "{ct:?} {attrs:?}");
        }
        // Every category a torrent can get is in the caps document.
        let served: Vec<u32> = CATEGORIES
            .iter()
            .flat_map(|c| std::iter::once(c.id).chain(c.subcats.iter().map(|s| s.0)))
            .collect();
        for c in Class::ALL {
            assert!(served.contains(&c.parent()));
            assert!(c.subcats().iter().all(|s| served.contains(s)));
        }
    }

    #[test]
    fn subcategory_requests() {
        let f = CatFilter::parse("5030, 5040,,9999").unwrap().unwrap();
        let tv = |res: &[(&str, &str)]| hit(Some("tv_show"), res, &[]);
        assert!(f.matches(&tv(&[("resolution", "720p")])));
        assert!(f.matches(&tv(&[("resolution", "480p")])));
        assert!(!f.matches(&tv(&[("resolution", "2160p")])));
        assert!(f.matches(&tv(&[])), "unknown resolution matches");
        assert!(!f.matches(&hit(Some("movie"), &[], &[])));
        assert_eq!(f.classes(), vec![Class::Tv]);
        let all_audio = CatFilter::parse("3000").unwrap().unwrap();
        assert_eq!(all_audio.classes(), vec![Class::Music, Class::Audiobook]);
        let books = CatFilter::parse("7030").unwrap().unwrap();
        assert!(books.matches(&hit(Some("comic"), &[], &[])));
        assert!(!books.matches(&hit(Some("ebook"), &[], &[])));
        let none = CatFilter::parse("9999,2010").unwrap().unwrap();
        assert!(none.classes().is_empty());
        assert!(!none.matches(&hit(None, &[], &[])));
        assert_eq!(CatFilter::parse(" , "), Ok(None));
        assert!(CatFilter::parse("5000,tv").is_err());
        assert!(CatFilter::parse("-1").is_err());
    }
}
