# shellcheck shell=bash
# Airflow 3 for the orchestrator tests (mlops-cli/tests/orchestrators): an API server on the
# given port with a scheduler (LocalExecutor) and a DAG processor beside it, SQLite in DIR,
# the DAGs of templates/airflow/dags. Sourced by scripts/test.sh (see HELPERS: plug-ins).
#
# Exports for the tests:
#   MLOPS_TEST_AIRFLOW_URL      http://127.0.0.1:PORT
#   MLOPS_TEST_AIRFLOW_TOKEN    a bearer token for the REST API (POST /auth/token)
#   MLOPS_TEST_AIRFLOW_WORKDIR  where the DAGs' tasks look: bin/taxi_fare, bin/mlops (the
#                               test links its freshly built binaries there), data/, store/

SVC_AIRFLOW_TIMEOUT=240

# The environment every Airflow process of the service shares.
svc_airflow_env() {
  local port=$1 dir=$2 work=$2/work
  local -n out=$3
  out=(
    AIRFLOW_HOME="$dir"
    AIRFLOW__CORE__DAGS_FOLDER="$ROOT/templates/airflow/dags"
    AIRFLOW__CORE__LOAD_EXAMPLES=False
    # Only drift_retrain is unpaused (svc_airflow_ready): the scheduled DAGs would otherwise
    # start a run for their latest interval at once, in the tests' work folder.
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
    AIRFLOW__CORE__EXECUTOR=LocalExecutor
    AIRFLOW__CORE__PARALLELISM=2
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$port/execution/"
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=mlops:admin
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$dir/passwords.json"
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$dir/airflow.db"
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
    AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=2
    # Every process signs and checks the same tokens.
    AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$dir/jwt-secret")"
    AIRFLOW__API__SECRET_KEY="$(cat "$dir/jwt-secret")"
    # What the DAGs' tasks read (append_env=True passes the worker's environment on).
    TAXI_FARE_BIN="$work/bin/taxi_fare"
    MLOPS_BIN="$work/bin/mlops"
    TAXI_FARE_DATA="$work/data"
    MLOPS_STORE="$work/store"
  )
}

svc_airflow_cmd() {
  local port=$1 dir=$2
  mkdir -p "$dir/work/bin" "$dir/work/data"
  [[ -f $dir/jwt-secret ]] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/jwt-secret"
  [[ -f $dir/passwords.json ]] || echo '{"mlops": "mlops-test-password"}' >"$dir/passwords.json"
  local -a env_vars
  svc_airflow_env "$port" "$dir" env_vars
  local airflow="$MLOPS_TEST_VENV_AIRFLOW/bin/airflow"
  # One process group: test.sh stops the API server, the scheduler and the DAG processor
  # together.
  cmd=(env "${env_vars[@]}" bash -c '
    set -e
    "$0" db migrate
    "$0" scheduler &
    "$0" dag-processor &
    exec "$0" api-server --host 127.0.0.1 --port "$1"
  ' "$airflow" "$port")
}

svc_airflow_probe() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/api/v2/monitor/health" 2>/dev/null
}

svc_airflow_ready() {
  local port=$1 dir=$2 url="http://127.0.0.1:$1" token i
  token=$(curl -fsS --max-time 10 -X POST "$url/auth/token" -H 'Content-Type: application/json' \
    -d '{"username": "mlops", "password": "mlops-test-password"}' |
    "$VENV_DIR/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || return 1
  # The tests post events to the drift DAG's asset: wait until the DAG processor parsed it.
  for ((i = 0; i < 120; i++)); do
    if curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $token" "$url/api/v2/dags/drift_retrain"; then
      curl -fsS -o /dev/null --max-time 10 -X PATCH -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"is_paused": false}' "$url/api/v2/dags/drift_retrain" || return 1
      export MLOPS_TEST_AIRFLOW_URL=$url MLOPS_TEST_AIRFLOW_TOKEN=$token
      export MLOPS_TEST_AIRFLOW_WORKDIR=$dir/work
      return 0
    fi
    sleep 1
  done
  echo "airflow: the DAG processor did not parse drift_retrain within 120 s" >&2
  return 1
}
