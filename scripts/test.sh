#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run). See docs/TESTING.md.
#
#   scripts/test.sh                                   full run: fmt, clippy, test, doc
#   scripts/test.sh --services-only [--] CMD [ARG...] run CMD with the emulators up
#   scripts/test.sh --services-only                   start the emulators, wait for Ctrl-C
#
# Both modes share one code path: prepare the tools (venv, node_modules), start
# moto (S3), Azurite (Azure Blob) and MLflow on free loopback ports, export
# MLOPS_TEST_* and run a command (the full run: cargo test); a trap stops every
# service on any exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# --- settings -----------------------------------------------------------------
VENV_DIR="${MLOPS_VENV_DIR:-$ROOT/.venv}"   # override to try a cold install elsewhere
REQUIREMENTS="$ROOT/scripts/requirements.txt"
NODE_DIR="$ROOT/scripts"                     # holds package.json / package-lock.json
BUCKET="mlops-test"
CONTAINER="mlops-test"
# Seconds to wait for each service to answer. MLflow imports a lot and creates
# ~65 sqlite tables on first start (5-15 s here), so it gets more headroom.
TIMEOUT_MOTO="${MLOPS_TEST_TIMEOUT_MOTO:-60}"
TIMEOUT_AZURITE="${MLOPS_TEST_TIMEOUT_AZURITE:-60}"
TIMEOUT_MLFLOW="${MLOPS_TEST_TIMEOUT_MLFLOW:-120}"
STOP_GRACE=5     # seconds between SIGTERM and SIGKILL when stopping a service
PORT_TRIES=3     # the machine is shared: a port we picked may be taken before we bind it

# --- state (read by the EXIT trap) ---------------------------------------------
RUN_DIR=""               # mktemp -d: service data, logs, cargo test output
SERVICES=()              # names of started services, in start order
declare -A PID=()        # service -> pid (= its process group and session id)
declare -A PORT=()       # service -> port
declare -A LAUNCHED_MS=()
CMD_PID=""               # the command currently run by run_cmd
TIMINGS=()               # "name<TAB>millis<TAB>status"; a running step holds its start time
LOGS_SHOWN=""            # set once a service log was printed, to avoid repeating it
STOP_REASON=FAILED       # how print_timings labels a step that did not finish

# --- small utilities ------------------------------------------------------------
log() { printf '[test.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
fmt_secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

sha256_of() {
  python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
}

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# Run one named, timed step. Under `set -e` a failure exits right here; the EXIT
# trap then turns the step's "running" entry into a FAILED one.
step() {
  local name=$1 idx=${#TIMINGS[@]} start desc
  shift
  start=$(now_ms)
  TIMINGS+=("$name	$start	running")
  desc="$*"
  log "==> $name: ${desc#run_cmd }"
  "$@"
  TIMINGS[idx]="$name	$(($(now_ms) - start))	ok"
}

# Run a command in the background and wait for it, so that INT/TERM traps fire
# at once instead of after the command ends. `<&0` keeps our stdin (bash would
# give a background job /dev/null), so interactive commands still work.
run_cmd() {
  local rc=0
  "$@" <&0 &
  CMD_PID=$!
  wait "$CMD_PID" || rc=$?
  CMD_PID=""
  return "$rc"
}

# --- /proc helpers (Linux; avoid depending on procps) ---------------------------
# Print "pid state ppid session" for every process.
proc_table() {
  local f line rest
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    rest=${line##*) } # the command name may contain spaces; fields after it do not
    # shellcheck disable=SC2086
    set -- $rest      # state ppid pgrp session ...
    printf '%s %s %s %s\n' "${f//[^0-9]/}" "$1" "$2" "$4"
  done
}

# Live (non-zombie) members of session $1. Each service is its own session
# (setsid), which also covers children that moved to another process group.
session_members() {
  proc_table | while read -r pid state _ sid; do
    [[ $sid == "$1" && $state != Z ]] && echo "$pid"
  done
  return 0
}

# Live descendants of process $1 (children, grandchildren, ...).
descendants_of() {
  proc_table | awk -v root="$1" '
    $2 != "Z" { parent[$1] = $3 }
    END {
      for (p in parent) {
        for (q = parent[p]; q != "" && q != 1 && q != 0; q = parent[q])
          if (q == root) { print p; break }
      }
    }'
}

is_alive() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  [[ ${line%% *} != Z ]]
}

# --- preflight ------------------------------------------------------------------
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH: $2"
}

preflight() {
  local mode=$1
  need python3 "install Python 3.10+ (3.11 is what CI uses)"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "python3 is $(python3 -V 2>&1); mlflow needs 3.10+"
  need node "install Node.js 20+ (it runs Azurite)"
  need npm "install npm (comes with Node.js)"
  need curl "install curl (used to probe the services)"
  need setsid "install util-linux (gives each service its own process group)"
  if [[ $mode == full ]]; then
    need cargo "install the Rust toolchain (https://rustup.rs)"
    cargo fmt --version >/dev/null 2>&1 || die "rustfmt missing: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 || die "clippy missing: rustup component add clippy"
  fi
}

# --- tool installs ----------------------------------------------------------------
# A venv is rebuilt only when its requirements change: a stamp inside it holds the
# sha256 of the requirements it was installed from.
ensure_venv_at() {
  local dir=$1 req=$2 want stamp="$1/.requirements.sha256"
  want=$(sha256_of "$req")
  if [[ -f "$dir/pyvenv.cfg" ]] && "$dir/bin/python" -c '' 2>/dev/null; then
    if [[ -f $stamp && "$(<"$stamp")" == "$want" ]]; then
      log "venv $dir is up to date"
      return 0
    fi
    log "requirements changed (or no stamp): updating $dir"
  elif [[ -e $dir && ! -f "$dir/pyvenv.cfg" ]]; then
    die "$dir exists but is not a venv; move it away"
  else
    log "creating venv $dir"
    # --clear: a venv whose interpreter vanished (python upgraded) is rebuilt.
    python3 -m venv --clear "$dir" ||
      die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  rm -f "$stamp"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
}

ensure_venv() { ensure_venv_at "$VENV_DIR" "$REQUIREMENTS"; }

# Each scripts/venvs/NAME.txt is a tool with pins of its own (Airflow, dagster, dvc, ...):
# its own venv $VENV_DIR-NAME, so its pins never fight MLflow's, exported to the tests as
# MLOPS_TEST_VENV_NAME (upper case, '-' -> '_').
ensure_extra_venvs() {
  local req name var
  for req in "$ROOT"/scripts/venvs/*.txt; do
    [[ -f $req ]] || continue
    name=$(basename "$req" .txt)
    ensure_venv_at "$VENV_DIR-$name" "$req"
    var="MLOPS_TEST_VENV_$(tr 'a-z-' 'A-Z_' <<<"$name")"
    export "$var=$VENV_DIR-$name"
  done
}

# node_modules is reinstalled (npm ci) only when package-lock.json changes.
ensure_node_modules() {
  local want stamp="$NODE_DIR/node_modules/.mlops-lock.sha256"
  want=$(sha256_of "$NODE_DIR/package-lock.json")
  if [[ -x "$NODE_DIR/node_modules/.bin/azurite-blob" && -f $stamp && "$(<"$stamp")" == "$want" ]]; then
    log "scripts/node_modules is up to date"
    return 0
  fi
  log "installing scripts/node_modules from package-lock.json"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
}

# promtool (Debian package `prometheus`) checks mlops-serve's /metrics output. As root it is
# installed with apt-get when missing (the package's daemon is not started where
# policy-rc.d forbids it, as in containers); otherwise the run stops with a clear message.
ensure_promtool() {
  if ! command -v promtool >/dev/null 2>&1; then
    if [[ $(id -u) != 0 ]]; then
      die "'promtool' not found on PATH: install the Debian package 'prometheus' (apt-get install prometheus) or put promtool on PATH"
    fi
    log "installing promtool (Debian package prometheus)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >"$RUN_DIR/apt-prometheus.log" 2>&1 || {
      log "apt-get install failed; updating the package lists and retrying"
      apt-get update >>"$RUN_DIR/apt-prometheus.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >>"$RUN_DIR/apt-prometheus.log" 2>&1
    } || { tail -n 20 "$RUN_DIR/apt-prometheus.log" >&2; die "could not install the Debian package prometheus"; }
    command -v promtool >/dev/null 2>&1 || die "the prometheus package installed no promtool"
  fi
  MLOPS_TEST_PROMTOOL=$(command -v promtool)
  export MLOPS_TEST_PROMTOOL
}

# Debian's chromium + chromium-driver drive the UI's browser tests (no browser download).
# As root they are installed with apt-get when missing, like promtool.
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [[ $(id -u) != 0 ]]; then
      die "'chromium'/'chromedriver' not found on PATH: install the Debian packages chromium and chromium-driver"
    fi
    log "installing chromium and chromium-driver (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >"$RUN_DIR/apt-chromium.log" 2>&1 || {
      log "apt-get install failed; updating the package lists and retrying"
      apt-get update >>"$RUN_DIR/apt-chromium.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >>"$RUN_DIR/apt-chromium.log" 2>&1
    } || { tail -n 20 "$RUN_DIR/apt-chromium.log" >&2; die "could not install chromium and chromium-driver"; }
  fi
  MLOPS_TEST_CHROMIUM=$(command -v chromium)
  MLOPS_TEST_CHROMEDRIVER=$(command -v chromedriver)
  export MLOPS_TEST_CHROMIUM MLOPS_TEST_CHROMEDRIVER
}

# Plug-in services: each scripts/svc/NAME.sh defines svc_NAME_cmd PORT DIR (sets the array
# `cmd`), svc_NAME_probe PORT DIR, optionally svc_NAME_ready PORT DIR (set up, export
# MLOPS_TEST_*) and SVC_NAME_TIMEOUT (seconds, default 120). NAME uses [a-z0-9_].
PLUGINS=()
load_plugins() {
  local f name
  for f in "$ROOT"/scripts/svc/*.sh; do
    [[ -f $f ]] || continue
    name=$(basename "$f" .sh)
    [[ $name =~ ^[a-z0-9_]+$ ]] || die "plug-in $f: name must be [a-z0-9_]+"
    # shellcheck disable=SC1090
    source "$f"
    declare -F "svc_${name}_cmd" >/dev/null || die "plug-in $f defines no svc_${name}_cmd"
    declare -F "svc_${name}_probe" >/dev/null || die "plug-in $f defines no svc_${name}_probe"
    PLUGINS+=("$name")
  done
}

# --- services -------------------------------------------------------------------
free_ports() { "$VENV_DIR/bin/python" "$ROOT/scripts/services.py" free-ports "$1"; }

# Start service $1 on port $2 in its own session/process group, logging to RUN_DIR.
launch() {
  local name=$1 port=$2 dir="$RUN_DIR/$1"
  mkdir -p "$dir"
  local -a cmd
  case $name in
  moto)
    cmd=("$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$port")
    ;;
  azurite)
    # --disableTelemetry: otherwise Azurite tries to reach the network.
    cmd=("$NODE_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port"
      --location "$dir/data" --skipApiVersionCheck --loose --disableTelemetry)
    ;;
  mlflow)
    # Without ENABLE_JOB_EXECUTION=false the server spawns ~10 job workers (2.4 GB RSS).
    cmd=(env MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
      "$VENV_DIR/bin/mlflow" server --host 127.0.0.1 --port "$port"
      --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts"
      --workers 1)
    ;;
  *)
    declare -F "svc_${name}_cmd" >/dev/null || die "unknown service $name"
    mkdir -p "$dir/data"
    "svc_${name}_cmd" "$port" "$dir/data"
    ;;
  esac
  echo "### $(date -Is) port $port: ${cmd[*]}" >>"$dir/log"
  # A background job of a non-interactive shell is not a group leader, so setsid
  # does not fork: $! is the service itself and its pid is its session/group id.
  setsid "${cmd[@]}" >>"$dir/log" 2>&1 </dev/null &
  PID[$name]=$!
  PORT[$name]=$port
  LAUNCHED_MS[$name]=$(now_ms)
  [[ " ${SERVICES[*]} " == *" $name "* ]] || SERVICES+=("$name")
}

# Does service $1 answer yet?
probe() {
  local url="http://127.0.0.1:${PORT[$1]}"
  case $1 in
  moto) curl -fsS -o /dev/null --max-time 2 "$url/" 2>/dev/null ;;
  # Any HTTP answer (403 without a signature) means Azurite is serving.
  azurite) curl -sS -o /dev/null --max-time 2 "$url/devstoreaccount1?comp=list" 2>/dev/null ;;
  mlflow) [[ "$(curl -fsS --max-time 2 "$url/health" 2>/dev/null)" == OK ]] ;;
  *) "svc_${1}_probe" "${PORT[$1]}" "$RUN_DIR/$1/data" ;;
  esac
}

# Wait until service $1 answers. Returns 1 on timeout ($2 s), 2 if it exited.
await_service() {
  local name=$1 deadline=$(($(date +%s) + $2))
  until probe "$name"; do
    is_alive "${PID[$name]}" || return 2
    (($(date +%s) < deadline)) || return 1
    sleep 0.2
  done
}

fail_service() {
  log "error: $1 $2; last lines of its log:"
  tail -n 40 "$RUN_DIR/$1/log" >&2 || true
  LOGS_SHOWN=1
  exit 1
}

# Wait for service $1 (timeout $2 s); relaunch on a new port if the port was taken.
bring_up() {
  local name=$1 timeout=$2 try rc
  for ((try = 1; ; try++)); do
    rc=0
    await_service "$name" "$timeout" || rc=$?
    case $rc in
    0)
      local ms=$(($(now_ms) - LAUNCHED_MS[$name]))
      TIMINGS+=("  $name ready	$ms	ok")
      log "$name is up on 127.0.0.1:${PORT[$name]} after $(fmt_secs "$ms")s"
      return 0
      ;;
    1) fail_service "$name" "did not answer within ${timeout}s" ;;
    esac
    wait "${PID[$name]}" 2>/dev/null || true
    if ((try < PORT_TRIES)) && grep -qiE 'address already in use|EADDRINUSE' "$RUN_DIR/$name/log"; then
      log "$name: port ${PORT[$name]} was taken meanwhile; retrying on another"
      launch "$name" "$(free_ports 1)"
    else
      fail_service "$name" "exited before it answered"
    fi
  done
}

start_services() {
  local ports p_moto p_azurite p_mlflow p_plugins_rest name timeout timeout_var
  local -a p_plugins
  ports=$(free_ports $((3 + ${#PLUGINS[@]})))
  read -r p_moto p_azurite p_mlflow p_plugins_rest <<<"$ports"
  read -r -a p_plugins <<<"${p_plugins_rest:-}"
  # Launch all first: their start-ups overlap, MLflow's (or a plug-in's) dominates.
  launch moto "$p_moto"
  launch azurite "$p_azurite"
  launch mlflow "$p_mlflow"
  local i
  for i in "${!PLUGINS[@]}"; do launch "${PLUGINS[i]}" "${p_plugins[i]}"; done

  bring_up moto "$TIMEOUT_MOTO"
  # moto needs no auth: a plain PUT creates the bucket.
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:${PORT[moto]}/$BUCKET" ||
    fail_service moto "refused to create bucket $BUCKET"

  bring_up azurite "$TIMEOUT_AZURITE"
  # Azurite wants a SharedKey-signed request; the azure SDK signs it for us.
  "$VENV_DIR/bin/python" "$ROOT/scripts/services.py" create-container \
    "http://127.0.0.1:${PORT[azurite]}" "$CONTAINER" ||
    fail_service azurite "refused to create container $CONTAINER"

  bring_up mlflow "$TIMEOUT_MLFLOW"

  for name in "${PLUGINS[@]}"; do
    timeout_var="SVC_$(tr 'a-z' 'A-Z' <<<"$name")_TIMEOUT"
    timeout=${!timeout_var:-120}
    bring_up "$name" "$timeout"
    if declare -F "svc_${name}_ready" >/dev/null; then
      "svc_${name}_ready" "${PORT[$name]}" "$RUN_DIR/$name/data" ||
        fail_service "$name" "failed its set-up (svc_${name}_ready)"
    fi
  done

  export MLOPS_TEST_S3_ENDPOINT="http://127.0.0.1:${PORT[moto]}"
  export MLOPS_TEST_S3_BUCKET="$BUCKET"
  export MLOPS_TEST_AZURE_ENDPOINT="http://127.0.0.1:${PORT[azurite]}"
  export AZURITE_BLOB_STORAGE_URL="$MLOPS_TEST_AZURE_ENDPOINT" # what object_store's emulator mode reads
  export MLOPS_TEST_AZURE_CONTAINER="$CONTAINER"
  export MLOPS_TEST_MLFLOW_URI="http://127.0.0.1:${PORT[mlflow]}"
  export MLOPS_TEST_PYTHON="$VENV_DIR/bin/python"
}

print_env() {
  local v
  for v in AZURITE_BLOB_STORAGE_URL $(compgen -v MLOPS_TEST_); do
    printf 'export %s=%q
' "$v" "${!v}"
  done
}

# SIGTERM the whole process group (mlflow forks workers), wait, then SIGKILL.
stop_service() {
  local name=$1 pid=${PID[$1]} i
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE * 10; i++)); do
    [[ -n "$(session_members "$pid")" ]] || break
    sleep 0.1
  done
  if [[ -n "$(session_members "$pid")" ]]; then
    log "$name did not stop within ${STOP_GRACE}s of SIGTERM; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    # Also any member that left the group but not the session.
    for i in $(session_members "$pid"); do kill -KILL "$i" 2>/dev/null || true; done
  fi
  wait "$pid" 2>/dev/null || true
  unset "PID[$name]"
}

# The command run_cmd was running when we were interrupted: it shares our process
# group (so a terminal's Ctrl-C reached it too), but a SIGTERM sent to this
# script alone did not. Stop it and everything it started.
stop_command() {
  local pids i
  pids="$CMD_PID $(descendants_of "$CMD_PID")"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for ((i = 0; i < STOP_GRACE * 10; i++)); do
    is_alive "$CMD_PID" || break
    sleep 0.1
  done
  for i in $pids; do
    is_alive "$i" && kill -KILL "$i" 2>/dev/null
  done
  wait "$CMD_PID" 2>/dev/null
  CMD_PID=""
}

stop_services() {
  local i
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    [[ -n "${PID[${SERVICES[i]}]:-}" ]] && stop_service "${SERVICES[i]}"
  done
  SERVICES=()
}

# Start the services, run "$@" with MLOPS_TEST_* set as step $1, stop the services.
# If the command fails, the EXIT trap stops them (and shows their logs' tails).
with_services() {
  local name=$1
  shift
  step services start_services
  step "$name" run_cmd "$@"
  stop_services
}

# --- the full run ---------------------------------------------------------------
cargo_test() {
  # tee stdout so the summary line at the end can count the results.
  cargo test --workspace --all-features | tee "$RUN_DIR/cargo-test.out"
}

# One plain line summing every "test result:" line cargo test printed, e.g.
# "tests: 105 passed, 0 failed, 0 skipped" (skipped = #[ignore]d).
test_summary() {
  [[ -f "$RUN_DIR/cargo-test.out" ]] || return 0
  awk '/^test result: / {
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^passed/) p += $(i - 1)
           if ($i ~ /^failed/) f += $(i - 1)
           if ($i ~ /^ignored/) s += $(i - 1)
         }
         n++
       }
       END { if (n) printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' \
    "$RUN_DIR/cargo-test.out"
}

run_full() {
  step fmt cargo fmt --all --check
  step clippy cargo clippy --workspace --all-targets --all-features -- -D warnings
  # The emulators are only needed by the tests, so they run only around them.
  with_services test cargo_test
  step doc env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
}

run_services_only() {
  if (($# == 0)); then
    step services start_services
    print_env
    log "services are up (logs in $RUN_DIR); press Ctrl-C to stop them"
    trap 'exit 0' INT TERM # the expected way to end this mode, not a failure
    run_cmd sleep infinity
  else
    with_services command "$@"
  fi
}

# --- exit handling ----------------------------------------------------------------
print_timings() {
  ((${#TIMINGS[@]})) || return 0
  local t name ms status now
  now=$(now_ms)
  log "timings (seconds):"
  for t in "${TIMINGS[@]}"; do
    IFS=$'\t' read -r name ms status <<<"$t"
    if [[ $status == running ]]; then # the step that was cut short
      ms=$((now - ms))
      status=$STOP_REASON
    fi
    printf '[test.sh]   %-16s %7s  %s\n' "$name" "$(fmt_secs "$ms")" "$status" >&2
  done
}

cleanup() {
  local rc=$? summary
  set +e
  trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
  [[ -z $CMD_PID ]] || stop_command
  case $rc in
  130 | 143) STOP_REASON=interrupted ;;
  *) STOP_REASON=FAILED ;;
  esac
  if [[ $STOP_REASON == FAILED && -z $LOGS_SHOWN ]]; then
    # A failed test is often explained by the service's side; keep it short.
    local name
    for name in "${SERVICES[@]}"; do
      log "last lines of the $name log:"
      tail -n 15 "$RUN_DIR/$name/log" >&2
    done
  fi
  stop_services
  print_timings
  summary=$(test_summary)
  if [[ -n $RUN_DIR && -d $RUN_DIR ]]; then
    if [[ -n "${MLOPS_TEST_KEEP_TMP:-}" ]]; then
      log "kept $RUN_DIR"
    else
      rm -rf "$RUN_DIR"
    fi
  fi
  if ((rc == 0)); then log "OK"; else log "FAILED (exit $rc)"; fi
  [[ -z $summary ]] || echo "$summary" # last, on stdout: CI reads the closing line
  exit "$rc"
}

main() {
  local mode=full
  case "${1:-}" in
  --services-only)
    mode=services
    shift
    [[ ${1:-} == -- ]] && shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  "") ;;
  *) die "unknown argument '$1' (see scripts/test.sh --help)" ;;
  esac

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  preflight "$mode"
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mlops-test.XXXXXX")
  step venv ensure_venv
  step npm ensure_node_modules
  step venvs ensure_extra_venvs
  step promtool ensure_promtool
  step chromium ensure_chromium
  load_plugins

  if [[ $mode == full ]]; then
    run_full
  else
    run_services_only "$@"
  fi
}

main "$@"
