//! The drift tests by name, with Evidently's default thresholds and decision rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DriftError;
use crate::kind::ColumnKind;

/// A drift test. The names are Evidently's, plus `psi_quantile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    /// Two-sample Kolmogorov–Smirnov (`scipy.stats.ks_2samp`); numerical only. Score: p-value.
    Ks,
    /// Pearson's chi-square on category counts, Evidently's construction. Score: p-value.
    #[serde(rename = "chisquare")]
    ChiSquare,
    /// Population stability index over Evidently's bins. Score: the index.
    Psi,
    /// PSI over reference deciles (the credit-risk convention). Score: the index; numerical only.
    PsiQuantile,
    /// Kullback–Leibler divergence over Evidently's bins. Score: the divergence.
    KlDiv,
    /// Jensen–Shannon distance (natural log) over Evidently's bins. Score: the distance.
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    /// Hellinger distance, Evidently's binning. Score: the distance.
    Hellinger,
    /// Wasserstein distance normed by the reference's standard deviation; numerical only.
    Wasserstein,
    /// Two-proportion z-test on the first category against the rest. Score: p-value.
    Z,
    /// Energy distance (`scipy.stats.energy_distance`); numerical only. Score: the distance.
    Ed,
}

/// How a test's score is turned into a drift verdict at a threshold (Evidently's rules).
///
/// Named `DecisionRule`, not `Decision`, so that it does not read as mlops-registry's
/// promotion `Decision` in code that uses both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionRule {
    /// Drift when the p-value is at most the threshold (Evidently's `ks`).
    PValueAtMost,
    /// Drift when the p-value is below the threshold (`chisquare`, `z`).
    PValueBelow,
    /// Drift when the distance is at least the threshold (`psi`, `wasserstein`, …).
    DistanceAtLeast,
    /// Drift when the distance exceeds the threshold (`ed`).
    DistanceAbove,
}

impl DecisionRule {
    /// Whether `score` means drift at `threshold`. A NaN score never does.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Self::PValueAtMost => score <= threshold,
            Self::PValueBelow => score < threshold,
            Self::DistanceAtLeast => score >= threshold,
            Self::DistanceAbove => score > threshold,
        }
    }

    /// Whether the score is a p-value (small means drift) rather than a distance.
    pub fn is_p_value(self) -> bool {
        matches!(self, Self::PValueAtMost | Self::PValueBelow)
    }
}

impl StatTest {
    /// Every test, in a stable order.
    pub const ALL: [Self; 10] = [
        Self::Ks,
        Self::ChiSquare,
        Self::Psi,
        Self::PsiQuantile,
        Self::KlDiv,
        Self::JensenShannon,
        Self::Hellinger,
        Self::Wasserstein,
        Self::Z,
        Self::Ed,
    ];

    /// The name used in options, JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ks => "ks",
            Self::ChiSquare => "chisquare",
            Self::Psi => "psi",
            Self::PsiQuantile => "psi_quantile",
            Self::KlDiv => "kl_div",
            Self::JensenShannon => "jensenshannon",
            Self::Hellinger => "hellinger",
            Self::Wasserstein => "wasserstein",
            Self::Z => "z",
            Self::Ed => "ed",
        }
    }

    /// Evidently's default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            Self::Ks | Self::ChiSquare | Self::Z => 0.05,
            Self::Psi
            | Self::PsiQuantile
            | Self::KlDiv
            | Self::JensenShannon
            | Self::Hellinger
            | Self::Wasserstein
            | Self::Ed => 0.1,
        }
    }

    /// Evidently's decision rule.
    pub fn decision(self) -> DecisionRule {
        match self {
            Self::Ks => DecisionRule::PValueAtMost,
            Self::ChiSquare | Self::Z => DecisionRule::PValueBelow,
            Self::Ed => DecisionRule::DistanceAbove,
            Self::Psi
            | Self::PsiQuantile
            | Self::KlDiv
            | Self::JensenShannon
            | Self::Hellinger
            | Self::Wasserstein => DecisionRule::DistanceAtLeast,
        }
    }

    /// Whether the test applies to columns of `kind`.
    pub fn applies_to(self, kind: ColumnKind) -> bool {
        match self {
            Self::Ks | Self::PsiQuantile | Self::Wasserstein | Self::Ed => {
                kind == ColumnKind::Numerical
            }
            _ => true,
        }
    }
}

impl fmt::Display for StatTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StatTest {
    type Err = DriftError;
    fn from_str(value: &str) -> Result<Self, DriftError> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == value)
            .ok_or_else(|| DriftError::InvalidOption {
                option: "test",
                value: value.to_owned(),
                reason: "expected one of ks, chisquare, psi, psi_quantile, kl_div, \
                         jensenshannon, hellinger, wasserstein, z, ed"
                    .to_owned(),
            })
    }
}

/// Evidently's default choice of test (`_get_default_stattest`): `n_reference` is the number
/// of valid reference values and `n_distinct` the number of distinct valid values over both
/// sides together.
pub fn default_test(kind: ColumnKind, n_reference: u64, n_distinct: u64) -> StatTest {
    match (kind, n_reference <= 1000) {
        (ColumnKind::Numerical, true) => match n_distinct {
            0..=2 => StatTest::Z,
            3..=5 => StatTest::ChiSquare,
            _ => StatTest::Ks,
        },
        (ColumnKind::Categorical, true) => {
            if n_distinct <= 2 {
                StatTest::Z
            } else {
                StatTest::ChiSquare
            }
        }
        (ColumnKind::Numerical, false) => {
            if n_distinct <= 5 {
                StatTest::JensenShannon
            } else {
                StatTest::Wasserstein
            }
        }
        (ColumnKind::Categorical, false) => StatTest::JensenShannon,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for test in StatTest::ALL {
            assert_eq!(test.name().parse::<StatTest>().unwrap(), test);
            let json = serde_json::to_string(&test).unwrap();
            assert_eq!(json, format!("\"{}\"", test.name()));
        }
        assert!("KS".parse::<StatTest>().is_err());
    }

    #[test]
    fn default_selection_follows_evidently() {
        use ColumnKind::*;
        assert_eq!(default_test(Numerical, 1000, 2), StatTest::Z);
        assert_eq!(default_test(Numerical, 1000, 3), StatTest::ChiSquare);
        assert_eq!(default_test(Numerical, 1000, 5), StatTest::ChiSquare);
        assert_eq!(default_test(Numerical, 1000, 6), StatTest::Ks);
        assert_eq!(default_test(Numerical, 1001, 5), StatTest::JensenShannon);
        assert_eq!(default_test(Numerical, 1001, 6), StatTest::Wasserstein);
        assert_eq!(default_test(Categorical, 10, 2), StatTest::Z);
        assert_eq!(default_test(Categorical, 10, 3), StatTest::ChiSquare);
        assert_eq!(default_test(Categorical, 5000, 2), StatTest::JensenShannon);
    }

    #[test]
    fn decisions_follow_evidently() {
        assert!(DecisionRule::PValueAtMost.drifted(0.05, 0.05));
        assert!(!DecisionRule::PValueBelow.drifted(0.05, 0.05));
        assert!(DecisionRule::DistanceAtLeast.drifted(0.1, 0.1));
        assert!(!DecisionRule::DistanceAbove.drifted(0.1, 0.1));
        assert!(!DecisionRule::PValueAtMost.drifted(f64::NAN, 0.05));
        assert!(!DecisionRule::DistanceAtLeast.drifted(f64::NAN, 0.1));
    }
}
