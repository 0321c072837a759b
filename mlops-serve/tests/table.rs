//! The model table: models added, replaced and removed while the server serves, atomically;
//! requests in flight finish on the model they started on; repository load/unload through it.

use std::sync::Arc;
use std::time::Duration;

use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::{
    Datatype, Error, Model, ModelEntry, ModelMetadata, ModelOptions, Result, Server, Tensor,
    TensorSpec,
};
use serde_json::{Value, json};

use crate::util::{App, Gated, app, expect_error, linear, linear_request, sample};

/// `y = x + offset` over FP64 `[-1, 1]`, output named `output_name`, served as `name`.
struct Shift {
    metadata: ModelMetadata,
    offset: f64,
}

fn shift(name: &str, version: Option<&str>, output: &str, offset: f64) -> Arc<dyn Model> {
    Arc::new(Shift {
        metadata: ModelMetadata {
            name: name.into(),
            version: version.map(Into::into),
            platform: "test_shift".into(),
            inputs: vec![TensorSpec::new("x", Datatype::Fp64, [-1, 1])],
            outputs: vec![TensorSpec::new(output, Datatype::Fp64, [-1, 1])],
        },
        offset,
    })
}

impl Model for Shift {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let x = inputs[0].data.as_array::<f64>().unwrap();
        let name = &self.metadata.outputs[0].name;
        Ok(vec![Tensor::new(name, x.mapv(|v| v + self.offset))])
    }
    fn is_cheap(&self, _inputs: &[Tensor]) -> bool {
        true
    }
}

fn x_request(x: f64) -> Value {
    json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [x]}]})
}

/// Infers `x` on `path`; returns (model_version, output name, value).
async fn infer(running: &App, path: &str, x: f64) -> (Value, String, f64) {
    let r = running
        .client
        .post(running.url(path))
        .json(&x_request(x))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let output = &v["outputs"][0];
    (
        v["model_version"].clone(),
        output["name"].as_str().unwrap().to_owned(),
        output["data"][0].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn versions_are_added_replaced_and_removed_while_serving() {
    let server = Server::builder()
        .model(shift("m", Some("1"), "y", 1.0))
        .build()
        .unwrap();
    let running = app(server.clone());
    let models = server.models();
    assert_eq!(infer(&running, "/v2/models/m/infer", 1.0).await.2, 2.0);

    // A new version takes the unversioned routes; the old one keeps its own.
    models.insert(shift("m", Some("2"), "y", 10.0)).unwrap();
    assert_eq!(models.default_version("m").as_deref(), Some("2"));
    let (version, _, y) = infer(&running, "/v2/models/m/infer", 1.0).await;
    assert_eq!((version, y), (json!("2"), 11.0));
    assert_eq!(
        infer(&running, "/v2/models/m/versions/1/infer", 1.0)
            .await
            .2,
        2.0
    );
    let meta: Value = running
        .client
        .get("/v2/models/m")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["versions"], json!(["1", "2"]));

    // Replacing a version in place keeps the default; choosing another default moves it.
    let old = models.replace(shift("m", Some("1"), "y", 100.0)).unwrap();
    assert!(old.is_some(), "replace returns the model it replaced");
    assert_eq!(
        infer(&running, "/v2/models/m/versions/1/infer", 1.0)
            .await
            .2,
        101.0
    );
    assert_eq!(infer(&running, "/v2/models/m/infer", 1.0).await.2, 11.0);
    models
        .edit(|table| table.set_default("m", Some("1")))
        .unwrap();
    assert_eq!(infer(&running, "/v2/models/m/infer", 1.0).await.2, 101.0);

    // Removing the default falls back to the version that entered last.
    models.remove("m", Some("1")).unwrap();
    assert_eq!(models.versions("m"), vec![Some("2".to_owned())]);
    assert_eq!(infer(&running, "/v2/models/m/infer", 1.0).await.2, 11.0);
    let r = running
        .client
        .post("/v2/models/m/versions/1/infer")
        .json(&x_request(1.0))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "has no version \"1\"").await;

    // A new name, then the whole of "m" goes.
    models.insert(shift("other", None, "z", 0.5)).unwrap();
    assert_eq!(models.names(), vec!["m".to_owned(), "other".to_owned()]);
    models.remove("m", None).unwrap();
    let r = running
        .client
        .post("/v2/models/m/infer")
        .json(&x_request(1.0))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "model \"m\" is not found").await;
    assert_eq!(infer(&running, "/v2/models/other/infer", 1.0).await.2, 1.5);
    assert!(models.get("m", None).is_none());
    assert!(models.get("other", None).is_some());
}

#[test]
fn table_changes_are_checked_and_failed_edits_change_nothing() {
    let server = Server::builder()
        .model(linear("lin", Some("1")))
        .build()
        .unwrap();
    let models = server.models();
    let invalid = |e: Error, needle: &str| {
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle:?}"
        );
    };
    invalid(
        models.insert(linear("lin", Some("1"))).unwrap_err(),
        "registered twice",
    );
    invalid(
        models.insert(linear("lin", None)).unwrap_err(),
        "mixes versioned and unversioned",
    );
    invalid(
        models.replace(linear("lin", None)).unwrap_err(),
        "mixes versioned and unversioned",
    );
    invalid(
        models.insert(linear("lin", Some("a/b"))).unwrap_err(),
        "invalid version",
    );
    invalid(
        models.remove("lin", Some("9")).unwrap_err(),
        "has no version \"9\"",
    );
    invalid(models.remove("nope", None).unwrap_err(), "not found");
    invalid(
        models
            .edit(|table| table.set_default("lin", Some("9")))
            .unwrap_err(),
        "has no version",
    );

    // An edit that fails half-way publishes nothing, and leaves no metric series behind.
    let result = models.edit(|table| {
        table.insert(linear("lin", Some("2")))?;
        table.remove("lin", Some("1"))?;
        table.remove("nope", None)
    });
    assert!(result.is_err());
    assert_eq!(models.versions("lin"), vec![Some("1".to_owned())]);
    let text = server.metrics_text();
    assert!(text.contains("model=\"lin\",version=\"1\""));
    assert!(!text.contains("version=\"2\""), "{text}");

    // A successful edit publishes everything at once; a removed version's series go.
    models
        .edit(|table| {
            table.insert(linear("lin", Some("2")))?;
            table.remove("lin", Some("1"))
        })
        .unwrap();
    assert_eq!(models.versions("lin"), vec![Some("2".to_owned())]);
    let text = server.metrics_text();
    assert!(!text.contains("version=\"1\""), "{text}");
    assert!(text.contains("model=\"lin\",version=\"2\""));
}

/// A request in flight on a model that is replaced finishes on that model; new requests go
/// to the new one at once; the old model is dropped once its request is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_finish_on_the_model_they_started_on() {
    let (gated, gate) = Gated::new("g");
    let weak = Arc::downgrade(&gated);
    let server = Server::builder()
        .model_with(
            gated as Arc<dyn Model>,
            ModelOptions::default().capacity(2, 4),
        )
        .build()
        .unwrap();
    let running = app(server.clone());
    let slow = {
        let client = running.client.clone();
        tokio::spawn(async move {
            client
                .post("/v2/models/g/infer")
                .json(&x_request(4.0))
                .send()
                .await
                .unwrap()
        })
    };
    crate::util::wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_in_flight", "model=\"g\",version=\"\"") == Some(1.0)
    })
    .await;
    server.models().replace(shift("g", None, "y", 0.5)).unwrap();
    // The new model answers while the old one is still busy.
    assert_eq!(infer(&running, "/v2/models/g/infer", 4.0).await.2, 4.5);
    assert!(!slow.is_finished());
    assert!(weak.upgrade().is_some(), "the old model lives while in use");
    drop(gate);
    let r = slow.await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["outputs"][0]["data"],
        json!([8.0]),
        "the old model (2x) answered"
    );
    for _ in 0..500 {
        if weak.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the replaced model was not dropped after its last request");
}

/// Under concurrent requests and repeated swaps between two models that differ in output
/// name and value, every answer comes wholly from one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_never_mix_two_models() {
    let server = Server::builder()
        .model(shift("m", None, "a", 1.0))
        .build()
        .unwrap();
    let running = Arc::new(app(server.clone()));
    let mut callers = Vec::new();
    for caller in 0..8 {
        let running = Arc::clone(&running);
        callers.push(tokio::spawn(async move {
            let mut seen = [0usize; 2];
            for i in 0..100 {
                let x = f64::from(caller * 1000 + i);
                let (_, output, y) = infer(&running, "/v2/models/m/infer", x).await;
                match output.as_str() {
                    "a" => {
                        assert_eq!(y, x + 1.0, "model a's name with another value");
                        seen[0] += 1;
                    }
                    "b" => {
                        assert_eq!(y, x + 2.0, "model b's name with another value");
                        seen[1] += 1;
                    }
                    other => panic!("unknown output {other}"),
                }
            }
            seen
        }));
    }
    let models = server.models();
    let swapper = tokio::spawn(async move {
        for i in 0..200 {
            let next = if i % 2 == 0 {
                shift("m", None, "b", 2.0)
            } else {
                shift("m", None, "a", 1.0)
            };
            models.replace(next).unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut total = 0;
    for caller in callers {
        let seen = caller.await.unwrap();
        total += seen[0] + seen[1];
    }
    swapper.await.unwrap();
    assert_eq!(total, 800);
}

/// The repository extension's unload and load go through the table; a model read from a
/// file is read again, and a file that no longer loads leaves the model unloaded.
#[tokio::test]
async fn repository_load_reads_a_file_model_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    LinearFile::linear(vec![vec![1.0, 2.0, 3.0]], vec![0.5])
        .write(&path)
        .unwrap();
    let server = Server::builder()
        .model_file(&path, "lin", None)
        .unwrap()
        .repository_extension(true)
        .build()
        .unwrap();
    let running = app(server.clone());
    let predict = || async {
        let r = running
            .client
            .post("/v2/models/lin/infer")
            .json(&linear_request(&[[1.0, 1.0, 1.0]]))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.ok())
    };
    let (_, v) = predict().await;
    assert_eq!(v.unwrap()["outputs"][0]["data"], json!([6.5]));
    let post = |path: &'static str| running.client.post(path).send();
    assert_eq!(
        post("/v2/repository/models/lin/unload")
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(!server.is_ready());
    assert!(server.models().get("lin", None).is_none());
    let index: Value = post("/v2/repository/index")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        index,
        json!([{"name": "lin", "state": "UNAVAILABLE", "reason": "unloaded"}])
    );

    // A broken file: load fails without naming the path, the model stays unloaded.
    std::fs::write(&path, "{\"format\": \"nope\"").unwrap();
    let r = post("/v2/repository/models/lin/load").await.unwrap();
    let message = expect_error(r, 500, "failed to load; see the server log").await;
    assert!(!message.contains(&dir.path().display().to_string()));
    assert_eq!(predict().await.0, 503);

    // A new file: load reads it.
    LinearFile::linear(vec![vec![0.0, 0.0, 1.0]], vec![0.0])
        .write(&path)
        .unwrap();
    assert_eq!(
        post("/v2/repository/models/lin/load")
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(server.is_ready());
    let (_, v) = predict().await;
    assert_eq!(v.unwrap()["outputs"][0]["data"], json!([1.0]));
}

/// A model entry's own options apply, and a replacement without options keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_carry_their_options_across_replacement() {
    let (first, first_gate) = Gated::new("g");
    let server = Server::builder()
        .entry(
            ModelEntry::new(first as Arc<dyn Model>)
                .options(ModelOptions::default().capacity(1, 0)),
        )
        .build()
        .unwrap();
    let (second, second_gate) = Gated::new("g");
    server.models().replace(second as Arc<dyn Model>).unwrap();
    let running = app(server);
    let blocked = {
        let client = running.client.clone();
        tokio::spawn(async move {
            client
                .post("/v2/models/g/infer")
                .json(&x_request(1.0))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    crate::util::wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_in_flight", "model=\"g\",version=\"\"") == Some(1.0)
    })
    .await;
    let r = running
        .client
        .post("/v2/models/g/infer")
        .json(&x_request(1.0))
        .send()
        .await
        .unwrap();
    expect_error(r, 429, "queue of 0 requests is full").await;
    drop((first_gate, second_gate));
    assert_eq!(blocked.await.unwrap(), 200);
}
