//! Reads: a small pool of store connections, used from blocking threads.
//!
//! The store is synchronous and `Send` but not `Sync` (one owner per connection). Each
//! request borrows a connection for one closure on tokio's blocking pool; at most
//! `max_readers` run at once (the rest wait), and idle connections are kept for the next
//! request. With SQLite in WAL mode these readers never block the crawler's writer.

use std::sync::{Arc, Mutex};

use store::Store;
use tokio::sync::Semaphore;

use crate::ApiError;

/// Opens one more connection to the store (for SQLite: the same file, with reader options).
pub type Opener = Arc<dyn Fn() -> store::Result<Box<dyn Store>> + Send + Sync>;

/// The read side of the store, shared by every handler.
#[derive(Clone)]
pub struct Data {
    open: Opener,
    idle: Arc<Mutex<Vec<Box<dyn Store>>>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Data {
    /// Reads through connections from `open`, at most `max_readers` at a time.
    pub fn new(open: Opener, max_readers: usize) -> Self {
        Self {
            open,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(max_readers.max(1))),
        }
    }

    /// Runs `f` on a connection on the blocking pool. A store error becomes an
    /// [`ApiError`] (a query error is the user's fault and names the parameter `q` or
    /// `cursor`; anything else is a 503: the database is busy or damaged, not a bug).
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> store::Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
        let (open, idle) = (self.open.clone(), self.idle.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let conn = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => open()?,
            };
            let out = f(conn.as_ref());
            idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            out
        })
        .await;
        match joined {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => Err(ApiError::Internal(format!("a read failed: {e}"))),
        }
    }
}
