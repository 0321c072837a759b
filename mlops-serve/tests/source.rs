//! Model sources and loaders from bytes: `FileSource`, `runtime::load_bytes` and
//! `load_files`, the table loading from a source (and a repository load fetching the same
//! version again), and, with the `registry` feature, a registry as a source.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::runtime::{self, Format};
use mlops_serve::source::{self, FileSource};
use mlops_serve::{Error, ModelFile, ModelSource, Selector, Server, Tensor};
use serde_json::{Value, json};

use crate::util::{app, linear_request, tensor};

fn linear_json(slope: f64) -> Vec<u8> {
    serde_json::to_vec(&LinearFile::linear(vec![vec![slope, 0.0, 0.0]], vec![0.0])).unwrap()
}

const PICKLE: &[u8] = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.";

/// Predicts one row `[1, 0, 0]` with a loaded model (so the slope comes back).
fn slope_of(model: &dyn mlops_serve::Model) -> f32 {
    let out = model
        .infer(vec![Tensor::new(
            "input",
            tensor(&[1, 3], vec![1.0f32, 0.0, 0.0]),
        )])
        .unwrap();
    out[0].data.as_array::<f32>().unwrap()[[0, 0]]
}

#[test]
fn selectors_parse_versions_and_aliases() {
    assert_eq!(
        "3".parse::<Selector>().unwrap(),
        Selector::Version("3".into())
    );
    assert_eq!(
        "champion".parse::<Selector>().unwrap(),
        Selector::Alias("champion".into())
    );
    assert!("".parse::<Selector>().is_err());
}

#[test]
fn load_bytes_sniffs_like_load_and_refuses_pickles() {
    let model = runtime::load_bytes(&linear_json(2.0), "model.json", "m", Some("4")).unwrap();
    assert_eq!(model.metadata().version.as_deref(), Some("4"));
    assert_eq!(slope_of(model.as_ref()), 2.0);
    // No extension: the first byte decides.
    assert!(runtime::load_bytes(&linear_json(1.0), "model", "m", None).is_ok());
    assert_eq!(
        runtime::sniff_bytes(b"\x08\x07rest", "blob").unwrap(),
        Format::Onnx
    );
    // Pickles, whatever the name, and pickle-based extensions.
    for (bytes, hint) in [
        (PICKLE, "model.onnx"),
        (PICKLE, "model.json"),
        (&b"(dp0\nS'a'\n"[..], "model"),
        (&b"{}"[..], "model.pkl"),
    ] {
        let Err(err) = runtime::load_bytes(bytes, hint, "m", None) else {
            panic!("{hint} loaded")
        };
        assert!(matches!(err, Error::UnsafeArtifact { .. }), "{hint}: {err}");
    }
    // A gzip-wrapped pickle says what it wraps.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PICKLE).unwrap();
    let err = runtime::sniff_bytes(&gz.finish().unwrap(), "model.joblib")
        .err()
        .unwrap();
    assert!(err.to_string().contains("gzip-compressed pickle"), "{err}");
    // Unknown content, and a bad linear file, are load errors naming the hint.
    let err = runtime::load_bytes(b"hello", "model.bin", "m", None)
        .err()
        .unwrap();
    assert!(matches!(err, Error::Load { .. }) && err.to_string().contains("model.bin"));
    let err = runtime::load_bytes(b"{\"format\":1}", "model.json", "m", None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a linear model file"), "{err}");
    #[cfg(not(feature = "onnx"))]
    {
        let err = runtime::load_bytes(b"\x08\x07", "m.onnx", "m", None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("`onnx` feature"), "{err}");
    }
}

#[test]
fn load_files_picks_the_model_among_a_versions_files() {
    let file = |path: &str, bytes: &[u8]| ModelFile::new(path, bytes.to_vec());
    let mlflow_like = [
        file("MLmodel", b"flavors: {}\n"),
        file("requirements.txt", b"numpy\n"),
        file("model/model.json", &linear_json(3.0)),
        file("input_example.json", b"{\"x\": 1}"),
    ];
    let model = runtime::load_files(&mlflow_like, "m", Some("1")).unwrap();
    assert_eq!(slope_of(model.as_ref()), 3.0);
    // One file is the model whatever its name.
    let model = runtime::load_files(&[file("weights", &linear_json(5.0))], "m", None).unwrap();
    assert_eq!(slope_of(model.as_ref()), 5.0);
    // Two candidates are an error, not a guess.
    let two = [
        file("a.json", &linear_json(1.0)),
        file("b.json", &linear_json(2.0)),
    ];
    let err = runtime::load_files(&two, "m", None).err().unwrap();
    assert!(
        err.to_string()
            .contains("several model files among [a.json, b.json]"),
        "{err}"
    );
    // A pickle next to nothing servable is refused as a pickle.
    let pickled = [file("MLmodel", b"flavors: {}\n"), file("model.pkl", PICKLE)];
    let err = runtime::load_files(&pickled, "m", None).err().unwrap();
    assert!(matches!(err, Error::UnsafeArtifact { .. }), "{err}");
    let err = runtime::load_files(&[file("MLmodel", b"x"), file("README", b"y")], "m", None)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("no model file among [MLmodel, README]"),
        "{err}"
    );
    // The digest is the SHA-256 of the bytes.
    assert_eq!(
        file("empty", b"").sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// Writes version folders `1` (slope 1) and `2` (slope 2) with an `MLmodel` beside each model.
fn versions(dir: &Path) -> FileSource {
    let source = FileSource::new();
    for version in ["1", "2"] {
        let folder = dir.join(version);
        std::fs::create_dir_all(folder.join("model")).unwrap();
        std::fs::write(folder.join("MLmodel"), "flavors: {}\n").unwrap();
        std::fs::write(
            folder.join("model/model.json"),
            linear_json(version.parse().unwrap()),
        )
        .unwrap();
        source.add_version("m", version, folder);
    }
    source.set_alias("m", "champion", "1");
    source
}

#[tokio::test]
async fn file_source_resolves_aliases_and_fetches_folders() {
    let dir = tempfile::tempdir().unwrap();
    let source = versions(dir.path());
    let alias = Selector::Alias("champion".into());
    assert_eq!(source.resolve("m", &alias).await.unwrap().version, "1");
    source.set_alias("m", "champion", "2");
    assert_eq!(source.resolve("m", &alias).await.unwrap().version, "2");
    assert_eq!(
        source
            .resolve("m", &Selector::Version("1".into()))
            .await
            .unwrap()
            .version,
        "1"
    );
    for (name, selector, needle) in [
        ("m", Selector::Alias("nope".into()), "no alias \"nope\""),
        ("m", Selector::Version("9".into()), "no version \"9\""),
        ("x", Selector::Version("1".into()), "no version"),
    ] {
        let err = source.resolve(name, &selector).await.err().unwrap();
        assert!(
            matches!(err, Error::Source { .. }) && err.to_string().contains(needle),
            "{err}"
        );
    }
    let files = source.fetch("m", "2").await.unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["MLmodel", "model/model.json"]);
    assert_eq!(&files[1].bytes[..], &linear_json(2.0)[..]);
}

#[tokio::test]
async fn the_table_serves_a_source_and_a_repository_load_fetches_the_same_version() {
    let dir = tempfile::tempdir().unwrap();
    let source: Arc<FileSource> = Arc::new(versions(dir.path()));
    let champion = Selector::Alias("champion".into());
    let server = Server::builder()
        .model_from_source(source.clone(), "m", &champion)
        .await
        .unwrap()
        .repository_extension(true)
        .build()
        .unwrap();
    let running = app(server.clone());
    let predict = |path: &'static str| {
        let client = running.client.clone();
        async move {
            let r = client
                .post(path)
                .json(&linear_request(&[[1.0, 0.0, 0.0]]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            (
                v["model_version"].clone(),
                v["outputs"][0]["data"][0].clone(),
            )
        }
    };
    assert_eq!(
        predict("/v2/models/m/infer").await,
        (json!("1"), json!(1.0))
    );

    // The alias moves: loading it again serves version 2 by default, version 1 stays.
    source.set_alias("m", "champion", "2");
    let models = server.models();
    let version = models
        .load_from(source.clone(), "m", &champion, None)
        .await
        .unwrap();
    assert_eq!(version, "2");
    assert_eq!(
        predict("/v2/models/m/infer").await,
        (json!("2"), json!(2.0))
    );
    assert_eq!(
        predict("/v2/models/m/versions/1/infer").await,
        (json!("1"), json!(1.0))
    );

    // A repository load fetches each loaded version again (not the alias).
    std::fs::write(dir.path().join("1/model/model.json"), linear_json(10.0)).unwrap();
    source.set_alias("m", "champion", "1");
    let r = running
        .client
        .post("/v2/repository/models/m/load")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        predict("/v2/models/m/infer").await,
        (json!("2"), json!(2.0))
    );
    assert_eq!(
        predict("/v2/models/m/versions/1/infer").await,
        (json!("1"), json!(10.0))
    );

    // Loading a version that does not exist changes nothing.
    let err = models
        .load_from(source.clone(), "m", &Selector::Version("9".into()), None)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Source { .. }), "{err}");
    assert_eq!(
        models.versions("m"),
        vec![Some("1".into()), Some("2".into())]
    );

    // Load without serving, insert later.
    let loaded = source::load(source.clone(), "m", &Selector::Version("1".into()))
        .await
        .unwrap();
    assert_eq!(loaded.version, "1");
    models.remove("m", None).unwrap();
    models.insert(loaded).unwrap();
    assert_eq!(
        predict("/v2/models/m/infer").await,
        (json!("1"), json!(10.0))
    );
}

#[cfg(feature = "registry")]
#[tokio::test]
async fn a_registry_is_a_source() {
    use mlops_core::{AliasName, ArtifactPath, ModelName, StoreUri};
    use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
    use mlops_serve::source::RegistrySource;

    let registry =
        Arc::new(ObjectRegistry::open_uri(&StoreUri::parse("memory://reg").unwrap()).unwrap());
    let name = ModelName::parse("price").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    let mut created = Vec::new();
    for slope in [1.0, 2.0] {
        let files = NewVersion::new()
            .with_artifact(
                ArtifactPath::parse("MLmodel").unwrap(),
                b"flavors: {}\n".to_vec(),
            )
            .with_artifact(
                ArtifactPath::parse("model.json").unwrap(),
                linear_json(slope),
            );
        created.push(registry.create_version(&name, files).await.unwrap().version);
    }
    let champion = AliasName::parse("champion").unwrap();
    registry
        .set_alias(&name, &champion, created[1], &AliasChange::default())
        .await
        .unwrap();

    let source = Arc::new(RegistrySource::new(registry as Arc<dyn ModelRegistry>));
    let alias = Selector::Alias("champion".into());
    assert_eq!(
        source.resolve("price", &alias).await.unwrap().version,
        created[1].to_string()
    );
    let files = source.fetch("price", "1").await.unwrap();
    assert_eq!(files.len(), 2);
    let server = Server::builder()
        .model_from_source(source.clone(), "price", &alias)
        .await
        .unwrap()
        .build()
        .unwrap();
    let model = server.models().get("price", None).unwrap();
    assert_eq!(model.metadata().version.as_deref(), Some("2"));
    for (selector, needle) in [
        (Selector::Alias("nope".into()), "nope"),
        (Selector::Version("9".into()), "9"),
        (Selector::Version("0".into()), "0"),
    ] {
        let err = source.resolve("price", &selector).await.err().unwrap();
        assert!(
            matches!(err, Error::Source { .. }) && err.to_string().contains(needle),
            "{err}"
        );
    }
}
