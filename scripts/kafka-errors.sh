#!/usr/bin/env bash
# The error paths of scripts/kafka.sh, checked: each bad input must end with
# a non-zero exit and a message that names the problem, before any broker is
# started. Run by scripts/test.sh after `kafka.sh install` (the port and Java
# cases reach `start`, which needs the jars to be in the cache).
#
#   bash scripts/kafka-errors.sh
#
# Nothing here installs anything: CI is unset for every case, so kafka.sh's
# CI-only package installation is never tried, and every state and cache
# directory is a fresh temporary one.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kafka_sh="$repo_root/scripts/kafka.sh"
work="$(mktemp -d)"
listener_pid=""
cleanup() {
    [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
checked=0

# expect STATUS PATTERN [VAR=VALUE...] -- ARGS...: runs kafka.sh with ARGS in
# a clean environment plus the assignments, and checks its exit status and
# that its stderr matches PATTERN (an extended regular expression).
expect() {
    local status=$1 pattern=$2
    shift 2
    local assignments=()
    while [[ $1 != -- ]]; do
        assignments+=("$1")
        shift
    done
    shift
    local got=0 err="$work/stderr"
    env -u CI -u JAVA_HOME -u KAFKA_PORT -u KAFKA_VERSION \
        KAFKA_STATE_DIR="$work/state" "${assignments[@]}" \
        bash "$kafka_sh" "$@" </dev/null >/dev/null 2>"$err" || got=$?
    checked=$((checked + 1))
    if [[ $got == "$status" ]] && grep -Eq "$pattern" "$err"; then
        printf 'kafka-errors: ok: kafka.sh %s -> exit %s: %s\n' "$*" "$got" "$(grep -Em1 "$pattern" "$err")" >&2
    else
        failures=$((failures + 1))
        printf 'kafka-errors: FAILED: kafka.sh %s (%s): wanted exit %s and /%s/, got exit %s and:\n' \
            "$*" "${assignments[*]}" "$status" "$pattern" "$got" >&2
        sed 's/^/    /' "$err" >&2
    fi
}

# A PATH with every command of the usual directories except java and mvn:
# what a machine without a JDK or Maven looks like to the script.
without_java_mvn="$work/bin"
mkdir -p "$without_java_mvn"
for dir in /usr/local/bin /usr/bin /bin; do
    for cmd in "$dir"/*; do
        name="${cmd##*/}"
        [[ $name == java || $name == mvn || -e "$without_java_mvn/$name" ]] && continue
        ln -s "$cmd" "$without_java_mvn/$name"
    done
done

# A JDK too old for Kafka 4: a `java` that says it is Java 11.
old_jdk="$work/jdk11"
mkdir -p "$old_jdk/bin"
printf '#!/bin/sh\necho '\''openjdk version "11.0.2" 2019-01-15'\'' >&2\n' >"$old_jdk/bin/java"
chmod +x "$old_jdk/bin/java"

# A port something else listens on.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(600)
' >"$work/port" &
listener_pid=$!
for _ in $(seq 1 100); do
    [[ -s "$work/port" ]] && break
    sleep 0.05
done
busy_port="$(cat "$work/port")"
[[ -n $busy_port ]] || { echo "kafka-errors: could not open a listening socket" >&2; exit 1; }

expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "no command given" --
expect 1 "KAFKA_VERSION=2.8 is not one this script runs; use 4.1.1" KAFKA_VERSION=2.8 -- start
expect 1 "port $busy_port \(KAFKA_PORT\) is in use by another process" KAFKA_PORT="$busy_port" -- start
expect 1 "KAFKA_PORT=http is not a port number" KAFKA_PORT=http -- start
expect 1 "no Java found: Apache Kafka 4.1.1 needs a JDK 17" PATH="$without_java_mvn" -- start
expect 1 "needs Java 17 or newer; .* is Java 11" JAVA_HOME="$old_jdk" -- start
expect 1 "Maven \(mvn\) is missing" PATH="$without_java_mvn" KAFKA_RS_CACHE_DIR="$work/empty-cache" -- install

if ((failures > 0)); then
    printf 'kafka-errors: %s of %s cases failed\n' "$failures" "$checked" >&2
    exit 1
fi
printf 'kafka-errors: all %s cases passed\n' "$checked" >&2
