"""The taxi-fare pipeline as Dagster assets, each step a command run through Dagster Pipes.

- ``taxi_fare_candidate``: ``taxi_fare train`` trains on the newest weeks and registers a
  version; its last stdout line (JSON) becomes the materialization's metadata and the value
  passed downstream.
- ``taxi_fare_champion``: ``mlops models promote --gate metric:mape:lower`` through
  ``PipesSubprocessClient``. The ``mlops`` command speaks the Pipes protocol: it reports the
  materialization (the decision, the version's metrics) and the ``gate`` asset check, which
  fails (severity ERROR) when the candidate does not beat the champion. ``--on-reject ok``
  keeps a refusal from failing the run: the check carries the answer.

Run it with ``dagster dev -f taxi_fare_definitions.py`` (or load it from a code location).
Configuration comes from the environment: ``MLOPS_STORE``, ``TAXI_FARE_DATA``,
``TAXI_FARE_BIN`` (the example binary) and ``MLOPS_BIN`` (the ``mlops`` command).
"""

import json
import os
import subprocess

import dagster as dg

MODEL = "taxi-fare"


def _bin(var: str, default: str) -> str:
    return os.environ.get(var, default)


@dg.asset(
    group_name="taxi_fare",
    description="A new version of the taxi-fare model, trained and registered",
)
def taxi_fare_candidate(context: dg.AssetExecutionContext) -> dg.Output[dict]:
    command = [_bin("TAXI_FARE_BIN", "taxi_fare"), "train", "--model", MODEL, "--weeks", "3",
               "--actor", f"dagster:{context.run_id}"]
    # The step's progress is on stderr (shown in Dagster's compute logs); its result is the
    # last line of stdout.
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    metadata = {k: result[k] for k in ("version", "run_id", "mae", "rmse", "mape", "eval_week")}
    return dg.Output(result, metadata=metadata)


@dg.asset(
    group_name="taxi_fare",
    description="The champion alias: moved to the candidate only if it passes the gate",
    check_specs=[dg.AssetCheckSpec("gate", asset="taxi_fare_champion")],
)
def taxi_fare_champion(
    context: dg.AssetExecutionContext,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    taxi_fare_candidate: dict,
) -> dg.MaterializeResult:
    command = [
        _bin("MLOPS_BIN", "mlops"), "models", "promote", "--name", MODEL,
        "--version", str(taxi_fare_candidate["version"]), "--alias", "champion",
        "--gate", "metric:mape:lower", "--on-reject", "ok",
        "--actor", f"dagster:{context.run_id}", "--format", "json",
    ]
    return pipes_subprocess_client.run(command=command, context=context).get_materialize_result()


defs = dg.Definitions(
    assets=[taxi_fare_candidate, taxi_fare_champion],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
    jobs=[dg.define_asset_job("weekly_retrain", selection=["taxi_fare_candidate", "taxi_fare_champion"])],
    schedules=[
        dg.ScheduleDefinition(job_name="weekly_retrain", cron_schedule="0 3 * * 0", execution_timezone="UTC")
    ],
)
