//! import-dvc against a remote laid out by hand as DVC lays it (the service test uses the
//! real `dvc`).

use md5::{Digest, Md5};
use mlops_core::StoreUri;
use mlops_data::dvc::{object_key, parse_dvc_file};
use mlops_data::{AddOptions, DataError, DatasetName, Datasets, Location};

use super::support::write_parquet;

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn put(remote: &std::path::Path, key: &str, bytes: &[u8]) {
    let path = remote.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_dvc_folder_is_imported_without_copying_and_checked_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote");
    let a = std::fs::read(write_parquet(
        &tmp.path().join("src/a.parquet"),
        300,
        0.0,
        false,
    ))
    .unwrap();
    let b = std::fs::read(write_parquet(
        &tmp.path().join("src/b.parquet"),
        200,
        1.0,
        false,
    ))
    .unwrap();
    let (ma, mb) = (md5_hex(&a), md5_hex(&b));
    put(&remote, &object_key(&ma, true), &a);
    put(&remote, &object_key(&mb, true), &b);
    let listing = format!(
        r#"[{{"md5": "{ma}", "relpath": "a.parquet"}}, {{"md5": "{mb}", "relpath": "b.parquet"}}, {{"md5": "{ma}", "relpath": "notes.txt"}}]"#
    );
    let dir_md5 = format!("{}.dir", md5_hex(listing.as_bytes()));
    put(&remote, &object_key(&dir_md5, true), listing.as_bytes());
    let dvc_file = tmp.path().join("data.dvc");
    std::fs::write(
        &dvc_file,
        format!("outs:\n- md5: {dir_md5}\n  size: 1234\n  nfiles: 3\n  hash: md5\n  path: data\n"),
    )
    .unwrap();

    let store = tmp.path().join("store");
    let datasets = Datasets::new(
        &StoreUri::parse(store.to_str().unwrap())
            .unwrap()
            .open()
            .unwrap(),
    );
    let name = DatasetName::parse("dvc-data").unwrap();
    let added = datasets
        .import_dvc(
            &name,
            &dvc_file,
            remote.to_str().unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    assert!(added.created);
    assert_eq!(added.manifest.rows, 500);
    let paths: Vec<&str> = added
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["data/a.parquet", "data/b.parquet"]);
    assert!(matches!(&added.manifest.files[0].location, Location::Dvc { md5, .. } if *md5 == ma));
    // Nothing of the data was copied: only the profile went into the objects.
    assert_eq!(
        super::support::files_under(&store, "objects/sha256").len(),
        1
    );
    // Importing again is the same version.
    let again = datasets
        .import_dvc(
            &name,
            &dvc_file,
            remote.to_str().unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    assert!(!again.created);

    let out = tmp.path().join("out");
    datasets.get(&added.manifest, &out).await.unwrap();
    assert_eq!(std::fs::read(out.join("data/a.parquet")).unwrap(), a);
    assert_eq!(std::fs::read(out.join("data/b.parquet")).unwrap(), b);

    // A remote object replaced by other bytes is refused on read.
    put(&remote, &object_key(&mb, true), &a);
    let err = datasets
        .get(&added.manifest, &tmp.path().join("out2"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::DigestMismatch {
                algorithm: "md5",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn dvc_files_parse() {
    let outs = parse_dvc_file(
        "# comment\nouts:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 3\n  path: 'a b.parquet'\n  meta:\n    path: ignored\nfrozen: true\n",
    )
    .unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].path, "a b.parquet");
    assert!(!outs[0].dvc3);
    assert_eq!(
        object_key(&outs[0].md5, false),
        "01/23456789abcdef0123456789abcdef"
    );
    assert!(parse_dvc_file("outs:\n- md5: nothex\n  path: x\n").is_err());
    assert!(
        parse_dvc_file("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: ../x\n").is_err()
    );
    assert!(parse_dvc_file("deps: []\n").is_err());
}
