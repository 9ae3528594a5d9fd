//! Retention: eviction to a budget by the policy, in one call or in bounded steps.

use super::*;

/// Torrents the eviction cases store.
const EVICTABLE: u64 = 3_000;

/// Eviction key of evictable torrent n: (seeders, never measured = -1; last_seen; insertion
/// order).
fn evictable_key(n: u64) -> (i64, i64, u64) {
    const N: u64 = EVICTABLE;
    let seeders = if n.is_multiple_of(4) {
        -1
    } else {
        (n % 50) as i64
    };
    (seeders, 1_000 + ((n * 7_919) % N) as i64, n)
}

/// Every evicted torrent of the [`EVICTABLE`] ones ranks below every survivor by
/// [`evictable_key`]. Returns the numbers of the evicted ones.
fn assert_evicted_rank_below_kept(store: &dyn Store) -> Vec<u64> {
    let mut kept = std::collections::HashSet::new();
    let mut after = None;
    loop {
        let page = store.hashes_after(after, 1_000).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        kept.extend(page);
    }
    let (gone, stay): (Vec<u64>, Vec<u64>) =
        (0..EVICTABLE).partition(|&n| !kept.contains(&test_hash(n)));
    let worst_kept = stay.iter().map(|&n| evictable_key(n)).min().unwrap();
    let best_gone = gone.iter().map(|&n| evictable_key(n)).max().unwrap();
    assert!(
        best_gone < worst_kept,
        "evicted {best_gone:?} ranks above kept {worst_kept:?}"
    );
    gone
}

/// Stores the [`EVICTABLE`] torrents, keyed by [`evictable_key`].
fn fill_evictable(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    let key = evictable_key;
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let recs: Vec<TorrentRecord> = chunk
            .iter()
            .map(|&n| {
                let (seeders, last_seen, _) = key(n);
                let paths: Vec<String> = (0..5)
                    .map(|f| format!("some/longer/directory name/file number {n} part {f}.bin"))
                    .collect();
                let files: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), 1_000)).collect();
                let mut rec = test_record(
                    n,
                    &format!("evictable torrent {n} with a name"),
                    &files,
                    last_seen,
                );
                if seeders >= 0 {
                    rec.seeders = Some(seeders as u32);
                    rec.leechers = Some(1);
                    rec.scraped_at = Some(1);
                }
                rec.tags = strings(&["t"]);
                rec
            })
            .collect();
        store.put_batch(&recs).unwrap();
    }
}

/// `evict_to_size` deletes fewest-seeders-first (unmeasured first), then oldest `last_seen`,
/// until the data fits; within the budget it does nothing; evicted torrents are not blocked.
pub fn eviction_follows_the_policy(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    fill_evictable(store);
    let idle = store.evict_to_size(u64::MAX, u64::MAX, false).unwrap();
    assert_eq!(idle.evicted, 0);
    assert!(idle.within_budget && idle.bytes_before > 0, "{idle:?}");
    assert_eq!(idle.bytes_after, idle.bytes_before);
    assert_eq!(store.stats().unwrap().torrents, N);

    let budget = idle.bytes_before / 2;
    let mut evicted = 0;
    let mut last = idle;
    for _ in 0..1_000 {
        last = store.evict_to_size(budget, u64::MAX, false).unwrap();
        evicted += last.evicted;
        if last.within_budget {
            break;
        }
        assert!(last.evicted > 0, "stuck over budget: {last:?}");
    }
    assert!(last.within_budget, "{last:?}");
    assert!(last.bytes_after <= budget, "{last:?}");
    let survivors = store.stats().unwrap().torrents;
    assert_eq!(survivors + evicted, N);
    assert!(evicted > 0 && survivors > N / 5, "evicted {evicted} of {N}");
    // Every evicted torrent ranks below every survivor.
    let gone = assert_evicted_rank_below_kept(store);
    // Within budget now: nothing more goes.
    let again = store.evict_to_size(budget, u64::MAX, false).unwrap();
    assert_eq!((again.evicted, again.within_budget), (0, true), "{again:?}");
    // Evicted is not blocked: it can come back.
    assert!(!store.is_blocked(&test_hash(gone[0])).unwrap());
    assert_eq!(
        store
            .put_batch(&[test_record(gone[0], "back", &[("b", 1)], 5_000)])
            .unwrap()
            .inserted,
        1
    );
    assert_eq!(
        filtered(store, "evictable", &filter(None, Some("t")), 5).len(),
        5
    );
    assert_healthy(store);
}

/// Eviction in bounded steps (the crawler's writer: a few thousand rows per job): each call
/// deletes at most `max_rows` and says whether more is needed; resumed calls end within the
/// budget, at the low-water mark, with the same policy order as one unbounded call.
pub fn eviction_in_bounded_steps(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    const STEP: u64 = 100;
    fill_evictable(store);
    let budget = store
        .evict_to_size(u64::MAX, STEP, false)
        .unwrap()
        .bytes_before
        / 2;
    let first = store.evict_to_size(budget, STEP, false).unwrap();
    assert_eq!(first.evicted, STEP, "{first:?}");
    assert!(first.more && !first.within_budget, "{first:?}");
    let mut evicted = first.evicted;
    let mut last = first;
    let mut calls = 1;
    while last.more {
        last = store.evict_to_size(budget, STEP, true).unwrap();
        assert!(last.evicted <= STEP, "{last:?}");
        evicted += last.evicted;
        calls += 1;
        assert!(calls < N, "eviction did not converge: {last:?}");
    }
    assert!(calls > 2, "{calls} calls");
    assert!(last.within_budget && last.bytes_after <= budget, "{last:?}");
    // Down to the low-water mark, as one call would go (the hysteresis survives the steps).
    assert!(last.bytes_after <= budget - budget / 20, "{last:?}");
    assert_eq!(store.stats().unwrap().torrents + evicted, N);
    assert_eq!(store.torrent_count().unwrap(), N - evicted);
    assert_evicted_rank_below_kept(store);
    // Done: neither a new call nor a resumed one deletes anything more.
    for resume in [false, true] {
        let again = store.evict_to_size(budget, STEP, resume).unwrap();
        assert_eq!((again.evicted, again.more), (0, false), "{again:?}");
    }
    assert_healthy(store);
}
