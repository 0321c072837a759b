//! The UI in a real headless Chromium (Debian's `chromium` and `chromium-driver`, started
//! by scripts/test.sh as MLOPS_TEST_CHROMIUM / MLOPS_TEST_CHROMEDRIVER): every page opens,
//! the runs table filters, a chart draws the expected series from downsampled data, the
//! drift page draws drift share and feature scores over windows and links each window's
//! report, a reviewer approves a pending version (seen in the registry and in `mlops models
//! history`), and forged requests are refused. With MLOPS_UI_SCREENSHOTS=DIR, each main page's
//! screenshot is written there (docs/img holds the committed ones).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlops_core::testing::require_env;
use mlops_registry::{ApprovalState, RegistryExt};
use support::webdriver::Browser;
use support::{ALICE_TOKEN, DIGEST, RUNS, fixture};

/// Waits until `check` holds, up to 15 s.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `mlops` binary beside this test's (`cargo test --workspace` builds it first).
fn mlops_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("mlops");
    assert!(
        bin.is_file(),
        "{} is missing: build the CLI first (cargo build -p mlops-cli)",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_a_real_browser() {
    let chromium = require_env("MLOPS_TEST_CHROMIUM");
    let chromedriver = require_env("MLOPS_TEST_CHROMEDRIVER");
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mlops_ui::serve(listener, f.ui().router(), async {
        let _ = stopped.await;
    }));
    let scratch = tempfile::tempdir().unwrap();
    let shots = std::env::var_os("MLOPS_UI_SCREENSHOTS")
        .map_or_else(|| scratch.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    let b = Browser::start(&chromium, &chromedriver).await;

    // Experiments and the runs table.
    b.goto(&format!("{site}/experiments")).await;
    assert!(
        b.text(&b.find("#experiments").await)
            .await
            .contains("churn")
    );
    b.screenshot(&shots.join("ui-experiments.png")).await;
    b.goto(&format!("{site}/experiments/{}", f.experiment))
        .await;
    b.find("table#runs").await;
    assert_eq!(b.all("table#runs tbody tr").await.len(), RUNS);
    b.screenshot(&shots.join("ui-runs.png")).await;

    // Filter in MLflow's syntax, typed into the form.
    let filter = b.find("input.filter").await;
    b.clear(&filter).await;
    b.type_text(&filter, "metrics.rmse < 0.245").await;
    b.click(&b.find("form.inline button[type=submit]").await)
        .await;
    until("the filtered table", || async {
        b.url().await.contains("filter=")
    })
    .await;
    b.find("table#runs").await;
    assert_eq!(b.all("table#runs tbody tr").await.len(), 5);

    // The column picker's best value: max of val_loss, then sorted by it (best first).
    b.goto(&format!("{site}/experiments/{}", f.experiment))
        .await;
    b.click(&b.find("details.columns summary").await).await;
    b.script(
        "var o = document.querySelector('#best-picker option[value=\"max.val_loss\"]'); \
         o.selected = true; o.closest('form').submit(); return true;",
    )
    .await;
    let header = b
        .find("a[title=\"sort\"][href*=\"sort=max.val_loss\"]")
        .await;
    assert_eq!(b.text(&header).await, "max.val_loss");
    b.click(&header).await;
    until("the table sorted by the best val_loss", || async {
        b.url().await.contains("sort=max.val_loss")
    })
    .await;
    let first = b.find("table#runs tbody tr td:nth-child(2) a").await;
    let best = (0..RUNS)
        .max_by(|&a, &b| support::val_loss(a).0.total_cmp(&support::val_loss(b).0))
        .unwrap();
    assert_eq!(b.text(&first).await, format!("run-{best:02}"));

    // A run page: its loss chart draws one series from at most 2,000 of 50,000 points.
    b.goto(&format!("{site}/runs/{}", f.runs[0].as_str())).await;
    let chart = b.find(".chart[data-title=\"loss\"].drawn").await;
    assert_eq!(
        b.attribute(&chart, "data-series").await.as_deref(),
        Some("loss")
    );
    let points: usize = b
        .attribute(&chart, "data-points")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(points > 1_000 && points <= 2_000, "{points}");
    assert_eq!(
        b.attribute(&chart, "data-total").await.as_deref(),
        Some("50000")
    );
    assert!(
        !b.all(".chart[data-title=\"loss\"] canvas").await.is_empty(),
        "uPlot drew a canvas"
    );
    let max = b.find("td[data-stat=\"max\"][data-key=\"loss\"]").await;
    assert_eq!(
        b.text(&max).await,
        "99",
        "the metrics table's max, from the chart data"
    );
    let total = b.find("td[data-stat=\"total\"][data-key=\"loss\"]").await;
    assert_eq!(b.text(&total).await, "50000");
    let legend = b
        .all(".chart[data-title=\"loss\"] .u-legend .u-series")
        .await;
    assert_eq!(legend.len(), 2, "x and one series");
    // Log y and relative time redraw the same series.
    b.click(&b.find("#logy").await).await;
    b.script("var s=document.getElementById('xmode'); s.value='relative'; s.dispatchEvent(new Event('change')); return true;").await;
    b.find(".chart[data-title=\"loss\"].drawn canvas").await;
    b.screenshot(&shots.join("ui-run.png")).await;
    let dataset = b.text(&b.find("table#datasets").await).await;
    assert!(dataset.contains(&DIGEST[..12]));

    // Compare two runs: the overlay has both series; only differences hides layers.
    b.goto(&format!(
        "{site}/compare?run={}&run={}&diff=1",
        f.runs[0].as_str(),
        f.runs[1].as_str()
    ))
    .await;
    let overlay = b.find(".chart[data-title=\"rmse\"].drawn").await;
    assert_eq!(
        b.attribute(&overlay, "data-series").await.as_deref(),
        Some("run-00|run-01")
    );
    let table = b.text(&b.find("table#compare").await).await;
    assert!(table.contains("params.alpha") && !table.contains("params.layers"));
    // Eight runs: parallel coordinates (server-side SVG) with a line per run.
    let eight: Vec<String> = f.runs[..8]
        .iter()
        .map(|r| format!("run={}", r.as_str()))
        .collect();
    b.goto(&format!("{site}/compare?{}&diff=1", eight.join("&")))
        .await;
    b.find(".chart[data-title=\"rmse\"].drawn").await;
    assert_eq!(b.all("svg#parallel g.run").await.len(), 8);
    b.screenshot(&shots.join("ui-compare.png")).await;

    // Models, a model, a version, history, lineage.
    b.goto(&format!("{site}/models")).await;
    assert!(
        b.text(&b.find("table#models").await)
            .await
            .contains("@champion")
    );
    b.goto(&format!("{site}/models/churn")).await;
    assert_eq!(b.all("table#versions tbody tr").await.len(), 2);
    b.screenshot(&shots.join("ui-model.png")).await;
    b.goto(&format!("{site}/models/churn/versions/2")).await;
    assert!(
        b.text(&b.find("table#files").await)
            .await
            .contains("model.json")
    );
    b.screenshot(&shots.join("ui-version.png")).await;
    b.goto(&format!("{site}/lineage?digest={DIGEST}")).await;
    assert_eq!(b.all("table#lineage-versions tbody tr").await.len(), 1);
    b.screenshot(&shots.join("ui-lineage.png")).await;

    // Drift over time, from the model page's link: the share chart and one chart per
    // feature, each a series over the 8 windows with its threshold.
    b.goto(&format!("{site}/models/churn")).await;
    b.click(&b.find("#drift-link").await).await;
    let share = b.find("#drift-share.drawn").await;
    assert_eq!(
        b.attribute(&share, "data-series").await.as_deref(),
        Some("drift share|threshold")
    );
    let windows = f.windows.len().to_string();
    assert_eq!(
        b.attribute(&share, "data-points").await.as_deref(),
        Some(windows.as_str())
    );
    assert!(!b.all("#drift-share canvas").await.is_empty(), "uPlot drew");
    let features = b.find("#drift-features.drawn").await;
    assert_eq!(
        b.attribute(&features, "data-features").await.as_deref(),
        Some("age|plan")
    );
    for name in ["age", "plan"] {
        let chart = b
            .find(&format!(".chart[data-feature=\"{name}\"].drawn"))
            .await;
        assert_eq!(
            b.attribute(&chart, "data-series").await,
            Some(format!("{name}|threshold"))
        );
    }
    assert_eq!(b.all("table#windows tbody tr").await.len(), f.windows.len());
    b.screenshot(&shots.join("ui-drift.png")).await;
    // The newest window's link opens its HTML report, served through the history.
    let newest = f.windows.last().unwrap();
    b.click(&b.find("table#windows a.report").await).await;
    until("the window's report", || async {
        b.url().await.ends_with(&format!("/drift/2/{}", newest.id))
    })
    .await;
    assert!(
        b.text(&b.find("body").await)
            .await
            .contains(&format!("window {}", newest.id))
    );

    // The approval loop: queue → review (evidence) → approve with a reviewer token.
    b.goto(&format!("{site}/approvals")).await;
    assert_eq!(b.all("table#queue tbody tr").await.len(), 1);
    b.screenshot(&shots.join("ui-approvals.png")).await;
    b.click(&b.find("a.review").await).await;
    b.find("table#evidence-metrics").await;
    b.type_text(&b.find("#token").await, ALICE_TOKEN).await;
    b.type_text(&b.find("#comment").await, "rmse is better; ship it")
        .await;
    b.screenshot(&shots.join("ui-review.png")).await;
    b.click(&b.find("#approve").await).await;
    until("the recorded approval", || async {
        b.url().await.contains("done=approved")
    })
    .await;
    let last = f.registry.approvals(&f.model).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.record.state, last.record.by.as_str()),
        (ApprovalState::Approved, "alice")
    );
    b.goto(&format!("{site}/approvals")).await;
    b.find("#empty").await;
    b.goto(&format!("{site}/models/churn/history")).await;
    assert!(
        b.text(&b.find("table#audit").await)
            .await
            .contains("by alice")
    );
    b.screenshot(&shots.join("ui-history.png")).await;
    b.quit().await;

    let out = std::process::Command::new(mlops_binary())
        .args([
            "models",
            "history",
            "--name",
            "churn",
            "--store",
            &f.root(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("alice") && text.contains("approved"),
        "{text}"
    );

    // Forged requests, as a page on another site (or a rebinding name) would send them.
    let http = reqwest::Client::new();
    let drift = http
        .get(format!("{site}/models/churn/drift"))
        .send()
        .await
        .unwrap();
    assert_eq!(drift.status(), 200);
    assert!(
        drift.text().await.unwrap().contains(&f.windows[0].id),
        "the windows of --monitor-history"
    );
    let foreign = http
        .get(format!("{site}/experiments"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let review = format!("{site}/models/churn/versions/1/review");
    let page = http
        .get(format!("{review}?alias=champion"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let form = |body: String| {
        http.post(&review)
            .header("origin", site.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let no_csrf = form(format!(
        "alias=champion&token={ALICE_TOKEN}&decision=approve"
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let no_token = form(format!("csrf={csrf}&alias=champion&decision=approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let cross = http
        .post(&review)
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&alias=champion&token={ALICE_TOKEN}&decision=approve"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let approvals = f.registry.approvals(&f.model).await.unwrap();
    assert!(
        approvals.iter().all(|a| a.record.version.get() == 2),
        "nothing recorded for v1"
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// `mlops ui` itself: it serves the store at the root, reviewers from the environment, a
/// foreign Host refused, and stops on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlops_ui_command_serves_a_store() {
    use tokio::io::AsyncBufReadExt;

    let f = fixture().await;
    let mut child = tokio::process::Command::new(mlops_binary())
        .args(["ui", "--store", &f.root(), "--addr", "127.0.0.1:0"])
        .arg("--monitor-history")
        .arg(format!("{}/monitor", f.root()))
        .env("MLOPS_UI_REVIEWERS", format!("alice:{ALICE_TOKEN}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let site = first
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{site}/experiments/{}", f.experiment))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("run-29"));
    let review = http
        .get(format!(
            "{site}/models/churn/versions/2/review?alias=champion"
        ))
        .send()
        .await
        .unwrap();
    assert!(
        review.text().await.unwrap().contains("id=\"decide\""),
        "reviewers came from MLOPS_UI_REVIEWERS"
    );
    let drift = http
        .get(format!("{site}/models/churn/drift"))
        .send()
        .await
        .unwrap();
    assert_eq!(drift.status(), 200);
    assert!(
        drift.text().await.unwrap().contains(&f.windows[0].id),
        "the windows of --monitor-history"
    );
    let foreign = http
        .get(format!("{site}/experiments"))
        .header("host", "rebind.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
