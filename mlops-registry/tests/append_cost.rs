//! What a write costs in requests (issue 17, finding 5): every claim of a log slot is
//! preceded by one listing of the keys after the writer's cached end (its hole check), and
//! that listing replaces the read one slot further that a catch-up makes, so a promotion
//! costs as many requests as before, one of them a LIST. Counted by a store that wraps the
//! in-memory one; the figures are printed for the closing note.

// Tests report their figures on stderr.
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use mlops_core::testing::CountingStore;
use mlops_core::{AliasName, ModelName, ModelVersion, StoreRoot};
use mlops_registry::{
    AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt, promote,
};
use object_store::ObjectStore;

const PROMOTIONS: u64 = 40;

#[tokio::test]
async fn every_claim_is_checked_by_one_listing_at_no_extra_request() {
    let store = Arc::new(CountingStore::in_memory());
    let root = StoreRoot::from_parts(Arc::clone(&store) as Arc<dyn ObjectStore>, None);
    let registry = ObjectRegistry::new(root);
    let name = ModelName::parse("cost").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..2 {
        registry
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    let versions = [ModelVersion::new(1).unwrap(), ModelVersion::new(2).unwrap()];
    registry
        .set_alias(&name, &champion, versions[0], &AliasChange::default())
        .await
        .unwrap();

    // Gated promotions (no gates: the request pattern of the protocol itself), each
    // expecting the current holder, as `mlops models promote` does.
    let before = store.counts();
    let stats_before = registry.log_stats(&name).await.unwrap();
    let start = std::time::Instant::now();
    for i in 0..PROMOTIONS {
        let target = versions[(i as usize + 1) % 2];
        let current = versions[i as usize % 2];
        let promotion = promote(
            &registry,
            &name,
            target,
            &champion,
            Expect::exactly(Some(current)),
            &[],
        )
        .await
        .unwrap();
        assert!(promotion.promoted(), "{promotion:?}");
    }
    let elapsed = start.elapsed();
    let spent = store.counts() - before;
    let appends = registry.log_stats(&name).await.unwrap().committed - stats_before.committed;
    eprintln!(
        "per promotion ({PROMOTIONS} promotions, {appends} log entries, in-memory store, \
         {elapsed:?}): {:.2} GET, {:.2} PUT, {:.2} LIST after an offset, {:.2} full LIST",
        spent.gets as f64 / PROMOTIONS as f64,
        spent.puts as f64 / PROMOTIONS as f64,
        spent.lists_after as f64 / PROMOTIONS as f64,
        spent.lists as f64 / PROMOTIONS as f64,
    );
    assert_eq!(appends, PROMOTIONS, "one log entry per promotion");
    // Every claim was preceded by its listing, and by nothing else new: one LIST after the
    // cached end per entry, one PUT (the claim) per entry.
    assert_eq!(spent.lists_after, appends, "{spent:?}");
    assert_eq!(spent.puts, appends, "{spent:?}");
    // Reads per promotion, as before the listing was added, minus the probe it replaces:
    // the candidate's and the holder's catch-ups (next slot and the one after it) and the
    // claim's catch-up (the next slot); full listings only from the two-second relist.
    let reads_per_promotion = 2 * 2 + 1;
    assert!(
        spent.gets <= PROMOTIONS * reads_per_promotion + 4,
        "{spent:?}"
    );
}

/// A CLI command is a fresh handle: its first read lists the log once (to find holes
/// anywhere), and its write lists again after its cached end, just before the claim.
#[tokio::test]
async fn a_fresh_handle_promotes_with_one_listing_more() {
    let store = Arc::new(CountingStore::in_memory());
    let root = StoreRoot::from_parts(Arc::clone(&store) as Arc<dyn ObjectStore>, None);
    let setup = ObjectRegistry::new(root.clone());
    let name = ModelName::parse("cli").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    setup.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..2 {
        setup
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    let versions = [ModelVersion::new(1).unwrap(), ModelVersion::new(2).unwrap()];
    setup
        .set_alias(&name, &champion, versions[0], &AliasChange::default())
        .await
        .unwrap();
    const COMMANDS: u64 = 10;
    let before = store.counts();
    for i in 0..COMMANDS {
        // `mlops models promote`: a new handle per command.
        let cli = ObjectRegistry::new(root.clone());
        let target = versions[(i as usize + 1) % 2];
        let current = versions[i as usize % 2];
        let promotion = promote(
            &cli,
            &name,
            target,
            &champion,
            Expect::exactly(Some(current)),
            &[],
        )
        .await
        .unwrap();
        assert!(promotion.promoted(), "{promotion:?}");
    }
    let spent = store.counts() - before;
    eprintln!(
        "per promotion by a fresh handle ({COMMANDS} commands, in-memory store): {:.2} GET, \
         {:.2} PUT, {:.2} LIST after an offset, {:.2} full LIST",
        spent.gets as f64 / COMMANDS as f64,
        spent.puts as f64 / COMMANDS as f64,
        spent.lists_after as f64 / COMMANDS as f64,
        spent.lists as f64 / COMMANDS as f64,
    );
    assert_eq!(spent.puts, COMMANDS, "{spent:?}");
    assert_eq!(
        spent.lists_after, COMMANDS,
        "one check per claim: {spent:?}"
    );
}
