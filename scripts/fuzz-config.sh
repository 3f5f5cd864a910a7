#!/usr/bin/env bash
# The configuration parsers fuzzed at length: the properties of
# kafka-runtime/tests/config_fuzz.rs (the address/target parser and the YAML
# loader, fed arbitrary text, near-valid addresses with passwords under their
# real and misspelt key names, arbitrary YAML trees and mutated files) in a
# release build, then the total number of executions:
#
#   bash scripts/fuzz-config.sh                 # >= 1,000,000 executions
#   FUZZ_CASES=20000 bash scripts/fuzz-config.sh
#   PROPTEST_RNG_SEED=42 bash scripts/fuzz-config.sh   # other inputs
#
# FUZZ_CASES is the number of cases of each property (default 170,000: six
# properties run that many and the one that creates real librdkafka clients
# a tenth of it, 1,037,000 in all). The suite (cargo test) runs the same
# properties at 2,000 cases each. Exits non-zero on any failing case (the
# output then shows proptest's shrunk input) or when the executions counted
# fall short of what was asked for.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
cases="${FUZZ_CASES:-170000}"
[[ $cases =~ ^[0-9]+$ ]] && ((cases > 0)) || {
    echo "fuzz-config.sh: FUZZ_CASES must be a positive number, not '$cases'" >&2
    exit 2
}
log="$repo_root/target/tmp/fuzz-config.log"
mkdir -p "$(dirname "$log")"

started=$SECONDS
PROPTEST_CASES="$cases" cargo test --release -p kafka-runtime --test config_fuzz -- --nocapture </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
elapsed=$((SECONDS - started))

# Each property prints `fuzz NAME: N executions without a panic (...)`.
total=$(awk '/^fuzz .* executions without a panic/ { sub(/^fuzz [^:]*: /, ""); n += $1 } END { print n + 0 }' "$log")
properties=$(grep -c '^fuzz .* executions without a panic' "$log" || true)
expected=$((6 * cases + (cases / 10 > 0 ? cases / 10 : 1)))
if ((status != 0)); then
    echo "fuzz-config.sh: a property failed after ${elapsed}s (see $log)" >&2
    exit "$status"
fi
if ((total < expected)); then
    echo "fuzz-config.sh: only $total executions counted, $expected expected (see $log)" >&2
    exit 1
fi
printf '\n==== config fuzz: %s executions in %s properties, 0 panics, 0 failures, %s s (build included); seed %s\n' \
    "$total" "$properties" "$elapsed" "${PROPTEST_RNG_SEED:-the fixed one of config_fuzz.rs}" >&2
