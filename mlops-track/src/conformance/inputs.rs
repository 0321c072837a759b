//! Dataset inputs.

use super::support::*;

/// Dataset inputs: recorded with their input tags, de-duplicated on (name, digest).
pub async fn inputs(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "inputs").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let train = DatasetInput {
        dataset: dataset("train", "0123456789abcdef"),
        tags: vec![tag(DATASET_CONTEXT_TAG, "training")],
    };
    let eval = DatasetInput {
        dataset: dataset("eval", "fedcba9876543210"),
        tags: vec![tag(DATASET_CONTEXT_TAG, "eval")],
    };
    store
        .log_inputs(&id, std::slice::from_ref(&train))
        .await
        .expect("log_inputs");
    store
        .log_inputs(&id, &[train.clone(), eval.clone()])
        .await
        .expect("log_inputs again");
    let run = get_run(store, &id).await;
    assert_eq!(
        run.inputs.len(),
        2,
        "inputs de-duplicated on name and digest: {:?}",
        run.inputs
    );
    for want in [&train, &eval] {
        let got = run
            .inputs
            .iter()
            .find(|i| i.dataset.name == want.dataset.name)
            .unwrap_or_else(|| panic!("input {} missing", want.dataset.name));
        assert_eq!(got.dataset.digest, want.dataset.digest);
        assert_eq!(got.dataset.source, want.dataset.source);
        assert_eq!(got.dataset.source_type, want.dataset.source_type);
        let json = |s: &Option<String>| {
            s.as_deref()
                .map(|s| serde_json::from_str::<serde_json::Value>(s).expect("JSON"))
        };
        assert_eq!(json(&got.dataset.schema), json(&want.dataset.schema));
        assert_eq!(json(&got.dataset.profile), json(&want.dataset.profile));
        assert!(
            got.tags.iter().any(|t| want.tags.contains(t)),
            "input tags of {}: {:?}",
            want.dataset.name,
            got.tags
        );
    }
    assert!(
        store
            .log_inputs(&RunId::generate(), &[train])
            .await
            .is_err(),
        "log_inputs to an unknown run must fail"
    );
}
