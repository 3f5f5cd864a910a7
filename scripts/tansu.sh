#!/usr/bin/env bash
# Installs, starts, stops and feeds tansu (https://github.com/tansu-io/tansu),
# the Apache-Kafka-compatible broker the integration tests run against.
#
#   bash scripts/tansu.sh install                  # once per machine (~8 min on 2 cores)
#   eval "$(bash scripts/tansu.sh start)"          # exports KAFKA_RS_TEST_BOOTSTRAP
#   bash scripts/tansu.sh create-topic NAME PARTITIONS
#   bash scripts/tansu.sh status
#   bash scripts/tansu.sh restart                  # same port and data (sqlite kept)
#   bash scripts/tansu.sh stop
#
# `start` prints `export KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:PORT` on stdout (all
# progress goes to stderr) and also writes it to "$TANSU_STATE_DIR/env".
#
# Environment:
#   TANSU_STATE_DIR      state of the running broker: pid, port, env, log and the
#                        sqlite database (default: <repo>/target/tansu). `start`
#                        wipes it, so every run starts from an empty broker;
#                        `restart` keeps it (a broker restart on durable storage).
#   TANSU_MODE           plain (default). Reserved: scram, tls (not built yet).
#   TANSU_START_TIMEOUT  seconds `start` waits for the listener (default 60).
#   TANSU_STORAGE        tansu's --storage-engine (default sqlite://tansu.db, in
#                        the state dir); memory://tansu/ is fine for throughput
#                        runs with fresh consumer groups (kafka-bench), not for
#                        the tests (see below).
#   TANSU_INSTALL_TIMEOUT seconds `install` may take (default 3600).
#
# Why sqlite and not memory: with `memory://` tansu 0.6.0 reports wrong high
# watermarks (10,000 records in a partition, high watermark 1), so a consumer
# group restarted on committed offsets sees them past the end and resets.
set -euo pipefail

TANSU_VERSION=0.6.0
TANSU_FEATURES=dynostore,libsql

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${TANSU_STATE_DIR:-$repo_root/target/tansu}"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

log() { printf 'tansu.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# The tansu binary reporting the pinned version, or nothing.
find_tansu() {
    local candidate
    for candidate in "$(command -v tansu 2>/dev/null || true)" "$cargo_bin/tansu"; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        if "$candidate" --version 2>/dev/null </dev/null | grep -qw "$TANSU_VERSION"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

require_tansu() {
    find_tansu || die "tansu $TANSU_VERSION is not installed; run: bash scripts/tansu.sh install"
}

# An install someone else started (another checkout, a provisioning step):
# waiting for it is cheaper than compiling tansu twice on the same machine.
wait_for_foreign_install() {
    local waited=0 limit="${TANSU_INSTALL_TIMEOUT:-3600}"
    while pgrep -f "cargo install .*tansu" >/dev/null 2>&1; do
        if ((waited == 0)); then
            log "another 'cargo install tansu' is running; waiting for it (at most ${limit}s)"
        fi
        ((waited >= limit)) && die "the other tansu install did not finish within ${limit}s"
        sleep 5
        waited=$((waited + 5))
    done
}

cmd_install() {
    local found
    if found="$(find_tansu)"; then
        log "tansu $TANSU_VERSION already installed: $found"
        return 0
    fi
    mkdir -p "${CARGO_HOME:-$HOME/.cargo}"
    # One install per machine even when several checkouts run tests at once.
    exec 9>"${CARGO_HOME:-$HOME/.cargo}/.kafka-rs-tansu-install.lock"
    flock 9
    wait_for_foreign_install
    if found="$(find_tansu)"; then
        log "tansu $TANSU_VERSION installed meanwhile: $found"
        return 0
    fi
    log "installing tansu $TANSU_VERSION with features $TANSU_FEATURES (once per machine, ~8 min on 2 cores)"
    local started=$SECONDS
    timeout "${TANSU_INSTALL_TIMEOUT:-3600}" \
        cargo install --locked tansu --version "$TANSU_VERSION" --features "$TANSU_FEATURES" </dev/null ||
        die "cargo install tansu failed (exit $?)"
    found="$(find_tansu)" || die "cargo install finished but no tansu $TANSU_VERSION found on PATH or in $cargo_bin"
    log "installed $found in $((SECONDS - started))s"
}

# A loopback port nothing listens on right now.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
    die "found no free loopback port"
}

accepts_connections() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The pid of the tansu started from $state_dir, if it still runs. The command
# line is checked so that a stale pid file never names someone else's process.
running_pid() {
    local pid
    [[ -f "$state_dir/pid" ]] || return 1
    pid="$(cat "$state_dir/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "tansu broker" || return 1
    fi
    printf '%s\n' "$pid"
}

cmd_start() {
    local mode="${TANSU_MODE:-plain}"
    case "$mode" in
    plain) ;;
    scram | tls) die "TANSU_MODE=$mode is reserved for SASL/SCRAM and TLS runs and not built yet" ;;
    *) die "unknown TANSU_MODE '$mode' (allowed: plain)" ;;
    esac

    local tansu pid
    tansu="$(require_tansu)"
    if pid="$(running_pid)"; then
        die "tansu already runs from $state_dir (pid $pid); run: bash scripts/tansu.sh stop"
    fi
    rm -rf "$state_dir"
    mkdir -p "$state_dir"
    launch "$tansu" "$mode" ""
}

# Starts tansu from $state_dir on port $3 (empty: a free one, retried).
launch() {
    local tansu="$1" mode="$2" fixed_port="$3" pid
    local timeout_s="${TANSU_START_TIMEOUT:-60}" attempt port
    # A port found free can be taken before tansu binds it: try a few.
    for attempt in 1 2 3; do
        port="${fixed_port:-$(free_port)}"
        log "starting tansu $TANSU_VERSION ($mode) on 127.0.0.1:$port, state in $state_dir (attempt $attempt)"
        # The storage URL is relative to the working directory, so run from
        # the state dir.
        (
            cd "$state_dir"
            exec "$tansu" broker \
                --listener-url "tcp://127.0.0.1:$port" \
                --advertised-listener-url "tcp://127.0.0.1:$port" \
                --storage-engine "${TANSU_STORAGE:-sqlite://tansu.db}" \
                </dev/null >>"$state_dir/tansu.log" 2>&1
        ) &
        pid=$!
        printf '%s\n' "$pid" >"$state_dir/pid"
        printf '%s\n' "$port" >"$state_dir/port"

        local deadline=$((SECONDS + timeout_s))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if accepts_connections "$port"; then
                printf 'export KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:%s\n' "$port" >"$state_dir/env"
                log "tansu is up: bootstrap 127.0.0.1:$port (pid $pid, log $state_dir/tansu.log)"
                cat "$state_dir/env"
                return 0
            fi
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            cmd_stop
            die "tansu did not accept connections on 127.0.0.1:$port within ${timeout_s}s; log: $state_dir/tansu.log"
        fi
        log "tansu exited before listening; last log lines:"
        tail -n 20 "$state_dir/tansu.log" >&2 || true
    done
    die "tansu failed to start 3 times; log: $state_dir/tansu.log"
}

# Stops the running tansu and starts it again on the same port and the same
# sqlite database: what a broker restart looks like to clients.
cmd_restart() {
    local tansu port
    tansu="$(require_tansu)"
    running_pid >/dev/null || die "tansu is not running from $state_dir; run: bash scripts/tansu.sh start"
    port="$(cat "$state_dir/port")"
    cmd_stop
    log "restarting tansu on 127.0.0.1:$port with the data in $state_dir"
    launch "$tansu" "${TANSU_MODE:-plain}" "$port"
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        log "tansu is not running from $state_dir"
        rm -f "$state_dir/pid" "$state_dir/env"
        return 0
    fi
    log "stopping tansu (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "tansu ignored SIGTERM for 10s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state_dir/pid" "$state_dir/env"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        log "tansu runs (pid $pid) on 127.0.0.1:$(cat "$state_dir/port")"
        cat "$state_dir/env"
    else
        log "tansu is not running from $state_dir"
        return 1
    fi
}

cmd_create_topic() {
    [[ $# -eq 2 ]] || die "usage: tansu.sh create-topic NAME PARTITIONS"
    local name="$1" partitions="$2" tansu
    [[ "$partitions" =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive integer, got '$partitions'"
    tansu="$(require_tansu)"
    running_pid >/dev/null || die "tansu is not running from $state_dir; run: bash scripts/tansu.sh start"
    "$tansu" topic create --broker "tcp://127.0.0.1:$(cat "$state_dir/port")" \
        --partitions "$partitions" "$name" </dev/null
    log "created topic $name ($partitions partitions)"
}

usage() {
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_restart ;;
status) cmd_status ;;
create-topic)
    shift
    cmd_create_topic "$@"
    ;;
*) usage ;;
esac
