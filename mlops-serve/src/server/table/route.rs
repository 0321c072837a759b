//! Rollout routes of a name's unversioned requests: a canary share that goes to another
//! version (sticky by `Mlops-Route-Key`, random without it) and a shadow share whose copies
//! go to another version, answered by nobody.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shares are kept in basis points (1/10,000) so a percentage with two decimals is exact.
pub(crate) const WHOLE: u32 = 10_000;

/// A share of a name's unversioned requests that goes to `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) version: String,
    /// Out of [`WHOLE`].
    pub(crate) share: u32,
}

/// The rollout routes of one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Routes {
    pub(crate) canary: Option<Split>,
    pub(crate) shadow: Option<Split>,
}

impl Routes {
    pub(crate) fn is_empty(&self) -> bool {
        self.canary.is_none() && self.shadow.is_none()
    }

    /// Whether `version` is routed to.
    pub(crate) fn uses(&self, version: &str) -> bool {
        [&self.canary, &self.shadow]
            .into_iter()
            .flatten()
            .any(|split| split.version == version)
    }
}

/// Routes by name.
pub(crate) type RouteMap = HashMap<String, Routes>;

/// A percentage (0..=100) as basis points.
pub(crate) fn share(percent: f64) -> Option<u32> {
    if !(0.0..=100.0).contains(&percent) || percent.is_nan() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((percent * 100.0).round() as u32)
}

/// FNV-1a, 64 bits: a stable hash of the route key, the same in every replica and release
/// (std's hasher is randomly keyed per process, which would break stickiness across
/// replicas).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// splitmix64 over a counter: uniform draws for requests without a key, no lock, no
/// dependency (quality well beyond a percentage split's needs).
fn draw() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let mut z = STATE
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether a request falls in `share`: by its route key when it has one (the same key always
/// decides the same way; `salt` keeps the canary and shadow decisions independent), else at
/// random.
pub(crate) fn falls_in(share: u32, key: Option<&[u8]>, salt: u8) -> bool {
    if share == 0 {
        return false;
    }
    if share >= WHOLE {
        return true;
    }
    let value = match key {
        Some(key) => fnv1a(key) ^ fnv1a(&[salt]),
        None => draw(),
    };
    value % u64::from(WHOLE) < u64::from(share)
}
