//! Support code shared by the workspace's `examples/` and `tests/`: which
//! broker to run against, and unique topic and group names per test.
//!
//! By default every [`TestBroker`] is a fresh in-process mock cluster
//! ([`kafka_runtime::testing::EmbeddedBroker`]). With
//! `KAFKA_RS_TEST_BOOTSTRAP=host:port` set (as `scripts/test.sh` does after
//! starting tansu), the same tests run against that external broker instead.
//!
//! Tests written against this module pass on both brokers when they create
//! every topic through [`TestBroker::create_topic`] (tansu does not
//! auto-create topics), wait with [`wait_until`] or bounded timeouts rather
//! than sleeps, and use [`TEST_SESSION_TIMEOUT`] for consumer groups whose
//! members are closed and reopened (see
//! [`kafka_runtime::testing`] for the mock cluster's group timings).
//!
//! # tansu 0.6.0 with `rdkafka` 0.39's librdkafka
//!
//! What the test suite relies on and was checked against tansu 0.6.0 on
//! sqlite storage, and for which no support code had to change: CreateTopics
//! through the admin API (metadata shows the topic at once; a second create
//! fails with `TopicAlreadyExists`); produce
//! with every codec (gzip, snappy, lz4, zstd), `acks` 0/1/-1 and the
//! idempotent producer; keys, payloads and headers (null and empty values
//! kept); record timestamps; consumer groups with the eager and
//! `cooperative-sticky` assignors (a second member gets its share in about
//! 3 s); synchronous and automatic commits, OffsetFetch, and a restarted group
//! resuming at its committed offset; a closed member leaves at once; correct
//! watermarks; pause, resume, seek and `offsets_for_times`. Differences from
//! Apache Kafka:
//!
//! - no topic auto-creation: a produce to an unknown topic times out,
//!   whatever the client asks for;
//! - listing and describing groups (`fetch_group_list`: ListGroups then
//!   DescribeGroups) fails with a transport error: on sqlite storage tansu
//!   cannot read back the group state it stored (it logs a `SerdeJson`
//!   error) and drops the connection. It keeps serving everything else;
//!   derive lag from committed offsets and watermarks instead;
//! - memory storage reports wrong high watermarks, which is why
//!   `scripts/tansu.sh` uses sqlite.
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

/// A broker a test runs against.
#[derive(Debug)]
pub enum TestBroker {
    /// A mock cluster owned by this value.
    Embedded(EmbeddedBroker),
    /// An external broker (tansu in this project's test runs).
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
                let topic_spec = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
                let options = AdminOptions::new().operation_timeout(Some(TOPIC_READY_TIMEOUT));
                for result in admin.create_topics([&topic_spec], &options).await? {
                    result.map_err(|(_, code)| KafkaError::AdminOp(code))?;
                }
            }
        }
        self.wait_for_topic(topic, partitions).await
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
    use std::io::{Error, Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error::other(format!("not an HTTP response: {response:?}")))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(Error::other(format!("scrape failed: {head}")));
    }
    Ok(body.to_owned())
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
