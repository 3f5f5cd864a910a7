//! Support code shared by the workspace's `examples/` and `tests/`: which
//! broker to run against, and unique topic and group names per test.
//!
//! By default every [`TestBroker`] is a fresh in-process mock cluster
//! ([`kafka_runtime::testing::EmbeddedBroker`]). With
//! `KAFKA_RS_TEST_BOOTSTRAP=host:port` set (as `scripts/test.sh` does after
//! `scripts/kafka.sh start`), the same tests run against that Apache Kafka
//! instead.
//!
//! Tests written against this module pass on both brokers when they create
//! every topic through [`TestBroker::create_topic`] (topics are never left
//! to auto-creation, which brokers and clients handle differently), wait
//! with [`wait_until`] or bounded timeouts rather than sleeps, and use
//! [`TEST_SESSION_TIMEOUT`] for consumer groups whose members are closed and
//! reopened (see [`kafka_runtime::testing`] for the mock cluster's group
//! timings).
//!
//! An Apache Kafka started by `scripts/kafka.sh` also exports its state
//! directory (`KAFKA_RS_TEST_KAFKA_STATE`), through which
//! [`TestBroker::kafka_script`] stops, kills and starts its nodes, and the
//! replication factor its topics need (`KAFKA_RS_TEST_REPLICATION`: 1 on a
//! single node, 3 on the three-node cluster).
#![deny(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_runtime::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use kafka_runtime::rdkafka::client::DefaultClientContext;
use kafka_runtime::rdkafka::config::ClientConfig;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::error::KafkaError;
use kafka_runtime::rdkafka::message::{Headers as _, Message};
use kafka_runtime::testing::EmbeddedBroker;

/// The environment variable that points the tests at an external broker.
pub const BOOTSTRAP_ENV: &str = "KAFKA_RS_TEST_BOOTSTRAP";

/// A consumer group session timeout for tests that close and reopen group
/// members: the embedded broker only hands a closed member's partitions to
/// the next member once this session expires.
pub const TEST_SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// How long topic creation may take before a test fails.
const TOPIC_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that makes the consumer integration tests'
/// addresses speak another consumer group protocol: with
/// `KAFKA_RS_TEST_GROUP_PROTOCOL=consumer` (KIP-848, Apache Kafka 4), every
/// consumer address the tests build gets `groupProtocol=consumer`, and loses
/// `groupSessionTimeout` (the broker's with that protocol). `scripts/test.sh`
/// runs the `consumer_*` test targets again with it.
pub const GROUP_PROTOCOL_ENV: &str = "KAFKA_RS_TEST_GROUP_PROTOCOL";

/// Applies [`GROUP_PROTOCOL_ENV`] to the `(key, value)` pairs of a consumer
/// address a test builds.
///
/// ```
/// let mut keys = vec![("topics", "t".to_owned()), ("groupSessionTimeout", "6000".to_owned())];
/// kafka_rs::apply_group_protocol(&mut keys, Some("consumer"));
/// assert_eq!(keys, [("topics", "t".to_owned()), ("groupProtocol", "consumer".to_owned())]);
/// kafka_rs::apply_group_protocol(&mut keys, None); // unset: unchanged
/// assert_eq!(keys.len(), 2);
/// ```
pub fn apply_group_protocol(keys: &mut Vec<(&str, String)>, protocol: Option<&str>) {
    let Some(protocol) = protocol.filter(|p| !p.is_empty()) else {
        return;
    };
    if protocol == "consumer" {
        keys.retain(|(k, _)| *k != "groupSessionTimeout");
    }
    keys.retain(|(k, _)| *k != "groupProtocol");
    keys.push(("groupProtocol", protocol.to_owned()));
}

/// The environment variable `scripts/kafka.sh` sets to its state directory.
pub const KAFKA_STATE_ENV: &str = "KAFKA_RS_TEST_KAFKA_STATE";

/// The environment variable `scripts/kafka.sh` sets to the replication
/// factor of the cluster it started.
pub const REPLICATION_ENV: &str = "KAFKA_RS_TEST_REPLICATION";

/// A broker a test runs against.
#[derive(Debug)]
pub enum TestBroker {
    /// A mock cluster owned by this value.
    Embedded(EmbeddedBroker),
    /// An external broker (Apache Kafka in this project's test runs).
    External {
        /// Its bootstrap list.
        bootstrap: String,
    },
}

impl TestBroker {
    /// The broker the environment selects: external when
    /// `KAFKA_RS_TEST_BOOTSTRAP` is set, else a fresh embedded one.
    pub async fn start() -> Result<Self, KafkaError> {
        match std::env::var(BOOTSTRAP_ENV) {
            Ok(bootstrap) if !bootstrap.trim().is_empty() => Ok(TestBroker::External {
                bootstrap: bootstrap.trim().to_owned(),
            }),
            _ => Ok(TestBroker::Embedded(EmbeddedBroker::start()?)),
        }
    }

    /// `"embedded"` or `"external"`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            TestBroker::Embedded(_) => "embedded",
            TestBroker::External { .. } => "external",
        }
    }

    /// The bootstrap list clients connect to.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::Embedded(broker) => broker.bootstrap_servers(),
            TestBroker::External { bootstrap } => bootstrap.clone(),
        }
    }

    /// The embedded broker, for fault injection; `None` on an external one.
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        match self {
            TestBroker::Embedded(broker) => Some(broker),
            TestBroker::External { .. } => None,
        }
    }

    /// Creates `topic` with `partitions` partitions and waits until its
    /// metadata shows every partition.
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        match self {
            TestBroker::Embedded(broker) => broker.create_topic(topic, partitions)?,
            TestBroker::External { bootstrap } => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .create()?;
                let topic_spec = NewTopic::new(
                    topic,
                    partitions,
                    TopicReplication::Fixed(replication_factor()),
                );
                let options = AdminOptions::new().operation_timeout(Some(TOPIC_READY_TIMEOUT));
                for result in admin.create_topics([&topic_spec], &options).await? {
                    result.map_err(|(_, code)| KafkaError::AdminOp(code))?;
                }
            }
        }
        self.wait_for_topic(topic, partitions).await
    }

    /// Runs `bash scripts/kafka.sh ARGS` on the Apache Kafka this test runs
    /// against (the one whose state directory `KAFKA_RS_TEST_KAFKA_STATE`
    /// names, checked to serve this broker's bootstrap address), e.g.
    /// `["restart"]` or `["kill-node", "2"]`; returns what it printed on
    /// stdout. Blocks: call it from `spawn_blocking` or `block_in_place`.
    pub fn kafka_script(&self, args: &[&str]) -> Result<String, String> {
        let TestBroker::External { bootstrap } = self else {
            return Err(
                "the embedded broker has no scripts/kafka.sh; use its fault injection".into(),
            );
        };
        let state = std::env::var(KAFKA_STATE_ENV).map_err(|_| {
            format!(
                "{KAFKA_STATE_ENV} is not set: this test controls the broker through \
                 scripts/kafka.sh; start it with `eval \"$(bash scripts/kafka.sh start)\"`"
            )
        })?;
        let env = std::fs::read_to_string(std::path::Path::new(&state).join("env"))
            .map_err(|e| format!("{state}/env: {e}: not a state directory of scripts/kafka.sh"))?;
        if !env.contains(&format!("KAFKA_RS_TEST_BOOTSTRAP={bootstrap}\n")) {
            return Err(format!(
                "{BOOTSTRAP_ENV}={bootstrap} is not the Apache Kafka of {state}; \
                 export the variables `scripts/kafka.sh start` printed for it"
            ));
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka.sh");
        let output = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .env("KAFKA_STATE_DIR", &state)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/kafka.sh {} failed ({})",
                args.join(" "),
                output.status
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    async fn wait_for_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        let bootstrap = self.bootstrap();
        let topic = topic.to_owned();
        // Metadata calls block; keep them off the async workers.
        tokio::task::spawn_blocking(move || {
            let probe: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()?;
            let deadline = Instant::now() + TOPIC_READY_TIMEOUT;
            loop {
                let metadata = probe.fetch_metadata(Some(&topic), Duration::from_secs(5));
                if let Ok(metadata) = &metadata {
                    let ready = metadata.topics().iter().any(|t| {
                        t.name() == topic
                            && t.error().is_none()
                            && t.partitions().len() == partitions as usize
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    });
                    if ready {
                        return Ok(());
                    }
                }
                if Instant::now() >= deadline {
                    return Err(metadata.err().unwrap_or(KafkaError::MetadataFetch(
                        kafka_runtime::rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .await
        .expect("the metadata probe does not panic")
    }
}

/// The replication factor of the topics tests create on an external broker:
/// `KAFKA_RS_TEST_REPLICATION`, else 1.
pub fn replication_factor() -> i32 {
    std::env::var(REPLICATION_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// Starts the broker the environment selects, creates `topics` (keeping
/// ones an external broker has from earlier runs) and exports its address as
/// the environment variable `env_var`, for a YAML that says `${env_var}`.
///
/// Call it before any configuration is read and before other threads read
/// the environment: examples do, first thing in `main`.
pub async fn broker_for_example(
    topics: &[(&str, i32)],
    env_var: &str,
) -> Result<TestBroker, KafkaError> {
    let broker = TestBroker::start().await?;
    for (topic, partitions) in topics {
        match broker.create_topic(topic, *partitions).await {
            Err(KafkaError::AdminOp(
                kafka_runtime::rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
            ))
            | Ok(()) => {}
            Err(other) => return Err(other),
        }
    }
    std::env::set_var(env_var, broker.bootstrap());
    Ok(broker)
}

/// A name no other test in this or any earlier run has used: `prefix`, the
/// process id, the time and a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
/// The bounded wait tests use instead of sleeping.
pub async fn wait_until(timeout: Duration, condition: impl FnMut() -> bool) -> bool {
    poll_every(timeout, Duration::from_millis(10), condition).await
}

/// [`wait_until`], checking every `every`, for conditions that cost
/// something to check (reading a file, asking the broker).
pub async fn poll_every(
    timeout: Duration,
    every: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// The headers of a record as `(key, value)` pairs (a null value as empty).
pub fn header_pairs<M: Message>(message: &M) -> Vec<(String, Vec<u8>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

/// A loopback address with a port that was free a moment ago, for servers
/// (such as the Prometheus endpoint) that must be given a port up front.
pub fn free_local_addr() -> std::io::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.local_addr()
}

/// The body of `GET /metrics` at `addr` (plain HTTP/1.0, blocking), for
/// scraping the Prometheus endpoint in examples and tests without an HTTP
/// client dependency. Fails on a non-200 answer.
pub fn scrape_metrics(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let (status, body) = http_get(addr, "/metrics")?;
    if status != 200 {
        return Err(std::io::Error::other(format!(
            "scrape failed: status {status}"
        )));
    }
    Ok(body)
}

/// `GET path` at `addr` (plain HTTP/1.0, blocking): the status code and the
/// body, for the Prometheus and readiness endpoints in examples and tests.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Error, Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error::other(format!("not an HTTP response: {response:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| Error::other(format!("no status code in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// The value of the sample `name{labels}` in Prometheus text `exposition`
/// whose labels include every `(label, value)` of `labels`; `None` if absent.
pub fn metric_value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let all = labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")));
        if all {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}
