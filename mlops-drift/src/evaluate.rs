//! Runs one test on one column: picks the statistic, applies the threshold and the
//! decision rule, and fills a [`TestResult`].

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::column::{CategorySample, NumericSample};
use crate::error::DriftError;
use crate::options::{ChiSquareMode, DriftOptions};
use crate::report::TestResult;
use crate::stat_test::StatTest;
use crate::stats::binning::{Bins, binned_percents, category_percents};
use crate::stats::chisquare::{ChiSquare, chi2_contingency_2xk, chisquare_evidently};
use crate::stats::divergence::{hellinger_categorical, hellinger_numerical, jensenshannon, kl_div};
use crate::stats::energy::energy_distance;
use crate::stats::ks::{KsMethod, ks_2samp};
use crate::stats::psi::{psi, psi_quantile, quantile_counts_sorted, quantile_edges};
use crate::stats::wasserstein::wasserstein_normed;
use crate::stats::z::{first_category_counts, first_value_counts, z_test};

/// What a statistic produced before the verdict.
struct Outcome {
    statistic: f64,
    p_value: Option<f64>,
    method: Option<String>,
    details: Map<String, Value>,
}

impl Outcome {
    fn distance(statistic: f64) -> Self {
        Self {
            statistic,
            p_value: None,
            method: None,
            details: Map::new(),
        }
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_owned(), value);
        self
    }
}

/// Both sides of a numerical column, sorted.
pub(crate) struct NumericPair<'a> {
    pub(crate) reference: &'a NumericSample,
    pub(crate) current: &'a NumericSample,
    /// Both sides have an integer Arrow type.
    pub(crate) integer: bool,
}

/// Both sides of a categorical column, aligned over the union of categories.
pub(crate) struct CategoryPair {
    /// The categories, in ascending order (integers numerically).
    pub(crate) keys: Vec<CategoryKey>,
    pub(crate) reference: Vec<u64>,
    pub(crate) current: Vec<u64>,
}

/// A category, ordered as Python orders the values: integers as numbers, text by code point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CategoryKey {
    pub(crate) text: String,
    integer: Option<i128>,
}

impl Ord for CategoryKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.integer, other.integer) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.text.cmp(&other.text),
        }
    }
}

impl PartialOrd for CategoryKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl CategoryPair {
    pub(crate) fn new(reference: &CategorySample, current: &CategorySample) -> Self {
        let mut keys: Vec<CategoryKey> = reference
            .categories()
            .sorted()
            .into_iter()
            .chain(current.categories().sorted())
            .map(|(text, _)| CategoryKey {
                text: text.to_owned(),
                integer: text.parse().ok(),
            })
            .collect();
        keys.sort();
        keys.dedup();
        let count = |sample: &CategorySample| {
            keys.iter()
                .map(|k| sample.categories().get(&k.text))
                .collect::<Vec<_>>()
        };
        let (reference, current) = (count(reference), count(current));
        Self {
            keys,
            reference,
            current,
        }
    }
}

/// Runs `test` on a numerical column.
pub(crate) fn numerical(
    column: &str,
    test: StatTest,
    pair: &NumericPair<'_>,
    options: &DriftOptions,
) -> Result<TestResult, DriftError> {
    let (r, c) = (pair.reference.values(), pair.current.values());
    let failed = |reason: String| DriftError::Statistic {
        test: test.name(),
        column: column.to_owned(),
        reason,
    };
    let stats_err = |e: crate::stats::binning::StatsError| failed(e.to_string());
    let outcome = match test {
        StatTest::Ks => {
            let ks = ks_2samp(r, c, options.ks_method()).map_err(|e| failed(e.to_string()))?;
            let mut outcome = Outcome {
                statistic: ks.statistic,
                p_value: Some(ks.p_value),
                method: Some(
                    match ks.method {
                        KsMethod::Exact => "exact",
                        KsMethod::Asymp | KsMethod::Auto => "asymp",
                    }
                    .to_owned(),
                ),
                details: Map::new(),
            }
            .with("statistic_location", json!(ks.statistic_location))
            .with("statistic_sign", json!(ks.statistic_sign));
            if let Some(fallback) = ks.exact_fallback {
                outcome = outcome.with("exact_fallback", json!(fallback.to_string()));
            }
            outcome
        }
        StatTest::Wasserstein => Outcome::distance(wasserstein_normed(r, c).map_err(stats_err)?),
        StatTest::Ed => Outcome::distance(energy_distance(r, c).map_err(stats_err)?),
        StatTest::Psi | StatTest::KlDiv | StatTest::JensenShannon => {
            // Evidently fills empty bins for psi and kl_div, not for jensenshannon.
            let fill = test != StatTest::JensenShannon;
            let shares = binned_percents(r, c, pair.integer, fill).map_err(stats_err)?;
            let bins = shares.reference.len();
            let value = match test {
                StatTest::Psi => psi(&shares.reference, &shares.current),
                StatTest::KlDiv => kl_div(&shares.reference, &shares.current),
                _ => jensenshannon(&shares.reference, &shares.current),
            }
            .map_err(stats_err)?;
            Outcome::distance(value).with("bins", json!(bins))
        }
        StatTest::Hellinger => {
            Outcome::distance(hellinger_numerical(r, c, pair.integer).map_err(stats_err)?)
        }
        StatTest::PsiQuantile => {
            let edges = quantile_edges(r).map_err(stats_err)?;
            let value = psi_quantile(
                &quantile_counts_sorted(&edges, r),
                &quantile_counts_sorted(&edges, c),
            );
            Outcome::distance(value).with("edges", json!(edges))
        }
        StatTest::ChiSquare => {
            let bins = Bins::distinct_union(r, c);
            let (rc, cc) = (bins.count_sorted(r), bins.count_sorted(c));
            chi_outcome(
                chi(options.chisquare_mode(), &rc, &cc).map_err(stats_err)?,
                options,
            )
        }
        StatTest::Z => {
            let z = z_test(&first_value_counts(r, c).map_err(stats_err)?).map_err(stats_err)?;
            Outcome {
                statistic: z.statistic,
                p_value: Some(z.p_value),
                method: None,
                details: Map::new(),
            }
        }
    };
    Ok(verdict(column, test, outcome, options))
}

/// Runs `test` on a categorical column.
pub(crate) fn categorical(
    column: &str,
    test: StatTest,
    pair: &CategoryPair,
    options: &DriftOptions,
) -> Result<TestResult, DriftError> {
    let failed = |e: crate::stats::binning::StatsError| DriftError::Statistic {
        test: test.name(),
        column: column.to_owned(),
        reason: e.to_string(),
    };
    let (rc, cc) = (&pair.reference, &pair.current);
    let outcome = match test {
        StatTest::ChiSquare => chi_outcome(
            chi(options.chisquare_mode(), rc, cc).map_err(failed)?,
            options,
        ),
        StatTest::Z => {
            let first = first_category_counts(&pair.keys, rc, cc).map_err(failed)?;
            let z = z_test(&first).map_err(failed)?;
            Outcome {
                statistic: z.statistic,
                p_value: Some(z.p_value),
                method: None,
                details: Map::new(),
            }
        }
        StatTest::Psi | StatTest::KlDiv | StatTest::JensenShannon => {
            let fill = test != StatTest::JensenShannon;
            let shares = category_percents(rc, cc, fill).map_err(failed)?;
            let value = match test {
                StatTest::Psi => psi(&shares.reference, &shares.current),
                StatTest::KlDiv => kl_div(&shares.reference, &shares.current),
                _ => jensenshannon(&shares.reference, &shares.current),
            }
            .map_err(failed)?;
            Outcome::distance(value).with("bins", json!(pair.keys.len()))
        }
        StatTest::Hellinger => Outcome::distance(hellinger_categorical(rc, cc).map_err(failed)?),
        StatTest::Ks | StatTest::Wasserstein | StatTest::Ed | StatTest::PsiQuantile => {
            return Err(DriftError::TestNotApplicable {
                test: test.name(),
                column: column.to_owned(),
                kind: "categorical",
            });
        }
    };
    Ok(verdict(column, test, outcome, options))
}

fn chi(
    mode: ChiSquareMode,
    reference: &[u64],
    current: &[u64],
) -> Result<ChiSquare, crate::stats::binning::StatsError> {
    match mode {
        ChiSquareMode::GoodnessOfFit => chisquare_evidently(reference, current),
        ChiSquareMode::Contingency => chi2_contingency_2xk(reference, current),
    }
}

fn chi_outcome(chi: ChiSquare, options: &DriftOptions) -> Outcome {
    let mode = match options.chisquare_mode() {
        ChiSquareMode::GoodnessOfFit => "goodness_of_fit",
        ChiSquareMode::Contingency => "contingency",
    };
    Outcome {
        statistic: chi.statistic,
        p_value: Some(chi.p_value),
        method: None,
        details: Map::new(),
    }
    .with("dof", json!(chi.dof))
    .with("mode", json!(mode))
}

/// Applies the threshold and the decision rule.
fn verdict(column: &str, test: StatTest, outcome: Outcome, options: &DriftOptions) -> TestResult {
    let threshold = options.threshold_for(column, test);
    let decision = test.decision();
    let score = if decision.is_p_value() {
        outcome.p_value.unwrap_or(f64::NAN)
    } else {
        outcome.statistic
    };
    TestResult {
        test,
        statistic: outcome.statistic,
        p_value: outcome.p_value,
        score,
        threshold,
        drifted: decision.drifted(score, threshold),
        method: outcome.method,
        details: outcome.details,
    }
}
