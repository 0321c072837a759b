//! The storage format, byte for byte: every object of a store written by the first release
//! decodes and encodes back to the same bytes, and each kind of record has the exact shape
//! `docs/FORMAT.md` gives.

use std::path::{Path, PathBuf};

use mlops_core::{
    ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId, RunName,
    RunStatus, Tag, TagKey, Timestamp,
};

use super::*;
use crate::entities::{Dataset, DatasetInput};

/// The tracking part of `tests/fixtures/store-v1/store` (the registry lives under
/// `registry/`).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/store-v1/store")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "registry") {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn a_store_of_the_first_release_reencodes_to_the_same_bytes() {
    let root = fixture();
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let kind = if rel == "FORMAT.json" {
            let marker = decode_marker(&bytes).unwrap();
            assert_eq!((marker.format.as_str(), marker.version), (FORMAT_NAME, 1));
            assert_eq!(encode_marker(), bytes, "{rel}");
            "marker"
        } else if rel.ends_with("lease.json") {
            let lease = decode_lease(&bytes).unwrap();
            assert_eq!(encode_lease(&lease), bytes, "{rel}");
            "lease"
        } else if rel.starts_with("experiments/log/") {
            let record = decode_experiment_record(&bytes).unwrap();
            assert_eq!(encode_experiment_record(&record), bytes, "{rel}");
            "experiment record"
        } else if rel.contains("/meta/") {
            let record = decode_run_record(&bytes).unwrap();
            assert_eq!(encode_run_record(&record), bytes, "{rel}");
            "run record"
        } else if rel.ends_with(".jsonl") && rel.contains("/metrics/") {
            let points = decode_segment(&bytes).unwrap();
            assert_eq!(encode_segment(&points), bytes, "{rel}");
            "segment"
        } else {
            // Markers (`{}`), Parquet files and artifacts are not records.
            "other"
        };
        *seen.entry(kind).or_default() += 1;
    }
    // The fixture has every kind this test covers (14 run records: two runs of seven).
    assert_eq!(seen.get("marker"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("lease"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("experiment record"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("run record"), Some(&14), "{seen:?}");
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

fn point(key: &str, value: f64, ms: i64, step: i64) -> Metric {
    Metric::new(MetricKey::parse(key).unwrap(), value, ts(ms), step)
}

fn body(framed: &[u8]) -> String {
    let text = String::from_utf8(framed.to_vec()).unwrap();
    text.split_once('\n').unwrap().1.to_owned()
}

#[test]
fn every_record_kind_has_its_documented_shape() {
    let exp = ExperimentId::parse("01a23f88b1457002addc6331904000c2").unwrap();
    let run = RunId::parse("01a23f88b16e738eb6ef51dbeae8fd70").unwrap();
    let record = |op| ExperimentRecord {
        txn: "t".into(),
        at: 7,
        op,
    };
    let cases: Vec<(ExperimentOp, &str)> = vec![
        (
            ExperimentOp::Create {
                experiment_id: exp.clone(),
                name: ExperimentName::parse("churn").unwrap(),
                tags: vec![Tag::parse("team", "a").unwrap()],
            },
            r#"{"txn":"t","at":7,"op":"create","experiment_id":"01a23f88b1457002addc6331904000c2","name":"churn","tags":[{"key":"team","value":"a"}]}"#,
        ),
        (
            ExperimentOp::SetTag {
                experiment_id: exp.clone(),
                tag: Tag::parse("k", "v").unwrap(),
            },
            r#"{"txn":"t","at":7,"op":"set_tag","experiment_id":"01a23f88b1457002addc6331904000c2","tag":{"key":"k","value":"v"}}"#,
        ),
        (
            ExperimentOp::Delete {
                experiment_id: exp.clone(),
            },
            r#"{"txn":"t","at":7,"op":"delete","experiment_id":"01a23f88b1457002addc6331904000c2"}"#,
        ),
    ];
    for (op, expected) in cases {
        let encoded = encode_experiment_record(&record(op));
        assert_eq!(body(&encoded), format!("{expected}\n"));
        decode_experiment_record(&encoded).unwrap();
    }

    let run_record = |op| RunRecord {
        txn: "t".into(),
        at: 7,
        op,
    };
    let input = DatasetInput {
        dataset: Dataset {
            name: "train".into(),
            digest: "abc".into(),
            source_type: "local".into(),
            source: "/d.parquet".into(),
            schema: None,
            profile: Some(r#"{"num_rows":3}"#.into()),
        },
        tags: vec![Tag::parse("mlflow.data.context", "training").unwrap()],
    };
    let cases: Vec<(RunOp, &str)> = vec![
        (
            RunOp::Create {
                run_id: run,
                experiment_id: exp,
                user_id: "ada".into(),
                start_time: ts(5),
                run_name: Some(RunName::parse("owl").unwrap()),
                tags: vec![],
            },
            r#"{"txn":"t","at":7,"op":"create","run_id":"01a23f88b16e738eb6ef51dbeae8fd70","experiment_id":"01a23f88b1457002addc6331904000c2","user_id":"ada","start_time":5,"run_name":"owl","tags":[]}"#,
        ),
        (
            RunOp::Data {
                params: vec![Param::parse("lr", "0.1").unwrap()],
                tags: vec![Tag::parse("t", "x\ny").unwrap()],
            },
            r#"{"txn":"t","at":7,"op":"data","params":[{"key":"lr","value":"0.1"}],"tags":[{"key":"t","value":"x\ny"}]}"#,
        ),
        (
            RunOp::DeleteTag {
                key: TagKey::parse("t").unwrap(),
            },
            r#"{"txn":"t","at":7,"op":"delete_tag","key":"t"}"#,
        ),
        (
            RunOp::Lifecycle {
                stage: LifecycleStage::Deleted,
            },
            r#"{"txn":"t","at":7,"op":"lifecycle","stage":"deleted"}"#,
        ),
        (
            RunOp::Inputs {
                inputs: vec![input],
            },
            r#"{"txn":"t","at":7,"op":"inputs","inputs":[{"dataset":{"name":"train","digest":"abc","source_type":"local","source":"/d.parquet","profile":"{\"num_rows\":3}"},"tags":[{"key":"mlflow.data.context","value":"training"}]}]}"#,
        ),
        (
            RunOp::Compacted(Compaction {
                file: "f.parquet".into(),
                segments: vec!["s.jsonl".into()],
                replaces: vec![],
                points: 2,
                latest: vec![point("loss", f64::INFINITY, 9, 3)],
            }),
            r#"{"txn":"t","at":7,"op":"compacted","file":"f.parquet","segments":["s.jsonl"],"replaces":[],"points":2,"latest":[{"key":"loss","value":"Infinity","timestamp":9,"step":3}]}"#,
        ),
        (
            RunOp::Update {
                status: Some(RunStatus::Killed),
                end_time: Some(ts(8)),
                run_name: None,
            },
            r#"{"txn":"t","at":7,"op":"update","status":"KILLED","end_time":8}"#,
        ),
    ];
    for (op, expected) in cases {
        let encoded = encode_run_record(&run_record(op));
        assert_eq!(body(&encoded), format!("{expected}\n"));
        decode_run_record(&encoded).unwrap();
    }
}

#[test]
fn segments_keep_every_value_and_their_documented_shape() {
    let points = vec![
        point("loss", 0.5, 1_700_000_000_000, 3),
        point("loss", f64::NAN, 1_700_000_000_001, 4),
        point("val/acc", f64::NEG_INFINITY, 2, -5),
        point("val/acc", -0.0, 4, i64::MAX),
    ];
    let encoded = encode_segment(&points);
    assert_eq!(
        body(&encoded),
        "{\"key\":\"loss\",\"value\":0.5,\"timestamp\":1700000000000,\"step\":3}\n\
         {\"key\":\"loss\",\"value\":\"NaN\",\"timestamp\":1700000000001,\"step\":4}\n\
         {\"key\":\"val/acc\",\"value\":\"-Infinity\",\"timestamp\":2,\"step\":-5}\n\
         {\"key\":\"val/acc\",\"value\":-0.0,\"timestamp\":4,\"step\":9223372036854775807}\n"
    );
    let back = decode_segment(&encoded).unwrap();
    assert!(points.iter().zip(&back).all(|(a, b)| a.same_point(b)));
    assert_eq!(back[3].value.to_bits(), (-0.0f64).to_bits());
    // A point MLflow's types refuse makes the segment unreadable, never different.
    let bad = frame::encode(
        Kind::MetricSegment,
        b"{\"key\":\"../x\",\"value\":1,\"timestamp\":1}\n",
    );
    assert!(
        decode_segment(&bad)
            .unwrap_err()
            .contains("unreadable point")
    );
    // `step` defaults to 0, as MLflow's.
    let stepless = frame::encode(
        Kind::MetricSegment,
        b"{\"key\":\"x\",\"value\":1,\"timestamp\":1}\n",
    );
    assert_eq!(decode_segment(&stepless).unwrap()[0].step, 0);
}

#[test]
fn checkpoints_and_leases_have_their_documented_shape() {
    let entry = ExperimentEntry {
        experiment_id: ExperimentId::parse("01a23f88b1457002addc6331904000c2").unwrap(),
        name: ExperimentName::parse("churn").unwrap(),
        creation_time: ts(1),
        last_update_time: ts(2),
        lifecycle: LifecycleStage::Active,
        lifecycle_at: 3,
        tags: vec![Tag::parse("k", "v").unwrap()],
    };
    let encoded = encode_checkpoint(499, [&entry]);
    assert_eq!(
        body(&encoded),
        "{\"seq\":499,\"experiments\":[{\"experiment_id\":\"01a23f88b1457002addc6331904000c2\",\
         \"name\":\"churn\",\"creation_time\":1,\"last_update_time\":2,\"lifecycle\":\"active\",\
         \"lifecycle_at\":3,\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}]}\n"
    );
    let (seq, back) = decode_checkpoint(&encoded).unwrap();
    assert_eq!((seq, back.len(), &back[0].tags), (499, 1, &entry.tags));

    let lease = Lease {
        pid: 7,
        host: "vm".into(),
        boot_id: None,
        process_start: Some(9),
        since: ts(1),
        renewed: ts(2),
    };
    let encoded = encode_lease(&lease);
    assert_eq!(
        String::from_utf8(encoded.clone()).unwrap(),
        "{\"pid\":7,\"host\":\"vm\",\"boot_id\":null,\"process_start\":9,\"since\":1,\"renewed\":2}\n"
    );
    assert_eq!(decode_lease(&encoded).unwrap(), lease);
    // Leases written without the Linux-only fields still read.
    let old = decode_lease(br#"{"pid":1,"host":"h","since":1,"renewed":1}"#).unwrap();
    assert_eq!((old.boot_id, old.process_start), (None, None));
}

#[test]
fn index_generations_have_their_documented_shape() {
    use crate::local::index::IndexedRun;
    use crate::local::run_state::RunMeta;

    let run = IndexedRun {
        meta: RunMeta {
            run_id: RunId::parse("01a23f88b16e738eb6ef51dbeae8fd70").unwrap(),
            experiment_id: ExperimentId::parse("01a23f88b1457002addc6331904000c2").unwrap(),
            user_id: "ada".into(),
            start_time: ts(1),
            status: RunStatus::Finished,
            end_time: Some(ts(5)),
            run_name: Some(RunName::parse("r1").unwrap()),
            params: vec![Param::parse("lr", "0.1").unwrap()],
            tags: vec![Tag::parse("mlflow.runName", "r1").unwrap()],
            inputs: vec![],
            lifecycle: LifecycleStage::Active,
            lifecycle_at: 3,
        },
        next_seq: 4,
        metrics: vec![point("loss", 0.5, 4, 2)],
        fresh: None,
    };
    let encoded = encode_index(2, 9, [&run], &Default::default());
    assert!(encoded.starts_with(b"{\"mlops\":\"run-index\",\"v\":1,"));
    assert_eq!(
        body(&encoded),
        "{\"seq\":2,\"built_at\":9}\n\
         {\"run_id\":\"01a23f88b16e738eb6ef51dbeae8fd70\",\
         \"experiment_id\":\"01a23f88b1457002addc6331904000c2\",\"user_id\":\"ada\",\
         \"start_time\":1,\"status\":\"FINISHED\",\"end_time\":5,\"run_name\":\"r1\",\
         \"params\":[{\"key\":\"lr\",\"value\":\"0.1\"}],\
         \"tags\":[{\"key\":\"mlflow.runName\",\"value\":\"r1\"}],\"inputs\":[],\
         \"lifecycle\":\"active\",\"lifecycle_at\":3,\"next_seq\":4,\
         \"metrics\":[{\"key\":\"loss\",\"value\":0.5,\"timestamp\":4,\"step\":2}]}\n"
    );
    assert_eq!(index_line_len(&run) + 23, body(&encoded).len());
    let decoded = decode_index(&encoded).unwrap();
    let (seq, back) = (decoded.seq, decoded.runs);
    assert_eq!((seq, back.len(), back[0].next_seq), (2, 1, 4));
    assert!(decoded.left_out.is_empty());
    assert_eq!(back[0].meta.params, run.meta.params);
    assert_eq!(back[0].metrics, run.metrics);
    assert_eq!(back[0].fresh, None);

    // A run taken from its ender's summary carries the time its ending was recorded.
    let fresh = IndexedRun {
        fresh: Some(7),
        ..run.clone()
    };
    let left_out = [(RunId::parse("01a23f88b16e738eb6ef51dbeae8fd71").unwrap(), 3)]
        .into_iter()
        .collect();
    let encoded_fresh = encode_index(0, 9, [&fresh], &left_out);
    assert!(
        body(&encoded_fresh).starts_with(
            "{\"seq\":0,\"built_at\":9,\"left_out\":{\"01a23f88b16e738eb6ef51dbeae8fd71\":3}}\n"
        ),
        "{}",
        body(&encoded_fresh)
    );
    assert!(
        body(&encoded_fresh).ends_with("\"step\":2}],\"fresh\":7}\n"),
        "{}",
        body(&encoded_fresh)
    );
    let decoded = decode_index(&encoded_fresh).unwrap();
    assert_eq!(
        (decoded.runs[0].fresh, decoded.left_out),
        (Some(7), left_out)
    );

    // A running run in a generation refuses the whole generation; so does a flipped byte.
    let mut running = run;
    running.meta.status = RunStatus::Running;
    let err = decode_index(&encode_index(0, 0, [&running], &Default::default())).unwrap_err();
    assert!(err.contains("only ended runs"), "{err}");
    let mut flipped = encoded;
    let last = flipped.len() - 3;
    flipped[last] ^= 1;
    assert!(decode_index(&flipped).unwrap_err().contains("CRC-32C"));
}
