//! Run search.

use super::support::*;

/// Run search: MLflow's filters on metrics, params, tags and attributes, order-by, the
/// default order (start time descending), several experiments, and paging.
pub async fn search_runs(store: &dyn TrackingStore) {
    let first = new_experiment(store, "rsearch-a").await;
    let second = new_experiment(store, "rsearch-b").await;
    let base = Timestamp::now().as_millis() - 3_600_000;
    // (experiment, rmse, alpha, team, finished)
    let specs = [
        (&first, 0.30, "0.1", "a", true),
        (&first, 0.60, "0.1", "b", true),
        (&first, 0.20, "0.5", "a", false),
        (&first, 0.45, "0.1", "a", true),
        (&second, 0.10, "0.1", "b", true),
        (&second, f64::NAN, "0.1", "a", false),
    ];
    let mut runs = Vec::new();
    for (i, (experiment, rmse, alpha, team, finished)) in specs.iter().enumerate() {
        let run = store
            .create_run(NewRun {
                run_name: Some(RunName::parse(format!("search-{i}")).unwrap()),
                ..new_run_request(experiment, base + i as i64 * 1000)
            })
            .await
            .expect("create_run");
        let id = run.info.run_id;
        store
            .log_batch(
                &id,
                &[point("rmse", *rmse, T0, 0)],
                &[param("alpha", alpha)],
                &[tag("team", team)],
            )
            .await
            .expect("log_batch");
        if *finished {
            store
                .update_run(&id, Some(RunStatus::Finished), Some(Timestamp::now()), None)
                .await
                .expect("finish");
        }
        runs.push(id);
    }
    let both = vec![first.clone(), second.clone()];
    let search = |filter: &str, order_by: &[&str]| RunQuery {
        experiment_ids: both.clone(),
        filter: (!filter.is_empty()).then(|| filter.to_owned()),
        order_by: order_by.iter().map(|s| (*s).to_owned()).collect(),
        ..RunQuery::default()
    };
    let found = |page: crate::store::Page<Run>| ids(&page.items);
    let pick =
        |indices: &[usize]| -> Vec<RunId> { indices.iter().map(|&i| runs[i].clone()).collect() };

    // Default order: start time, newest first.
    let all = found(
        store
            .search_runs(&search("", &[]))
            .await
            .expect("search all"),
    );
    assert_eq!(
        all,
        pick(&[5, 4, 3, 2, 1, 0]),
        "default order is start_time DESC"
    );
    let only_first = store
        .search_runs(&RunQuery {
            experiment_ids: vec![first.clone()],
            ..RunQuery::default()
        })
        .await
        .expect("one experiment");
    assert_eq!(ids(&only_first.items), pick(&[3, 2, 1, 0]));

    for (filter, expected) in [
        (
            "metrics.rmse < 0.5 and params.alpha = '0.1'",
            pick(&[4, 3, 0]),
        ),
        ("tags.team = 'a'", pick(&[5, 3, 2, 0])),
        ("attributes.status = 'FINISHED'", pick(&[4, 3, 1, 0])),
        ("attributes.status != 'FINISHED'", pick(&[5, 2])),
        (
            "params.alpha LIKE '0.%' AND metrics.rmse >= 0.45",
            pick(&[3, 1]),
        ),
        ("attributes.run_name ILIKE 'SEARCH-1'", pick(&[1])),
        ("metrics.rmse != 0.3", pick(&[5, 4, 3, 2, 1])),
        ("tags.team = 'c'", Vec::new()),
    ] {
        let got = found(store.search_runs(&search(filter, &[])).await.expect(filter));
        assert_eq!(got, expected, "filter {filter:?}");
    }
    let in_list = format!("attributes.run_id IN ('{}', '{}')", runs[1], runs[4]);
    assert_eq!(
        found(store.search_runs(&search(&in_list, &[])).await.expect("IN")),
        pick(&[4, 1])
    );

    // Order by a metric: NaN after the numbers, in both directions.
    let asc = found(
        store
            .search_runs(&search("", &["metrics.rmse ASC"]))
            .await
            .expect("asc"),
    );
    assert_eq!(asc, pick(&[4, 2, 0, 3, 1, 5]), "metrics.rmse ASC");
    let desc = found(
        store
            .search_runs(&search("", &["metrics.rmse DESC"]))
            .await
            .expect("desc"),
    );
    assert_eq!(desc, pick(&[1, 3, 0, 2, 4, 5]), "metrics.rmse DESC");

    // Paging reproduces the full order.
    let mut paged = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = store
            .search_runs(&RunQuery {
                max_results: Some(2),
                page_token: token.clone(),
                ..search("", &["metrics.rmse ASC"])
            })
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        paged.extend(ids(&page.items));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, asc, "pages of 2 concatenate to the full result");

    // Deleted runs only in their view.
    store.delete_run(&runs[0]).await.expect("delete_run");
    let live = found(store.search_runs(&search("", &[])).await.expect("search"));
    assert_eq!(live, pick(&[5, 4, 3, 2, 1]));
    let deleted = found(
        store
            .search_runs(&RunQuery {
                view: ViewType::DeletedOnly,
                ..search("", &[])
            })
            .await
            .expect("search deleted"),
    );
    assert_eq!(deleted, pick(&[0]));

    assert!(
        store
            .search_runs(&search("metrics.rmse <", &[]))
            .await
            .is_err(),
        "a malformed filter must be refused"
    );
    assert!(
        store
            .search_runs(&search("", &["metrics.rmse SIDEWAYS"]))
            .await
            .is_err(),
        "a malformed order-by must be refused"
    );
}
