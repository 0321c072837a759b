//! [`CategoryCounts`]: how often each category occurs, mergeable, deterministic in every
//! output.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize, Serializer};

/// How often each category occurs in a column, keyed by the canonical text of the value.
///
/// Mergeable across batches with [`merge`](Self::merge). Lookups are hashed, but nothing
/// here exposes the hash order: [`sorted`](Self::sorted) and
/// [`most_common`](Self::most_common) are deterministic, and the serde form is a JSON object
/// with keys in byte order. Categories with a count of zero are never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "HashMap<String, u64>")]
pub struct CategoryCounts {
    /// Count per category, all non-zero. aHash, not SipHash: counting hashes every row, and
    /// the keys are data, not attacker-chosen table sizes (aHash is still randomly keyed).
    counts: HashMap<String, u64, ahash::RandomState>,
    /// The sum of `counts`.
    total: u64,
}

impl CategoryCounts {
    /// No categories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` occurrences of `category`. Adding zero changes nothing.
    pub fn add(&mut self, category: &str, n: u64) {
        if n == 0 {
            return;
        }
        // `get_mut` first: no key allocation for a category already seen.
        match self.counts.get_mut(category) {
            Some(count) => *count = count.saturating_add(n),
            None => {
                self.counts.insert(category.to_owned(), n);
            }
        }
        self.total = self.total.saturating_add(n);
    }

    /// The count of `category`; zero when it never occurred.
    pub fn get(&self, category: &str) -> u64 {
        self.counts.get(category).copied().unwrap_or(0)
    }

    /// The number of distinct categories.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no category has occurred.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The number of (non-null) values counted: the sum of all counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds the counts of another part of the same column.
    pub fn merge(&mut self, other: &CategoryCounts) {
        for (category, &n) in &other.counts {
            self.add(category, n);
        }
    }

    /// The categories and their counts, in byte order of the category text.
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.counts.iter().map(|(k, &n)| (k.as_str(), n)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// The categories from most to least frequent; ties in byte order of the category text.
    pub fn most_common(&self) -> Vec<(&str, u64)> {
        let mut all = self.sorted();
        all.sort_by_key(|&(_, n)| std::cmp::Reverse(n)); // stable: ties keep byte order
        all
    }

    /// Adds one occurrence of `category`, allocating only when it is new.
    #[inline]
    pub(super) fn add_one(&mut self, category: &str) {
        match self.counts.get_mut(category) {
            Some(count) => *count += 1,
            None => {
                self.counts.insert(category.to_owned(), 1);
            }
        }
        self.total += 1;
    }
}

impl From<HashMap<String, u64>> for CategoryCounts {
    fn from(counts: HashMap<String, u64>) -> Self {
        let counts: HashMap<String, u64, ahash::RandomState> =
            counts.into_iter().filter(|(_, n)| *n > 0).collect();
        let total = counts.values().fold(0u64, |t, &n| t.saturating_add(n));
        Self { counts, total }
    }
}

impl Serialize for CategoryCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<&str, u64> =
            self.counts.iter().map(|(k, &n)| (k.as_str(), n)).collect();
        sorted.serialize(serializer)
    }
}
