//! `t=caps`: what this server offers, as Prowlarr, Sonarr and Radarr read it.

use super::categories::CATEGORIES;
use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::xml::Xml;

/// The search functions and the parameters each one really uses. `imdbid`, `tmdbid`,
/// `tvdbid` are accepted but not claimed: we have no such ids, and a client that believes
/// we do sends id-only searches (and skips its title search when they return anything).
pub(crate) const SEARCHING: &[(&str, &str)] = &[
    ("search", "q"),
    ("tv-search", "q,season,ep"),
    ("movie-search", "q"),
    ("music-search", "q,artist,album"),
    ("audio-search", "q,artist,album"),
    ("book-search", "q,author,title"),
];

/// The caps document.
pub(crate) fn caps() -> String {
    let mut x = Xml::new();
    x.open("caps", &[]);
    x.empty(
        "server",
        &[
            ("title", "BitAgent"),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
    );
    let (default, max) = (DEFAULT_LIMIT.to_string(), MAX_LIMIT.to_string());
    x.empty("limits", &[("default", &default), ("max", &max)]);
    x.empty("registration", &[("available", "no"), ("open", "no")]);
    x.open("searching", &[]);
    for (name, params) in SEARCHING {
        x.empty(name, &[("available", "yes"), ("supportedParams", params)]);
    }
    x.close();
    x.open("categories", &[]);
    for c in CATEGORIES {
        let id = c.id.to_string();
        x.open("category", &[("id", &id), ("name", c.name)]);
        for (sid, sname) in c.subcats {
            let sid = sid.to_string();
            x.empty("subcat", &[("id", &sid), ("name", sname)]);
        }
        x.close();
    }
    x.close();
    x.finish()
}
