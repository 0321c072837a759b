//! The taxi-fare template's model through the real `mlops serve` (issue 16 item 4): a client
//! sends a week's raw trip columns as they are in the Parquet file (the pickup time as RFC
//! 3339 text, the rate code as text) and gets, bit for bit, the fares the template's training
//! code (`taxi_fare predict`) computes from the same rows. Two versions trained with
//! different feature specs each answer with their own registered transform.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};

use chrono::DateTime;
use mlops::drift::arrow_array::cast::AsArray;
use mlops::drift::arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use mlops::drift::arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use crate::util::{command, example};

/// Rows sent per request.
const ROWS: usize = 40;

/// Runs a `taxi_fare` step in `dir`; its JSON result (the last stdout line).
fn taxi(dir: &Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(example("taxi_fare"))
        .current_dir(dir)
        .args(args)
        .env_remove("MLOPS_STORE")
        .env_remove("TAXI_FARE_DATA")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "taxi_fare {args:?}: exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// `mlops serve ARGS` on a free port in `cwd`: the child and its address.
fn serve(cwd: &Path, args: &[&str]) -> (Child, String) {
    let mut child = command(cwd)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = (line
        .trim()
        .strip_prefix("mlops serve: listening on http://"))
    .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
    .to_owned();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    (child, addr)
}

/// The OIP request a client builds from the first `rows` trips of a week file: the four raw
/// columns the model reads, by name, as the served metadata types them.
fn request(file: &Path, rows: usize) -> Value {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
        .unwrap()
        .with_batch_size(rows)
        .build()
        .unwrap();
    let batch: RecordBatch = reader.into_iter().next().unwrap().unwrap();
    let batch = batch.slice(0, rows);
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let distance: Vec<f64> = (column("trip_distance").as_primitive::<Float64Type>())
        .values()
        .to_vec();
    let pickup: Vec<String> = (column("tpep_pickup_datetime")
        .as_primitive::<TimestampMicrosecondType>())
    .values()
    .iter()
    .map(|t| {
        DateTime::from_timestamp_micros(*t)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    })
    .collect();
    let passengers = column("passenger_count");
    let passengers = passengers.as_primitive::<Int64Type>();
    assert_eq!(passengers.null_count(), 0);
    let passengers: Vec<f64> = passengers.values().iter().map(|p| *p as f64).collect();
    let rate: Vec<String> = (column("RatecodeID").as_primitive::<Int64Type>())
        .values()
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({"id": "taxi", "inputs": [
        {"name": "trip_distance", "datatype": "FP64", "shape": [rows], "data": distance},
        {"name": "tpep_pickup_datetime", "datatype": "BYTES", "shape": [rows], "data": pickup},
        {"name": "passenger_count", "datatype": "FP64", "shape": [rows], "data": passengers},
        {"name": "RatecodeID", "datatype": "BYTES", "shape": [rows], "data": rate},
    ]})
}

/// The served answer to `body`, by the blocking std client the other serve tests use.
fn post(addr: &str, path: &str, body: Option<&Value>) -> Value {
    use std::io::Write;
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let method = if body.is_some() { "POST" } else { "GET" };
    let bytes = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    stream.write_all(&bytes).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap()
}

#[test]
fn served_taxi_fares_equal_the_training_code_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    taxi(
        d,
        &[
            "generate", "--data", "data", "--weeks", "3", "--rows", "1500",
        ],
    );
    let common = ["--data", "data", "--store", "root"];
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--weeks", "2", "--epochs", "60"];
        args.extend(common);
        args.extend(extra);
        taxi(d, &args)
    };
    let v1 = train(&[]);
    assert_eq!(v1["version"], "1");
    assert_eq!(
        v1["inputs"],
        json!([
            "trip_distance",
            "tpep_pickup_datetime",
            "passenger_count",
            "RatecodeID"
        ])
    );
    // Another spec: log distance, the hour bucketed, the rate code ordinal. Same raw columns,
    // another transform; the code that serves it is the same.
    let spec = json!({"features": [
        {"column": "trip_distance", "steps": [{"op": "log1p"}, {"op": "standardize"}]},
        {"column": "tpep_pickup_datetime", "name": "evening", "steps": [
            {"op": "date_part", "part": "hour"}, {"op": "bucketize", "boundaries": [16, 20]}]},
        {"column": "passenger_count", "steps": [{"op": "min_max"}]},
        {"column": "RatecodeID", "steps": [{"op": "ordinal", "unknown": "ignore"}]},
    ]});
    std::fs::write(d.join("spec.json"), spec.to_string()).unwrap();
    let v2 = train(&["--spec", "spec.json"]);
    assert_eq!(v2["version"], "2");
    assert_eq!(
        v2["features"],
        json!(["trip_distance", "evening", "passenger_count", "RatecodeID"])
    );

    let week = d.join("data/week=2026-01-19/part-0.parquet");
    let body = request(&week, ROWS);
    let mut answers = Vec::new();
    for version in ["1", "2"] {
        let limit = ROWS.to_string();
        let mut args = vec!["predict", "--version", version, "--limit", &limit];
        args.extend(common);
        let trained = taxi(d, &args);
        assert_eq!(trained["week"], "2026-01-19");
        let trained: Vec<f64> = (trained["predictions"].as_array().unwrap().iter())
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(trained.len(), ROWS);

        let model = format!("taxi-fare@{version}");
        let (mut child, addr) = serve(d, &["--store", "root", "--model", &model]);
        // The served model asks for the raw columns, typed as the transform reads them.
        let meta = post(&addr, "/v2/models/taxi-fare", None);
        let inputs: Vec<(String, String)> = (meta["inputs"].as_array().unwrap().iter())
            .map(|i| {
                let name = i["name"].as_str().unwrap().to_owned();
                (name, i["datatype"].as_str().unwrap().to_owned())
            })
            .collect();
        let expected = [
            ("trip_distance", "FP64"),
            ("tpep_pickup_datetime", "BYTES"),
            ("passenger_count", "FP64"),
            ("RatecodeID", "BYTES"),
        ];
        let expected: Vec<(String, String)> = (expected.iter())
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(inputs, expected, "{meta}");
        let answer = post(&addr, "/v2/models/taxi-fare/infer", Some(&body));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(answer["model_version"], version, "{answer}");
        let served: Vec<f64> = (answer["outputs"][0]["data"].as_array().unwrap().iter())
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(served.len(), ROWS);
        for (row, (s, t)) in served.iter().zip(&trained).enumerate() {
            assert_eq!(
                s.to_bits(),
                t.to_bits(),
                "v{version} row {row}: served {s}, training code {t}"
            );
        }
        answers.push(served);
    }
    // The served result follows each version's registered transform, not the code.
    assert_ne!(answers[0], answers[1]);
}
