//! Loading the blocklists, and reloading them while the crawler runs (a file changed, or
//! SIGHUP), each load followed by a purge of what the new list names from the store.

use std::path::PathBuf;
use std::sync::Arc;

use classify::blocklist::{Blocklist, BlocklistError, BlocklistWatcher};

use super::Filters;
use super::purge::PurgeError;
use crate::writer::WriterHandle;

/// Loads the blocklists named in the settings (none: an empty list).
pub fn load_blocklist(paths: &[PathBuf]) -> Result<Blocklist, BlocklistError> {
    if paths.is_empty() {
        return Ok(Blocklist::empty());
    }
    Blocklist::load(paths)
}

/// Purges what the loaded list names (a list that arrived since the last run), then watches
/// the blocklist files: reload when one changes or on SIGHUP, then purge what the new list
/// names from the store ([`Filters::purge`], a page per writer job). Runs until the crawler's
/// writer is gone.
pub async fn watch_blocklist(paths: Vec<PathBuf>, filters: Arc<Filters>, writer: WriterHandle) {
    let mut watcher = BlocklistWatcher::new(paths);
    let _ = watcher.changed(); // Record the current state.
    if !purge_logged(&filters, &writer).await {
        return;
    }
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
        let why = tokio::select! {
            _ = tick.tick() => {
                if watcher.paths().is_empty() || !watcher.changed() { continue; }
                "a blocklist file changed"
            }
            () = signalled => "SIGHUP",
        };
        match watcher.load() {
            Ok(list) => {
                tracing::info!(entries = list.len(), why, "blocklist reloaded");
                filters.set_blocklist(list);
                if !purge_logged(&filters, &writer).await {
                    return;
                }
            }
            // Keep the old list: never run unfiltered because of a bad edit.
            Err(e) => tracing::error!("blocklist reload failed, keeping the previous list: {e}"),
        }
    }
}

/// Runs a purge and logs its outcome; `false` once the writer is gone.
async fn purge_logged(filters: &Filters, writer: &WriterHandle) -> bool {
    match filters.purge(writer).await {
        Ok(o) if o.deleted == 0 => {}
        Ok(o) => tracing::info!(purged = o.deleted, jobs = o.jobs, "{o}"),
        Err(PurgeError::Writer(_)) => return false,
        Err(e) => tracing::error!("{e}"),
    }
    true
}
