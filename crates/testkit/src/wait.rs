//! Bounded waits for async tests.
//!
//! Prefer awaiting an event; where there is none (state in another process, a counter another
//! task bumps), [`eventually`] polls, bounded in count and time. Every wait has a deadline, so
//! a broken test fails with a message instead of hanging the suite.

use std::future::Future;
use std::time::Duration;

/// Awaits `f`, panicking with `what` if it takes longer than `limit`.
///
/// # Panics
/// When the deadline passes first.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} took longer than {limit:?}"),
    }
}

/// Polls `f` until it returns `Some`, for at most `limit`: first every 10 ms, backing off to
/// every 250 ms (so a quick condition is seen quickly and a slow one costs few polls). `None`
/// when the time is up; at most `limit / 10 ms + 1` polls in any case.
pub async fn eventually<T>(limit: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let start = tokio::time::Instant::now();
    let max_polls = limit.as_millis() / 10 + 1;
    let mut delay = Duration::from_millis(10);
    for _ in 0..max_polls {
        if let Some(v) = f().await {
            return Some(v);
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            break;
        }
        tokio::time::sleep(delay.min(limit - elapsed)).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn eventually_returns_the_first_some() {
        let mut n = 0;
        let v = eventually(Duration::from_secs(1), async || {
            n += 1;
            (n == 3).then_some(n)
        })
        .await;
        assert_eq!(v, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn eventually_gives_up_at_the_limit() {
        let start = tokio::time::Instant::now();
        let v: Option<()> = eventually(Duration::from_secs(2), async || None).await;
        assert_eq!(v, None);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "slow step took longer than")]
    async fn within_panics_past_the_deadline() {
        within(
            Duration::from_millis(5),
            "slow step",
            tokio::time::sleep(Duration::from_secs(1)),
        )
        .await;
    }
}
