//! `mlops_registry::open`: a backend from a URI, used through `Arc<dyn ModelRegistry>` with
//! every convenience, by the free functions and by a `Promoter`.

use std::sync::Arc;

use mlops_core::{AliasName, ArtifactPath, ModelName};
use mlops_registry::{
    Expect, ModelRegistry, NewVersion, OpenOptions, Promoter, RegistryError, RegistryExt, promote,
};

#[tokio::test]
async fn a_folder_uri_opens_an_object_registry_rooted_exactly_there() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().to_str().unwrap();
    let registry = mlops_registry::open_with(uri, &OpenOptions::new().actor("ada")).unwrap();
    let name = ModelName::parse("churn").unwrap();
    let model = registry.ensure_model(&name, None, &[]).await.unwrap();
    assert_eq!(model.creator, "ada");
    assert!(
        dir.path().join("registry/catalog/log").is_dir(),
        "keys under <uri>/registry/"
    );
    // Another open of the same URI sees it, and `existing` accepts it now.
    let again = mlops_registry::open_with(uri, &OpenOptions::new().existing()).unwrap();
    assert_eq!(again.get_model(&name).await.unwrap().creator, "ada");
}

#[tokio::test]
async fn an_arc_dyn_registry_has_every_convenience_and_forwards_the_trait() {
    let registry: Arc<dyn ModelRegistry> = mlops_registry::open("memory://").unwrap();
    let name = ModelName::parse("fraud").unwrap();
    let file = ArtifactPath::parse("model.onnx").unwrap();
    registry.ensure_model(&name, None, &[]).await.unwrap();
    let new = NewVersion::new().with_artifact(file.clone(), &b"1"[..]);
    let v1 = registry.create_version(&name, new).await.unwrap().version;
    let champion = AliasName::parse("champion").unwrap();
    // The free function takes `&dyn ModelRegistry`; the Arc itself is a registry too.
    assert!(
        promote(&*registry, &name, v1, &champion, Expect::Absent, &[])
            .await
            .unwrap()
            .promoted()
    );
    let forwarded: &dyn ModelRegistry = &registry;
    assert_eq!(
        forwarded
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v1
    );
    let promoter = Promoter::new(Arc::clone(&registry), "ci");
    let back = promoter.rollback(&name, &champion).await;
    assert!(
        matches!(back, Err(RegistryError::InvalidState(_))),
        "no earlier holder: {back:?}"
    );
    let files = registry.download_all(&name, v1).await.unwrap();
    assert_eq!(files, vec![(file, bytes::Bytes::from_static(b"1"))]);
}

#[tokio::test]
async fn unknown_schemes_and_bad_mlflow_urls_are_refused_before_any_io() {
    for bad in ["ftp://example.com/x", "memory://a/../b"] {
        assert!(mlops_registry::open(bad).is_err(), "{bad}");
    }
    // An MLflow URL with credentials in it is refused (they go in OpenOptions).
    assert!(mlops_registry::open("http://user:pass@127.0.0.1:5000").is_err());
    // A well-formed MLflow URL opens without contacting the server.
    mlops_registry::open("http://127.0.0.1:9").unwrap();
}
