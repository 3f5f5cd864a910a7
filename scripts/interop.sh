#!/usr/bin/env bash
# The interop phase of the test command: kafka-rs side by side with the
# tRPC-Go Kafka plugin itself (trpc.group/trpc-go/trpc-database/kafka v1.2.0,
# sarama 1.40.1), on Apache Kafka.
#
#   bash scripts/interop.sh
#
# 1. builds the Go side (`go vet`, then interop/cmd/plugin-peer and the
#    plugin's own examples) into target/interop/bin; Go modules come from the
#    module proxy once per machine (the default module cache);
# 2. starts Apache Kafka 4.1.1 and 3.9.1 through scripts/kafka.sh, in state
#    directories of its own (target/interop/kafka-*), stopped however the
#    phase ends;
# 3. runs the interop tests (tests/interop_*.rs, feature `interop-tests`),
#    which spawn the Go binaries and kafka-rs's examples whose paths it
#    exports (several tests at once: they mostly wait on brokers);
# 4. prints the figures the tests reported.
#
# Exits non-zero when a step fails. Never reads stdin.
# Environment: KAFKA_RS_PHASE_TIMEOUT (seconds for the cargo test run,
# default 1800), plus the variables of scripts/kafka.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
phase_timeout="${KAFKA_RS_PHASE_TIMEOUT:-1800}"
work="$repo_root/target/interop"
bin="$work/bin"
state4="$work/kafka-4.1.1"
state3="$work/kafka-3.9.1"
report="$repo_root/target/tmp/interop-report.txt"
# The plugin's examples that tests/interop_examples.rs runs beside kafka-rs's
# examples of the same name, on the plugin example's own trpc_go.yaml.
go_examples=(consumer consumer_with_mulit_service)
interop_tests=(interop_hash interop_metadata interop_mixed_group interop_stop_and_swap
    interop_produce_latency interop_sticky interop_clean_logs interop_examples interop_protobuf)

log() { printf '\n==== interop: %s\n' "$*" >&2; }
started=$SECONDS

stop_brokers() {
    KAFKA_VERSION=4.1.1 KAFKA_STATE_DIR="$state4" bash scripts/kafka.sh stop </dev/null || true
    KAFKA_VERSION=3.9.1 KAFKA_STATE_DIR="$state3" bash scripts/kafka.sh stop </dev/null || true
}
on_exit() {
    local status=$?
    stop_brokers
    if ((status == 0)); then
        log "passed in $((SECONDS - started))s"
    else
        log "FAILED (exit $status) after $((SECONDS - started))s"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v go >/dev/null 2>&1 || {
    echo "interop: Go is missing; the interop phase builds the plugin's side with Go 1.21 or newer" >&2
    exit 1
}

log "building the Go side (go vet, plugin-peer, the plugin's examples)"
t=$SECONDS
mkdir -p "$bin/examples"
(
    cd interop
    go vet ./...
    go build -o "$bin/plugin-peer" ./cmd/plugin-peer
    plugin_dir="$(go list -m -f '{{.Dir}}' trpc.group/trpc-go/trpc-database/kafka)"
    for example in "${go_examples[@]}"; do
        go build -o "$bin/examples/$example" "trpc.group/trpc-go/trpc-database/kafka/examples/$example"
        cp "$plugin_dir/examples/$example/trpc_go.yaml" "$bin/examples/$example.yaml"
    done
) </dev/null
go_secs=$((SECONDS - t))

log "starting Apache Kafka 4.1.1 and 3.9.1"
t=$SECONDS
stop_brokers
KAFKA_VERSION=4.1.1 KAFKA_STATE_DIR="$state4" bash scripts/kafka.sh start </dev/null >"$work/kafka4.env" &
start4=$!
KAFKA_VERSION=3.9.1 KAFKA_STATE_DIR="$state3" bash scripts/kafka.sh start </dev/null >"$work/kafka3.env" &
start3=$!
wait "$start4"
wait "$start3"
bootstrap_of() { sed -n 's/^export KAFKA_RS_TEST_BOOTSTRAP=//p' "$1"; }
KAFKA_RS_INTEROP_KAFKA4="$(bootstrap_of "$work/kafka4.env")"
KAFKA_RS_INTEROP_KAFKA3="$(bootstrap_of "$work/kafka3.env")"
[[ -n $KAFKA_RS_INTEROP_KAFKA4 && -n $KAFKA_RS_INTEROP_KAFKA3 ]] || {
    echo "interop: a broker started but printed no bootstrap" >&2
    exit 1
}
export KAFKA_RS_INTEROP_KAFKA4 KAFKA_RS_INTEROP_KAFKA3
export KAFKA_RS_INTEROP_PEER="$bin/plugin-peer"
export KAFKA_RS_INTEROP_GO_EXAMPLES="$bin/examples"
kafka_secs=$((SECONDS - t))

log "building kafka-rs's examples"
cargo build -p kafka-rs --examples </dev/null
export KAFKA_RS_INTEROP_RS_EXAMPLES="$repo_root/target/debug/examples"

log "cargo test --features interop-tests  [Apache Kafka 4.1.1 at $KAFKA_RS_INTEROP_KAFKA4, 3.9.1 at $KAFKA_RS_INTEROP_KAFKA3]"
t=$SECONDS
rm -f "$report"
targets=()
for test in "${interop_tests[@]}"; do targets+=(--test "$test"); done
status=0
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-8}"
timeout "$phase_timeout" cargo test -p kafka-rs --features interop-tests "${targets[@]}" </dev/null || status=$?
test_secs=$((SECONDS - t))

log "figures"
cat "$report" >&2 2>/dev/null || echo "(no figures reported)" >&2
printf '\n  go build %ss, brokers %ss, tests %ss\n' "$go_secs" "$kafka_secs" "$test_secs" >&2
exit "$status"
