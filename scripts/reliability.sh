#!/usr/bin/env bash
# The reliability tests at full size on a tansu of their own, and their report:
#
#   bash scripts/reliability.sh            # 50,000 messages, 10 SIGKILLs
#   RELIABILITY_MESSAGES=5000 bash scripts/reliability.sh
#
# Runs tests/reliability_*.rs (crash loop, graceful shutdown, rebalance,
# broker restart against tansu; broker faults on the mock cluster) and prints
# the figures each test reports (also in target/tmp/reliability-report.txt).
# scripts/test.sh runs the same tests at CI size (5,000 messages, 10 kills) in
# both phases.
#
# Environment: RELIABILITY_MESSAGES (default 50000), RELIABILITY_KILLS
# (default 10), RELIABILITY_SEED (repeat a run's kill moments),
# TANSU_STATE_DIR (default <repo>/target/tansu-reliability).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export RELIABILITY_MESSAGES="${RELIABILITY_MESSAGES:-50000}"
export RELIABILITY_KILLS="${RELIABILITY_KILLS:-10}"
# A tansu of its own: the broker-restart test restarts it.
export TANSU_STATE_DIR="${TANSU_STATE_DIR:-$repo_root/target/tansu-reliability}"
report="$repo_root/target/tmp/reliability-report.txt"

bash scripts/tansu.sh install </dev/null
bash scripts/tansu.sh stop </dev/null
trap 'bash scripts/tansu.sh stop </dev/null || true' EXIT
start_output="$(bash scripts/tansu.sh start </dev/null)"
eval "$start_output"
export KAFKA_RS_TEST_BOOTSTRAP

rm -f "$report"
tests=()
for t in tests/reliability_*.rs; do
    tests+=(--test "$(basename "$t" .rs)")
done
timeout "${KAFKA_RS_PHASE_TIMEOUT:-3600}" cargo test -p kafka-rs "${tests[@]}" </dev/null
printf '\n==== reliability report (%s messages, %s kills)\n' "$RELIABILITY_MESSAGES" "$RELIABILITY_KILLS" >&2
cat "$report" >&2
