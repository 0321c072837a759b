//! Feature transformations fit on Apache Arrow data and shipped with the model version, so
//! training and serving run the same code on the same learned statistics.
//!
//! A [`TransformSpec`] lists the model's input columns, each a raw column run through a
//! chain of [`Step`]s: impute (mean, median, constant), standardise, min-max, clip, log1p,
//! bucketize, one-hot and ordinal encoding (with an unknown-category policy) and calendar
//! parts of timestamps. [`TransformSpec::fit`] learns the statistics (as a scikit-learn
//! pipeline fits each step on the output of the ones before it) and returns a
//! [`FittedTransform`]: JSON that is stored with the model version, read back with
//! [`FittedTransform::from_json`] (checked before it is trusted), and applied to raw
//! columns with [`FittedTransform::apply`]. A missing value or an unseen category is an
//! error naming the column and row unless the spec says what to do with it: a silent
//! default is the train/serve skew this crate exists to prevent.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, RecordBatch, StringArray};
//! use mlops_transform::{FeatureSpec, FittedTransform, Impute, Step, TransformSpec, Unknown};
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("distance", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)])) as _),
//!     ("payment", Arc::new(StringArray::from(vec!["card", "cash", "card"])) as _),
//! ])?;
//! let spec = TransformSpec {
//!     features: vec![
//!         FeatureSpec::new("distance")
//!             .then(Step::Impute { strategy: Impute::Mean })
//!             .then(Step::Standardize),
//!         FeatureSpec::new("payment").then(Step::OneHot { unknown: Unknown::Ignore }),
//!     ],
//! };
//! let fitted = spec.fit(&[batch.clone()])?;
//! assert_eq!(fitted.output_names(), ["distance", "payment=card", "payment=cash"]);
//!
//! // What the registry stores and the server reads back: the same numbers.
//! let served = FittedTransform::from_json(&fitted.to_json())?;
//! let x = served.apply(&batch)?;
//! assert_eq!(x.shape(), &[3, 3]);
//! assert_eq!(x[[1, 0]], 0.0); // the imputed mean, standardised
//! assert_eq!(x.row(1).to_vec()[1..], [0.0, 1.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod column;
mod error;
mod fitted;
mod spec;
mod transform;

pub use column::InputKind;
pub use error::{Result, TransformError};
pub use fitted::{FORMAT, FittedFeature, FittedStep, FittedTransform, MAX_FILE_BYTES};
pub use spec::{DatePart, FeatureSpec, Impute, Step, TransformSpec, Unknown};
