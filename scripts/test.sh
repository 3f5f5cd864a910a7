#!/usr/bin/env bash
# The whole test suite, the README's test command:
#
#   bash scripts/test.sh
#
# Embedded phase:  every test of the workspace (unit, doc, UI and integration
#                  tests) against the embedded broker (librdkafka's mock
#                  cluster, in process), every example, and a kafka-bench
#                  smoke run.
# Apache Kafka phase: fetches Apache Kafka's jars once per machine
#                  (scripts/kafka.sh install: Maven Central, ~55 MB), starts a
#                  single node with PLAINTEXT, SASL, SSL, mTLS and SASL_SSL
#                  listeners, then runs the integration tests of the top-level
#                  package, the consumer tests again with KIP-848's
#                  groupProtocol=consumer, the tests that need Apache Kafka
#                  itself (transactions, static membership, readiness), the
#                  security tests and every example against it
#                  (KAFKA_RS_TEST_BOOTSTRAP and friends exported), then
#                  validates every example's AsyncAPI document with
#                  @asyncapi/parser (npm registry, once per machine). The broker
#                  is stopped however the phase ends; its logs stay in
#                  target/kafka-VERSION/.
#
# Interop phase:   scripts/interop.sh: the tRPC-Go plugin itself beside
#                  kafka-rs (Go module proxy once per machine, Apache Kafka
#                  4.1.1 and 3.9.1 brokers of its own).
#
# Cluster phase:   scripts/cluster-tests.sh: a three-node Apache Kafka
#                  (replication factor 3, min.insync.replicas 2) and the
#                  reliability tests that kill, stop and restart its nodes
#                  (tests/cluster_*.rs) at CI size; it stops the cluster
#                  however it ends and prints the figures.
#
# Needs: a Rust toolchain with a C compiler (librdkafka is built from
# source), a JDK 17+ and Maven (Apache Kafka), openssl (test certificates),
# Node 18+ and npm (the AsyncAPI validator), Go 1.21+ (the interop phase).
# Exits non-zero as soon as a phase fails. Never reads stdin.
# Environment: KAFKA_RS_PHASE_TIMEOUT (seconds per cargo test phase, default
# 3600), KAFKA_RS_SKIP_EMBEDDED=1 (start at the Apache Kafka phase, for
# iterating on it), plus the variables of scripts/kafka.sh (KAFKA_VERSION...).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
phase_timeout="${KAFKA_RS_PHASE_TIMEOUT:-3600}"
# The embedded phase must use the embedded broker even if the caller
# exported these.
unset KAFKA_RS_TEST_BOOTSTRAP KAFKA_RS_TEST_KAFKA_STATE KAFKA_STATE_DIR

banner() { printf '\n==== %s\n' "$*" >&2; }
started=$SECONDS
timings=()
kafka_started=0

on_exit() {
    local status=$?
    if ((kafka_started)); then
        bash scripts/kafka.sh stop </dev/null || true
    fi
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

# Every example (the seed's five, metrics and those of #22) runs to completion
# and exits 0 on the broker the environment selects, and writes its AsyncAPI
# document (KAFKA_RS_ASYNCAPI) into target/asyncapi/. The quick start, the
# README's first command, always embeds its broker: it runs in the embedded
# phase only.
examples=(consumer batchconsumer consumer_with_mulit_service producer producer_ex metrics backoff batch_outcomes codecs retry_topics)
asyncapi_dir="$repo_root/target/asyncapi"
rm -rf "$asyncapi_dir"
mkdir -p "$asyncapi_dir"
run_examples() {
    local where=$1 example t
    shift
    for example in "$@"; do
        banner "cargo run --example $example  [broker: $where]"
        t=$SECONDS
        KAFKA_RS_ASYNCAPI="$asyncapi_dir/app-$example.json" \
            timeout 300 cargo run --example "$example" </dev/null
        timings+=("example $example ($where): $((SECONDS - t))s")
    done
}

# The AsyncAPI documents of every example, from the application itself
# (written by the runs above; the quick start's in the embedded phase) and
# from its trpc_go.yaml alone (kafka-config-check --asyncapi), validated by
# the AsyncAPI initiative's parser (@asyncapi/parser from the npm registry,
# pinned in scripts/asyncapi/package-lock.json, installed once per machine by
# scripts/asyncapi/validate.sh). A document that breaks the AsyncAPI 3.0
# schema must be refused first: the validator can fail.
validate_asyncapi() {
    local yaml name example status=0 t=$SECONDS
    local documents=()
    banner "AsyncAPI: every example's document, validated with @asyncapi/parser"
    for yaml in examples/*.yaml; do
        name="$(basename "$yaml" .yaml)"
        # The producer examples' targets name ${KAFKA_BOOTSTRAP}.
        KAFKA_BOOTSTRAP="$KAFKA_RS_TEST_BOOTSTRAP" \
            cargo run -q -p kafka-config-check -- --asyncapi --api-version 1.0.0 "$yaml" \
            >"$asyncapi_dir/config-$name.json" </dev/null
        documents+=("$asyncapi_dir/config-$name.json")
    done
    local apps=("${examples[@]}")
    if [[ "${KAFKA_RS_SKIP_EMBEDDED:-}" != 1 ]]; then
        apps+=(quickstart)
    fi
    for example in "${apps[@]}"; do
        [[ -s "$asyncapi_dir/app-$example.json" ]] || {
            echo "example $example wrote no AsyncAPI document" >&2
            return 1
        }
        documents+=("$asyncapi_dir/app-$example.json")
    done
    bash scripts/asyncapi/validate.sh scripts/asyncapi/not-asyncapi-3.json </dev/null || status=$?
    if ((status != 1)); then
        echo "the AsyncAPI validator did not refuse scripts/asyncapi/not-asyncapi-3.json (exit $status)" >&2
        return 1
    fi
    bash scripts/asyncapi/validate.sh "${documents[@]}" </dev/null
    timings+=("AsyncAPI validation (${#documents[@]} documents): $((SECONDS - t))s")
}

if [[ "${KAFKA_RS_SKIP_EMBEDDED:-}" != 1 ]]; then
    banner "embedded phase: cargo test --workspace --all-features  [broker: embedded mock cluster, in process]"
    t=$SECONDS
    timeout "$phase_timeout" cargo test --workspace --all-features </dev/null
    timings+=("embedded phase, cargo test: $((SECONDS - t))s")
    print_reliability "embedded mock cluster"

    run_examples "embedded mock cluster" quickstart "${examples[@]}"

    # The benchmark binary must keep working: its scenarios at tiny counts
    # (all but latency, whose paths the others cover). Performance targets
    # are informational here (tiny runs cannot meet them); a scenario that
    # errors fails the run. See kafka-bench/README.md.
    banner "kafka-bench smoke run, tiny counts  [broker: embedded mock cluster, in process]"
    t=$SECONDS
    timeout 240 cargo run -p kafka-bench -- --broker embedded \
        --scenario consume-noop,consume-batch,produce-async,produce-awaited,slow-handler,backlog \
        --messages 20000 --rounds 1 --slow-messages 200 --backlog-messages 5000 \
        --quiet --markdown target/bench/smoke.md --json target/bench/smoke.json </dev/null
    timings+=("kafka-bench smoke (embedded): $((SECONDS - t))s")
fi

banner "Apache Kafka phase: install (once per machine) and start"
t=$SECONDS
bash scripts/kafka.sh install </dev/null
timings+=("Apache Kafka install check/fetch: $((SECONDS - t))s")
# kafka.sh's own bad-input paths (unknown command, port in use, no or old
# Java, no Maven): a clear message and a non-zero exit each.
bash scripts/kafka-errors.sh </dev/null
t=$SECONDS
kafka_started=1
# An assignment, not `eval "$(...)"`, so that a failed start stops the run.
start_output="$(bash scripts/kafka.sh start </dev/null)"
eval "$start_output"
export KAFKA_RS_TEST_BOOTSTRAP KAFKA_RS_TEST_KAFKA_STATE
timings+=("Apache Kafka format and start: $((SECONDS - t))s")
where="Apache Kafka $KAFKA_RS_TEST_KAFKA_VERSION at $KAFKA_RS_TEST_BOOTSTRAP"

banner "Apache Kafka phase: cargo test -p kafka-rs --tests  [broker: $where]"
t=$SECONDS
timeout "$phase_timeout" cargo test -p kafka-rs --tests </dev/null
timings+=("Apache Kafka phase, integration tests: $((SECONDS - t))s")
print_reliability "Apache Kafka $KAFKA_RS_TEST_KAFKA_VERSION"

# KIP-848: every consumer_* target again, each consumer address the tests
# build with groupProtocol=consumer (tests/consumer_support; the
# consumer_group_protocol target checks the broker really ran it).
consumer_targets=()
for target in tests/consumer_*.rs; do
    target="${target#tests/}"
    consumer_targets+=(--test "${target%.rs}")
done
banner "Apache Kafka phase: consumer tests with groupProtocol=consumer (KIP-848)  [broker: $where]"
t=$SECONDS
KAFKA_RS_TEST_GROUP_PROTOCOL=consumer timeout "$phase_timeout" \
    cargo test -p kafka-rs "${consumer_targets[@]}" </dev/null
timings+=("Apache Kafka phase, consumer tests with KIP-848: $((SECONDS - t))s")

# Tests that need Apache Kafka itself: exactly once across SIGKILLs and a
# frozen zombie (transactions), static membership, readiness.
banner "Apache Kafka phase: broker tests (transactions, static membership, readiness)  [broker: $where]"
t=$SECONDS
timeout "$phase_timeout" cargo test -p kafka-rs --features kafka-broker-tests \
    --test reliability_exactly_once --test transaction_batch_outcomes \
    --test static_membership --test readiness </dev/null
timings+=("Apache Kafka phase, broker tests: $((SECONDS - t))s")
print_reliability "Apache Kafka $KAFKA_RS_TEST_KAFKA_VERSION, broker tests"

banner "Apache Kafka phase: security tests (SASL_PLAINTEXT, SSL, mTLS, SASL_SSL listeners)  [broker: $where]"
t=$SECONDS
timeout "$phase_timeout" cargo test -p kafka-rs --features kafka-secure-tests \
    --test security_scram --test security_tls --test security_logs </dev/null
timings+=("Apache Kafka phase, security tests: $((SECONDS - t))s")

run_examples "$where" "${examples[@]}"
validate_asyncapi

# The interop phase: kafka-rs beside the tRPC-Go plugin itself, on Apache
# Kafka 4.1.1 and 3.9.1 brokers of its own (scripts/interop.sh starts and
# stops them); this phase's broker is no longer needed.
bash scripts/kafka.sh stop </dev/null || true
kafka_started=0
banner "interop phase: bash scripts/interop.sh  [the tRPC-Go plugin v1.2.0 beside kafka-rs; Apache Kafka 4.1.1 and 3.9.1]"
t=$SECONDS
timeout "$phase_timeout" bash scripts/interop.sh </dev/null
timings+=("interop phase: $((SECONDS - t))s")

# The cluster phase: a three-node Apache Kafka of its own, started and
# stopped by scripts/cluster-tests.sh.
banner "cluster phase: bash scripts/cluster-tests.sh  [broker: three-node Apache Kafka]"
t=$SECONDS
timeout "$phase_timeout" bash scripts/cluster-tests.sh </dev/null
timings+=("cluster phase (start, tests, stop): $((SECONDS - t))s")
