#!/usr/bin/env bash
# The reliability tests on a three-node Apache Kafka cluster (replication
# factor 3, min.insync.replicas 2), the last phase of scripts/test.sh:
#
#   bash scripts/cluster-tests.sh                    # CI size, about 8 minutes on 2 cores
#   CLUSTER_SIZE=large bash scripts/cluster-tests.sh # the larger run
#
# Starts the cluster (`scripts/kafka.sh start-cluster`), runs the cluster
# test targets one after another (tests/cluster_*.rs, feature
# kafka-cluster-tests: leader failover under load, a rolling restart,
# 20 SIGKILLs of consumer processes, brokers unreachable), stops the cluster
# however the run ends (its logs stay in target/kafka-VERSION-cluster/), and
# prints each test's figures (also in target/tmp/reliability-report.txt).
#
# Sizes (each test's header says what its variables do):
#   ci     CLUSTER_RATE=1000 CLUSTER_SECONDS=20 CLUSTER_DOWNTIME_S=5
#          CLUSTER_KILL_RECORDS=50000 CLUSTER_KILLS=20 CLUSTER_CHUNK_S=3
#          CLUSTER_OUTAGE_S=20
#   large  CLUSTER_RATE=3000 CLUSTER_SECONDS=60 CLUSTER_DOWNTIME_S=15
#          CLUSTER_KILL_RECORDS=200000 CLUSTER_KILLS=50 CLUSTER_CHUNK_S=3
#          CLUSTER_OUTAGE_S=60
# A variable set in the environment wins over the size's value.
#
# Environment: CLUSTER_SIZE (ci, the default, or large), the CLUSTER_*
# variables above, RELIABILITY_SEED (repeat the consumer kills' choices),
# KAFKA_RS_PHASE_TIMEOUT (seconds for the cargo test run, default 1800), and
# the variables of scripts/kafka.sh (KAFKA_VERSION...). Needs what
# scripts/test.sh needs. Exits non-zero if a test fails; never reads stdin.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

size="${CLUSTER_SIZE:-ci}"
case $size in
    ci) defaults=(RATE=1000 SECONDS=20 DOWNTIME_S=5 KILL_RECORDS=50000 KILLS=20 CHUNK_S=3 OUTAGE_S=20) ;;
    large) defaults=(RATE=3000 SECONDS=60 DOWNTIME_S=15 KILL_RECORDS=200000 KILLS=50 CHUNK_S=3 OUTAGE_S=60) ;;
    *)
        echo "cluster-tests.sh: CLUSTER_SIZE=$size is not a size; use ci or large" >&2
        exit 2
        ;;
esac
for pair in "${defaults[@]}"; do
    name="CLUSTER_${pair%%=*}"
    if [[ -z "${!name:-}" ]]; then export "$name=${pair#*=}"; fi
done

report="$repo_root/target/tmp/reliability-report.txt"
started=$SECONDS
cluster_started=0
on_exit() {
    local status=$?
    if ((cluster_started)); then
        # Only this cluster when it started; else whatever start-cluster left.
        if [[ -n "${KAFKA_RS_TEST_KAFKA_STATE:-}" ]]; then
            KAFKA_STATE_DIR="$KAFKA_RS_TEST_KAFKA_STATE" bash scripts/kafka.sh stop </dev/null || true
        else
            bash scripts/kafka.sh stop </dev/null || true
        fi
    fi
    if [[ -s "$report" ]]; then
        printf '\n==== cluster reliability figures (%s size)\n' "$size" >&2
        cat "$report" >&2
    fi
    if ((status == 0)); then
        printf '\n==== scripts/cluster-tests.sh: passed in %ss\n' "$((SECONDS - started))" >&2
    else
        printf '\n==== scripts/cluster-tests.sh: FAILED (exit %s) after %ss\n' "$status" "$((SECONDS - started))" >&2
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -f "$report"
# The cluster's own state, whatever the caller's environment points at.
unset KAFKA_RS_TEST_BOOTSTRAP KAFKA_RS_TEST_KAFKA_STATE KAFKA_STATE_DIR
bash scripts/kafka.sh install </dev/null
cluster_started=1
# An assignment, not `eval "$(...)"`, so that a failed start stops the run.
start_output="$(bash scripts/kafka.sh start-cluster </dev/null)"
eval "$start_output"
export KAFKA_RS_TEST_BOOTSTRAP KAFKA_RS_TEST_KAFKA_STATE KAFKA_RS_TEST_KAFKA_NODES KAFKA_RS_TEST_REPLICATION

tests=()
for t in tests/cluster_*.rs; do
    tests+=(--test "$(basename "$t" .rs)")
done
printf '\n==== cargo test -p kafka-rs --features kafka-cluster-tests %s  [%s size; broker: Apache Kafka %s, 3 nodes at %s]\n' \
    "${tests[*]}" "$size" "$KAFKA_RS_TEST_KAFKA_VERSION" "$KAFKA_RS_TEST_BOOTSTRAP" >&2
env | grep '^CLUSTER_' | sort >&2
timeout "${KAFKA_RS_PHASE_TIMEOUT:-1800}" cargo test -p kafka-rs --features kafka-cluster-tests \
    "${tests[@]}" </dev/null
