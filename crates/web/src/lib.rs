//! BitAgent's HTTP server: what users and their tools reach.
//!
//! One axum [`Router`](axum::Router) serves, under one set of limits (timeouts, body size,
//! per-IP search rate, connection cap) and one strict Content-Security-Policy:
//! - the web UI (server-rendered HTML, works without JavaScript): search at `/`, torrent
//!   detail at `/torrents/{infohash}`, the dashboard, saved searches, login;
//! - the JSON API under `/api/v1` (its OpenAPI spec at `/api/v1/openapi.json`);
//! - Torznab at `/torznab/api` for Prowlarr, Sonarr and Radarr;
//! - RSS at `/feed`;
//! - `/metrics` (Prometheus, the crawler's and the server's own) and `/healthz`.
//!
//! It runs inside `bitagent run` (next to the crawler) and alone as `bitagent serve`. It
//! knows the store only through [`store::Store`] (reads on a small pool of connections,
//! [`Data`]) and everything else through [`Ops`], which the binary implements: writes go to
//! the one writer, rules explain a torrent, the crawler reports its status. No value a
//! stranger controls (torrent and file names, query strings) is ever emitted unescaped.

#![warn(missing_docs)]

mod api;
mod auth;
mod data;
mod error;
mod links;
mod metrics;
mod params;
mod rss;
mod server;
mod state;
mod torznab;
mod ui;
mod xml;

pub use auth::{API_KEY_HEADER, SESSION_COOKIE};
pub use data::{Data, Opener};
pub use error::ApiError;
pub use metrics::HttpMetrics;
pub use server::{router, serve};
pub use state::{
    AppState, CrawlerStatus, Explanation, HistoryPoint, Ops, OpsError, OpsFuture, Options,
    ReclassifyReport,
};
