#!/usr/bin/env bash
# Brokers for the security tests: tansu with SASL/SCRAM authentication, and
# tansu instances that advertise a TLS port the TLS tests terminate.
#
#   scripts/tansu-secure.sh start        start them; prints `export ...` lines to eval
#   scripts/tansu-secure.sh stop         stop them
#   scripts/tansu-secure.sh test [ARGS]  start, run the security tests (cargo test ARGS), stop
#
# What runs (sqlite storage under target/tansu-secure/, loopback, free ports):
#   scram     --authentication; users created first while authentication was
#             off on the same sqlite file (tansu's only way): kafka-rs-256
#             (SCRAM-SHA-256 only) and kafka-rs-512 (SCRAM-SHA-512 only), with
#             a random password made for this run.
#   tls       no authentication, advertises the TLS port; tansu 0.6.0 cannot
#             serve TLS itself (`--cert` and `--key` are mutually exclusive
#             on its command line and its TLS acceptor is never used), so the
#             test puts a TLS terminator with a certificate it generates on
#             the advertised port, in front of tansu's plain port.
#   sasl-ssl  like scram (a copy of its user database), advertising a TLS port.
#
# Exported: KAFKA_RS_TEST_SCRAM_BOOTSTRAP, KAFKA_RS_TEST_SCRAM_USER_256,
# KAFKA_RS_TEST_SCRAM_USER_512, KAFKA_RS_TEST_SCRAM_PASSWORD,
# KAFKA_RS_TEST_TLS_BOOTSTRAP, KAFKA_RS_TEST_TLS_UPSTREAM,
# KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP, KAFKA_RS_TEST_SASL_SSL_UPSTREAM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${KAFKA_RS_SECURE_STATE:-$ROOT/target/tansu-secure}
TANSU=${TANSU_BIN:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
USER_256=kafka-rs-256
USER_512=kafka-rs-512

log() { echo "tansu-secure: $*" >&2; }

ensure_tansu() {
    if [ -x "$TANSU" ]; then return; fi
    if [ -x "$ROOT/scripts/tansu.sh" ]; then
        log "tansu not found; installing it with scripts/tansu.sh install"
        "$ROOT/scripts/tansu.sh" install >&2
    else
        log "tansu not found; installing it (about 8 minutes on 2 cores)"
        cargo install --locked tansu --version 0.6.0 --features dynostore,libsql >&2
    fi
    TANSU=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
    [ -x "$TANSU" ] || { log "tansu is still missing after installing it"; exit 1; }
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's ephemeral range: an outgoing connection (a test
# client, cargo) can take an ephemeral port between our check and tansu's
# bind, which once failed CI with "Address already in use".
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
        if ! port_open "$port" && ! grep -qx "$port" "$STATE/ports" 2>/dev/null; then
            echo "$port" >>"$STATE/ports"
            echo "$port"
            return
        fi
    done
    log "no free port found"
    exit 1
}

wait_port() {
    local name=$1 port=$2
    for _ in $(seq 1 300); do
        if port_open "$port"; then return; fi
        if ! kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
            log "tansu ($name) exited; its log:"
            cat "$STATE/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    log "tansu ($name) did not listen on $port within 30 s; its log:"
    cat "$STATE/$name.log" >&2
    exit 1
}

# start_broker NAME PORT ADVERTISED_PORT DB [--authentication]
start_broker() {
    local name=$1 port=$2 advertised=$3 db=$4
    shift 4
    (
        cd "$STATE"
        nohup "$TANSU" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$advertised" \
            --storage-engine "sqlite://$db" "$@" >"$name.log" 2>&1 &
        echo $! >"$name.pid"
    )
    wait_port "$name" "$port"
}

stop_broker() {
    local pidfile="$STATE/$1.pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop() {
    for name in setup scram tls sasl-ssl; do stop_broker "$name"; done
}

start() {
    ensure_tansu
    stop
    rm -rf "$STATE"
    mkdir -p "$STATE"
    local password scram tls tls_up sasl_ssl sasl_ssl_up
    password="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    scram=$(free_port)
    tls=$(free_port)
    tls_up=$(free_port)
    sasl_ssl=$(free_port)
    sasl_ssl_up=$(free_port)

    # Users can only be created while authentication is off.
    start_broker setup "$scram" "$scram" users.db
    "$TANSU" user create --broker "tcp://127.0.0.1:$scram" --mechanism scram256 "$USER_256" "$password" >&2
    "$TANSU" user create --broker "tcp://127.0.0.1:$scram" --mechanism scram512 "$USER_512" "$password" >&2
    stop_broker setup
    for suffix in "" -wal; do
        if [ -f "$STATE/users.db$suffix" ]; then cp "$STATE/users.db$suffix" "$STATE/sasl-ssl.db$suffix"; fi
    done

    start_broker scram "$scram" "$scram" users.db --authentication
    start_broker tls "$tls_up" "$tls" tls.db
    start_broker sasl-ssl "$sasl_ssl_up" "$sasl_ssl" sasl-ssl.db --authentication
    log "SCRAM on 127.0.0.1:$scram, TLS advertised on 127.0.0.1:$tls (tansu on $tls_up), SASL_SSL advertised on 127.0.0.1:$sasl_ssl (tansu on $sasl_ssl_up)"

    cat <<EOF
export KAFKA_RS_TEST_SCRAM_BOOTSTRAP=127.0.0.1:$scram
export KAFKA_RS_TEST_SCRAM_USER_256=$USER_256
export KAFKA_RS_TEST_SCRAM_USER_512=$USER_512
export KAFKA_RS_TEST_SCRAM_PASSWORD=$password
export KAFKA_RS_TEST_TLS_BOOTSTRAP=127.0.0.1:$tls
export KAFKA_RS_TEST_TLS_UPSTREAM=127.0.0.1:$tls_up
export KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP=127.0.0.1:$sasl_ssl
export KAFKA_RS_TEST_SASL_SSL_UPSTREAM=127.0.0.1:$sasl_ssl_up
EOF
}

run_tests() {
    local exports
    exports=$(start)
    trap stop EXIT
    eval "$exports"
    cd "$ROOT"
    local targets=(--test security_scram --test security_tls --test security_logs)
    # `test = false` keeps these targets out of `--all-targets`: lint them here.
    cargo clippy -p kafka-rs --features tansu-secure-tests "${targets[@]}" -- -D warnings
    cargo test -p kafka-rs --features tansu-secure-tests "${targets[@]}" "$@"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    test) shift; run_tests "$@" ;;
    *)
        echo "usage: $0 start|stop|test [cargo test args]" >&2
        exit 2
        ;;
esac
