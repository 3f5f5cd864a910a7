//! Quick start: a Kafka round trip configured by a `trpc_go.yaml`, on a
//! broker embedded in the process. Nothing to install:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts librdkafka's mock cluster, creates a topic, reads the consumer
//! and producer services from the YAML below (the tRPC-Go Kafka plugin's
//! configuration language), produces one record and consumes it with clients
//! configured from those services, then commits it the way the framework
//! does: only after it was handled.
//!
//! (This grows into the framework's quick start, `#[kafka_consumer]` and
//! `#[kafka_producer]` with `kafka_runtime::serve()`, as those land.)

use std::error::Error;
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use kafka_runtime::rdkafka::message::{Header, Headers, OwnedHeaders};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::Message;
use kafka_runtime::testing::EmbeddedBroker;

const TOPIC: &str = "quickstart.orders";
const CONSUMER: &str = "trpc.quickstart.server.orders";
const PRODUCER: &str = "trpc.quickstart.client.orders";
const TIMEOUT: Duration = Duration::from_secs(30);

/// The `trpc_go.yaml` of this example; `{brokers}` becomes the embedded
/// broker's address. With a real cluster this is a file next to the binary.
const TRPC_GO_YAML: &str = r#"
server:
  service:
    - name: trpc.quickstart.server.orders
      address: {brokers}?topics=quickstart.orders&group=quickstart&initial=oldest
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.quickstart.client.orders
      target: kafka://{brokers}?topic=quickstart.orders&partitioner=hash&compression=zstd
      timeout: 1000
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic(TOPIC, 3)?;
    println!(
        "embedded broker at {}, topic {TOPIC} (3 partitions)",
        broker.bootstrap_servers()
    );

    let config =
        Config::from_yaml_str(&TRPC_GO_YAML.replace("{brokers}", &broker.bootstrap_servers()))?;
    let producer_service = config
        .producer(PRODUCER)
        .ok_or("producer service missing")?;
    let consumer_service = config
        .consumer(CONSUMER)
        .ok_or("consumer service missing")?;

    let producer: FutureProducer = producer_service.config.client_config().create()?;
    let topic = producer_service.config.topic.as_deref().unwrap_or(TOPIC);
    let delivery = producer
        .send(
            FutureRecord::to(topic)
                .key("order-1")
                .payload(r#"{"id":1,"amount":42}"#)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "source",
                    value: Some("quickstart"),
                })),
            TIMEOUT,
        )
        .await
        .map_err(|(err, _)| err)?;
    println!(
        "[{PRODUCER}] produced key=order-1 to {topic}[{}] at offset {}",
        delivery.partition, delivery.offset
    );

    let consumer: StreamConsumer = consumer_service.config.client_config().create()?;
    let topics: Vec<&str> = consumer_service
        .config
        .topics
        .iter()
        .map(String::as_str)
        .collect();
    consumer.subscribe(&topics)?;
    let message = tokio::time::timeout(TIMEOUT, consumer.recv())
        .await
        .map_err(|_| format!("no record arrived within {TIMEOUT:?}"))??;
    let headers: Vec<String> = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    format!(
                        "{}={}",
                        h.key,
                        String::from_utf8_lossy(h.value.unwrap_or_default())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    println!(
        "[{CONSUMER}] handled {}[{}]@{}: key={} payload={} headers=[{}]",
        message.topic(),
        message.partition(),
        message.offset(),
        String::from_utf8_lossy(message.key().unwrap_or_default()),
        String::from_utf8_lossy(message.payload().unwrap_or_default()),
        headers.join(", ")
    );

    // At least once: the offset is stored only after the record was handled;
    // the mapped consumer commits stored offsets (here at once, before exit).
    consumer.store_offset_from_message(&message)?;
    consumer.commit_consumer_state(CommitMode::Sync)?;
    println!(
        "[{CONSUMER}] committed offset {} for group {}",
        message.offset() + 1,
        consumer_service.config.group
    );
    Ok(())
}
