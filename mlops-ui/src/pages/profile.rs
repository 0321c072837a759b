//! The drift-profile summary of a version page: the registered reference profile read back
//! (checked against its digest by the registry) and shown column by column.

use maud::{Markup, html};
use mlops_core::{ModelName, ModelVersion};
use mlops_drift::{ProfileData, ReferenceProfile};

use crate::state::Inner;

/// One column's representation, in words.
fn describe(data: &ProfileData) -> String {
    match data {
        ProfileData::Numerical { sample, integer } => format!(
            "exact: {} values{}",
            sample.values().len(),
            if *integer { " (integers)" } else { "" }
        ),
        ProfileData::NumericalSketch(sketch) => {
            format!("quantile sketch of {} rows", sketch.counts().rows)
        }
        ProfileData::Categorical(sample) => format!(
            "{} categories over {} values",
            sample.categories().len(),
            sample.categories().total()
        ),
        ProfileData::Unusable { reason } => format!("unusable: {reason}"),
        other => format!("{other:?}").chars().take(80).collect(),
    }
}

/// The summary, or a line saying why there is none.
pub(crate) async fn summary(inner: &Inner, name: &ModelName, version: ModelVersion) -> Markup {
    let Ok(registry) = inner.registry() else {
        return html! {};
    };
    let bytes = match registry.download_drift_profile(name, version).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return html! { p.muted { "No reference drift profile." } },
        Err(e) => {
            return html! { p.error { "The drift profile could not be read: " (e.to_string()) } };
        }
    };
    match ReferenceProfile::from_parquet(&bytes) {
        Ok(profile) => html! {
            table #drift-profile {
                thead { tr { th { "Column" } th { "Type" } th { "Kind" } th { "Reference" } } }
                tbody { @for c in profile.columns() {
                    tr {
                        td { (c.name()) }
                        td { (c.data_type().to_string()) }
                        td { (c.kind().map_or("-", |k| k.as_str())) }
                        td { (describe(c.data())) }
                    }
                } }
            }
        },
        Err(e) => html! { p.error { "The drift profile is not readable: " (e.to_string()) } },
    }
}
