//! The calling thread's shard: which of [`SHARDS`] copies of a per-thread structure a thread
//! uses, so that worker threads do not share the cache lines they write on every request.
//! Threads take shards in turn on first use; two threads may share one, which is correct,
//! only slower.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Shards per structure: a power of two, more than the worker threads of most servers.
pub(crate) const SHARDS: usize = 16;

/// The calling thread's shard, below [`SHARDS`].
pub(crate) fn index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// A value aligned to its own pair of cache lines (adjacent-line prefetch pulls both).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct Padded<T>(pub(crate) T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_take_shards_in_turn() {
        let mine = index();
        assert_eq!(index(), mine, "a thread keeps its shard");
        let others: Vec<usize> = (0..SHARDS)
            .map(|_| std::thread::spawn(index).join().unwrap())
            .collect();
        assert!(others.iter().all(|&s| s < SHARDS));
        // SHARDS threads in a row (others may start meanwhile) cover several shards.
        let distinct: std::collections::HashSet<_> = others.iter().collect();
        assert!(distinct.len() > 1, "{others:?}");
    }
}
