//! Shared by the tests that run against the SASL and TLS listeners of the
//! Apache Kafka `scripts/kafka.sh start` runs (through `scripts/test.sh`).
#![allow(dead_code)]

pub mod tls;

use std::time::Duration;

use kafka_rs::unique_name;
use kafka_runtime::config::{parse_consumer_address, parse_producer_target};
use kafka_runtime::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use kafka_runtime::rdkafka::client::DefaultClientContext;
use kafka_runtime::rdkafka::consumer::{Consumer, StreamConsumer};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::rdkafka::Message;

/// The value of `name`, which `scripts/kafka.sh start` exports. A test that
/// needs it fails (never skips) when it is missing.
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => panic!(
            "{name} is not set: these tests need the SASL and TLS listeners of the Apache Kafka \
             that `scripts/kafka.sh start` runs; run them with scripts/test.sh, or \
             `eval \"$(bash scripts/kafka.sh start)\"` then \
             `cargo test -p kafka-rs --features kafka-secure-tests --test security_scram`"
        ),
    }
}

/// The SASL_PLAINTEXT listener and its users (`scripts/kafka.sh`): one
/// user per SCRAM mechanism (each has a credential for that mechanism only)
/// and a PLAIN user, all with the same password.
pub struct Sasl {
    pub bootstrap: String,
    pub user_256: String,
    pub user_512: String,
    pub plain_user: String,
    pub password: String,
}

impl Sasl {
    pub fn from_env() -> Self {
        Sasl {
            bootstrap: required_env("KAFKA_RS_TEST_SASL_BOOTSTRAP"),
            user_256: required_env("KAFKA_RS_TEST_SCRAM_USER_256"),
            user_512: required_env("KAFKA_RS_TEST_SCRAM_USER_512"),
            plain_user: required_env("KAFKA_RS_TEST_PLAIN_USER"),
            password: required_env("KAFKA_RS_TEST_SASL_PASSWORD"),
        }
    }

    /// The user that has a credential for `mechanism`.
    pub fn user_for(&self, mechanism: &str) -> &str {
        match mechanism {
            "SCRAM-SHA-256" => &self.user_256,
            "PLAIN" => &self.plain_user,
            _ => &self.user_512,
        }
    }
}

/// A consumer address on `bootstrap` for `topic` with `security` appended
/// (`mechanism=...&user=...`), reading from the oldest offset.
pub fn consumer_address(bootstrap: &str, topic: &str, security: &str) -> String {
    format!(
        "{bootstrap}?topics={topic}&group={}&initial=oldest&{security}",
        unique_name("group")
    )
}

/// A producer target on `bootstrap` for `topic` with `security` appended.
pub fn producer_target(bootstrap: &str, topic: &str, security: &str) -> String {
    format!("kafka://{bootstrap}?topic={topic}&{security}")
}

/// Percent-encodes a value for an address query.
pub fn encode(value: &str) -> String {
    form_urlencoded_byte_serialize(value)
}

fn form_urlencoded_byte_serialize(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates `topic` (one partition) through a client configured like `config`.
pub async fn create_topic(config: &ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .unwrap_or_else(|e| panic!("admin client: {e}"));
    let spec = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let results = tokio::time::timeout(
        Duration::from_secs(30),
        admin.create_topics([&spec], &options),
    )
    .await
    .unwrap_or_else(|_| panic!("creating topic {topic} took over 30 s"))
    .unwrap_or_else(|e| panic!("creating topic {topic}: {e}"));
    for result in results {
        result.unwrap_or_else(|(t, code)| panic!("creating topic {t}: {code}"));
    }
}

/// Produces one record with the producer config of `target`, then consumes
/// it with the consumer config of `address`, both built by the mapping layer
/// (`client_config()`), and checks it arrived intact.
pub async fn round_trip(address: &str, target: &str, topic: &str) {
    let producer_cfg = parse_producer_target("secure-producer", target)
        .unwrap_or_else(|e| panic!("producer target: {e}"));
    let producer_client = producer_cfg.client_config();
    kafka_runtime::security::probe_authentication_async(
        producer_client.clone(),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("producer probe: {e}"));
    create_topic(&producer_client, topic).await;
    produce_and_consume(address, target, topic).await;
}

/// Produces one record through `target` and consumes it through `address`
/// (both configured by the mapping layer); `topic` must exist.
pub async fn produce_and_consume(address: &str, target: &str, topic: &str) {
    let producer_cfg = parse_producer_target("producer", target)
        .unwrap_or_else(|e| panic!("producer target: {e}"));
    let consumer_cfg = parse_consumer_address("consumer", address)
        .unwrap_or_else(|e| panic!("consumer address: {e}"));
    produce_and_consume_with(
        &producer_cfg.client_config(),
        &consumer_cfg.client_config(),
        topic,
    )
    .await;
}

/// Produces one record with `producer_client` and consumes it with
/// `consumer_client`; `topic` must exist.
pub async fn produce_and_consume_with(
    producer_client: &ClientConfig,
    consumer_client: &ClientConfig,
    topic: &str,
) {
    let producer: FutureProducer = producer_client
        .create()
        .unwrap_or_else(|e| panic!("producer: {e}"));
    let payload = unique_name("payload");
    let delivery = producer
        .send(
            FutureRecord::to(topic).key("k").payload(&payload),
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("send: {e}"));
    assert_eq!(delivery.partition, 0);
    assert!(delivery.offset >= 0);

    let consumer: StreamConsumer = consumer_client
        .create()
        .unwrap_or_else(|e| panic!("consumer: {e}"));
    consumer
        .subscribe(&[topic])
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("no message on {topic} within 60 s"))
        .unwrap_or_else(|e| panic!("recv: {e}"));
    assert_eq!(message.payload(), Some(payload.as_bytes()));
    assert_eq!(message.key(), Some(&b"k"[..]));
    assert_eq!(message.offset(), delivery.offset);
}

/// Payloads a `#[kafka_consumer]` handler of a test saw.
#[derive(Default)]
pub struct Seen(std::sync::Mutex<Vec<String>>);

impl Seen {
    pub const fn new() -> Self {
        Seen(std::sync::Mutex::new(Vec::new()))
    }
    pub fn push(&self, payload: String) {
        self.0.lock().unwrap().push(payload);
    }
    pub fn contains(&self, payload: &str) -> bool {
        self.0.lock().unwrap().iter().any(|p| p == payload)
    }
}

/// A `trpc_go.yaml` with one consumer service `name` on `address`.
pub fn consumer_yaml(name: &str, address: &str) -> String {
    format!(
        "server:\n  service:\n    - name: {name}\n      protocol: kafka\n      address: \"{address}\"\n"
    )
}

/// Produces one record with `value` to `topic` through `target`'s config.
pub async fn produce_one(target: &str, topic: &str, value: &str) {
    let client = parse_producer_target("producer", target)
        .unwrap_or_else(|e| panic!("producer target: {e}"))
        .client_config();
    let producer: FutureProducer = client.create().unwrap_or_else(|e| panic!("producer: {e}"));
    producer
        .send(
            FutureRecord::to(topic).key("k").payload(value),
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("send: {e}"));
}

/// Runs `serve()` on `yaml` (service `name` only) until `done` holds,
/// then shuts it down; fails if `serve()` ends early or `done` never holds.
pub async fn serve_until(yaml: String, name: &str, done: impl Fn() -> bool) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config_yaml(yaml)
        .only_services([name])
        .shutdown_timeout(Duration::from_secs(10))
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(async move { serve.await });
    let held = kafka_rs::wait_until(Duration::from_secs(60), || done() || task.is_finished()).await;
    if task.is_finished() {
        let result = task.await.expect("serve() does not panic");
        panic!("serve() ended early: {result:?}");
    }
    assert!(held, "the handler did not see the record within 60 s");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("serve() stops within 30 s")
        .expect("serve() does not panic")
        .unwrap_or_else(|e| panic!("serve(): {e}"));
}
