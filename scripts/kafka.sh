#!/usr/bin/env bash
# Apache Kafka (KRaft mode, no ZooKeeper) for the tests, the examples and the
# benchmark: jars from Maven Central, brokers on free loopback ports.
#
#   bash scripts/kafka.sh install                 # fetch the jars once per machine (~55 MB)
#   eval "$(bash scripts/kafka.sh start)"         # one node, every listener; exports below
#   eval "$(bash scripts/kafka.sh start-cluster)" # three nodes, replication factor 3
#   bash scripts/kafka.sh topic create NAME [PARTITIONS] [REPLICATION]
#   bash scripts/kafka.sh topic list | describe NAME | delete NAME
#   bash scripts/kafka.sh kill-node N [N...]      # SIGKILL node N (1..3)
#   bash scripts/kafka.sh stop-node N [N...]      # graceful stop of node N
#   bash scripts/kafka.sh start-node N [N...]     # start node N again on its data
#                                                 # (several: all launched, then
#                                                 # waited for: a quorum needs two)
#   bash scripts/kafka.sh restart                 # every node stopped, then started on its data
#   bash scripts/kafka.sh env | status | logs [N]
#   bash scripts/kafka.sh stop                    # ends only the processes it started
#
# `start` and `start-cluster` print `export NAME=VALUE` lines on stdout (all
# progress goes to stderr) and keep them in "$STATE/env":
#   KAFKA_RS_TEST_BOOTSTRAP           PLAINTEXT listener(s)
#   KAFKA_RS_TEST_KAFKA_VERSION       the broker's version
#   KAFKA_RS_TEST_KAFKA_STATE         this instance's state directory
#   KAFKA_RS_TEST_KAFKA_NODES         1 or 3
#   KAFKA_RS_TEST_REPLICATION         the replication factor tests create topics with
# single node only (the security tests):
#   KAFKA_RS_TEST_SASL_BOOTSTRAP      SASL_PLAINTEXT: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
#   KAFKA_RS_TEST_SSL_BOOTSTRAP       SSL, no client certificate asked for
#   KAFKA_RS_TEST_MTLS_BOOTSTRAP      SSL, a client certificate required
#   KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP  SASL_SSL: the same SASL users over TLS
#   KAFKA_RS_TEST_SCRAM_USER_256      a user with a SCRAM-SHA-256 credential only
#   KAFKA_RS_TEST_SCRAM_USER_512      a user with a SCRAM-SHA-512 credential only
#   KAFKA_RS_TEST_PLAIN_USER          a PLAIN user
#   KAFKA_RS_TEST_SASL_PASSWORD       their password, random per start
#   KAFKA_RS_TEST_TLS_CA              the CA that signed the broker's and the client's certificates
#   KAFKA_RS_TEST_TLS_OTHER_CA        a CA that signed nothing here
#   KAFKA_RS_TEST_TLS_CLIENT_CERT / _CLIENT_KEY / _CLIENT_KEY_PASSWORD  (the key is encrypted)
#
# Environment:
#   KAFKA_VERSION        4.1.1 (default) or 3.9.1 (`3.9` and `4.1` are accepted);
#                        3.9 is the last line that speaks the protocol versions
#                        sarama 1.40.1 (the Go plugin's) commits offsets with.
#   KAFKA_STATE_DIR      where brokers keep pids, configs, data and logs
#                        (default <repo>/target/kafka-VERSION, -cluster appended
#                        for the three-node mode). `start` wipes it.
#   KAFKA_RS_CACHE_DIR   the per-machine jar cache (default ~/.cache/kafka-rs).
#   KAFKA_PORT           PLAINTEXT port of node 1 (default: a free one); every
#                        other port is picked free.
#   KAFKA_START_TIMEOUT  seconds to wait for every node to be ready (default 90).
#   KAFKA_HEAP_OPTS      JVM heap of each broker (default -Xms256m -Xmx1g).
#   JAVA_HOME            the JDK to run (else `java` on PATH); 17+ for 4.x.
#
# Exit status: 0 on success; 1 on a failure (the message says what to do);
# 2 on a usage error.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script_dir="$repo_root/scripts/kafka"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# --- version, paths -----------------------------------------------------------

case "${KAFKA_VERSION:-4.1.1}" in
    4 | 4.1 | 4.1.1) version=4.1.1 ;;
    3 | 3.9 | 3.9.1) version=3.9.1 ;;
    *) die "KAFKA_VERSION=${KAFKA_VERSION} is not one this script runs; use 4.1.1 (default) or 3.9.1" ;;
esac
major=${version%%.*}
cache_dir="${KAFKA_RS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-rs}"
libs="$cache_dir/kafka-$version/libs"
start_timeout="${KAFKA_START_TIMEOUT:-90}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"

# The state directory of the instance a command acts on. `start-cluster`
# and `start` pick their default; every other command takes the one whose
# env file exists (cluster first when both do, as the newest run).
state_for() {
    local mode=$1
    if [[ -n "${KAFKA_STATE_DIR:-}" ]]; then
        printf '%s\n' "$KAFKA_STATE_DIR"
    elif [[ $mode == cluster ]]; then
        printf '%s\n' "$repo_root/target/kafka-$version-cluster"
    else
        printf '%s\n' "$repo_root/target/kafka-$version"
    fi
}
existing_state() {
    local candidate
    if [[ -n "${KAFKA_STATE_DIR:-}" ]]; then
        printf '%s\n' "$KAFKA_STATE_DIR"
        return
    fi
    for candidate in "$(state_for cluster)" "$(state_for single)"; do
        if [[ -f "$candidate/nodes" ]]; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    printf '%s\n' "$(state_for single)"
}

# Commands on a running instance use the version it was started with (its
# jars, its tools), unless KAFKA_VERSION says otherwise.
adopt_state_version() {
    if [[ -z "${KAFKA_VERSION:-}" && -f "$state/version" ]]; then
        version=$(cat "$state/version")
        major=${version%%.*}
        libs="$cache_dir/kafka-$version/libs"
    fi
}

# --- prerequisites ------------------------------------------------------------

# On CI (CI=true) a missing JDK or Maven is installed from Debian's packages
# when this runs as root with apt-get; elsewhere the error says what to
# install, since a test script has no business changing a developer's system.
ci_install() {
    local package=$1
    [[ "${CI:-}" == true && $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 || return 1
    log "CI: installing Debian's $package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" </dev/null >&2 ||
        { apt-get update -q </dev/null >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" </dev/null >&2; }
}

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        return 1
    fi
}

require_java() {
    local java feature needed=17
    [[ $major == 3 ]] && needed=11
    java="$(java_bin)" || { ci_install openjdk-17-jdk-headless && java="$(java_bin)"; } || die "no Java found: Apache Kafka $version needs a JDK $needed or newer \
(install one, e.g. Debian's openjdk-17-jdk-headless, or set JAVA_HOME)"
    # `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15`.
    feature="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
    [[ -n $feature ]] || die "cannot read the version of $java"
    ((feature >= needed)) || die "Apache Kafka $version needs Java $needed or newer; $java is Java $feature \
(set JAVA_HOME to a newer JDK)"
    printf '%s\n' "$java"
}

installed() { [[ -f "$libs/.complete" ]]; }

cmd_install() {
    if installed; then
        log "Apache Kafka $version already installed: $libs"
        return
    fi
    command -v mvn >/dev/null 2>&1 || ci_install maven || die "Maven (mvn) is missing: it fetches Apache Kafka's jars \
from Maven Central once per machine (install Debian's maven package)"
    require_java >/dev/null
    mkdir -p "$cache_dir"
    # One fetch per machine even when two checkouts install at once.
    exec 9>"$cache_dir/kafka-$version.lock"
    flock 9
    if installed; then
        log "Apache Kafka $version installed by another run meanwhile: $libs"
        return
    fi
    local tmp="$cache_dir/kafka-$version/libs.partial.$$" started=$SECONDS
    rm -rf "$tmp"
    log "fetching Apache Kafka $version from Maven Central into $libs"
    if ! mvn -B -q -Dstyle.color=never -f "$script_dir/pom.xml" dependency:copy-dependencies \
        -Dkafka.version="$version" -DoutputDirectory="$tmp" </dev/null >&2; then
        rm -rf "$tmp"
        die "mvn could not fetch org.apache.kafka:kafka_2.13:$version (see its output above)"
    fi
    ls "$tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "the fetch has no kafka_2.13-$version.jar"
    rm -rf "$libs"
    mv "$tmp" "$libs"
    touch "$libs/.complete"
    log "Apache Kafka $version installed in $((SECONDS - started))s ($(du -sh "$libs" | cut -f1))"
}

# Every jar but the log4j2 binding on 3.x, which ships slf4j-reload4j.
classpath() {
    local jar cp=""
    for jar in "$libs"/*.jar; do
        if [[ $major == 3 && $jar == */log4j-slf4j-impl-* ]]; then continue; fi
        cp+="${cp:+:}$jar"
    done
    printf '%s\n' "$cp"
}

# Runs a Kafka command-line class (tools log WARN and above to stderr).
run_tool() {
    local java class=$1
    shift
    java="$(require_java)"
    installed || die "Apache Kafka $version is not installed; run: bash scripts/kafka.sh install"
    local logging=()
    if [[ $major == 3 ]]; then
        logging=(-Dlog4j.configuration="file:$script_dir/tools-log4j.properties")
    else
        logging=(-Dlog4j2.configurationFile="$script_dir/tools-log4j2.properties")
    fi
    "$java" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true "${logging[@]}" \
        -cp "$(classpath)" "$class" "$@"
}

# --- ports --------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's ephemeral range: an outgoing connection can take
# an ephemeral port between this check and the broker's bind.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
    local port
    for _ in $(seq 1 500); do
        port=$((10000 + RANDOM % (ephemeral_low - 10000)))
        if ! port_open "$port" && ! grep -qx "$port" "$state/ports" 2>/dev/null; then
            echo "$port" >>"$state/ports"
            echo "$port"
            return
        fi
    done
    die "no free loopback port found between 10000 and $ephemeral_low"
}

# --- certificates and users ---------------------------------------------------

# A CA, the broker's certificate (127.0.0.1 and localhost), a client
# certificate with an encrypted key, and a CA that signed nothing.
make_certificates() {
    local dir="$state/tls"
    mkdir -p "$dir"
    command -v openssl >/dev/null 2>&1 || die "the openssl command is missing (it makes the TLS certificates)"
    (
        cd "$dir"
        for ca in ca other-ca; do
            openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=kafka-rs test $ca" \
                -keyout "$ca.key" -out "$ca.pem"
        done
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
            -extfile server.ext -out server.pem
        # Kafka's PEM key store: the unencrypted PKCS#8 key, then the chain.
        openssl pkcs8 -topk8 -nocrypt -in server.key -out server.pk8
        cat server.pk8 server.pem ca.pem >server-keystore.pem
        openssl req -newkey rsa:2048 -nodes -subj "/CN=kafka-rs-client" -keyout client.plain.key -out client.csr
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 -out client.pem
        openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.plain.key -out client.key \
            -passout "pass:$tls_key_password"
        rm -f client.plain.key ./*.csr
    ) >/dev/null 2>&1 || die "openssl could not make the test certificates in $dir"
}

# --- configuration ------------------------------------------------------------

# write_node_config NODE_ID VOTERS
write_node_config() {
    local id=$1 voters=$2 dir="$state/node$1"
    local plain controller listeners advertised protocols
    plain=$(cat "$dir/port.plain")
    controller=$(cat "$dir/port.controller")
    listeners="PLAINTEXT://127.0.0.1:$plain,CONTROLLER://127.0.0.1:$controller"
    advertised="PLAINTEXT://127.0.0.1:$plain"
    protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if [[ $mode == single ]]; then
        local sasl ssl mtls sasl_ssl
        sasl=$(cat "$dir/port.sasl")
        ssl=$(cat "$dir/port.ssl")
        mtls=$(cat "$dir/port.mtls")
        sasl_ssl=$(cat "$dir/port.sasl_ssl")
        listeners+=",SASL_PLAINTEXT://127.0.0.1:$sasl,SSL://127.0.0.1:$ssl,MTLS://127.0.0.1:$mtls,SASL_SSL://127.0.0.1:$sasl_ssl"
        advertised+=",SASL_PLAINTEXT://127.0.0.1:$sasl,SSL://127.0.0.1:$ssl,MTLS://127.0.0.1:$mtls,SASL_SSL://127.0.0.1:$sasl_ssl"
        protocols+=",SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL"
    fi
    local replication=1 min_isr=1
    if [[ $mode == cluster ]]; then
        replication=3
        min_isr=2
    fi
    {
        cat <<EOF
# Written by scripts/kafka.sh ($mode mode, Apache Kafka $version).
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$replication
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replication
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
# Tests start groups all the time; Kafka's 3 s wait for more members before
# the first assignment would only slow every one of them down.
group.initial.rebalance.delay.ms=0
EOF
        if [[ $mode == single ]]; then
            local jaas_scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
            local jaas_plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_${plain_user}=\"${sasl_password}\";"
            cat <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$jaas_scram
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas_plain
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas_plain
ssl.keystore.type=PEM
ssl.keystore.location=$state/tls/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$state/tls/ca.pem
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
EOF
        fi
    } >"$dir/server.properties"
}

# --- processes ----------------------------------------------------------------

node_pid() { cat "$state/node$1/pid" 2>/dev/null || true; }

# Whether PID is the broker of node N that this script started: a pid alone
# could have been reused by an unrelated process since.
is_our_broker() {
    local pid=$1 n=$2
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$state/node$n/server.properties"
}

launch_node() {
    local n=$1 java dir="$state/node$1"
    java="$(require_java)"
    local logging=()
    if [[ $major == 3 ]]; then
        logging=(-Dlog4j.configuration="file:$script_dir/log4j.properties")
    else
        logging=(-Dlog4j2.configurationFile="$script_dir/log4j2.properties")
    fi
    # shellcheck disable=SC2086 # heap_opts holds several JVM options
    nohup "$java" $heap_opts -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -Dkafka.logs.dir="$dir" "${logging[@]}" \
        -cp "$(classpath)" kafka.Kafka "$dir/server.properties" \
        >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
}

# Ready: the process lives, its PLAINTEXT port accepts connections, and it
# logged that the server started (in KRaft mode, once the broker is
# registered with the controller quorum and unfenced).
wait_ready() {
    local deadline=$((SECONDS + start_timeout)) n pid pending
    while :; do
        pending=()
        for n in "$@"; do
            pid=$(node_pid "$n")
            # This run launched the pid just now, so liveness is the test:
            # until the launching subshell has exec'ed java, its command
            # line is not yet the broker's (is_our_broker would say no).
            if ! kill -0 "$pid" 2>/dev/null; then
                log "node $n exited during start-up; the end of its log ($state/node$n/server.log):"
                tail -n 40 "$state/node$n/server.log" >&2 2>/dev/null || true
                tail -n 20 "$state/node$n/stdout.log" >&2 2>/dev/null || true
                if grep -q 'Address already in use' "$state/node$n/server.log" "$state/node$n/stdout.log" 2>/dev/null; then
                    die "node $n could not bind a port: another process holds it (set KAFKA_PORT to a free port or leave it unset)"
                fi
                die "node $n of Apache Kafka $version did not start (log kept in $state/node$n)"
            fi
            if ! port_open "$(cat "$state/node$n/port.plain")" ||
                ! grep -q 'Kafka Server started' "$state/node$n/server.log" 2>/dev/null; then
                pending+=("$n")
            fi
        done
        ((${#pending[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            for n in "${pending[@]}"; do
                log "node $n not ready after ${start_timeout}s; the end of its log:"
                tail -n 40 "$state/node$n/server.log" >&2 2>/dev/null || true
            done
            die "Apache Kafka $version was not ready within ${start_timeout}s (KAFKA_START_TIMEOUT); logs kept in $state"
        fi
        sleep 0.2
    done
}

# Graceful stop of nodes at once: SIGTERM, then SIGKILL after GRACE seconds.
# stop_nodes GRACE NODE...
# Stopping every node of the cluster at once, the last ones lose their
# controller quorum and cannot finish a controlled shutdown: there a short
# grace is all a graceful stop can get.
stop_nodes() {
    local grace=$1 n pid deadline alive
    shift
    deadline=$((SECONDS + grace))
    for n in "$@"; do
        pid=$(node_pid "$n")
        if is_our_broker "$pid" "$n"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    while :; do
        alive=()
        for n in "$@"; do
            pid=$(node_pid "$n")
            if is_our_broker "$pid" "$n"; then alive+=("$n"); fi
        done
        ((${#alive[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for n in "${alive[@]}"; do
                log "node $n did not stop within ${grace}s; killing it"
                kill -KILL "$(node_pid "$n")" 2>/dev/null || true
            done
            for n in "${alive[@]}"; do
                pid=$(node_pid "$n")
                while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
            done
            break
        fi
        sleep 0.1
    done
    for n in "$@"; do rm -f "$state/node$n/pid"; done
}

# The grace of a stop of every node: a single node shuts down in seconds;
# a whole cluster cannot finish (see stop_nodes).
full_stop_grace() { if (($(node_count) > 1)); then echo 10; else echo 30; fi; }

node_count() { cat "$state/nodes" 2>/dev/null || echo 0; }
all_nodes() { seq 1 "$(node_count)"; }

check_node() {
    local n=$1 count
    count=$(node_count)
    ((count > 0)) || die "no Apache Kafka started by this script in $state; run: bash scripts/kafka.sh start"
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= count)) || die "node '$n' does not exist: nodes are 1..$count"
}

# --- commands -----------------------------------------------------------------

cmd_start() {
    mode=$1
    local nodes=1
    [[ $mode == cluster ]] && nodes=3
    state="$(state_for "$mode")"
    if [[ -f "$state/nodes" ]]; then
        log "stopping the instance left in $state"
        stop_nodes "$(full_stop_grace)" $(all_nodes)
    fi
    cmd_install
    require_java >/dev/null
    if [[ -n "${KAFKA_PORT:-}" ]]; then
        [[ $KAFKA_PORT =~ ^[0-9]+$ ]] && ((KAFKA_PORT > 0 && KAFKA_PORT < 65536)) ||
            die "KAFKA_PORT=$KAFKA_PORT is not a port number (1..65535)"
        port_open "$KAFKA_PORT" && die "port $KAFKA_PORT (KAFKA_PORT) is in use by another process; \
pick a free one or leave KAFKA_PORT unset"
    fi
    rm -rf "$state"
    mkdir -p "$state"
    local started=$SECONDS n voters=""
    sasl_password="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    tls_key_password="key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    plain_user=kafka-rs-plain
    for n in $(seq 1 "$nodes"); do
        mkdir -p "$state/node$n"
        if [[ $n == 1 && -n "${KAFKA_PORT:-}" ]]; then
            echo "$KAFKA_PORT" >>"$state/ports"
            echo "$KAFKA_PORT" >"$state/node$n/port.plain"
        else
            free_port >"$state/node$n/port.plain"
        fi
        free_port >"$state/node$n/port.controller"
        if [[ $mode == single ]]; then
            local kind
            for kind in sasl ssl mtls sasl_ssl; do free_port >"$state/node$n/port.$kind"; done
        fi
        voters+="${voters:+,}$n@127.0.0.1:$(cat "$state/node$n/port.controller")"
    done
    [[ $mode == single ]] && make_certificates
    for n in $(seq 1 "$nodes"); do write_node_config "$n" "$voters"; done

    local cluster_id scram=()
    # What `kafka-storage random-uuid` prints: 16 random bytes, base64url,
    # never starting with '-' (Kafka's own rule: the storage tool would take
    # such an id for an option and refuse to format).
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    if [[ $mode == single ]]; then
        scram=(-S "SCRAM-SHA-256=[name=kafka-rs-256,password=$sasl_password]"
            -S "SCRAM-SHA-512=[name=kafka-rs-512,password=$sasl_password]")
    fi
    for n in $(seq 1 "$nodes"); do
        run_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$state/node$n/server.properties" \
            "${scram[@]}" >"$state/node$n/format.log" 2>&1 ||
            { cat "$state/node$n/format.log" >&2; die "formatting node $n failed"; }
    done
    local formatted=$SECONDS
    echo "$nodes" >"$state/nodes"
    echo "$version" >"$state/version"
    for n in $(seq 1 "$nodes"); do launch_node "$n"; done
    wait_ready $(seq 1 "$nodes")
    log "Apache Kafka $version ($mode, $nodes node(s)) ready: format $((formatted - started))s, start $((SECONDS - formatted))s; state in $state"

    local bootstrap=""
    for n in $(seq 1 "$nodes"); do bootstrap+="${bootstrap:+,}127.0.0.1:$(cat "$state/node$n/port.plain")"; done
    {
        echo "export KAFKA_RS_TEST_BOOTSTRAP=$bootstrap"
        echo "export KAFKA_RS_TEST_KAFKA_VERSION=$version"
        echo "export KAFKA_RS_TEST_KAFKA_STATE=$state"
        echo "export KAFKA_RS_TEST_KAFKA_NODES=$nodes"
        if [[ $mode == cluster ]]; then
            echo "export KAFKA_RS_TEST_REPLICATION=3"
        else
            echo "export KAFKA_RS_TEST_REPLICATION=1"
            local d="$state/node1" t="$state/tls"
            echo "export KAFKA_RS_TEST_SASL_BOOTSTRAP=127.0.0.1:$(cat "$d/port.sasl")"
            echo "export KAFKA_RS_TEST_SSL_BOOTSTRAP=127.0.0.1:$(cat "$d/port.ssl")"
            echo "export KAFKA_RS_TEST_MTLS_BOOTSTRAP=127.0.0.1:$(cat "$d/port.mtls")"
            echo "export KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP=127.0.0.1:$(cat "$d/port.sasl_ssl")"
            echo "export KAFKA_RS_TEST_SCRAM_USER_256=kafka-rs-256"
            echo "export KAFKA_RS_TEST_SCRAM_USER_512=kafka-rs-512"
            echo "export KAFKA_RS_TEST_PLAIN_USER=$plain_user"
            echo "export KAFKA_RS_TEST_SASL_PASSWORD=$sasl_password"
            echo "export KAFKA_RS_TEST_TLS_CA=$t/ca.pem"
            echo "export KAFKA_RS_TEST_TLS_OTHER_CA=$t/other-ca.pem"
            echo "export KAFKA_RS_TEST_TLS_CLIENT_CERT=$t/client.pem"
            echo "export KAFKA_RS_TEST_TLS_CLIENT_KEY=$t/client.key"
            echo "export KAFKA_RS_TEST_TLS_CLIENT_KEY_PASSWORD=$tls_key_password"
        fi
    } >"$state/env"
    cat "$state/env"
}

cmd_stop() {
    local dir any=0
    if [[ -n "${KAFKA_STATE_DIR:-}" ]]; then
        set -- "$KAFKA_STATE_DIR"
    else
        set -- "$(state_for single)" "$(state_for cluster)"
    fi
    for dir in "$@"; do
        state=$dir
        [[ -f "$state/nodes" ]] || continue
        any=1
        stop_nodes "$(full_stop_grace)" $(all_nodes)
        log "stopped Apache Kafka in $state (logs kept there)"
    done
    ((any)) || log "nothing to stop (no instance of Apache Kafka $version started by this script)"
}

cmd_node() {
    local action=$1 n pid
    shift
    (($# > 0)) || die "$action needs a node number"
    state="$(existing_state)"
    adopt_state_version
    for n in "$@"; do check_node "$n"; done
    case $action in
        kill-node)
            for n in "$@"; do
                pid=$(node_pid "$n")
                if is_our_broker "$pid" "$n"; then
                    kill -KILL "$pid"
                    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
                    log "node $n (pid $pid) killed"
                else
                    log "node $n is not running"
                fi
                rm -f "$state/node$n/pid"
            done
            ;;
        stop-node) stop_nodes 30 "$@" && log "node(s) $* stopped" ;;
        start-node)
            local launched=()
            for n in "$@"; do
                if is_our_broker "$(node_pid "$n")" "$n"; then
                    log "node $n is already running"
                    continue
                fi
                # A restarted node's "started" line must be a new one.
                [[ -f "$state/node$n/server.log" ]] && mv "$state/node$n/server.log" "$state/node$n/server.log.$(date +%s%N)"
                launch_node "$n"
                launched+=("$n")
            done
            # All launched before any is waited for: a node of the
            # three-node quorum cannot start while the other two are down.
            if ((${#launched[@]} > 0)); then
                wait_ready "${launched[@]}"
                log "node(s) ${launched[*]} started again"
            fi
            ;;
    esac
}

cmd_restart() {
    state="$(existing_state)"
    adopt_state_version
    local n
    check_node 1
    stop_nodes "$(full_stop_grace)" $(all_nodes)
    for n in $(all_nodes); do
        [[ -f "$state/node$n/server.log" ]] && mv "$state/node$n/server.log" "$state/node$n/server.log.$(date +%s%N)"
        launch_node "$n"
    done
    wait_ready $(all_nodes)
    log "restarted every node on its data"
}

cmd_topic() {
    state="$(existing_state)"
    adopt_state_version
    check_node 1
    local bootstrap sub=${1:-}
    bootstrap=$(sed -n 's/^export KAFKA_RS_TEST_BOOTSTRAP=//p' "$state/env")
    shift || true
    case $sub in
        create)
            local name=${1:-} partitions=${2:-1} replication=${3:-}
            [[ -n $name ]] || die "topic create needs a NAME"
            [[ $partitions =~ ^[0-9]+$ ]] && ((partitions > 0)) || die "PARTITIONS must be a positive number, not '$partitions'"
            [[ -n $replication ]] || replication=$(sed -n 's/^export KAFKA_RS_TEST_REPLICATION=//p' "$state/env")
            run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create \
                --topic "$name" --partitions "$partitions" --replication-factor "$replication"
            ;;
        list) run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --list ;;
        describe)
            [[ -n ${1:-} ]] || die "topic describe needs a NAME"
            run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --describe --topic "$1"
            ;;
        delete)
            [[ -n ${1:-} ]] || die "topic delete needs a NAME"
            run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --delete --topic "$1"
            ;;
        *) die "unknown topic command '${sub}'; use: topic create NAME [PARTITIONS] [REPLICATION] | list | describe NAME | delete NAME" ;;
    esac
}

cmd_status() {
    state="$(existing_state)"
    adopt_state_version
    local n pid
    if [[ ! -f "$state/nodes" ]]; then
        log "no instance in $state"
        return 1
    fi
    echo "Apache Kafka $(cat "$state/version") in $state"
    for n in $(all_nodes); do
        pid=$(node_pid "$n")
        if is_our_broker "$pid" "$n"; then
            echo "node $n: running (pid $pid, PLAINTEXT 127.0.0.1:$(cat "$state/node$n/port.plain"))"
        else
            echo "node $n: stopped"
        fi
    done
}

cmd_env() {
    state="$(existing_state)"
    [[ -f "$state/env" ]] || die "no Apache Kafka started by this script in $state; run: bash scripts/kafka.sh start"
    cat "$state/env"
}

cmd_logs() {
    state="$(existing_state)"
    adopt_state_version
    local n=${1:-1}
    check_node "$n"
    cat "$state/node$n/server.log"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start single ;;
    start-cluster) cmd_start cluster ;;
    stop) cmd_stop ;;
    restart) cmd_restart ;;
    kill-node | stop-node | start-node) cmd_node "$@" ;;
    topic) shift && cmd_topic "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    logs) cmd_logs "${2:-1}" ;;
    -h | --help | help) usage ;;
    "")
        log "error: no command given"
        usage
        ;;
    *)
        log "error: unknown command '$1'"
        usage
        ;;
esac
