#!/usr/bin/env bash
# The reliability tests at full size on an Apache Kafka of their own, and
# their report:
#
#   bash scripts/reliability.sh            # 50,000 messages, 10 SIGKILLs
#   RELIABILITY_MESSAGES=5000 bash scripts/reliability.sh
#
# Runs tests/reliability_*.rs (crash loop, graceful shutdown, rebalance,
# broker restart against Apache Kafka; broker faults on the mock cluster) and
# prints the figures each test reports (also in
# target/tmp/reliability-report.txt). scripts/test.sh runs the same tests at
# CI size (5,000 messages, 10 kills) in both of its phases.
#
# Environment: RELIABILITY_MESSAGES (default 50000), RELIABILITY_KILLS
# (default 10), RELIABILITY_SEED (repeat a run's kill moments),
# KAFKA_STATE_DIR (default <repo>/target/kafka-reliability), KAFKA_VERSION.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export RELIABILITY_MESSAGES="${RELIABILITY_MESSAGES:-50000}"
export RELIABILITY_KILLS="${RELIABILITY_KILLS:-10}"
# A broker of its own: the broker-restart test restarts it.
export KAFKA_STATE_DIR="${KAFKA_STATE_DIR:-$repo_root/target/kafka-reliability}"
report="$repo_root/target/tmp/reliability-report.txt"

bash scripts/kafka.sh install </dev/null
trap 'bash scripts/kafka.sh stop </dev/null || true' EXIT
start_output="$(bash scripts/kafka.sh start </dev/null)"
eval "$start_output"
export KAFKA_RS_TEST_BOOTSTRAP KAFKA_RS_TEST_KAFKA_STATE

rm -f "$report"
tests=()
for t in tests/reliability_*.rs; do
    tests+=(--test "$(basename "$t" .rs)")
done
timeout "${KAFKA_RS_PHASE_TIMEOUT:-3600}" cargo test -p kafka-rs "${tests[@]}" </dev/null
printf '\n==== reliability report (%s messages, %s kills)\n' "$RELIABILITY_MESSAGES" "$RELIABILITY_KILLS" >&2
cat "$report" >&2
