//! `mlops monitor run` and `history`: windows equal to `mlops drift --profile` on the same
//! rows, exit 3 when a trigger fires, and a kill -9 between an event's write and its
//! acknowledgement that ends in the same delivery, once more, after the restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use serde_json::Value;

use crate::util::{json, mlops, model_folder, ok, root, text};

const REFERENCE: &str = "examples/data/reference.parquet";
const CURRENT: &str = "examples/data/current.parquet";

/// A store with model `churn` v1 (alias champion) registered with the profile of REFERENCE.
fn registered(dir: &Path) -> (String, String) {
    let store = dir.join("store").to_str().unwrap().to_owned();
    let profile = dir.join("profile.json").to_str().unwrap().to_owned();
    ok(&mlops(&[
        "profile",
        "build",
        "--reference",
        REFERENCE,
        "--out",
        &profile,
    ]));
    let folder = model_folder(dir, "model", "churn");
    ok(&mlops(&[
        "models",
        "--store",
        &store,
        "register",
        "--name",
        "churn",
        "--path",
        &folder,
        "--drift-profile",
        &profile,
    ]));
    ok(&mlops(&[
        "models",
        "--store",
        &store,
        "promote",
        "--name",
        "churn",
        "--version",
        "1",
        "--alias",
        "champion",
    ]));
    (store, profile)
}

/// Rows `[offset, offset + rows)` of CURRENT written to `path`.
fn window_file(path: &Path, offset: usize, rows: usize) {
    let file = std::fs::File::open(root().join(CURRENT)).unwrap();
    let selection = RowSelection::from(vec![RowSelector::skip(offset), RowSelector::select(rows)]);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let reader = builder.with_row_selection(selection).build().unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    let mut written = 0;
    for batch in reader {
        let batch = batch.unwrap();
        written += batch.num_rows();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    assert_eq!(written, rows);
}

fn close(a: &Value, b: &Value, what: &str) {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => assert!(
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            "{what}: {x} vs {y}"
        ),
        _ => assert_eq!(a, b, "{what}"),
    }
}

#[test]
fn each_window_equals_mlops_drift_on_its_rows_and_a_fired_trigger_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (store, profile) = registered(dir.path());
    let run = mlops(&[
        "monitor",
        "--store",
        &store,
        "run",
        "--model",
        "churn@champion",
        "--current",
        CURRENT,
        "--window-rows",
        "1500",
        "--trigger",
        "drift_share>=0.3",
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let result: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(result["fired"], true, "{result}");
    let windows = result["windows"].as_array().unwrap();
    let rows: Vec<u64> = windows
        .iter()
        .map(|w| w["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [1500, 1500, 1500, 500]);
    assert_eq!(
        windows[0]["events"].as_array().unwrap().len(),
        1,
        "{windows:?}"
    );
    for (i, window) in windows.iter().enumerate() {
        let path = dir.path().join(format!("w{i}.parquet"));
        window_file(&path, i * 1500, rows[i] as usize);
        let offline = mlops(&[
            "drift",
            "--profile",
            &profile,
            "--current",
            path.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let offline = json(&offline);
        let report = Path::new(&store)
            .join("monitor")
            .join(window["report"].as_str().unwrap());
        let live: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        assert_eq!(
            live["dataset"]["dataset_drift"],
            offline["dataset"]["dataset_drift"]
        );
        close(
            &live["dataset"]["share_drifted"],
            &offline["dataset"]["share_drifted"],
            "share",
        );
        let (l, o) = (
            live["columns"].as_array().unwrap(),
            offline["columns"].as_array().unwrap(),
        );
        assert_eq!(l.len(), o.len());
        for (lc, oc) in l.iter().zip(o) {
            let name = oc["column"].as_str().unwrap();
            assert_eq!(lc["column"], oc["column"]);
            assert_eq!(lc["drifted"], oc["drifted"], "window {i} {name}");
            assert_eq!(lc["current"], oc["current"], "window {i} {name}");
            for (lr, or) in lc["results"]
                .as_array()
                .unwrap()
                .iter()
                .zip(oc["results"].as_array().unwrap())
            {
                assert_eq!(lr["test"], or["test"]);
                assert_eq!(lr["drifted"], or["drifted"]);
                close(
                    &lr["statistic"],
                    &or["statistic"],
                    &format!("window {i} {name} statistic"),
                );
                close(
                    &lr["p_value"],
                    &or["p_value"],
                    &format!("window {i} {name} p-value"),
                );
            }
        }
    }
    // The history lists the four windows with their drifted features.
    let history = json(&mlops(&[
        "monitor", "--store", &store, "history", "--model", "churn", "--format", "json",
    ]));
    let listed = history.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    for (l, w) in listed.iter().zip(windows) {
        assert_eq!(l["window"], w["window"]);
        assert_eq!(l["drifted_features"], w["drifted_features"]);
        assert_eq!(l["version"], "1");
    }
    // The event is in the model's audit log.
    let audit = ok(&mlops(&[
        "models", "--store", &store, "history", "--name", "churn",
    ]));
    assert!(audit.contains("mlops.monitor.trigger"), "{audit}");
    // The default rule (dataset drift, share >= 0.5) does not fire on these windows.
    let quiet = mlops(&[
        "monitor",
        "--store",
        &store,
        "run",
        "--model",
        "churn@1",
        "--current",
        CURRENT,
        "--history",
        dir.path().join("other").to_str().unwrap(),
    ]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
}

/// Reads one HTTP request from a connection; returns its delivery id.
fn read_request(stream: &mut std::net::TcpStream) -> String {
    read_post(stream).0
}

/// Reads one HTTP request from a connection; returns its delivery id and body.
fn read_post(stream: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut id = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("mlops-delivery-id:") {
            id = v.trim().to_owned();
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (id, body)
}

#[test]
fn a_kill_between_write_and_acknowledgement_redelivers_the_same_id_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = registered(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut stream = stream.unwrap();
                let id = read_request(&mut stream);
                tx.send(id).unwrap();
                if n == 0 {
                    // The first delivery is never answered: the sender is killed meanwhile.
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    return;
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            });
        }
    });
    let args = [
        "monitor",
        "--store",
        &store,
        "run",
        "--model",
        "churn@champion",
        "--current",
        CURRENT,
        "--window-rows",
        "1500",
        "--trigger",
        "drift_share>=0.3",
        "--trigger-webhook",
        &url,
        "--allow-private-webhooks",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let outbox = Path::new(&store).join("monitor/_outbox/churn");
    let files = |ext: &str| {
        walk(&outbox)
            .into_iter()
            .filter(|p| p.ends_with(ext))
            .count()
    };
    assert_eq!(
        (files(".json"), files(".ack")),
        (1, 0),
        "written, not acknowledged"
    );
    // The restart resends it (same id) and fires nothing new within the cooldown.
    let again = mlops(&args);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let resent: Vec<String> = rx.try_iter().collect();
    assert_eq!(resent, [first], "one more delivery, with the same id");
    assert_eq!((files(".json"), files(".ack")), (1, 1));
    // Acknowledged: a third run sends nothing.
    let third = mlops(&args);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(500))
            .is_err()
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.to_str().unwrap().to_owned());
        }
    }
    out
}

/// An inference log written as the server writes it, labels arriving later in a Parquet
/// file: `mlops monitor performance` prints each window's classification metrics.
#[tokio::test]
async fn performance_joins_the_log_with_labels_per_window() {
    use std::sync::Arc;

    use mlops::core::{StoreUri, Timestamp};
    use mlops::drift::arrow_array::{Float64Array, RecordBatch, StringArray};
    use mlops::drift::arrow_schema::{DataType, Field, Schema};
    use mlops::serve::{Tensor, TensorData};
    use mlops_monitor::performance::classification;
    use mlops_monitor::{InferenceLog, LogOptions, VersionKey};

    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let root = StoreUri::parse(log_dir.to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let mut log = InferenceLog::new(root, LogOptions::default());
    let key = VersionKey {
        model: "churn".into(),
        version: "2".into(),
    };
    let scores = [0.9, 0.2, 0.7, 0.4, 0.55, 0.1];
    let truth = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
    for (i, s) in scores.iter().enumerate() {
        let inputs = [Tensor::new(
            "x",
            TensorData::from_vec(&[1], vec![i as f64]).unwrap(),
        )];
        let outputs = [Tensor::new(
            "score",
            TensorData::from_vec(&[1, 1], vec![*s]).unwrap(),
        )];
        let time = Timestamp::from_millis(1_767_225_600_000 + i as i64).unwrap();
        assert!(
            log.append(&key, Some(&format!("q{i}")), time, &inputs, &outputs)
                .unwrap()
                .is_empty()
        );
    }
    for file in log.close().unwrap() {
        log.store(file).await.unwrap();
    }
    let labels = dir.path().join("labels.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("request", DataType::Utf8, false),
        Field::new("churned", DataType::Float64, false),
    ]));
    let ids: Vec<String> = (0..6).map(|i| format!("q{i}")).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(Float64Array::from(truth.to_vec())),
        ],
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&labels).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let out = json(&mlops(&[
        "monitor",
        "performance",
        "--log",
        log_dir.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--id",
        "request",
        "--label",
        "churned",
        "--task",
        "classification",
        "--window-rows",
        "3",
        "--format",
        "json",
    ]));
    let windows = out.as_array().unwrap();
    assert_eq!(windows.len(), 2);
    for (w, range) in windows.iter().zip([0..3, 3..6]) {
        let expected = classification(&truth[range.clone()], &scores[range], 0.5).unwrap();
        let m = &w["classification"];
        assert_eq!(w["model"], "churn");
        assert_eq!(w["version"], "2");
        assert_eq!(m["accuracy"].as_f64().unwrap(), expected.accuracy);
        assert_eq!(m["f1"].as_f64().unwrap(), expected.f1);
        assert_eq!(m["roc_auc"].as_f64(), expected.roc_auc);
    }
}

/// One HTTP/1.1 request on a fresh connection (std only); (status, body).
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Rows (x, z) of a fixed pseudo-random normal stream, x shifted by `shift`.
fn normal_rows(seed: u64, n: usize, shift: f64) -> Vec<[f32; 2]> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u, v) = (uniform(), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    (0..n)
        .map(|_| [(normal() + shift) as f32, (2.0 * normal()) as f32])
        .collect()
}

/// The acceptance run: real traffic through `mlops serve` with monitoring on.
#[test]
fn served_traffic_drifts_on_the_shifted_feature_and_one_signed_webhook_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (model, profile) = linear_model_and_profile(dir.path());
    // The webhook receiver.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<(String, String, String, Vec<u8>)>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut id, mut signature, mut timestamp, mut length) =
                (String::new(), String::new(), String::new(), 0);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_owned();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                match name.to_ascii_lowercase().as_str() {
                    "mlops-delivery-id" => id = value.trim().to_owned(),
                    "mlops-signature" => signature = value.trim().to_owned(),
                    "mlops-timestamp" => timestamp = value.trim().to_owned(),
                    "content-length" => length = value.trim().parse().unwrap(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            tx.send((id, signature, timestamp, body)).unwrap();
        }
    });
    let history = dir.path().join("history");
    let flags = [
        "--monitor-window-rows",
        "1000",
        "--monitor-history",
        history.to_str().unwrap(),
        "--trigger-webhook",
        &hook,
        "--trigger-secret",
        "s3cret",
        "--allow-private-webhooks",
    ];
    let (mut child, addr) = spawn_monitored(&model, &profile, &flags);
    let send = |seed: u64, shift: f64| {
        let rows = normal_rows(seed, 250, shift);
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let body = serde_json::json!({"inputs": [{"name": "input", "shape": [250, 2], "datatype": "FP32", "data": data}]});
        let (status, _) = http(
            &addr,
            "POST",
            "/v2/models/lin/infer",
            &serde_json::to_vec(&body).unwrap(),
        );
        assert_eq!(status, 200);
    };
    let windows_closed = |n: u32| {
        let want = format!("mlops_monitor_windows_total{{model=\"lin\",version=\"1\"}} {n}");
        for _ in 0..500 {
            let (_, text) = http(&addr, "GET", "/metrics", b"");
            if text.contains(&want) {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("{want} never appeared");
    };
    // Two windows from the reference distribution: no drift, no webhook.
    for seed in 10..18 {
        send(seed, 0.0);
    }
    let metrics = windows_closed(2);
    assert!(
        metrics.contains("mlops_drift_dataset_drift{model=\"lin\",version=\"1\"} 0"),
        "{metrics}"
    );
    assert!(rx.try_recv().is_err());
    // A shifted window: drift on exactly x (and the prediction), one signed webhook.
    for seed in 20..24 {
        send(seed, 2.0);
    }
    let metrics = windows_closed(3);
    for (feature, drifted) in [("x", 1), ("z", 0), ("output", 1)] {
        let series = format!(
            "mlops_drift_feature_drifted{{model=\"lin\",version=\"1\",feature=\"{feature}\"}} {drifted}"
        );
        assert!(metrics.contains(&series), "{series}\n{metrics}");
    }
    assert!(
        metrics.contains(
            "mlops_drift_score{model=\"lin\",version=\"1\",feature=\"x\",test=\"wasserstein\"}"
        ),
        "{metrics}"
    );
    let (id, signature, timestamp, body) =
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    let expected = expected_signature("s3cret", &id, &timestamp, &body);
    assert_eq!(signature, expected);
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        event["drifted_features"],
        serde_json::json!(["x", "output"])
    );
    assert_eq!(event["id"], id.as_str());
    // Two more drifted windows inside the cooldown: nothing more is sent.
    for seed in 30..38 {
        send(seed, 2.0);
    }
    windows_closed(5);
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(500))
            .is_err()
    );
    // SIGTERM: the server stops cleanly; the history has the five windows.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let listed = json(&mlops(&[
        "monitor",
        "history",
        "--history",
        history.to_str().unwrap(),
        "--model",
        "lin",
        "--format",
        "json",
    ]));
    let drifted: Vec<bool> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["dataset_drift"].as_bool().unwrap())
        .collect();
    assert_eq!(drifted, [false, false, true, true, true]);
}

/// `Mlops-Signature` recomputed independently of the library.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC-SHA256 (RFC 2104) and base64 (RFC 4648) written out here, apart from the
    // library's, so the test checks the signature's construction, not the code against itself.
    use sha2::{Digest, Sha256};
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let mut key = secret.as_bytes().to_vec();
    if key.len() > 64 {
        key = Sha256::digest(&key).to_vec();
    }
    key.resize(64, 0);
    let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).chain(message).collect();
    let inner = Sha256::digest(&inner);
    let outer: Vec<u8> = key
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    let mac = Sha256::digest(&outer);
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in mac.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(char::from(table[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                encoded.push('=');
            }
        }
    }
    format!("v1,{encoded}")
}

/// The default binary speaks https: a webhook to an https URL opens with a TLS handshake
/// (a ClientHello record, 0x16 0x03), on the rustls stack, with no extra feature.
#[test]
fn https_webhooks_need_no_extra_feature() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = registered(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut first = [0u8; 3];
        stream.read_exact(&mut first).unwrap();
        tx.send(first).unwrap();
    });
    let run = mlops(&[
        "monitor",
        "--store",
        &store,
        "run",
        "--model",
        "churn@champion",
        "--current",
        CURRENT,
        "--trigger",
        "drift_share>=0.3",
        "--trigger-webhook",
        &url,
        "--allow-private-webhooks",
    ]);
    // The handshake fails (no TLS server here): the event stays in the outbox, the trigger fired.
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let first = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(&first[..2], &[0x16, 0x03], "a TLS handshake record");
}

/// A served linear model (output = x + 0.5 z) and the profile of its reference inputs and
/// predictions.
fn linear_model_and_profile(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::sync::Arc;

    use mlops::drift::arrow_array::{Float64Array, RecordBatch};
    use mlops::drift::arrow_schema::{DataType, Field, Schema};

    let model = dir.join("lin.json");
    std::fs::write(
        &model,
        r#"{"format":"mlops-linear/1","coefficients":[[1.0,0.5]],"intercept":[0.0]}"#,
    )
    .unwrap();
    let reference = normal_rows(1, 4000, 0.0);
    let col = |f: &dyn Fn(&[f32; 2]) -> f32| {
        Arc::new(Float64Array::from(
            reference
                .iter()
                .map(|r| f64::from(f(r)))
                .collect::<Vec<_>>(),
        )) as _
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("z", DataType::Float64, false),
        Field::new("output", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![col(&|r| r[0]), col(&|r| r[1]), col(&|r| r[0] + 0.5 * r[1])],
    )
    .unwrap();
    let data = dir.join("reference.parquet");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&data).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let profile = dir.join("profile.json");
    ok(&mlops(&[
        "profile",
        "build",
        "--reference",
        data.to_str().unwrap(),
        "--out",
        profile.to_str().unwrap(),
    ]));
    (model, profile)
}

/// `mlops serve` of the linear model, monitored, with `extra` flags; the child and its address.
fn spawn_monitored(model: &Path, profile: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--version",
            "1",
            "--drain-delay-ms",
            "0",
        ])
        .arg("--model")
        .arg(format!("lin={}", model.display()))
        .arg("--monitor-profile")
        .arg(format!("lin={}", profile.display()))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mlops serve: listening on http://")
        .unwrap()
        .to_owned();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    (child, addr)
}

/// A request without an OIP `id` to `mlops serve --inference-log`: the response carries the
/// id the server generated, the log row has it, and labels keyed by it join in `monitor
/// performance`; a request with its own id keeps it.
#[test]
fn a_generated_request_id_is_echoed_and_joins_labels_in_the_inference_log() {
    use std::sync::Arc;

    use mlops::drift::arrow_array::{Float64Array, RecordBatch, StringArray};
    use mlops::drift::arrow_schema::{DataType, Field, Schema};

    let dir = tempfile::tempdir().unwrap();
    let (model, profile) = linear_model_and_profile(dir.path());
    let log = dir.path().join("log");
    let (mut child, addr) = spawn_monitored(
        &model,
        &profile,
        &["--inference-log", log.to_str().unwrap()],
    );
    let infer = |body: Value| {
        let (status, answer) = http(
            &addr,
            "POST",
            "/v2/models/lin/infer",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str::<Value>(&answer).unwrap()
    };
    let input = |x: f32| serde_json::json!([{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [x, 2.0]}]);
    let generated = infer(serde_json::json!({"inputs": input(3.0)}));
    let id = generated["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id echoed: {generated}"))
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = infer(serde_json::json!({"id": "mine", "inputs": input(5.0)}));
    assert_eq!(given["id"], "mine");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    // Labels keyed by the echoed id (prediction 3 + 0.5 * 2 = 4, truth 4.5) and by "mine"
    // (prediction 6, truth 6): one window of two rows, MAE 0.25.
    let labels = dir.path().join("labels.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("request", DataType::Utf8, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![id, "mine".to_owned()])),
            Arc::new(Float64Array::from(vec![4.5, 6.0])),
        ],
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&labels).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let windows = json(&mlops(&[
        "monitor",
        "performance",
        "--log",
        log.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--id",
        "request",
        "--label",
        "y",
        "--format",
        "json",
    ]));
    let m = &windows[0]["regression"];
    assert_eq!(m["n"], 2, "both rows joined: {windows}");
    assert!(
        (m["mae"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{windows}"
    );
}

/// Kill -9 of `mlops serve` after an event was written and sent but before the receiver
/// answered: the restarted server sends it again with the same delivery id, once.
#[test]
fn a_killed_server_redelivers_the_unacknowledged_event_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (model, profile) = linear_model_and_profile(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut stream = stream.unwrap();
                let id = read_request(&mut stream);
                tx.send(id).unwrap();
                if n == 0 {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    return;
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            });
        }
    });
    let history = dir.path().join("history");
    let flags = [
        "--monitor-window-rows",
        "1000",
        "--monitor-history",
        history.to_str().unwrap(),
        "--trigger-webhook",
        &hook,
        "--allow-private-webhooks",
    ];
    let (mut child, addr) = spawn_monitored(&model, &profile, &flags);
    for seed in 40..44 {
        let rows = normal_rows(seed, 250, 2.0);
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let body = serde_json::json!({"inputs": [{"name": "input", "shape": [250, 2], "datatype": "FP32", "data": data}]});
        assert_eq!(
            http(
                &addr,
                "POST",
                "/v2/models/lin/infer",
                &serde_json::to_vec(&body).unwrap()
            )
            .0,
            200
        );
    }
    let first = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    child.kill().unwrap(); // SIGKILL: written, sent, never acknowledged
    child.wait().unwrap();
    let outbox = history.join("_outbox/lin");
    let count = |ext: &str| {
        walk(&outbox)
            .into_iter()
            .filter(|p| p.ends_with(ext))
            .count()
    };
    assert_eq!((count(".json"), count(".ack")), (1, 0));
    // The restart resends the pending delivery before serving.
    let (mut child, _) = spawn_monitored(&model, &profile, &flags);
    for _ in 0..500 {
        if count(".ack") == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!((count(".json"), count(".ack")), (1, 1));
    let resent: Vec<String> = rx.try_iter().collect();
    assert_eq!(resent, [first], "one more delivery, with the same id");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A store with model `churn` v1 registered from run alpha (its `loss` ends at 0.25), an
/// inference log of six requests q0..q5 of v1 and their labels: the first three predictions
/// err by 0.1 (RMSE 0.1 in windows of 3), the last three by 0.5 (RMSE 0.5). Returns the temporary
/// folder and the store, log and labels paths.
async fn labelled_log() -> (tempfile::TempDir, String, String, String) {
    use std::sync::Arc;

    use mlops::core::{ExperimentName, StoreUri, Timestamp};
    use mlops::drift::arrow_array::{Float64Array, RecordBatch, StringArray};
    use mlops::drift::arrow_schema::{DataType, Field, Schema};
    use mlops::serve::{Tensor, TensorData};
    use mlops_monitor::{InferenceLog, LogOptions, VersionKey};

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let tracking = crate::util::local(&store).await;
    // Run alpha's `loss` ends at 0.25: the registered value the gate compares with.
    let (alpha, _) =
        crate::util::populate(&tracking, &ExperimentName::parse("churn").unwrap()).await;
    let store = store.to_str().unwrap().to_owned();
    let folder = model_folder(dir.path(), "model", "churn");
    ok(&mlops(&[
        "models",
        "--store",
        &store,
        "register",
        "--name",
        "churn",
        "--path",
        &folder,
        "--run",
        alpha.as_str(),
    ]));
    let log_dir = dir.path().join("log");
    let root = StoreUri::parse(log_dir.to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let mut log = InferenceLog::new(root, LogOptions::default());
    let key = VersionKey {
        model: "churn".into(),
        version: "1".into(),
    };
    // Window 1 errs by 0.1 (RMSE 0.1), window 2 by 0.5 (RMSE 0.5).
    let predictions = [1.1, 2.1, 3.1, 4.5, 5.5, 6.5];
    for (i, p) in predictions.iter().enumerate() {
        let inputs = [Tensor::new(
            "x",
            TensorData::from_vec(&[1], vec![i as f64]).unwrap(),
        )];
        let outputs = [Tensor::new(
            "y",
            TensorData::from_vec(&[1], vec![*p]).unwrap(),
        )];
        let time = Timestamp::from_millis(1_767_225_600_000 + i as i64).unwrap();
        log.append(&key, Some(&format!("q{i}")), time, &inputs, &outputs)
            .unwrap();
    }
    for file in log.close().unwrap() {
        log.store(file).await.unwrap();
    }
    let labels = dir.path().join("labels.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("request", DataType::Utf8, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let ids: Vec<String> = (0..6).map(|i| format!("q{i}")).collect();
    let truth: Vec<f64> = (1..=6).map(f64::from).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(Float64Array::from(truth)),
        ],
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&labels).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let log_dir = log_dir.to_str().unwrap().to_owned();
    let labels = labels.to_str().unwrap().to_owned();
    (dir, store, log_dir, labels)
}

/// `--gate` compares each window's metric with the baseline version's registered run metric:
/// exit 3 when a window is worse by more than the margin.
#[tokio::test]
async fn performance_gates_compare_with_the_registered_run_metric() {
    let (_dir, store, log_dir, labels) = labelled_log().await;
    let gate = |gate: &str| {
        mlops(&[
            "monitor",
            "--store",
            &store,
            "performance",
            "--log",
            &log_dir,
            "--labels",
            &labels,
            "--id",
            "request",
            "--label",
            "y",
            "--window-rows",
            "3",
            "--baseline",
            "churn@1",
            "--gate",
            gate,
        ])
    };
    // 0.5 > 0.25 + 0.1: the second window fails.
    let failed = gate("rmse=loss:lower:0.1");
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("rmse 0.5"),
        "{}",
        text(&failed.stderr)
    );
    assert_eq!(gate("rmse=loss:lower:0.3").status.code(), Some(0));
    let missing = gate("rmse=val_rmse:lower");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("val_rmse"),
        "{}",
        text(&missing.stderr)
    );
}

/// `--trigger 'rmse>registered(loss)*1.5'`: each window's RMSE against 1.5 times its own
/// version's registered `loss` (0.25): the second window (RMSE 0.5 > 0.375) fires one signed
/// event, exit 3; run again, the event's cooldown (read from the outbox) holds: exit 0,
/// nothing sent. A drift rule, or a target without a rule, is refused.
#[tokio::test]
async fn a_performance_rule_fires_a_signed_event_once_and_exits_3() {
    let (_dir, store, log_dir, labels) = labelled_log().await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let posted = read_post(&mut stream);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            tx.send(posted).unwrap();
        }
    });
    let performance = |rule: &str, extra: &[&str]| {
        let mut args = vec![
            "monitor",
            "--store",
            &store,
            "performance",
            "--log",
            &log_dir,
            "--labels",
            &labels,
            "--id",
            "request",
            "--label",
            "y",
            "--window-rows",
            "3",
            "--format",
            "json",
        ];
        if !rule.is_empty() {
            args.extend(["--trigger", rule]);
        }
        args.extend(extra);
        crate::util::command(&root())
            .args(&args)
            .env("MLOPS_TRIGGER_SECRET", "s3cret")
            .output()
            .unwrap()
    };
    let hook = [
        "--trigger-webhook",
        url.as_str(),
        "--allow-private-webhooks",
    ];
    let rule = "rmse > registered(loss) * 1.5";
    let fired = performance(rule, &hook);
    assert_eq!(fired.status.code(), Some(3), "{}", text(&fired.stderr));
    let windows: Value = serde_json::from_slice(&fired.stdout).unwrap();
    let events: Vec<&Value> = (windows.as_array().unwrap().iter())
        .map(|w| &w["events"])
        .collect();
    assert_eq!(events[0], &Value::Null, "{windows}");
    let id = events[1][0].as_str().unwrap().to_owned();
    let (delivered, body) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(delivered, id);
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["kind"], "performance", "{event}");
    assert_eq!(
        (event["model"].as_str(), event["version"].as_str()),
        (Some("churn"), Some("1"))
    );
    let p = &event["performance"];
    assert_eq!(p["metric"], "rmse");
    assert_eq!(p["registered_metric"], "loss");
    assert_eq!(p["registered"], 0.25);
    assert_eq!(p["threshold"], 0.375);
    let rmse = p["value"].as_f64().unwrap();
    assert!((rmse - 0.5).abs() < 1e-12, "{p}");
    assert_eq!(
        windows[1]["regression"]["rmse"].as_f64(),
        Some(rmse),
        "the event's value is the window's"
    );
    // Recorded in the model's audit log.
    let audit = ok(&mlops(&[
        "models", "--store", &store, "history", "--name", "churn",
    ]));
    assert!(audit.contains("mlops.monitor.trigger"), "{audit}");

    let again = performance(rule, &hook);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(500))
            .is_err(),
        "nothing sent within the cooldown"
    );
    // A threshold above both windows fires nothing (its own rule, its own cooldown).
    let calm = performance("rmse>registered(loss)*2.5", &hook);
    assert_eq!(calm.status.code(), Some(0), "{}", text(&calm.stderr));
    let drift = performance("drift_share>=0.3", &hook);
    assert_eq!(drift.status.code(), Some(1));
    assert!(
        text(&drift.stderr).contains("drift rule"),
        "{}",
        text(&drift.stderr)
    );
    let no_rule = performance("", &hook);
    assert_eq!(no_rule.status.code(), Some(1));
    assert!(
        text(&no_rule.stderr).contains("performance rule"),
        "{}",
        text(&no_rule.stderr)
    );
}

/// `--monitor-registry`: the served version's registered profile and signature; the
/// signature names the tensor's columns. Here it names them in the opposite order of the
/// profile's, so traffic drawn from the reference distribution drifts on both inputs (each
/// is compared with the other's reference) and not on the prediction; by the profile's
/// order it would not drift at all.
#[test]
fn served_versions_are_monitored_against_their_registered_profile_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (model, profile) = linear_model_and_profile(dir.path());
    let store = dir.path().join("store").to_str().unwrap().to_owned();
    let signature = dir.path().join("signature.json");
    let spec = |names: &[&str]| {
        let cols: Vec<Value> = names
            .iter()
            .map(|n| serde_json::json!({"name": n, "type": "double"}))
            .collect();
        serde_json::to_string(&cols).unwrap()
    };
    let sig = serde_json::json!({"inputs": spec(&["z", "x"]), "outputs": spec(&["output"])});
    std::fs::write(&signature, sig.to_string()).unwrap();
    let folder = model_folder(dir.path(), "files", "lin");
    ok(&mlops(&[
        "models",
        "--store",
        &store,
        "register",
        "--name",
        "lin",
        "--path",
        &folder,
        "--drift-profile",
        profile.to_str().unwrap(),
        "--signature",
        signature.to_str().unwrap(),
    ]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--version",
            "1",
            "--drain-delay-ms",
            "0",
        ])
        .arg("--model")
        .arg(format!("lin={}", model.display()))
        .args([
            "--monitor-registry",
            &store,
            "--monitor-window-rows",
            "1000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mlops serve: listening on http://")
        .unwrap()
        .to_owned();
    for seed in 50..54 {
        let rows = normal_rows(seed, 250, 0.0);
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let body = serde_json::json!({"inputs": [{"name": "input", "shape": [250, 2], "datatype": "FP32", "data": data}]});
        assert_eq!(
            http(
                &addr,
                "POST",
                "/v2/models/lin/infer",
                &serde_json::to_vec(&body).unwrap()
            )
            .0,
            200
        );
    }
    let mut metrics = String::new();
    for _ in 0..500 {
        metrics = http(&addr, "GET", "/metrics", b"").1;
        if metrics.contains("mlops_monitor_windows_total{model=\"lin\",version=\"1\"} 1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for (feature, drifted) in [("z", 1), ("x", 1), ("output", 0)] {
        let series = format!(
            "mlops_drift_feature_drifted{{model=\"lin\",version=\"1\",feature=\"{feature}\"}} {drifted}"
        );
        assert!(metrics.contains(&series), "{series}\n{metrics}");
    }
}
