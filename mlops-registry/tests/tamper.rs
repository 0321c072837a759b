//! A tampered artifact fails its digest check on download (RELIABILITY §1.4 model loading).

use mlops_core::{ArtifactPath, ModelName};
use mlops_registry::{ModelRegistry, NewVersion, RegistryError, RegistryExt, sha256_hex};

use crate::util::folder_registry;

#[tokio::test]
async fn a_tampered_artifact_fails_its_digest_check() {
    let (registry, dir) = folder_registry();
    let name = ModelName::parse("tamper").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    let path = ArtifactPath::parse("model/weights.bin").unwrap();
    let info = registry
        .create_version(
            &name,
            NewVersion::new()
                .with_artifact(path.clone(), &b"good weights"[..])
                .with_drift_profile(&b"profile"[..]),
        )
        .await
        .unwrap();
    assert_eq!(
        registry
            .download_artifact(&name, info.version, &path)
            .await
            .unwrap()
            .as_ref(),
        b"good weights"
    );

    // Overwrite the stored bytes behind the registry's back.
    let digest = sha256_hex(b"good weights");
    let mut found = Vec::new();
    for entry in walk(dir.path()) {
        if entry.file_name().and_then(|n| n.to_str()) == Some(digest.as_str()) {
            found.push(entry);
        }
    }
    assert_eq!(found.len(), 1, "one blob holds the weights");
    std::fs::write(&found[0], b"evil weights").unwrap();

    let err = registry
        .download_artifact(&name, info.version, &path)
        .await
        .unwrap_err();
    match err {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, digest);
            assert_eq!(actual, sha256_hex(b"evil weights"));
        }
        other => panic!("expected DigestMismatch, got {other}"),
    }
    assert!(matches!(
        registry.download_all(&name, info.version).await,
        Err(RegistryError::DigestMismatch { .. })
    ));

    // The drift profile is checked the same way.
    let profile_blob = walk(dir.path())
        .into_iter()
        .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(sha256_hex(b"profile").as_str()))
        .unwrap();
    std::fs::write(profile_blob, b"other").unwrap();
    assert!(matches!(
        registry.download_drift_profile(&name, info.version).await,
        Err(RegistryError::DigestMismatch { .. })
    ));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
