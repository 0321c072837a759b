//! The two Apache DataSketches a sketched numerical column keeps, with their serde form
//! (the sketches' own compact binary images, hex-encoded in JSON).
//!
//! * [`QuantileSketch`]: a KLL sketch of the valid values (`KllSketch<KllFloat<f64>>`). Its
//!   a-priori normalized rank error `ε` (single-sided, 99% confidence) bounds the error of
//!   every rank (CDF) it answers: `|F̂(x) − F(x)| ≤ ε`.
//! * [`DistinctSketch`]: a HyperLogLog sketch (`lg_k = 12`, relative standard error about
//!   1.6%) of the distinct values, kept only once a column has more distinct values than the
//!   exact value counts may hold. Only Evidently's numerical Hellinger binning needs it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use datasketches::common::SearchCriteria;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::kll::{KllFloat, KllSketch};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::weighted::WeightedSample;

/// `lg_k` of the distinct-value sketches: 4096 registers.
const HLL_LG_K: u8 = 12;

/// The bits a value is hashed and counted by: `-0.0` and `0.0` are one value.
pub(crate) fn canonical_bits(x: f64) -> u64 {
    (x + 0.0).to_bits()
}

/// Runs a deserializer of foreign bytes, turning a panic inside it into an error (the input
/// is untrusted; no library should panic on it, this makes sure).
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(format!("{what} is malformed")))
}

/// A KLL quantile sketch of `f64` values.
#[derive(Clone, Debug)]
pub(crate) struct QuantileSketch(KllSketch<KllFloat<f64>>);

impl QuantileSketch {
    /// An empty sketch with parameter `k` (8 to 65535).
    pub(crate) fn new(k: u16) -> Result<Self, String> {
        KllSketch::new(k).map(Self).map_err(|e| e.to_string())
    }

    /// Adds values (finite ones; anything else is skipped).
    pub(crate) fn update_all(&mut self, values: &[f64]) {
        for &x in values {
            if let Ok(v) = KllFloat::<f64>::new(x) {
                self.0.update(v);
            }
        }
    }

    /// Adds `count` copies of `x`.
    pub(crate) fn update_repeated(&mut self, x: f64, count: u64) {
        if let Ok(v) = KllFloat::<f64>::new(x) {
            for _ in 0..count {
                self.0.update(v);
            }
        }
    }

    /// Adds everything `other` holds.
    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), String> {
        self.0.merge(&other.0).map_err(|e| e.to_string())
    }

    /// The number of values summarised.
    pub(crate) fn n(&self) -> u64 {
        self.0.n()
    }

    /// The parameter `k`.
    pub(crate) fn k(&self) -> u16 {
        self.0.k()
    }

    /// The number of values retained.
    pub(crate) fn retained(&self) -> usize {
        self.0.num_retained()
    }

    /// The a-priori normalized rank error (single-sided, 99% confidence).
    pub(crate) fn rank_error(&self) -> f64 {
        self.0.normalized_rank_error()
    }

    /// The a-priori normalized error of a probability mass between two points.
    pub(crate) fn pmf_error(&self) -> f64 {
        self.0.normalized_pmf_error()
    }

    /// The exact minimum and maximum, when not empty.
    pub(crate) fn min_max(&self) -> Option<(f64, f64)> {
        Some((**self.0.min_item()?, **self.0.max_item()?))
    }

    /// The sketch's step CDF as a weighted sample: its distinct retained values with their
    /// cumulative weights, from the sorted view's own ranks (so `count_le(x) / n` is exactly
    /// the sketch's inclusive rank of `x`).
    pub(crate) fn weighted(&self) -> WeightedSample {
        let view = self.0.sorted_view();
        let total = view.total_weight();
        let mut pairs = Vec::with_capacity(view.len());
        let mut below = 0_u64;
        while below < total {
            // The inclusive quantile at rank (below + 0.5) / total is the first retained value
            // whose cumulative weight exceeds `below`: the next distinct value.
            let rank = (below as f64 + 0.5) / total as f64;
            let Ok(Some(item)) = view.quantile(rank, SearchCriteria::Inclusive) else {
                break;
            };
            let Some(upto) = view.rank(&item, SearchCriteria::Inclusive) else {
                break;
            };
            let upto = (upto * total as f64).round() as u64;
            if upto <= below {
                break; // Cannot happen; never loop forever.
            }
            pairs.push((item.into_inner(), upto - below));
            below = upto;
        }
        WeightedSample::from_counts(&pairs)
    }

    /// The sketch's compact binary image (Apache DataSketches KLL format, `f64` items).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize()
    }

    /// A sketch from its binary image.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        guarded("the KLL sketch", || {
            KllSketch::deserialize(bytes)
                .map(Self)
                .map_err(|e| format!("the KLL sketch is malformed: {e}"))
        })
    }
}

impl PartialEq for QuantileSketch {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Serialize for QuantileSketch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex_encode(&self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for QuantileSketch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex_decode(&text).map_err(D::Error::custom)?;
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

/// A HyperLogLog sketch of distinct values.
#[derive(Clone, Debug)]
pub(crate) struct DistinctSketch(HllSketch);

impl DistinctSketch {
    /// An empty sketch.
    pub(crate) fn new() -> Result<Self, String> {
        HllSketch::new(HLL_LG_K, HllType::Hll8)
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// Counts one value.
    pub(crate) fn update(&mut self, x: f64) {
        self.0.update(canonical_bits(x));
    }

    /// Counts one value by its canonical bits.
    pub(crate) fn update_bits(&mut self, bits: u64) {
        self.0.update(bits);
    }

    /// Adds everything `other` counted.
    pub(crate) fn merge(&mut self, other: &Self) {
        if let Ok(mut union) = HllUnion::new(HLL_LG_K) {
            union.update(&self.0);
            union.update(&other.0);
            self.0 = union.to_sketch(HllType::Hll8);
        }
    }

    /// The estimated number of distinct values.
    pub(crate) fn estimate(&self) -> f64 {
        self.0.estimate()
    }

    /// The estimated number of distinct values of this sketch and `more` together.
    pub(crate) fn estimate_with(&self, more: impl IntoIterator<Item = f64>) -> f64 {
        let Ok(mut union) = HllUnion::new(HLL_LG_K) else {
            return self.estimate();
        };
        union.update(&self.0);
        for x in more {
            union.update_value(canonical_bits(x));
        }
        union.estimate()
    }

    /// The sketch's compact binary image (Apache DataSketches HLL format).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize()
    }

    /// A sketch from its binary image.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        guarded("the HLL sketch", || {
            HllSketch::deserialize(bytes)
                .map(Self)
                .map_err(|e| format!("the HLL sketch is malformed: {e}"))
        })
    }
}

impl PartialEq for DistinctSketch {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Serialize for DistinctSketch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex_encode(&self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for DistinctSketch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex_decode(&text).map_err(D::Error::custom)?;
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

/// Lower-case hexadecimal.
fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// The bytes of a hexadecimal string (either case).
fn hex_decode(text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("{:?} is not a hexadecimal digit", char::from(c))),
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err("a hexadecimal sketch image has an odd number of digits".to_owned());
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Ok((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_decode(&hex_encode(&bytes)).unwrap(), bytes);
        assert!(hex_decode("abc").is_err());
        assert!(hex_decode("zz").is_err());
        assert_eq!(hex_decode("0A").unwrap(), [10]);
    }

    #[test]
    fn weighted_view_matches_the_sketch_ranks() {
        let mut sketch = QuantileSketch::new(64).unwrap();
        let values: Vec<f64> = (0..100_000).map(|i| f64::from(i % 977) * 0.5).collect();
        sketch.update_all(&values);
        let w = sketch.weighted();
        assert_eq!(w.n(), 100_000);
        for x in [-1.0, 0.0, 3.5, 100.0, 250.25, 488.0, 1e9] {
            let rank = sketch
                .0
                .rank(&KllFloat::<f64>::new(x).unwrap(), SearchCriteria::Inclusive)
                .unwrap();
            assert_eq!(w.count_le(x), (rank * 100_000.0).round() as u64, "x = {x}");
        }
        let back = QuantileSketch::from_bytes(&sketch.to_bytes()).unwrap();
        assert_eq!(back, sketch);
        assert!(QuantileSketch::from_bytes(&sketch.to_bytes()[..40]).is_err());
    }

    #[test]
    fn distinct_sketches_merge_and_round_trip() {
        let mut a = DistinctSketch::new().unwrap();
        let mut b = DistinctSketch::new().unwrap();
        for i in 0..5000 {
            a.update(f64::from(i));
            b.update(f64::from(i + 2500));
        }
        a.merge(&b);
        assert!((a.estimate() - 7500.0).abs() < 7500.0 * 0.05);
        assert!((a.estimate_with([-0.0, 0.0, 1e6]) - 7501.0).abs() < 7501.0 * 0.05);
        let back = DistinctSketch::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back, a);
        assert!(DistinctSketch::from_bytes(&[1, 2, 3]).is_err());
    }
}
