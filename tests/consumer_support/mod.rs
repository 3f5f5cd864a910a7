//! Helpers shared by the consumer integration tests: configuration, producing
//! test records, running `serve()` in the background and bounded waits.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[allow(unused_imports)]
pub use kafka_rs::{unique_name, TestBroker};

/// How long a test waits for an outcome before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// One consumer service for a test: its name, topics, group, and address
/// keys beyond brokers/topics/group.
pub struct Service {
    pub name: String,
    pub topics: Vec<String>,
    pub group: String,
    pub extra: Vec<(&'static str, String)>,
    pub timeout_ms: Option<u64>,
}

impl Service {
    pub fn new(name: &str, topic: &str) -> Self {
        Service {
            name: name.to_owned(),
            topics: vec![topic.to_owned()],
            group: unique_name("group"),
            extra: vec![("initial", "oldest".to_owned())],
            timeout_ms: None,
        }
    }

    pub fn key(mut self, key: &'static str, value: impl ToString) -> Self {
        self.extra.push((key, value.to_string()));
        self
    }

    /// Leaves `key` out of the address (e.g. `initial`, which [`Service::new`]
    /// sets to `oldest`), so its default applies.
    pub fn without(mut self, key: &str) -> Self {
        self.extra.retain(|(k, _)| *k != key);
        self
    }

    pub fn group(mut self, group: &str) -> Self {
        self.group = group.to_owned();
        self
    }

    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

/// The configuration holding `services` on `bootstrap`, written as the
/// `trpc_go.yaml` a user would write and loaded through `Config::from_yaml_str`.
pub fn config(bootstrap: &str, services: &[Service]) -> Config {
    let mut yaml = String::from("server:\n  service:\n");
    for s in services {
        // Fast tests: a short retry interval and flush unless a test sets them.
        let mut keys: Vec<(&str, String)> = vec![
            ("topics", s.topics.join(",")),
            ("group", s.group.clone()),
            ("retryInterval", "20".to_owned()),
            ("batchFlush", "200".to_owned()),
            ("groupSessionTimeout", "6000".to_owned()),
        ];
        for (k, v) in &s.extra {
            keys.retain(|(existing, _)| existing != k);
            keys.push((k, v.clone()));
        }
        // The KIP-848 pass of scripts/test.sh: every consumer address
        // speaks the protocol the environment names.
        let protocol = std::env::var(kafka_rs::GROUP_PROTOCOL_ENV).ok();
        kafka_rs::apply_group_protocol(&mut keys, protocol.as_deref());
        let query = keys
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        yaml.push_str(&format!(
            "    - name: {}\n      address: {bootstrap}?{query}\n      protocol: kafka\n",
            s.name
        ));
        if let Some(ms) = s.timeout_ms {
            yaml.push_str(&format!("      timeout: {ms}\n"));
        }
    }
    let mut config = Config::from_yaml_str(&yaml)
        .unwrap_or_else(|e| panic!("test configuration does not load: {e}\n{yaml}"));
    for s in &mut config.consumers {
        // Not an address key; commit often so tests never depend on it.
        s.config.commit_interval = Duration::from_millis(200);
    }
    config
}

/// A producer for test records.
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("a test producer")
}

/// Produces `payload` to `topic` (partition `partition` when given) and waits for the ack.
pub async fn produce(
    producer: &FutureProducer,
    topic: &str,
    partition: Option<i32>,
    key: &str,
    payload: &str,
) {
    let mut record = FutureRecord::to(topic).key(key).payload(payload);
    if let Some(p) = partition {
        record = record.partition(p);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("test record delivered");
}

/// `serve()` running in the background until [`Running::stop`].
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), kafka_runtime::Error>>,
}

/// Starts `serve()` with `config`, running only `only`.
pub fn start(config: Config, only: &[&str]) -> Running {
    start_with_shutdown_timeout(config, only, Duration::from_secs(10))
}

/// [`start`] with the given bound on in-flight handlers at shutdown.
pub fn start_with_shutdown_timeout(
    config: Config,
    only: &[&str],
    shutdown_timeout: Duration,
) -> Running {
    start_with_control(config, only, shutdown_timeout).0
}

/// [`start_with_shutdown_timeout`], also returning the handle that pauses
/// and resumes its services.
pub fn start_with_control(
    config: Config,
    only: &[&str],
    shutdown_timeout: Duration,
) -> (Running, kafka_runtime::ServiceControl) {
    let (tx, rx) = oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(config)
        .only_services(only.iter().copied())
        .shutdown_timeout(shutdown_timeout)
        .with_graceful_shutdown(async {
            let _ = rx.await;
        });
    let control = serve.control();
    let running = Running {
        stop: Some(tx),
        task: tokio::spawn(async move { serve.await }),
    };
    (running, control)
}

impl Running {
    /// A `serve()` a test built itself (hooks, readiness...), spawned as
    /// `task`, stopped through `stop`.
    pub fn from_parts(
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<(), kafka_runtime::Error>>,
    ) -> Self {
        Running {
            stop: Some(stop),
            task,
        }
    }

    /// Signals shutdown and waits for `serve()` to return.
    pub async fn stop(mut self) -> Result<(), kafka_runtime::Error> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("serve() returns within the deadline after shutdown")
            .expect("serve() does not panic")
    }

    /// Whether serve() already returned (a fatal error or wiring failure).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Waits (bounded) until `condition` holds, failing the test with `what` otherwise.
pub async fn eventually(what: &str, condition: impl FnMut() -> bool) {
    assert!(
        kafka_rs::wait_until(WAIT, condition).await,
        "timed out after {WAIT:?} waiting for: {what}"
    );
}

/// Records (topic, partition, offset, payload) seen by handlers.
pub struct Seen(Mutex<Vec<(String, i32, i64, String)>>);

impl Seen {
    pub const fn new() -> Self {
        Seen(Mutex::new(Vec::new()))
    }

    pub fn push(&self, topic: &str, partition: i32, offset: i64, payload: &str) {
        self.0
            .lock()
            .unwrap()
            .push((topic.to_owned(), partition, offset, payload.to_owned()));
    }

    /// Payloads seen on `topic`, in handling order.
    pub fn payloads(&self, topic: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, ..)| t == topic)
            .map(|(_, _, _, p)| p.clone())
            .collect()
    }

    /// (partition, payload) seen on `topic`, in handling order.
    pub fn with_partitions(&self, topic: &str) -> Vec<(i32, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, ..)| t == topic)
            .map(|(_, p, _, v)| (*p, v.clone()))
            .collect()
    }

    /// Offsets handled on `topic`, in handling order.
    pub fn offsets(&self, topic: &str) -> Vec<i64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, ..)| t == topic)
            .map(|(_, _, o, _)| *o)
            .collect()
    }

    pub fn count(&self, topic: &str) -> usize {
        self.payloads(topic).len()
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Produces `payload` with `headers` to `topic`'s partition `partition`.
pub async fn produce_with_headers(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    payload: &str,
    headers: &[(&str, &str)],
) {
    produce_keyed_with_headers(producer, topic, partition, None, payload, headers).await;
}

/// Produces `payload` with `key` (if any) and `headers` to `topic`'s
/// partition `partition` and waits for the ack.
pub async fn produce_keyed_with_headers(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    key: Option<&str>,
    payload: &str,
    headers: &[(&str, &str)],
) {
    use kafka_runtime::rdkafka::message::{Header, OwnedHeaders};
    let mut owned = OwnedHeaders::new();
    for (key, value) in headers {
        owned = owned.insert(Header {
            key,
            value: Some(*value),
        });
    }
    let mut record = FutureRecord::<str, str>::to(topic)
        .partition(partition)
        .payload(payload)
        .headers(owned);
    if let Some(key) = key {
        record = record.key(key);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("test record delivered");
}
