//! Checks of versions: numbering, files and digests, what a version records, stages.

use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::{Tag, TagKey, Timestamp};

use super::{files, new_model, new_version, path, run_link, unique_model, v};
use crate::checks::sha256_hex;
use crate::error::RegistryError;
use crate::ext::RegistryExt;
use crate::registry::ModelRegistry;
use crate::signature::Signature;
use crate::types::{NewVersion, Stage, VersionQuery, VersionStatus};

/// Version numbers 1, 2, 3; artifacts with digests; download; get; search newest first;
/// delete; description, tags and status.
pub async fn versions(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "versions").await;
    let mut numbers = Vec::new();
    for seed in ["a", "b", "c"] {
        numbers.push(new_version(registry, &name, files(seed)).await);
    }
    assert_eq!(numbers, vec![v(1), v(2), v(3)]);
    let info = registry.get_version(&name, v(2)).await.unwrap();
    assert_eq!(info.model, name);
    assert_eq!(info.status, VersionStatus::Ready);
    assert_eq!(info.stage, Stage::None);
    let listed: Vec<&str> = info.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(listed, vec!["MLmodel", "model/weights.bin"]);
    for entry in &info.artifacts {
        let bytes = registry
            .download_artifact(&name, v(2), &entry.path)
            .await
            .unwrap();
        assert_eq!(entry.sha256, sha256_hex(&bytes), "digest of {}", entry.path);
        assert_eq!(entry.size, bytes.len() as u64);
    }
    assert_eq!(
        registry
            .download_artifact(&name, v(2), &path("model/weights.bin"))
            .await
            .unwrap(),
        Bytes::from("weights b")
    );
    assert!(
        registry
            .download_artifact(&name, v(2), &path("nope.bin"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        registry.get_model(&name).await.unwrap().latest_version,
        Some(v(3))
    );

    let page = registry
        .search_versions(&VersionQuery {
            model: Some(name.clone()),
            ..VersionQuery::default()
        })
        .await
        .unwrap();
    let found: Vec<u64> = page.items.iter().map(|i| i.version.get()).collect();
    assert_eq!(found, vec![3, 2, 1], "newest first");

    registry
        .set_version_description(&name, v(1), "baseline")
        .await
        .unwrap();
    registry
        .set_version_tag(&name, v(1), &Tag::parse("validated", "yes").unwrap())
        .await
        .unwrap();
    registry
        .set_version_tag(&name, v(1), &Tag::parse("owner", "ada").unwrap())
        .await
        .unwrap();
    registry
        .delete_version_tag(&name, v(1), &TagKey::parse("owner").unwrap())
        .await
        .unwrap();
    let one = registry.get_version(&name, v(1)).await.unwrap();
    assert_eq!(one.description.as_deref(), Some("baseline"));
    assert_eq!(one.tag("validated"), Some("yes"));
    assert_eq!(one.tag("owner"), None);

    registry.delete_version(&name, v(3)).await.unwrap();
    assert!(
        registry
            .get_version(&name, v(3))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        registry.get_model(&name).await.unwrap().latest_version,
        Some(v(2))
    );
    // Numbers are never reused.
    assert_eq!(new_version(registry, &name, files("d")).await, v(4));
    assert!(
        registry
            .get_version(&name, v(99))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let missing = unique_model("missing");
    assert!(
        registry
            .create_version(&missing, files("x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// What a version records: run link and metric snapshot, signature, drift profile,
/// datasets, creator, timestamps; search by run.
pub async fn version_records(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "records").await;
    let link = run_link(&[("accuracy", 0.91), ("loss", f64::NAN)]);
    let signature = Signature::new(
        Schema::new(vec![
            Field::new("age", DataType::Int64, false),
            Field::new("city", DataType::Utf8, true),
        ]),
        Some(Schema::new(vec![Field::new(
            "score",
            DataType::Float64,
            false,
        )])),
    );
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("age", DataType::Int64, false)]));
    let dataset = mlops_core::DatasetRef::new(
        "train",
        "s3://bucket/train.parquet",
        schema,
        "0123456789abcdef0123456789abcdef".parse().unwrap(),
        10,
    )
    .unwrap();
    let before = Timestamp::now();
    let info = registry
        .create_version(
            &name,
            files("rec")
                .with_run(link.clone())
                .with_signature(signature.clone())
                .with_drift_profile(Bytes::from_static(b"{\"profile\": 1}"))
                .with_dataset(dataset.clone())
                .with_description("with everything"),
        )
        .await
        .unwrap();
    let got = registry.get_version(&name, info.version).await.unwrap();
    let run = got.run.as_ref().expect("run link kept");
    assert_eq!(run.run_id, link.run_id);
    assert_eq!(run.experiment_id, link.experiment_id);
    assert_eq!(got.metric("accuracy"), Some(0.91));
    assert!(got.metric("loss").is_some_and(f64::is_nan), "NaN kept");
    assert_eq!(got.signature.as_ref(), Some(&signature));
    assert_eq!(got.datasets, vec![dataset]);
    assert_eq!(got.description.as_deref(), Some("with everything"));
    assert!(!got.creator.is_empty());
    assert!(got.created >= Timestamp::from_millis(before.as_millis() - 1000).unwrap());
    assert!(
        !got.source.contains("://"),
        "the source is a generated key: {}",
        got.source
    );
    let profile = registry
        .download_drift_profile(&name, info.version)
        .await
        .unwrap();
    assert_eq!(profile.as_deref(), Some(&b"{\"profile\": 1}"[..]));
    let plain = new_version(registry, &name, files("plain")).await;
    assert_eq!(
        registry.download_drift_profile(&name, plain).await.unwrap(),
        None
    );
    let by_run = registry
        .search_versions(&VersionQuery {
            run_id: Some(link.run_id.clone()),
            ..VersionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_run
            .items
            .iter()
            .map(|i| (i.model.clone(), i.version))
            .collect::<Vec<_>>(),
        vec![(name.clone(), info.version)]
    );
    // Duplicate paths are refused.
    let dup = NewVersion::new()
        .with_artifact(path("a"), &b"1"[..])
        .with_artifact(path("a"), &b"2"[..]);
    assert!(matches!(
        registry.create_version(&name, dup).await,
        Err(RegistryError::InvalidArgument(_))
    ));
}

/// MLflow's stages, with archive_existing.
pub async fn stages(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "stages").await;
    let a = new_version(registry, &name, files("a")).await;
    let b = new_version(registry, &name, files("b")).await;
    let moved = registry
        .transition_stage(&name, a, Stage::Production, false)
        .await
        .unwrap();
    assert_eq!(moved.stage, Stage::Production);
    registry
        .transition_stage(&name, b, Stage::Production, true)
        .await
        .unwrap();
    assert_eq!(
        registry.get_version(&name, a).await.unwrap().stage,
        Stage::Archived
    );
    assert_eq!(
        registry.get_version(&name, b).await.unwrap().stage,
        Stage::Production
    );
    let status = registry
        .set_version_status(&name, a, VersionStatus::FailedRegistration)
        .await;
    if let Ok(info) = status {
        assert_eq!(info.status, VersionStatus::FailedRegistration);
    }
}
