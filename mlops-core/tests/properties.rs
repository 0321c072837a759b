//! Property tests (shared RELIABILITY §5.3, `fuzz_path_validate`, 10k cases each): no accepted
//! name or path can address anything outside its store prefix, validation is idempotent, and
//! no two distinct accepted inputs map to the same object key.

use std::path::{Component, Path as FsPath};

use mlops_core::{ArtifactPath, ExperimentName, MetricKey, ModelName, StoreUri};
use proptest::prelude::*;

/// Fragments that make paths interesting: traversal, encodings, separators, look-alikes,
/// control and metacharacters, Unicode in both normal forms, and plain names.
const FRAGMENTS: &[&str] = &[
    "..",
    ".",
    "",
    "a",
    "b",
    "model",
    "v1.onnx",
    "%2e",
    "%2F",
    "%",
    "\\",
    "/",
    "//",
    "#",
    "?",
    ";",
    ":",
    "C:",
    "\u{ff0e}",
    "\u{2024}",
    "\u{2215}",
    " ",
    "x y",
    "caf\u{e9}",
    "cafe\u{301}",
    "\u{212b}",
    "\0",
    "\n",
    "\u{85}",
    "\u{200b}",
    "~",
    "*",
    "(1)",
    "a+b=c",
    "@",
    ",",
    "模型",
];

fn fragment_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..8).prop_map(|parts| parts.concat())
}

/// Dangerous fragments, or arbitrary Unicode text.
fn candidate() -> impl Strategy<Value = String> {
    prop_oneof![3 => fragment_string(), 1 => any::<String>()]
}

/// The invariants every accepted path-like value must hold.
fn assert_contained(text: &str) {
    for segment in text.split('/') {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{text:?}"
        );
    }
    assert!(
        !text.chars().any(|c| c.is_control() || "%\\#?;".contains(c)),
        "{text:?}"
    );
    // Joined onto a folder, it stays inside that folder, lexically.
    let root = FsPath::new("/store/root");
    let joined = root.join(text);
    assert!(joined.starts_with(root), "{text:?}");
    assert!(
        joined
            .strip_prefix(root)
            .unwrap()
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{text:?}"
    );
    // And it is a valid object_store path, spelled exactly as given.
    let parsed = object_store::path::Path::parse(text).unwrap();
    assert_eq!(parsed.as_ref(), text);
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_artifact_paths_stay_inside_their_prefix(text in candidate()) {
        if let Ok(path) = ArtifactPath::parse(text.clone()) {
            assert_contained(&text);
            prop_assert_eq!(path.as_str(), text.as_str());
            prop_assert_eq!(&ArtifactPath::parse(path.as_str()).unwrap(), &path);
            let root = StoreUri::parse("memory://tenant/a").unwrap().open().unwrap();
            let key = root.key(&path);
            prop_assert_eq!(key.as_ref(), format!("tenant/a/{text}"));
        }
    }

    #[test]
    fn accepted_names_and_keys_stay_inside_their_prefix(text in candidate()) {
        if ExperimentName::parse(text.clone()).is_ok() {
            assert_contained(&text);
        }
        if MetricKey::parse(text.clone()).is_ok() {
            assert_contained(&text);
        }
        if let Ok(name) = ModelName::parse(text.clone()) {
            assert_contained(&text);
            prop_assert!(!name.as_str().contains('/'));
        }
    }

    #[test]
    fn distinct_accepted_paths_have_distinct_keys(a in candidate(), b in candidate()) {
        let root = StoreUri::parse("memory://p").unwrap().open().unwrap();
        if let (Ok(pa), Ok(pb)) = (ArtifactPath::parse(a.clone()), ArtifactPath::parse(b.clone())) {
            prop_assert_eq!(a == b, root.key(&pa) == root.key(&pb));
        }
    }

    #[test]
    fn store_uri_prefixes_are_contained(text in candidate()) {
        if let Some(prefix) = StoreUri::parse(&format!("s3://bucket/{text}"))
            .ok()
            .and_then(|uri| uri.prefix().cloned())
        {
            assert_contained(prefix.as_str());
        }
    }
}
