//! The statistics, one file per test, as pure functions over cleaned data.
//!
//! Inputs are what the column layer produces after Evidently's cleaning: finite `f64`
//! values (sorted ascending where a function says so), or category counts. Nothing here
//! allocates per row beyond what a formula needs, reads Arrow, or knows about thresholds;
//! [`crate::StatTest`] adds Evidently's defaults and verdicts on top.

pub mod binning;
pub mod chisquare;
pub mod divergence;
pub mod energy;
pub mod kolmogorov;
pub mod ks;
pub mod ks_exact;
pub mod psi;
pub(crate) mod sort;
pub mod wasserstein;
pub mod z;
