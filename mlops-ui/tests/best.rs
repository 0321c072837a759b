//! The runs table's best-value columns over HTTP: `min.K` / `max.K` (and `best.K`, the
//! default min) show each run's extreme over its whole history, the picker offers them,
//! and sorting by one orders every run the filter matches (across pages, capped).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use mlops_ui::{Limits, Ui, UiOptions};

use support::http::{get, ok, rows};
use support::{RUNS, fixture, val_loss};

/// The run names of table#runs, top to bottom.
fn order(html: &str) -> Vec<String> {
    let table = html.split("<table id=\"runs\"").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    table
        .split(">run-")
        .skip(1)
        .map(|s| format!("run-{}", &s[..2]))
        .collect()
}

/// The numeric cells of run `name`'s row.
fn cells(html: &str, name: &str) -> Vec<String> {
    let row = html.split(&format!(">{name}<")).nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    row.split("<td class=\"num\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

/// The href of the sort link of column `id`.
fn sort_link(html: &str, id: &str) -> String {
    let end = html.find(&format!("title=\"sort\">{id}<")).unwrap();
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    html[start..end]
        .trim_end()
        .trim_end_matches('"')
        .replace("&amp;", "&")
}

/// The runs sorted by their best val_loss (`min` or `max`), as the table must show them.
fn expected(max: bool, descending: bool, among: &[usize]) -> Vec<String> {
    let mut runs: Vec<(f64, usize)> = among
        .iter()
        .map(|&i| {
            let (hi, lo, _) = val_loss(i);
            (if max { hi } else { lo }, i)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    if descending {
        runs.reverse();
    }
    runs.iter().map(|(_, i)| format!("run-{i:02}")).collect()
}

#[tokio::test]
async fn best_columns_show_and_sort_by_the_history_extremes() {
    let f = fixture().await;
    let app = f.ui().router();
    let base = format!("/experiments/{}", f.experiment);

    // The picker offers min and max of each metric.
    let page = ok(&app, &base).await;
    assert!(page.contains("id=\"best-picker\""));
    assert!(page.contains("value=\"min.val_loss\"") && page.contains("value=\"max.val_loss\""));

    // best.K is min.K; each column shows its rule in the header and its value per run.
    let cols = "col=metrics.val_loss&col=best.val_loss&col=max.val_loss";
    let page = ok(&app, &format!("{base}?{cols}")).await;
    assert_eq!(rows(&page, "runs"), RUNS);
    assert!(page.contains("best = min") && page.contains("best = max"));
    for i in [0, 13, 29] {
        let (max, min, last) = val_loss(i);
        let shown: Vec<f64> = cells(&page, &format!("run-{i:02}"))
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        assert_eq!(shown, [last, min, max], "run-{i:02}: last, min, max");
    }

    // Sorting by min: best (smallest) first, over all runs, paged by offset.
    let link = sort_link(&page, "min.val_loss");
    assert!(
        link.contains("sort=min.val_loss") && link.contains("dir=asc"),
        "{link}"
    );
    let all: Vec<usize> = (0..RUNS).collect();
    let by_min = expected(false, false, &all);
    let page = ok(&app, &format!("{link}&size=10")).await;
    assert_eq!(order(&page), by_min[..10]);
    let next = page
        .split("id=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.contains("from=10"), "{next}");
    let second = ok(&app, &next).await;
    assert_eq!(order(&second), by_min[10..20]);
    // The header link flips the direction.
    let flipped = sort_link(&page, "min.val_loss");
    assert!(flipped.contains("dir=desc"), "{flipped}");
    assert_eq!(
        order(&ok(&app, &flipped).await),
        expected(false, true, &all)
    );

    // Max sorts best (largest) first; it is not the order of the last values.
    let page = ok(&app, &format!("{base}?{cols}")).await;
    let by_max = ok(&app, &sort_link(&page, "max.val_loss")).await;
    assert_eq!(order(&by_max), expected(true, true, &all));
    let by_last = ok(&app, &sort_link(&page, "metrics.val_loss")).await;
    assert_ne!(order(&by_last), order(&by_max));

    // A filter narrows what is sorted.
    let filtered = ok(
        &app,
        &format!("{base}?filter=tags.team+%3D+%27red%27&sort=max.val_loss&dir=asc&{cols}"),
    )
    .await;
    let even: Vec<usize> = (0..RUNS).step_by(2).collect();
    assert_eq!(order(&filtered), expected(true, false, &even));

    for bad in ["sort=metrics.rmse", "sort=min.val_loss&dir=up", "sort=nope"] {
        assert_eq!(
            get(&app, &format!("{base}?{bad}")).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn sorting_by_a_best_column_is_capped_and_says_so() {
    let f = fixture().await;
    let options = UiOptions {
        limits: Limits {
            max_best_sort: 12,
            ..Limits::default()
        },
        ..UiOptions::default()
    };
    let app = Ui::new(Arc::clone(&f.tracking), None, options).router();
    let page = ok(
        &app,
        &format!(
            "/experiments/{}?sort=min.val_loss&col=min.val_loss",
            f.experiment
        ),
    )
    .await;
    assert!(page.contains("id=\"capped\""), "{page}");
    // The store's default order is newest first: runs 29 down to 18 are the 12 sorted.
    let newest: Vec<usize> = (RUNS - 12..RUNS).collect();
    assert_eq!(order(&page), expected(false, false, &newest));
}
