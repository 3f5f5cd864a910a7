#!/usr/bin/env bash
# The whole test suite, the README's test command:
#
#   bash scripts/test.sh
#
# Phase 1: every test of the workspace (unit, doc, UI and integration tests)
#          against the embedded broker (librdkafka's mock cluster, in process),
#          then the quick start example (the README's other command).
# Phase 2: installs tansu once per machine (~8 min on 2 cores), starts it on a
#          free loopback port and runs the integration tests of the top-level
#          package again against it (KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:PORT).
#          tansu is stopped however the phase ends.
# Security phase: scripts/tansu-secure.sh test: tansu with SASL/SCRAM and the
#          TLS set-up, then the security test targets (test = false in
#          Cargo.toml, so phase 1 leaves them out).
#
# Exits non-zero as soon as a phase fails. Never reads stdin.
# Environment: KAFKA_RS_PHASE_TIMEOUT (seconds per cargo test phase, default
# 3600), plus the TANSU_* variables of scripts/tansu.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
phase_timeout="${KAFKA_RS_PHASE_TIMEOUT:-3600}"
# Phase 1 must use the embedded broker even if the caller exported this.
unset KAFKA_RS_TEST_BOOTSTRAP

banner() { printf '\n==== %s\n' "$*" >&2; }
started=$SECONDS
timings=()

on_exit() {
    local status=$?
    bash scripts/tansu.sh stop </dev/null || true
    bash scripts/tansu-secure.sh stop </dev/null || true
    if ((${#timings[@]} > 0)); then
        printf '\n==== timings\n' >&2
        printf '  %s\n' "${timings[@]}" >&2
    fi
    if ((status == 0)); then
        banner "scripts/test.sh: all phases passed in $((SECONDS - started))s"
    else
        banner "scripts/test.sh: FAILED (exit $status) after $((SECONDS - started))s"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The reliability tests (tests/reliability_*.rs) append their figures here;
# printed at the end of each phase.
reliability_report="$repo_root/target/tmp/reliability-report.txt"
print_reliability() {
    if [[ -s "$reliability_report" ]]; then
        banner "reliability figures ($1)"
        cat "$reliability_report" >&2
    fi
    rm -f "$reliability_report"
}
rm -f "$reliability_report"

banner "phase 1/2: cargo test --workspace --all-features  [broker: embedded mock cluster, in process]"
t=$SECONDS
timeout "$phase_timeout" cargo test --workspace --all-features </dev/null
timings+=("phase 1 (embedded): $((SECONDS - t))s")
print_reliability "embedded mock cluster"

# The README's first command must keep working, and so must every example
# (the seed's five and the quick start): each runs to completion and exits 0.
for example in quickstart consumer batchconsumer consumer_with_mulit_service producer producer_ex metrics; do
    banner "phase 1/2: cargo run --example $example  [broker: embedded mock cluster, in process]"
    t=$SECONDS
    env -u KAFKA_RS_TEST_BOOTSTRAP timeout 300 cargo run --example "$example" </dev/null
    timings+=("example $example (embedded): $((SECONDS - t))s")
done

# The benchmark binary must keep working: its scenarios at tiny counts (all
# but latency, whose paths the others cover, to stay near 40 s: each consumer
# run waits about 3 s for the mock cluster's group join). Performance targets
# are informational here (tiny runs cannot meet them); a scenario that errors
# fails the run. See kafka-bench/README.md.
banner "phase 1/2: kafka-bench smoke run, tiny counts  [broker: embedded mock cluster, in process]"
t=$SECONDS
env -u KAFKA_RS_TEST_BOOTSTRAP timeout 240 cargo run -p kafka-bench -- --broker embedded \
    --scenario consume-noop,consume-batch,produce-async,produce-awaited,slow-handler,backlog \
    --messages 20000 --rounds 1 --slow-messages 200 --backlog-messages 5000 \
    --quiet --markdown target/bench/smoke.md --json target/bench/smoke.json </dev/null
timings+=("kafka-bench smoke (embedded): $((SECONDS - t))s")

banner "phase 2/2: install tansu if needed and start it"
t=$SECONDS
bash scripts/tansu.sh install </dev/null
timings+=("tansu install check/install: $((SECONDS - t))s")
# A tansu left behind by an interrupted run of this checkout would block start.
bash scripts/tansu.sh stop </dev/null
# An assignment, not `eval "$(...)"`, so that a failed start stops the run.
start_output="$(bash scripts/tansu.sh start </dev/null)"
eval "$start_output"
[[ -n "${KAFKA_RS_TEST_BOOTSTRAP:-}" ]] || {
    echo "scripts/test.sh: tansu started but printed no bootstrap" >&2
    exit 1
}
export KAFKA_RS_TEST_BOOTSTRAP

banner "phase 2/2: cargo test -p kafka-rs --tests  [broker: tansu 0.6.0 at $KAFKA_RS_TEST_BOOTSTRAP, KAFKA_RS_TEST_BOOTSTRAP set]"
t=$SECONDS
timeout "$phase_timeout" cargo test -p kafka-rs --tests </dev/null
timings+=("phase 2 (tansu): $((SECONDS - t))s")
print_reliability "tansu"

banner "security phase: scripts/tansu-secure.sh test  [brokers: tansu with SASL/SCRAM, and tansu behind a TLS terminator]"
t=$SECONDS
timeout "$phase_timeout" bash scripts/tansu-secure.sh test </dev/null
timings+=("security phase (tansu SCRAM/TLS): $((SECONDS - t))s")
