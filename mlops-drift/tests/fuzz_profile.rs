//! Fuzzing the stored-profile readers (issue 17): `ReferenceProfile::from_json` and
//! `from_parquet` on random bytes and on mutations of valid profiles never panic, and what
//! they accept stays as small as what they read. `scripts/fuzz.sh` runs them for millions of
//! cases (`PROPTEST_CASES`).

use mlops_core::testing::{mutate, mutate_json, run_fuzz, run_fuzz_with};
use mlops_drift::{DriftOptions, ProfileOptions, ReferenceProfile};

use crate::profile_common::mixed;

/// Valid profiles of every representation (exact values, sketches, categories, an unusable
/// column), small enough that mutations hit every part.
fn seeds() -> Vec<ReferenceProfile> {
    let reference = mixed(31, 300, 100, 0.1);
    let options = DriftOptions::default().with_columns([
        "amount", "rounded", "count", "level", "country", "flag", "device", "missing",
    ]);
    [usize::MAX, 20]
        .into_iter()
        .map(|cap| {
            ReferenceProfile::build_with(
                &reference,
                &options,
                &ProfileOptions::default().with_exact_cap(cap),
            )
            .unwrap()
        })
        .collect()
}

/// Tokens of the profile's JSON grammar, so mutations stay close to valid input.
const JSON_DICT: &[&[u8]] = &[
    b"\"columns\"",
    b"\"m2\"",
    b"\"count\"",
    b"\"data_type\"",
    b"\"Float64\"",
    b"\"Utf8\"",
    b"\"Boolean\"",
    b"null",
    b"true",
    b"false",
    b"-1",
    b"0",
    b"1e308",
    b"-1e308",
    b"18446744073709551615",
    b"9007199254740993",
    b"\"NaN\"",
    b"\"inf\"",
    b"[]",
    b"{}",
    b"\"\"",
    b"\"\\u0000\"",
];

#[test]
fn profile_json_reader_never_panics() {
    let seeds: Vec<serde_json::Value> = seeds()
        .iter()
        .map(|p| serde_json::from_str(&p.to_json().unwrap()).unwrap())
        .collect();
    // Half the cases change the JSON tree (past the syntax, to the consistency checks), a
    // quarter the text, a quarter are random bytes.
    let generate = |rng: &mut mlops_core::testing::FuzzRng| {
        let seed = rng.pick(&seeds);
        match rng.below(4) {
            0 => {
                let n = rng.below(512);
                rng.bytes(n)
            }
            1 => mutate(&serde_json::to_vec(seed).unwrap(), JSON_DICT, rng),
            _ => serde_json::to_vec(&mutate_json(seed, rng)).unwrap(),
        }
    };
    run_fuzz_with("drift profile JSON", generate, |input| {
        let Ok(text) = std::str::from_utf8(input) else {
            return;
        };
        if let Ok(profile) = ReferenceProfile::from_json(text) {
            // What was accepted writes back at about the size it was read.
            let again = profile.to_json().unwrap();
            assert!(
                again.len() <= 4 * input.len() + 1024,
                "{} bytes read gave {} bytes of profile",
                input.len(),
                again.len()
            );
        }
    });
}

#[test]
fn profile_parquet_reader_never_panics() {
    let seeds: Vec<Vec<u8>> = seeds().iter().map(|p| p.to_parquet().unwrap()).collect();
    run_fuzz(
        "drift profile Parquet",
        &seeds,
        &[b"PAR1", b"\0\0\0\0"],
        |input| {
            if let Ok(profile) = ReferenceProfile::from_parquet(input) {
                assert!(profile.columns().len() <= input.len());
                let json = profile.to_json().unwrap();
                assert!(
                    json.len() <= 64 * input.len() + 4096,
                    "{} bytes read gave {} bytes of profile",
                    input.len(),
                    json.len()
                );
            }
        },
    );
}
