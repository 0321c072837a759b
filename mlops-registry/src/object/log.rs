//! The commit log: a folder of entries `log/<seq:020>.json`, each claimed with a
//! create-if-absent write at the next sequence number, and folded by readers into a state.
//!
//! Writing an entry (RELIABILITY §2.4):
//!
//! 1. catch up: read `log/<n+1>`, `<n+2>`, … until one is absent;
//! 2. decide against the folded state at `n` (a false precondition returns its error and
//!    writes nothing);
//! 3. list the log after `n - 1` (one LIST, see below): a slot missing below a listed one,
//!    or `n` itself gone, refuses the write;
//! 4. claim `log/<n+1>` with `PutMode::Create`, carrying a fresh transaction id:
//!    - acknowledged: committed;
//!    - already exists: read it back; our transaction id means a lost response of our own
//!      earlier attempt (committed), another means someone else won the slot (go to 1 and
//!      decide again);
//!    - unknown outcome (transport error, timeout): read the slot back; ours: committed;
//!      another's: go to 1; absent: claim the same slot again with the same transaction id.
//!
//! Entries are never removed, so a slot missing below a present one is damage (a lost or
//! deleted file): it is reported as [`RegistryError::Corrupt`] naming the missing slot, by
//! every read and every write of that log, and never filled (a write there would splice
//! history, and hide the damage from every later reader). A fresh handle lists the log once
//! to find holes anywhere; after that each read that finds `n+1` absent also probes `n+2`
//! (one more GET, no listing), which catches a one-entry hole above the cached position at
//! once, and the handle lists again at most every `RELIST` (2 s), which catches a wider one.
//!
//! A write cannot wait for that: a hole of two or more entries that appears right after the
//! handle's last listing would be filled by the claim. So every claim is preceded by a
//! listing of the log after `n - 1` (step 3; it replaces the `n+2` probe, so an append
//! costs the same number of requests, one of them a LIST). The refusal must come before
//! the claim: a create-if-absent that won cannot be taken back (entries are never removed,
//! and readers may already have folded it), and once the hole is filled no reader can see
//! it. What remains is the time between that listing and the claim (one round trip): a
//! hole made inside it (another writer's two entries created, and the lower one removed,
//! after the listing and before the claim) is filled. A base that vanished (`n` itself gone,
//! nothing after it: the log lost its end) refuses the write too, and the handle then reads
//! the log afresh, as a new handle would.
//!
//! Every `SNAPSHOT_EVERY` entries the writer of the entry stores the folded state in
//! `snapshots/<seq:020>.json`; a fresh reader starts from the newest snapshot and probes
//! forward. Snapshots are an optimisation: the log alone defines the state.

use std::time::Duration;

use bytes::Bytes;
use mlops_core::{Backoff, Timestamp};
use object_store::path::Path;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::io::{Claim, ENTRY_LIMIT, Io, RETRY, SNAPSHOT_LIMIT};

/// A log entry, as errors name it.
const ENTRY: &str = "a log entry";
use crate::error::{RegistryError, Result};
use crate::records;

/// How often a long-lived handle lists the log again while catching up for a read. The
/// probe one slot past the end catches a hole of one entry at once; a listing catches a
/// wider one (two or more entries lost above the cached position), at the cost of one LIST
/// per model per interval. A hole found is found again by every later read and write (the
/// handle lists again after any failed catch-up). Writes do not depend on this interval:
/// each claim is checked against a listing of its own (module docs).
const RELIST: Duration = Duration::from_secs(2);

/// Entries between snapshots.
pub(crate) const SNAPSHOT_EVERY: u64 = 64;

/// How many unknown outcomes one append tolerates before giving up.
const MAX_UNKNOWN: u32 = 16;

/// The pauses between reads of a slot after an unknown outcome: longer than a plain read's,
/// since the answer decides whether the write committed.
const READ_BACK: Backoff =
    Backoff::exponential(Duration::from_millis(50), Duration::from_millis(400)).with_jitter();

/// A state built by folding log entries in order.
pub(crate) trait Fold:
    Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// What one entry says.
    type Op: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Applies one entry.
    fn apply(&mut self, entry: &Entry<Self::Op>);
}

/// One log entry. Its `format` is absent in format 1 (see [`crate::records`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry<Op> {
    /// The storage format of the entry.
    #[serde(
        default = "records::format_1",
        skip_serializing_if = "records::is_format_1"
    )]
    pub(crate) format: u32,
    /// Its position, equal to the number in its key.
    pub(crate) seq: u64,
    /// The writer's transaction id (a UUID), unique per logical write.
    pub(crate) txn_id: String,
    /// Who wrote it.
    pub(crate) actor: String,
    /// When it was decided.
    pub(crate) time: Timestamp,
    /// What it says.
    pub(crate) op: Op,
}

/// A folded state at `seq`. Its `format` is absent in format 1; a snapshot in a newer
/// format is skipped (the log alone defines the state).
#[derive(Serialize, Deserialize)]
struct Snapshot<S> {
    #[serde(
        default = "records::format_1",
        skip_serializing_if = "records::is_format_1"
    )]
    format: u32,
    seq: u64,
    state: S,
}

struct Folded<S> {
    seq: u64,
    state: S,
    loaded: bool,
    /// When the log was last listed (see [`RELIST`]).
    listed_at: Option<std::time::Instant>,
}

impl<S: Default> Folded<S> {
    /// Nothing read yet: the next catch-up loads the log from the store.
    fn fresh() -> Self {
        Self {
            seq: 0,
            state: S::default(),
            loaded: false,
            listed_at: None,
        }
    }
}

/// Counters of what appends met, for tests and benches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Entries this handle committed.
    pub committed: u64,
    /// Slots lost to another writer (the decision was then made again).
    pub slot_races: u64,
    /// Claims whose outcome was unknown and was resolved by reading the slot back.
    pub ambiguous: u64,
    /// Of those, how many turned out to be committed.
    pub ambiguous_committed: u64,
}

/// A commit log under one folder, with this process's folded view of it.
pub(crate) struct CommitLog<S: Fold> {
    io: Io,
    log_dir: Path,
    snapshot_dir: Path,
    folded: tokio::sync::Mutex<Folded<S>>,
    stats: std::sync::Mutex<LogStats>,
}

impl<S: Fold> std::fmt::Debug for CommitLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitLog")
            .field("dir", &self.log_dir)
            .finish_non_exhaustive()
    }
}

fn seq_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

impl<S: Fold> CommitLog<S> {
    /// A log under `dir` (`dir/log/…`, `dir/snapshots/…`). No I/O.
    pub(crate) fn new(io: Io, dir: &Path) -> Self {
        Self {
            io,
            log_dir: dir.clone().join("log"),
            snapshot_dir: dir.clone().join("snapshots"),
            folded: tokio::sync::Mutex::new(Folded::fresh()),
            stats: std::sync::Mutex::new(LogStats::default()),
        }
    }

    fn key(&self, seq: u64) -> Path {
        self.log_dir.clone().join(seq_name(seq).as_str())
    }

    /// The error for a missing slot `seq` below the present slot `present`.
    fn hole(&self, seq: u64, present: u64) -> RegistryError {
        RegistryError::Corrupt {
            path: self.key(seq).to_string(),
            reason: format!(
                "this log entry is missing while entry {present} after it is present: the \
                 log has a hole (restore the entry; reads and writes of this log are refused \
                 until then)"
            ),
        }
    }

    /// The sequence numbers of the entries a listing shows, sorted.
    async fn listed_seqs(&self) -> Result<Vec<u64>> {
        let keys = self.io.list_keys(&self.log_dir).await?;
        let mut seqs: Vec<u64> = keys
            .iter()
            .filter_map(|k| k.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The error for slot `seq`, folded by this handle (read, or in a snapshot written after
    /// it was committed), now missing with nothing after it.
    fn vanished(&self, seq: u64) -> RegistryError {
        RegistryError::Corrupt {
            path: self.key(seq).to_string(),
            reason: "this log entry was committed (this handle's state includes it) and is \
                     now missing, with no entry after it: the log lost its end (restore it; \
                     the write is refused, and this handle reads the log afresh)"
                .to_owned(),
        }
    }

    /// Checks, right before claiming slot `n + 1`, that the log still ends at `n` as this
    /// handle folded it: one listing of the keys after slot `n - 1` (server-side on S3 and
    /// Azure). A slot missing below a listed one, confirmed by reading it (it may have been
    /// created since the listing), is a hole; `n` gone with nothing after it is a lost end,
    /// and the cached state is dropped (no reader can rebuild it). Slots listed past `n`
    /// are left to the claim: another writer's entries make it lose the slot and decide again.
    async fn check_end(&self, folded: &mut Folded<S>) -> Result<()> {
        let n = folded.seq;
        let offset = (n >= 2).then(|| self.key(n - 1));
        let keys = self
            .io
            .list_keys_after(&self.log_dir, offset.as_ref())
            .await?;
        let base = n.max(1);
        let listed: std::collections::BTreeSet<u64> = keys
            .iter()
            .filter_map(|k| k.filename()?.strip_suffix(".json")?.parse().ok())
            .filter(|&seq| seq >= base)
            .collect();
        let missing = |seq: u64| async move {
            Ok::<_, RegistryError>(
                self.io
                    .get_opt(&self.key(seq), ENTRY, ENTRY_LIMIT)
                    .await?
                    .is_none(),
            )
        };
        match listed.last() {
            Some(&last) => {
                for seq in base..last {
                    if !listed.contains(&seq) && missing(seq).await? {
                        folded.listed_at = None;
                        return Err(self.hole(seq, last));
                    }
                }
            }
            None if n >= 1 && missing(n).await? => {
                let err = self.vanished(n);
                *folded = Folded::fresh();
                return Err(err);
            }
            None => {}
        }
        Ok(())
    }

    /// Checks a listing for holes: a number missing below the largest listed one, confirmed
    /// by reading it (a listing taken while entries are created may miss some).
    async fn check_listing(&self, seqs: &[u64]) -> Result<()> {
        let Some(&last) = seqs.last() else {
            return Ok(());
        };
        let mut expected = 1;
        for &seq in seqs {
            while expected < seq {
                if self
                    .io
                    .get_opt(&self.key(expected), ENTRY, ENTRY_LIMIT)
                    .await?
                    .is_none()
                {
                    return Err(self.hole(expected, last));
                }
                expected += 1;
            }
            expected = seq + 1;
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> LogStats {
        *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, f: impl FnOnce(&mut LogStats)) {
        f(&mut self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Reads the entry at `seq`, if present.
    async fn read_entry(&self, seq: u64) -> Result<Option<Entry<S::Op>>> {
        let key = self.key(seq);
        let Some(bytes) = self.io.get_opt(&key, ENTRY, ENTRY_LIMIT).await? else {
            return Ok(None);
        };
        records::check_format(&bytes, key.as_ref())?;
        let entry: Entry<S::Op> =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt {
                path: key.to_string(),
                reason: format!("not a log entry: {e}"),
            })?;
        if entry.seq != seq {
            return Err(RegistryError::Corrupt {
                path: key.to_string(),
                reason: format!("holds sequence number {}", entry.seq),
            });
        }
        Ok(Some(entry))
    }

    /// Starts from the newest readable snapshot (first use only), then folds every entry
    /// after the cached position.
    /// A slot found missing below a present one is an error naming it (module docs). The
    /// state folded so far is a true prefix of the log, so it is kept; a first load that
    /// fails starts over next time (and lists again). `probe`: read the slot after the first
    /// absent one (reads; a write lists instead, see [`CommitLog::check_end`]).
    async fn catch_up(&self, folded: &mut Folded<S>, probe: bool) -> Result<()> {
        let first = !folded.loaded;
        let result = self.fold_forward(folded, probe).await;
        if result.is_err() {
            // Damage found stays found: the next catch-up lists the log again.
            folded.listed_at = None;
        }
        if first && result.is_err() {
            *folded = Folded::fresh();
        }
        result
    }

    async fn fold_forward(&self, folded: &mut Folded<S>, probe: bool) -> Result<()> {
        let listed = if folded.loaded {
            if folded.listed_at.is_some_and(|t| t.elapsed() < RELIST) {
                None
            } else {
                let seqs = self.listed_seqs().await?;
                folded.listed_at = Some(std::time::Instant::now());
                Some(seqs)
            }
        } else {
            folded.listed_at = Some(std::time::Instant::now());
            // Listed before anything is read, so every listed entry is older than the reads
            // below: an entry listed past the point where reading stops is past a hole.
            let seqs = self.listed_seqs().await?;
            self.check_listing(&seqs).await?;
            self.load_snapshot(folded).await?;
            folded.loaded = true;
            Some(seqs)
        };
        loop {
            while let Some(entry) = self.read_entry(folded.seq + 1).await? {
                folded.state.apply(&entry);
                folded.seq = entry.seq;
            }
            let next = folded.seq + 1;
            let beyond = match &listed {
                Some(seqs) => seqs.last().copied().filter(|&last| last > next),
                None if !probe => None,
                None => self
                    .io
                    .get_opt(&self.key(next + 1), ENTRY, ENTRY_LIMIT)
                    .await?
                    .map(|_| next + 1),
            };
            let Some(present) = beyond else {
                return Ok(());
            };
            // `next` may have been written between the two reads (then `next + 1` too):
            // a hole only if it is still missing now that a later entry is present.
            if self
                .io
                .get_opt(&self.key(next), ENTRY, ENTRY_LIMIT)
                .await?
                .is_none()
            {
                return Err(self.hole(next, present));
            }
        }
    }

    async fn load_snapshot(&self, folded: &mut Folded<S>) -> Result<()> {
        let keys = self.io.list_keys(&self.snapshot_dir).await?;
        for key in keys.iter().rev() {
            // A snapshot is an optimisation: one that cannot be used is skipped.
            let bytes = match self.io.get_opt(key, "a snapshot", SNAPSHOT_LIMIT).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(e @ RegistryError::TooLarge { .. }) => {
                    tracing::warn!(key = %key, error = %e, "skipping an oversized snapshot");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Err(e) = records::check_format(&bytes, key.as_ref()) {
                tracing::warn!(key = %key, error = %e, "skipping a snapshot of a newer format");
                continue;
            }
            match serde_json::from_slice::<Snapshot<S>>(&bytes) {
                Ok(snapshot) => {
                    folded.seq = snapshot.seq;
                    folded.state = snapshot.state;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "skipping an unreadable snapshot");
                }
            }
        }
        Ok(())
    }

    /// Runs `f` on the latest state (after catching up) and its sequence number.
    pub(crate) async fn read<R>(&self, f: impl FnOnce(u64, &S) -> R) -> Result<R> {
        let mut folded = self.folded.lock().await;
        self.catch_up(&mut folded, true).await?;
        Ok(f(folded.seq, &folded.state))
    }

    /// Runs `f` on the cached state without reading what is new (the first use still
    /// loads everything).
    pub(crate) async fn peek<R>(&self, f: impl FnOnce(u64, &S) -> R) -> Result<R> {
        let mut folded = self.folded.lock().await;
        if !folded.loaded {
            self.catch_up(&mut folded, true).await?;
        }
        Ok(f(folded.seq, &folded.state))
    }

    /// Every entry from `from` on, read from the store (for audits and checks); a hole
    /// anywhere in the log is an error naming it, as for [`CommitLog::read`].
    pub(crate) async fn entries(&self, from: u64) -> Result<Vec<Entry<S::Op>>> {
        // Listed first: every listed entry is older than the reads below.
        let seqs = self.listed_seqs().await?;
        self.check_listing(&seqs).await?;
        let mut out = Vec::new();
        let mut seq = from.max(1);
        while let Some(entry) = self.read_entry(seq).await? {
            out.push(entry);
            seq += 1;
        }
        if let Some(&last) = seqs.last().filter(|&&last| last > seq) {
            return Err(self.hole(seq, last));
        }
        Ok(out)
    }

    /// Appends one entry decided by `decide` against the latest state; see the module docs.
    /// `decide` may run several times (once per lost race) and returns `Err` to write nothing.
    pub(crate) async fn append<F>(&self, actor: &str, mut decide: F) -> Result<(Entry<S::Op>, S)>
    where
        F: FnMut(&S) -> Result<S::Op> + Send,
    {
        let txn_id = uuid::Uuid::now_v7().simple().to_string();
        let mut folded = self.folded.lock().await;
        let mut unknown = 0u32;
        'decide: loop {
            self.catch_up(&mut folded, false).await?;
            let op = decide(&folded.state)?;
            let entry = Entry {
                format: records::FORMAT,
                seq: folded.seq + 1,
                txn_id: txn_id.clone(),
                actor: actor.to_owned(),
                time: Timestamp::now(),
                op,
            };
            let bytes = Bytes::from(serde_json::to_vec(&entry).map_err(|e| {
                RegistryError::InvalidArgument(format!("cannot encode a log entry: {e}"))
            })?);
            let key = self.key(entry.seq);
            // Never write an entry every reader would refuse.
            if bytes.len() as u64 > ENTRY_LIMIT {
                return Err(RegistryError::TooLarge {
                    path: key.to_string(),
                    what: ENTRY,
                    size: bytes.len() as u64,
                    limit: ENTRY_LIMIT,
                });
            }
            // As late as possible: the listing bounds how old a hole the claim can fill.
            self.check_end(&mut folded).await?;
            loop {
                match self.io.claim(&key, bytes.clone()).await {
                    Claim::Won => break,
                    Claim::Taken => match self.read_entry(entry.seq).await? {
                        Some(theirs) if theirs.txn_id == txn_id => break,
                        Some(_) => {
                            self.count(|s| s.slot_races += 1);
                            continue 'decide;
                        }
                        // Taken but unreadable now: read again after a pause.
                        None => tokio::time::sleep(RETRY.delay(1)).await,
                    },
                    // A full disk refused the write: nothing was written.
                    Claim::Unknown(e) if super::io::is_out_of_space(&e) => {
                        return Err(super::io::storage(&key, e));
                    }
                    Claim::Unknown(e) => {
                        unknown += 1;
                        self.count(|s| s.ambiguous += 1);
                        tracing::debug!(key = %key, error = %e, "unknown outcome; reading the slot back");
                        match self.read_entry_patiently(entry.seq).await? {
                            Some(theirs) if theirs.txn_id == txn_id => {
                                self.count(|s| s.ambiguous_committed += 1);
                                break;
                            }
                            Some(_) => {
                                self.count(|s| s.slot_races += 1);
                                continue 'decide;
                            }
                            // Not applied (as far as the store shows): give up after
                            // MAX_UNKNOWN such rounds, else claim the slot again.
                            None if unknown >= MAX_UNKNOWN => {
                                return Err(super::io::storage(&key, e));
                            }
                            None => tokio::time::sleep(RETRY.delay(unknown)).await,
                        }
                    }
                }
            }
            // Committed at entry.seq.
            folded.state.apply(&entry);
            folded.seq = entry.seq;
            self.count(|s| s.committed += 1);
            if entry.seq % SNAPSHOT_EVERY == 0 {
                self.write_snapshot(&folded).await;
            }
            return Ok((entry, folded.state.clone()));
        }
    }

    /// Reads a slot back after an unknown outcome, retrying read errors longer than usual:
    /// the answer decides whether the write committed.
    async fn read_entry_patiently(&self, seq: u64) -> Result<Option<Entry<S::Op>>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.read_entry(seq).await {
                Ok(found) => return Ok(found),
                Err(e @ (RegistryError::Corrupt { .. } | RegistryError::TooLarge { .. })) => {
                    return Err(e);
                }
                Err(e) if attempt >= 4 => return Err(e),
                Err(_) => tokio::time::sleep(READ_BACK.delay(attempt)).await,
            }
        }
    }

    async fn write_snapshot(&self, folded: &Folded<S>) {
        let snapshot = Snapshot {
            format: records::FORMAT,
            seq: folded.seq,
            state: &folded.state,
        };
        let key = self
            .snapshot_dir
            .clone()
            .join(seq_name(folded.seq).as_str());
        match serde_json::to_vec(&snapshot) {
            Ok(bytes) if bytes.len() as u64 > SNAPSHOT_LIMIT => {
                tracing::warn!(key = %key, size = bytes.len(), "not writing an oversized snapshot");
            }
            Ok(bytes) => {
                if let Err(e) = self.io.put_idempotent(&key, Bytes::from(bytes)).await {
                    tracing::warn!(key = %key, error = %e, "could not write a snapshot");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not encode a snapshot"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mlops_core::ModelName;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;
    use crate::object::catalog::{Catalog, CatalogModel, CatalogOp};

    fn model(name: &str) -> CatalogOp {
        CatalogOp::Create {
            model: CatalogModel {
                id: name.to_owned(),
                name: ModelName::parse(name).unwrap(),
                created: Timestamp::now(),
                creator: "t".into(),
            },
        }
    }

    /// A snapshot in a format newer than this release reads is skipped: the state comes
    /// from the log alone.
    #[tokio::test]
    async fn a_snapshot_of_a_newer_format_is_skipped() {
        let store = Arc::new(InMemory::new());
        let dir = Path::from("registry/catalog");
        let log: CommitLog<Catalog> = CommitLog::new(
            Io {
                store: store.clone(),
            },
            &dir,
        );
        log.append("t", |_| Ok(model("a"))).await.unwrap();
        log.append("t", |_| Ok(model("b"))).await.unwrap();
        let newer = br#"{"format": 2, "seq": 2, "state": {"models": {}}}"#;
        store
            .put(
                &dir.clone().join("snapshots").join(seq_name(2).as_str()),
                PutPayload::from_static(newer),
            )
            .await
            .unwrap();
        let fresh: CommitLog<Catalog> = CommitLog::new(Io { store }, &dir);
        let names = fresh.read(|seq, c| (seq, c.models.len())).await.unwrap();
        assert_eq!(names, (2, 2), "both models, folded from the log");
    }
}
