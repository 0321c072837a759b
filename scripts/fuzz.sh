#!/usr/bin/env bash
# The long fuzz run of issue 17: every fuzz target (the `fuzz_` tests built on
# mlops_core::testing::run_fuzz) with PROPTEST_CASES cases (1,000,000 by default), release
# profile, one target at a time. Prints each target's cases, time and cases/s, and the
# failing input of any failure; exits 1 if a target failed.
#
#   scripts/fuzz.sh                       # every target, 1M cases each
#   CASES=10000000 scripts/fuzz.sh drift  # only targets whose crate or name matches "drift"
#   FUZZ_SEED=7 scripts/fuzz.sh           # another seed (the default is fixed)
set -uo pipefail
cd "$(dirname "$0")/.."

export PROPTEST_CASES="${CASES:-1000000}"
filter="${1:-}"

# crate  test-binary  test-name-filter
targets=(
  "mlops-drift integration fuzz_profile::profile_json_reader"
  "mlops-drift integration fuzz_profile::profile_parquet_reader"
  "mlops-serve integration fuzz_oip::json_requests"
  "mlops-serve integration fuzz_oip::binary_requests"
  "mlops-track integration fuzz_filter::filter_parser"
  "mlops-track integration fuzz_records::run_records"
  "mlops-registry integration fuzz_records::version_records"
)

failed=0
for target in "${targets[@]}"; do
  read -r crate bin name <<<"$target"
  if [[ -n "$filter" && "$crate $name" != *"$filter"* ]]; then continue; fi
  echo "== $crate $name: $PROPTEST_CASES cases"
  start=$(date +%s)
  log=$(mktemp)
  cargo test --release -q -p "$crate" --test "$bin" "$name" -- --nocapture --test-threads=1 \
    >"$log" 2>&1
  status=$?
  secs=$(($(date +%s) - start))
  # With --nocapture the line follows libtest's "test NAME ... " on the same line.
  grep -oE 'fuzz [^ ]+: .*' "$log" || true
  if [[ $status -ne 0 ]]; then
    failed=1
    echo "!! $crate $name FAILED after ${secs}s (build included):"
    grep -E -A12 "panicked|fuzz target .* failed|error(\[|:)" "$log" | head -60
  else
    echo "   ok in ${secs}s (build included)"
  fi
  rm -f "$log"
done
exit $failed
