//! `GET /api/v1/stats`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Json, response::IntoResponse, response::Response};
use serde::Serialize;

use super::TypeCount;
use crate::{AppState, CrawlerStatus};

/// How many history points the recent rates average over (five minutes of the dashboard's
/// one-minute points).
const RATE_POINTS: usize = 5;

/// The store's counts and, when a crawler runs in this process, its status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct StatsResponse {
    /// Stored torrents.
    pub(crate) torrents: u64,
    /// Files in the stored torrents (their true count).
    pub(crate) files: u64,
    /// File rows kept (at most 1,000 per torrent).
    pub(crate) file_rows: u64,
    /// Blocked infohashes (deleted and never stored again).
    pub(crate) blocked: u64,
    /// Torrents with a swarm measurement.
    pub(crate) scraped: u64,
    /// Bytes of the database file.
    pub(crate) db_bytes: u64,
    /// Bytes of its write-ahead log.
    pub(crate) wal_bytes: u64,
    /// Stored torrents by content type, most first (`null`: unclassified).
    pub(crate) by_content_type: Vec<TypeCount>,
    /// The crawler in this process; `null` when none runs (`bitagent serve`).
    #[schema(required = true)]
    pub(crate) crawler: Option<CrawlerStats>,
}

/// A running crawler: its counters and rates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CrawlerStats {
    /// Counters since the crawler started.
    pub(crate) status: CrawlerStatus,
    /// Recent rates.
    pub(crate) rates: Rates,
}

/// Per-minute rates: over the last few minutes when the server has history, else since the
/// crawler started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Rates {
    /// Seconds the rates are measured over.
    pub(crate) window_secs: u64,
    /// Torrents persisted per minute.
    pub(crate) persisted_per_minute: f64,
    /// Infohashes sampled per minute.
    pub(crate) sampled_per_minute: f64,
}

/// Counts of the store, by content type, and the crawler's status with its rates.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "read",
    responses(
        (status = 200, description = "The counts", body = StatsResponse),
        (status = 401, description = "Reads need the API key on this server", body = super::openapi::ErrorBody),
        (status = 503, description = "The database cannot answer now", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn stats(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.require_read(&headers, None) {
        return e.into_response();
    }
    let read = state
        .data()
        .read(|s| Ok((s.stats()?, s.counts_by_content_type()?)))
        .await;
    let (st, by_type) = match read {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let crawler = state.ops().crawler().map(|status| CrawlerStats {
        rates: rates(&state, &status),
        status,
    });
    Json(StatsResponse {
        torrents: st.torrents,
        files: st.files_total,
        file_rows: st.file_rows,
        blocked: st.blocked,
        scraped: st.scraped,
        db_bytes: st.db_bytes,
        wal_bytes: st.wal_bytes,
        by_content_type: TypeCount::list(by_type),
        crawler,
    })
    .into_response()
}

fn rates(state: &AppState, status: &CrawlerStatus) -> Rates {
    let history = state.history();
    let recent = &history[history.len().saturating_sub(RATE_POINTS)..];
    let every = state.0.options.history_every.as_secs_f64();
    let (window, persisted, sampled) = if recent.is_empty() || every <= 0.0 {
        (
            status.uptime_secs as f64,
            status.persisted as f64,
            status.sampled as f64,
        )
    } else {
        (
            every * recent.len() as f64,
            recent.iter().map(|p| p.persisted as f64).sum(),
            recent.iter().map(|p| p.sampled as f64).sum(),
        )
    };
    let per_minute = |n: f64| if window > 0.0 { n * 60.0 / window } else { 0.0 };
    Rates {
        window_secs: window.round() as u64,
        persisted_per_minute: per_minute(persisted),
        sampled_per_minute: per_minute(sampled),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use store::{InfoHash, Torrent};

    use super::*;
    use crate::{Explanation, Ops, OpsFuture, ReclassifyReport};

    /// A crawler whose counters the test moves.
    #[derive(Debug, Default)]
    struct Crawler(Mutex<CrawlerStatus>);

    impl Ops for Crawler {
        fn delete_and_block(&self, _: Vec<InfoHash>) -> OpsFuture<usize> {
            Box::pin(async { Ok(0) })
        }
        fn set_tags(&self, _: InfoHash, _: Vec<String>) -> OpsFuture<bool> {
            Box::pin(async { Ok(false) })
        }
        fn reclassify(&self) -> OpsFuture<ReclassifyReport> {
            Box::pin(async { Ok(ReclassifyReport::default()) })
        }
        fn explain(&self, _: &Torrent) -> Explanation {
            Explanation::default()
        }
        fn crawler(&self) -> Option<CrawlerStatus> {
            Some(self.0.lock().unwrap().clone())
        }
    }

    #[test]
    fn rates_come_from_the_last_minutes_of_history() {
        let crawler = Arc::new(Crawler::default());
        let state = super::super::tests::state_with(crawler.clone());
        let set = |uptime, persisted, sampled| {
            let mut s = crawler.0.lock().unwrap();
            (s.uptime_secs, s.persisted, s.sampled) = (uptime, persisted, sampled);
        };
        // No history yet: since the start.
        set(120, 10, 100);
        let r = rates(&state, &crawler.crawler().unwrap());
        assert_eq!(r.window_secs, 120);
        assert_eq!((r.persisted_per_minute, r.sampled_per_minute), (5.0, 50.0));
        // Seven one-minute points; the rates average the last five.
        let mut last = state.record_history(None);
        for minute in 1..=7u64 {
            set(120 + minute * 60, 10 + minute * minute, 100 + 60 * minute);
            last = state.record_history(last);
        }
        let r = rates(&state, &crawler.crawler().unwrap());
        assert_eq!(r.window_secs, 300);
        // Persisted in minutes 3..=7: 59 - 4 = 45 over 5 minutes.
        assert_eq!(r.persisted_per_minute, 9.0);
        assert_eq!(r.sampled_per_minute, 60.0);
    }
}
