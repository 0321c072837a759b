"""Retraining when the data drifts: the seed's *event-driven* pattern.

The DAG is scheduled on an Asset, not on a clock. Whatever watches the data posts an asset
event to Airflow's REST API when the newest week drifted from the champion's reference
profile, for example the template's own step::

    taxi_fare drift --airflow-url http://airflow:8080 --asset mlops://taxi-fare/drift

which calls ``POST /api/v2/assets/events`` with the drift summary as the event's ``extra``.
The run then retrains on the newest week (its last two days held out), promotes the new
version if its MAPE beats the champion's (exit 99 = skipped otherwise) and deploys.

Configuration: the same environment variables as ``weekly_retrain``.
"""

from __future__ import annotations

import json
import os
import shlex

import pendulum
from airflow.sdk import Asset, dag, task

TAXI_FARE = shlex.quote(os.environ.get("TAXI_FARE_BIN", "taxi_fare"))
MLOPS = shlex.quote(os.environ.get("MLOPS_BIN", "mlops"))
MODEL = "taxi-fare"

# The asset drift events update; its URI is what `taxi_fare drift --asset` names.
DRIFT = Asset(name="taxi_fare_drift", uri="mlops://taxi-fare/drift")


@dag(
    schedule=[DRIFT],
    start_date=pendulum.datetime(2026, 1, 4, tz="UTC"),
    catchup=False,
    tags=["mlops", "taxi-fare"],
    doc_md=__doc__,
)
def drift_retrain():
    @task
    def cause(**context) -> dict:
        # The triggering event's `extra`: model, version, week and the drifted columns.
        events = context["triggering_asset_events"][DRIFT]
        return dict(events[-1].extra) if events else {}

    @task.bash(append_env=True)
    def retrain(why: dict) -> str:
        # The newest week is the new regime: five days train, the weekend evaluates.
        return f'{TAXI_FARE} train --model {MODEL} --weeks 1 --eval-days 2 --actor "airflow:$AIRFLOW_CTX_DAG_ID"'

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
        version = int(json.loads(promoted)["decision"]["version"])
        return f"{MLOPS} models show --name {MODEL} --version {version} --format json"

    deploy(promote(retrain(cause())))


drift_retrain()
