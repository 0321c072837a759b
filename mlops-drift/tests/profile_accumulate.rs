//! Current-side accumulators and reference merges: any split of the batches and any merge
//! order gives the identical report; exact reference parts merge into the exact profile.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{
    ColumnKind, CurrentAccumulator, DriftOptions, ProfileData, ProfileOptions, ReferenceProfile,
};

use crate::profile_common::{Rng, json, mixed, mixed_schema, option_sets};

/// Splits `batches` at random row positions into `parts` groups of sliced batches.
fn random_split(rng: &mut Rng, batches: &[RecordBatch], parts: usize) -> Vec<Vec<RecordBatch>> {
    let mut pieces = Vec::new();
    for batch in batches {
        let mut at = 0;
        while at < batch.num_rows() {
            let len = (1 + rng.below(3_000) as usize).min(batch.num_rows() - at);
            pieces.push(batch.slice(at, len));
            at += len;
        }
    }
    let mut groups = vec![Vec::new(); parts];
    for piece in pieces {
        groups[rng.below(parts as u64) as usize].push(piece);
    }
    groups
}

#[test]
fn any_split_and_merge_order_gives_the_identical_report() {
    let reference = mixed(31, 15_000, 4_000, 0.0);
    let current = mixed(32, 12_000, 5_000, 0.3);
    let mut rng = Rng::new(33);
    for (cap, options) in [usize::MAX, 2_000]
        .into_iter()
        .zip(option_sets())
        .chain(option_sets().into_iter().map(|o| (500, o)))
    {
        let profile = ReferenceProfile::build_with(
            &reference,
            &options,
            &ProfileOptions::default().with_exact_cap(cap),
        )
        .unwrap();
        let expected = json(&profile.compare(&current, &options).unwrap());
        for parts in [1, 2, 5] {
            let groups = random_split(&mut rng, &current, parts);
            let mut accumulators: Vec<CurrentAccumulator> = groups
                .iter()
                .map(|group| {
                    let mut acc = profile.accumulator();
                    for batch in group {
                        acc.push(batch).unwrap();
                    }
                    acc
                })
                .collect();
            // Merge in a random order, pairwise.
            while accumulators.len() > 1 {
                let i = rng.below(accumulators.len() as u64) as usize;
                let a = accumulators.swap_remove(i);
                let j = rng.below(accumulators.len() as u64) as usize;
                accumulators[j].merge(a).unwrap();
            }
            let mut acc = accumulators.pop().unwrap();
            let unsorted = json(&profile.compare_accumulated(&acc, &options).unwrap());
            assert_eq!(unsorted, expected, "{parts} parts, cap {cap}");
            acc.finish();
            assert_eq!(
                json(&profile.compare_accumulated(&acc, &options).unwrap()),
                expected
            );
        }
    }
}

#[test]
fn column_problems_are_recorded_whatever_the_order() {
    let reference = mixed(34, 2_000, 1_000, 0.0);
    let options = DriftOptions::default();
    let profile = ReferenceProfile::build(&reference, &options).unwrap();
    let good = mixed(35, 1_000, 1_000, 0.0);
    // A batch without `amount`, and one where `count` is text.
    let schema = mixed_schema();
    let without: Vec<Arc<Field>> = schema.fields().iter().skip(1).cloned().collect();
    let partial = RecordBatch::try_new(
        Arc::new(Schema::new(without)),
        good[0].columns()[1..].to_vec(),
    )
    .unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[2] = Field::new("count", DataType::Utf8, true);
    let mut columns = good[0].columns().to_vec();
    columns[2] = Arc::new(arrow_array::StringArray::from(vec!["x"; 1_000]));
    let texts = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let orders = [
        vec![good[0].clone(), partial.clone(), texts.clone()],
        vec![texts.clone(), partial.clone(), good[0].clone()],
        vec![partial, texts, good[0].clone()],
    ];
    let reports: Vec<String> = orders
        .iter()
        .map(|batches| {
            let mut a = profile.accumulator();
            let mut b = profile.accumulator();
            for (i, batch) in batches.iter().enumerate() {
                if i % 2 == 0 { &mut a } else { &mut b }
                    .push(batch)
                    .unwrap();
            }
            b.merge(a).unwrap();
            json(&profile.compare_accumulated(&b, &options).unwrap())
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    assert_eq!(reports[0], reports[2]);
    let report = profile.compare(&orders[0], &options).unwrap();
    assert_eq!(json(&report), reports[0]);
    assert!(
        report.columns[0]
            .error
            .as_deref()
            .unwrap()
            .contains("not in the current data")
    );
    assert!(report.columns[2].error.is_some());
    assert!(report.columns[3].error.is_none());
    // Accumulators of different profiles do not merge.
    let other =
        ReferenceProfile::build(&reference, &options.clone().with_columns(["flag"])).unwrap();
    let mut acc = profile.accumulator();
    assert!(acc.merge(other.accumulator()).is_err());
    assert!(
        other
            .compare_accumulated(&profile.accumulator(), &options)
            .is_err()
    );
}

#[test]
fn exact_reference_parts_merge_into_the_exact_profile() {
    let reference = mixed(36, 20_000, 3_000, 0.0);
    let current = mixed(37, 8_000, 8_000, 0.5);
    let options = DriftOptions::default();
    let whole = ReferenceProfile::build(&reference, &options).unwrap();
    let mut rng = Rng::new(38);
    for parts in [2, 3, 7] {
        let groups = random_split(&mut rng, &reference, parts);
        let mut profiles: Vec<ReferenceProfile> = groups
            .iter()
            .map(|g| ReferenceProfile::build(g, &options).unwrap())
            .collect();
        while profiles.len() > 1 {
            let i = rng.below(profiles.len() as u64) as usize;
            let a = profiles.swap_remove(i);
            let j = rng.below(profiles.len() as u64) as usize;
            profiles[j].merge(a).unwrap();
        }
        let merged = profiles.pop().unwrap();
        assert!(
            merged == whole,
            "{parts} parts merged differ from the whole"
        );
        assert_eq!(
            json(&merged.compare(&current, &options).unwrap()),
            json(&whole.compare(&current, &options).unwrap())
        );
    }
    // A streaming builder gives the same profile.
    let mut builder =
        ReferenceProfile::builder(&mixed_schema(), &options, &ProfileOptions::exact()).unwrap();
    for batch in &reference {
        builder.push(batch).unwrap();
    }
    assert!(builder.finish() == whole);
}

/// An integer column with `distinct` values starting at `from`.
fn integers(from: i64, distinct: i64, rows: usize) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("code", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
    ]));
    let codes: Vec<Option<i64>> = (0..rows)
        .map(|i| (i % 13 != 0).then_some(from + i as i64 % distinct))
        .collect();
    let xs: Vec<f64> = (0..rows).map(|i| (i as f64 * 0.37).sin()).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(codes)),
        Arc::new(Float64Array::from(xs)),
    ];
    vec![RecordBatch::try_new(schema, columns).unwrap()]
}

#[test]
fn merged_integer_columns_change_kind_with_the_union() {
    let options = DriftOptions::default();
    for cap in [usize::MAX, 50] {
        let profile_options = ProfileOptions::default().with_exact_cap(cap);
        let part = |from, distinct| {
            ReferenceProfile::build_with(&integers(from, distinct, 400), &options, &profile_options)
                .unwrap()
        };
        // 8 and 8 distinct, 6 in common: 10 together, still categorical.
        let mut a = part(0, 8);
        a.merge(part(2, 8)).unwrap();
        assert_eq!(a.columns()[0].kind(), Some(ColumnKind::Categorical));
        let both: Vec<RecordBatch> = [integers(0, 8, 400), integers(2, 8, 400)].concat();
        let whole = ReferenceProfile::build_with(&both, &options, &profile_options).unwrap();
        assert!(a.columns()[0] == whole.columns()[0]);
        // 8 and 8, 4 in common: 12 together, numerical, as if built at once.
        let mut b = part(0, 8);
        b.merge(part(4, 8)).unwrap();
        let both: Vec<RecordBatch> = [integers(0, 8, 400), integers(4, 8, 400)].concat();
        let whole = ReferenceProfile::build_with(&both, &options, &profile_options).unwrap();
        assert_eq!(b.columns()[0].kind(), Some(ColumnKind::Numerical));
        let current = integers(3, 12, 300);
        assert_eq!(
            json(&b.compare(&current, &options).unwrap()),
            json(&whole.compare(&current, &options).unwrap())
        );
        // Categorical with numerical: numerical.
        let mut c = part(0, 5);
        c.merge(part(100, 50)).unwrap();
        assert_eq!(c.columns()[0].kind(), Some(ColumnKind::Numerical));
        if cap == 50 {
            assert!(matches!(
                c.columns()[0].data(),
                ProfileData::NumericalSketch(s) if s.is_exact() && s.counts().valid() == 738
            ));
        }
        // Different columns do not merge.
        let mut d = part(0, 5);
        let other =
            ReferenceProfile::build(&integers(0, 5, 10), &options.clone().with_columns(["x"]))
                .unwrap();
        assert!(d.merge(other).is_err());
    }
}

#[test]
fn chunked_parallel_paths_match_the_sequential_ones() {
    // Fewer columns than threads: reference and current are read in parallel chunks.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .unwrap();
    let options = DriftOptions::default().with_columns(["amount", "count"]);
    let reference = mixed(41, 20_000, 1_500, 0.0);
    let current = mixed(42, 15_000, 1_000, 0.4);
    for cap in [usize::MAX, 3_000] {
        let profile_options = ProfileOptions::default().with_exact_cap(cap);
        let mut builder =
            ReferenceProfile::builder(&mixed_schema(), &options, &profile_options).unwrap();
        for batch in &reference {
            builder.push(batch).unwrap();
        }
        let streamed = builder.finish();
        let chunked = pool.install(|| {
            ReferenceProfile::build_with(&reference, &options, &profile_options).unwrap()
        });
        if cap == usize::MAX {
            assert!(chunked == streamed, "chunked and streamed builds differ");
        } else {
            // Sketches depend on the order; the exact parts agree.
            for (a, b) in chunked.columns().iter().zip(streamed.columns()) {
                let (ProfileData::NumericalSketch(a), ProfileData::NumericalSketch(b)) =
                    (a.data(), b.data())
                else {
                    panic!("expected sketches");
                };
                assert_eq!(a.counts(), b.counts());
                assert_eq!(a.summary().count(), b.summary().count());
                assert_eq!(
                    (a.summary().min(), a.summary().max()),
                    (b.summary().min(), b.summary().max())
                );
                assert!((a.summary().mean() - b.summary().mean()).abs() < 1e-9);
                assert_eq!(a.value_counts(), b.value_counts());
            }
        }
        let mut acc = chunked.accumulator();
        for batch in &current {
            acc.push(batch).unwrap();
        }
        let sequential = json(&chunked.compare_accumulated(&acc, &options).unwrap());
        let parallel = pool.install(|| json(&chunked.compare(&current, &options).unwrap()));
        assert_eq!(parallel, sequential);
    }
}
