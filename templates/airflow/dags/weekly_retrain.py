"""Weekly retraining of the taxi-fare model: the seed's *scheduled pipeline* pattern.

Every Sunday: train on the newest weeks (tracked run + registered version), then promote the
new version to ``champion`` only if its MAPE beats the holder's. A refused gate exits 99,
which BashOperator turns into a *skipped* task, so ``deploy`` is skipped too and the run
stays green. Every decision is in the registry's audit log, with ``airflow:<dag id>`` as its
actor.

Configuration comes from the worker's environment (``append_env=True`` keeps it):

- ``MLOPS_STORE``     the store root (a folder, s3://..., or an MLflow server URL)
- ``TAXI_FARE_DATA``  the folder of weekly Parquet partitions (``week=YYYY-MM-DD/``)
- ``TAXI_FARE_BIN``   the template's step binary (``cargo build --release --example taxi_fare``)
- ``MLOPS_BIN``       the ``mlops`` command (``cargo install --path mlops-cli``)
"""

from __future__ import annotations

import json
import os
import shlex

import pendulum
from airflow.sdk import dag, task

TAXI_FARE = shlex.quote(os.environ.get("TAXI_FARE_BIN", "taxi_fare"))
MLOPS = shlex.quote(os.environ.get("MLOPS_BIN", "mlops"))
MODEL = "taxi-fare"


@dag(
    schedule="0 3 * * 0",  # Sundays, 03:00 UTC
    start_date=pendulum.datetime(2026, 1, 4, tz="UTC"),
    catchup=False,
    tags=["mlops", "taxi-fare"],
    doc_md=__doc__,
)
def weekly_retrain():
    @task.bash(append_env=True)
    def train() -> str:
        # The last stdout line (one JSON object: run id, version, MAE/RMSE/MAPE) is the XCom.
        return f'{TAXI_FARE} train --model {MODEL} --weeks 3 --actor "airflow:$AIRFLOW_CTX_DAG_ID"'

    @task.bash(append_env=True)
    def promote(trained: str) -> str:
        version = int(json.loads(trained)["version"])
        # Exit 0 promoted; a refused gate is exit 3, which --on-reject skip makes 99.
        return (
            f"{MLOPS} models promote --name {MODEL} --version {version} --alias champion"
            " --gate metric:mape:lower --on-reject skip --format json"
            ' --actor "airflow:$AIRFLOW_CTX_DAG_ID"'
            # A retried task replays the first attempt's decision instead of deciding again.
            ' --idempotency-key "$AIRFLOW_CTX_DAG_RUN_ID"'
        )

    @task.bash(append_env=True)
    def deploy(promoted: str) -> str:
        # Replace with your rollout (a serving job that loads the champion alias from the
        # registry, a KServe patch, ...); here it records which version is now live.
        version = int(json.loads(promoted)["decision"]["version"])
        return f"{MLOPS} models show --name {MODEL} --version {version} --format json"

    deploy(promote(train()))


weekly_retrain()
