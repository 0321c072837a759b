"""MLflow's own Python client on the registry our Rust backend writes, and the other way.

    registry_interop.py read  TRACKING_URI MODEL   prints what MlflowClient sees, as JSON
    registry_interop.py write TRACKING_URI MODEL   registers a version the way MLflow users
                                                   do (log an artifact in a run, register
                                                   runs:/, set an alias), prints JSON

Run by mlops-registry/tests/mlflow_interop.rs with the test venv's python.
"""

import contextlib
import hashlib
import json
import os
import sys
import tempfile

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def sha256_tree(root):
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            full = os.path.join(folder, f)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def read(client, name):
    model = client.get_registered_model(name)
    versions = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        full = client.get_model_version(name, mv.version)
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=full.source, dst_path=tmp)
            files = sha256_tree(local)
        versions.append(
            {
                "version": int(full.version),
                "source": full.source,
                "run_id": full.run_id,
                "description": full.description or "",
                "status": full.status,
                "stage": full.current_stage,
                "tags": dict(full.tags),
                "aliases": sorted(full.aliases),
                "download_uri": client.get_model_version_download_uri(name, full.version),
                "files": files,
            }
        )
    versions.sort(key=lambda v: v["version"])
    by_alias = {
        alias: int(client.get_model_version_by_alias(name, alias).version)
        for alias in model.aliases
    }
    return {
        "name": model.name,
        "description": model.description or "",
        "tags": dict(model.tags),
        "aliases": {k: int(v) for k, v in model.aliases.items()},
        "by_alias": by_alias,
        "versions": versions,
    }


def write(client, name):
    experiment_id = client.create_experiment(f"registry-interop-{name}")
    run = client.create_run(experiment_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.bin")
        with open(path, "wb") as fh:
            fh.write(b"python weights")
        client.log_artifact(run.info.run_id, path, artifact_path="model")
    client.log_metric(run.info.run_id, "accuracy", 0.875)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(name, tags={"origin": "python"}, description="from python")
    mv = client.create_model_version(
        name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, description="py v1"
    )
    client.set_registered_model_alias(name, "champion", mv.version)
    client.set_model_version_tag(name, mv.version, "framework", "none")
    return {
        "run_id": run.info.run_id,
        "experiment_id": experiment_id,
        "version": int(mv.version),
        "source": mv.source,
    }


def main():
    mode, uri, name = sys.argv[1:4]
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # MLflow prints to stdout ("View run ... at ..."): only our JSON goes there.
    with contextlib.redirect_stdout(sys.stderr):
        result = read(client, name) if mode == "read" else write(client, name)
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
