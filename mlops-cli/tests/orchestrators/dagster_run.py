"""Materializes the Dagster template's assets once with the real ``dagster`` package and
prints what happened as one JSON line: the run's success, each materialization's metadata
and each asset check's verdict. Driven by mlops-cli/tests/orchestrators/dagster.rs."""

import importlib.util
import json
import sys

import dagster as dg

spec = importlib.util.spec_from_file_location("taxi_fare_definitions", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

instance = dg.DagsterInstance.ephemeral()
result = dg.materialize(
    [module.taxi_fare_candidate, module.taxi_fare_champion],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
    instance=instance,
    raise_on_error=False,
)


def plain(value):
    return getattr(value, "value", value)


materializations = {
    m.asset_key.to_user_string(): {k: plain(v) for k, v in m.metadata.items()}
    for m in result.get_asset_materialization_events()
    for m in [m.event_specific_data.materialization]
}
checks = [
    {
        "asset": c.asset_key.to_user_string(),
        "check": c.check_name,
        "passed": c.passed,
        "severity": c.severity.value,
        "metadata": {k: plain(v) for k, v in c.metadata.items()},
    }
    for c in result.get_asset_check_evaluations()
]
print(json.dumps({"success": result.success, "materializations": materializations, "checks": checks}, default=str))
