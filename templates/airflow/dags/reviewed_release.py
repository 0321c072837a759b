"""A reviewed release of the taxi-fare model: the seed's *human-in-the-loop* pattern.

Weekly: train and register a version, ask for a review (recorded in the registry's audit
log, reviewers notified on Slack and/or Microsoft Teams with a link to the approval page),
wait until a reviewer approves or rejects, then promote behind both gates (the approval and
the MAPE) and deploy. A rejection exits 99 from the wait: promote and deploy are skipped.

A reviewer approves from the dashboard or the command line::

    mlops models approve --name taxi-fare --version 7 --alias champion --by alice

Configuration: as ``weekly_retrain``, plus optional ``MLOPS_SLACK_WEBHOOK`` (a Slack incoming
webhook), ``MLOPS_TEAMS_WEBHOOK`` (a Teams Workflows webhook), ``APPROVAL_URL`` (the page
reviewers open), ``MLOPS_ALLOW_PRIVATE_WEBHOOKS`` (set it only for a receiver on a private
address, such as a test's) and
``MLOPS_APPROVAL_TIMEOUT`` (seconds, default one day). Airflow's own ``ApprovalOperator``
(Airflow 3.1+) can replace the wait; the registry then needs the decision recorded with
``mlops models approve`` so the approval gate sees it.
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
ACTOR = '--actor "airflow:$AIRFLOW_CTX_DAG_ID"'
# A retried task (same DAG run) replays the first attempt: no second request, no second
# notification, no second promotion.
ONCE = '--idempotency-key "$AIRFLOW_CTX_DAG_RUN_ID"'


@dag(
    schedule="0 3 * * 1",  # Mondays, 03:00 UTC
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    tags=["mlops", "taxi-fare"],
    doc_md=__doc__,
)
def reviewed_release():
    @task.bash(append_env=True)
    def train() -> str:
        return f"{TAXI_FARE} train --model {MODEL} --weeks 3 {ACTOR}"

    @task.bash(append_env=True)
    def request_review(trained: str) -> str:
        version = int(json.loads(trained)["version"])
        # `mlops` reads MLOPS_SLACK_WEBHOOK and MLOPS_TEAMS_WEBHOOK itself; the link and the
        # private-address switch are flags only when their variables are set.
        return (
            f"{MLOPS} models approval request --name {MODEL} --version {version}"
            " --alias champion --format json"
            ' ${APPROVAL_URL:+--approval-url "$APPROVAL_URL"}'
            ' ${MLOPS_ALLOW_PRIVATE_WEBHOOKS:+--allow-private-webhooks}'
            f" {ACTOR} {ONCE}"
        )

    @task.bash(append_env=True)
    def wait_for_review(requested: str) -> str:
        r = json.loads(requested)
        # Exit 0 approved, 99 rejected (skips promote and deploy), 1 timed out (fails).
        return (
            f"{MLOPS} models approval wait --name {MODEL} --version {int(r['version'])}"
            ' --alias champion --timeout "${MLOPS_APPROVAL_TIMEOUT:-86400}"'
            " --on-reject skip --format json"
        )

    @task.bash(append_env=True)
    def promote(trained: str) -> str:
        version = int(json.loads(trained)["version"])
        return (
            f"{MLOPS} models promote --name {MODEL} --version {version} --alias champion"
            " --gate approval --gate metric:mape:lower --on-reject skip --format json"
            f" {ACTOR} {ONCE}"
        )

    @task.bash(append_env=True)
    def deploy(promoted: str) -> str:
        version = int(json.loads(promoted)["decision"]["version"])
        return f"{MLOPS} models show --name {MODEL} --version {version} --format json"

    trained = train()
    waited = wait_for_review(request_review(trained))
    promoted = promote(trained)
    waited >> promoted
    deploy(promoted)


reviewed_release()
