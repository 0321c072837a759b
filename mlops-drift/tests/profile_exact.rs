//! Within the exact cap, a stored profile gives exactly the numbers of the raw reference;
//! beyond it, columns with few distinct values keep exact value counts and stay exact.

use mlops_drift::{
    DriftOptions, ProfileData, ProfileOptions, ReferenceProfile, StatTest, detect_drift,
};

use crate::profile_common::{json, mixed, option_sets};

#[test]
fn stored_profiles_within_the_cap_give_the_raw_numbers() {
    let reference = mixed(1, 30_000, 7_000, 0.0);
    let current = mixed(2, 25_000, 4_096, 0.3);
    for options in option_sets() {
        let raw = json(&detect_drift(&reference, &current, &options).unwrap());
        let profile =
            ReferenceProfile::build_with(&reference, &options, &ProfileOptions::default()).unwrap();
        assert!(profile.is_exact());
        assert_eq!(json(&profile.compare(&current, &options).unwrap()), raw);
        let from_json = ReferenceProfile::from_json(&profile.to_json().unwrap()).unwrap();
        // `assert!` rather than `assert_eq!`: a profile's debug form is megabytes.
        assert!(
            from_json == profile,
            "the JSON round trip changed the profile"
        );
        assert_eq!(json(&from_json.compare(&current, &options).unwrap()), raw);
        let from_parquet = ReferenceProfile::from_parquet(&profile.to_parquet().unwrap()).unwrap();
        assert!(
            from_parquet == profile,
            "the Parquet round trip changed the profile"
        );
        assert_eq!(
            json(&from_parquet.compare(&current, &options).unwrap()),
            raw
        );
    }
}

#[test]
fn value_counts_beyond_the_cap_stay_exact() {
    let reference = mixed(3, 20_000, 3_000, 0.0);
    let current = mixed(4, 15_000, 5_000, 0.4);
    let capped = ProfileOptions::default().with_exact_cap(500);
    for options in option_sets() {
        let options = options.with_columns(["rounded", "count", "level", "country"]);
        let raw = detect_drift(&reference, &current, &options).unwrap();
        let profile = ReferenceProfile::build_with(&reference, &options, &capped).unwrap();
        assert!(profile.is_exact());
        let ProfileData::NumericalSketch(sketch) = profile.columns()[0].data() else {
            panic!("rounded is sketched with value counts");
        };
        assert!(sketch.value_counts().is_some());
        let report = profile.compare(&current, &options).unwrap();
        let back = ReferenceProfile::from_parquet(&profile.to_parquet().unwrap()).unwrap();
        assert_eq!(
            json(&back.compare(&current, &options).unwrap()),
            json(&report)
        );
        for (ours, exact) in report.columns.iter().zip(&raw.columns) {
            assert_eq!(ours.error, exact.error);
            assert_eq!(ours.reference, exact.reference);
            assert_eq!(ours.plot, exact.plot, "{}", ours.column);
            for (a, b) in ours.results.iter().zip(&exact.results) {
                assert_eq!(a.test, b.test);
                assert!(!a.details.contains_key("approximate"));
                if a.test == StatTest::Wasserstein {
                    // The norm comes from the exact summaries: equal up to rounding.
                    let rel = (a.statistic - b.statistic).abs() / b.statistic.abs().max(1e-300);
                    assert!(
                        rel < 1e-12,
                        "{}: {} vs {}",
                        ours.column,
                        a.statistic,
                        b.statistic
                    );
                    assert_eq!(a.drifted, b.drifted);
                } else {
                    assert_eq!(
                        serde_json::to_value(a).unwrap(),
                        serde_json::to_value(b).unwrap(),
                        "{} {}",
                        ours.column,
                        a.test
                    );
                }
            }
        }
    }
}

#[test]
fn build_keeps_everything_exact_and_build_with_caps() {
    let reference = mixed(5, 3_000, 1_000, 0.0);
    let options = DriftOptions::default();
    let exact = ReferenceProfile::build(&reference, &options).unwrap();
    assert_eq!(exact.options().exact_cap(), usize::MAX);
    let capped = ReferenceProfile::build_with(
        &reference,
        &options,
        &ProfileOptions::default().with_exact_cap(1_000),
    )
    .unwrap();
    let kinds = |p: &ReferenceProfile| {
        p.columns()
            .iter()
            .map(|c| match c.data() {
                ProfileData::Numerical { .. } => "exact",
                ProfileData::NumericalSketch(_) => "sketch",
                ProfileData::Categorical(_) => "categorical",
                ProfileData::Unusable { .. } => "unusable",
                _ => "other",
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(&exact),
        [
            "exact",
            "exact",
            "exact",
            "categorical",
            "categorical",
            "categorical",
            "categorical"
        ]
    );
    assert_eq!(
        kinds(&capped),
        [
            "sketch",
            "sketch",
            "sketch",
            "categorical",
            "categorical",
            "categorical",
            "categorical"
        ]
    );
    assert!(!capped.is_exact());
    assert!(
        ProfileOptions::default()
            .with_sketch_k(4)
            .validate()
            .is_err()
    );
    assert!(
        ProfileOptions::default()
            .with_value_count_limit(5)
            .validate()
            .is_err()
    );
    assert!(
        ReferenceProfile::build_with(
            &reference,
            &options,
            &ProfileOptions::default().with_sketch_k(2)
        )
        .is_err()
    );
}

#[test]
fn a_column_selection_applies_to_stored_profiles() {
    let reference = mixed(6, 4_000, 1_000, 0.0);
    let current = mixed(7, 3_000, 1_000, 0.5);
    let profile = ReferenceProfile::build(&reference, &DriftOptions::default()).unwrap();
    let options = DriftOptions::default().with_columns(["country", "nope", "amount"]);
    let report = profile.compare(&current, &options).unwrap();
    let names: Vec<&str> = report.columns.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(names, ["country", "nope", "amount"]);
    let raw = detect_drift(&reference, &current, &options).unwrap();
    for i in [0, 2] {
        assert_eq!(report.columns[i], raw.columns[i]);
    }
    // Absent from both sides: the raw comparison names the current side first.
    assert!(
        report.columns[1]
            .error
            .as_deref()
            .unwrap()
            .contains("not in the reference data")
    );
    assert_eq!(report.dataset, raw.dataset);
    let mut acc = profile.accumulator();
    for batch in &current {
        acc.push(batch).unwrap();
    }
    assert_eq!(
        json(&profile.compare_accumulated(&acc, &options).unwrap()),
        json(&report)
    );
}
