//! Fuzzing the MLflow filter, order-by and page-token parsers (issue 17): random text and
//! mutations of the fixture filters never panic, and what parses runs as a search over a
//! small store. `scripts/fuzz.sh` runs it for millions of cases (`PROPTEST_CASES`).

use mlops_core::StoreUri;
use mlops_core::testing::run_fuzz;
use mlops_core::{ExperimentName, Param, Tag, Timestamp};
use mlops_track::filter::RunSearch;
use mlops_track::{LocalStore, NewRun, RunQuery, TrackingStore, ViewType};

use crate::support::point;

/// Tokens of MLflow's filter grammar.
const DICT: &[&[u8]] = &[
    b"metrics.",
    b"params.",
    b"tags.",
    b"attributes.",
    b"datasets.",
    b"run_name",
    b"start_time",
    b" AND ",
    b" OR ",
    b" IN ",
    b" NOT IN ",
    b" IS NULL",
    b" IS NOT NULL",
    b" LIKE ",
    b" ILIKE ",
    b"'%_'",
    b"`",
    b"\"",
    b"'",
    b"(",
    b")",
    b"<=",
    b"!=",
    b"-1e309",
    b"9223372036854775808",
    b"DESC",
];

#[test]
fn filter_parser() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/filter.json")).unwrap();
    let mut seeds: Vec<Vec<u8>> = fixture["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["filter"].as_str().unwrap().as_bytes().to_vec())
        .collect();
    // Order-by lists, one clause a line.
    seeds.extend(fixture["order_by"].as_array().unwrap().iter().map(|case| {
        let clauses: Vec<&str> = case["order_by"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        clauses.join("\n").into_bytes()
    }));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (store, experiment) = rt.block_on(async {
        let store = LocalStore::open_uri(&StoreUri::parse("memory://").unwrap())
            .await
            .unwrap();
        let experiment = store
            .create_experiment(&ExperimentName::parse("fuzz").unwrap(), &[])
            .await
            .unwrap();
        for i in 0..3u32 {
            let run = store
                .create_run(NewRun {
                    experiment_id: experiment.clone(),
                    run_name: Some(mlops_core::RunName::parse(format!("run-{i}")).unwrap()),
                    user_id: "fuzz".into(),
                    start_time: Timestamp::now(),
                    tags: vec![Tag::parse("team", "ü%_x").unwrap()],
                })
                .await
                .unwrap()
                .info
                .run_id;
            store
                .log_batch(
                    &run,
                    &[point("rmse", f64::from(i) / 3.0, 0)],
                    &[Param::parse("alpha", i.to_string()).unwrap()],
                    &[],
                )
                .await
                .unwrap();
        }
        (store, experiment)
    });

    run_fuzz("track filter parser", &seeds, DICT, |input| {
        let text = String::from_utf8_lossy(input);
        let clauses: Vec<&str> = text.lines().collect();
        // The whole text as a filter, its lines as order-by clauses, and as a page token.
        let parsed = RunSearch::parse(&text, &clauses, None, None, &[]);
        if let Ok(search) = &parsed {
            assert!(format!("{:?}", search.filter()).len() <= 64 * input.len() + 1024);
        }
        let _ = RunSearch::parse("", &[] as &[&str], Some(10), Some(&text), &["e"]);
        let page = rt.block_on(store.search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            filter: Some(text.to_string()),
            order_by: clauses.iter().map(|c| (*c).to_owned()).collect(),
            view: ViewType::All,
            max_results: Some(5),
            page_token: None,
        }));
        if let Ok(page) = page {
            assert!(page.items.len() <= 3);
        }
    });
}
