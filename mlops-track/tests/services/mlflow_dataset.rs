//! Dataset inputs logged on the MLflow server, read back by MLflow's Python client.

use std::sync::Arc;

use mlops_core::testing::{MLFLOW_URI, PYTHON, require_env};
use mlops_track::mlflow::MlflowStore;
use mlops_track::{DATASET_CONTEXT_TAG, TrackingStore};

use crate::support::lineage::log_parquet_input;

const READ_INPUTS: &str = r#"
import json, sys
from mlflow import MlflowClient
run = MlflowClient(tracking_uri=sys.argv[1]).get_run(sys.argv[2])
print(json.dumps([
    {
        "name": i.dataset.name, "digest": i.dataset.digest,
        "source_type": i.dataset.source_type, "source": i.dataset.source,
        "schema": json.loads(i.dataset.schema), "profile": json.loads(i.dataset.profile),
        "tags": {t.key: t.value for t in i.tags},
    }
    for i in run.inputs.dataset_inputs
]))
"#;

#[tokio::test]
async fn parquet_inputs_read_back_through_mlflows_python_client() {
    let uri = require_env(MLFLOW_URI);
    let store: Arc<dyn TrackingStore> = Arc::new(MlflowStore::new(&uri).unwrap());
    let (id, data) = log_parquet_input(store, "mlflow").await;

    let output = std::process::Command::new(require_env(PYTHON))
        .arg("-c")
        .arg(READ_INPUTS)
        .arg(&uri)
        .arg(id.as_str())
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let colspec = |name: &str, ty: &str, required: bool| serde_json::json!({"type": ty, "name": name, "required": required});
    assert_eq!(
        seen,
        serde_json::json!([{
            "name": "train",
            "digest": data.digest().to_string(),
            "source_type": "s3",
            "source": "s3://bucket/lineage/train.parquet",
            "schema": {"mlflow_colspec": [
                colspec("id", "long", true),
                colspec("x", "double", false),
                colspec("label", "string", false),
                colspec("city", "string", false),
                colspec("ok", "boolean", false),
                colspec("day", "datetime", false),
                colspec("at", "datetime", false),
            ]},
            "profile": {"num_rows": 3021},
            "tags": {DATASET_CONTEXT_TAG: "training"},
        }])
    );
}
