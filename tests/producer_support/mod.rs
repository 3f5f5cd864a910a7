//! Shared by the `producer_*` integration tests: a broker with a fresh topic,
//! producer settings pointing at it, and a plain rdkafka consumer that reads
//! back what was written (bounded waits, no sleeps).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use kafka_rs::TestBroker;
use kafka_runtime::config::{Compression, ProducerConfig};
use kafka_runtime::rdkafka::config::ClientConfig;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::message::OwnedMessage;
use kafka_runtime::rdkafka::{Offset, TopicPartitionList};

/// How long a test waits for records to show up before it fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A broker and a topic of its own.
pub struct Fixture {
    pub broker: TestBroker,
    pub topic: String,
}

impl Fixture {
    pub async fn new(prefix: &str, partitions: i32) -> Fixture {
        let broker = TestBroker::start().await.expect("test broker starts");
        Self::on(broker, prefix, partitions).await
    }

    /// On the embedded broker whatever the environment selects, for what an
    /// external broker cannot do (fault injection).
    pub async fn embedded(prefix: &str, partitions: i32) -> Fixture {
        let broker = kafka_runtime::testing::EmbeddedBroker::start().expect("embedded broker");
        Self::on(TestBroker::Embedded(broker), prefix, partitions).await
    }

    async fn on(broker: TestBroker, prefix: &str, partitions: i32) -> Fixture {
        let topic = kafka_rs::unique_name(prefix);
        broker
            .create_topic(&topic, partitions)
            .await
            .expect("topic is created");
        Fixture { broker, topic }
    }

    /// Producer settings for this broker and topic, seed defaults otherwise.
    pub fn config(&self) -> ProducerConfig {
        let mut config = ProducerConfig::default();
        config.common.brokers = vec![self.broker.bootstrap()];
        config.topic = Some(self.topic.clone());
        config
    }

    /// Same, with `compression=none` (fast and codec-independent).
    pub fn plain_config(&self) -> ProducerConfig {
        let mut config = self.config();
        config.common.compression = Compression::None;
        config
    }

    /// The record at `offset` of `partition`.
    pub async fn read_at(&self, partition: i32, offset: i64) -> OwnedMessage {
        let mut found = read(
            self.broker.bootstrap(),
            self.topic.clone(),
            vec![(partition, offset)],
            1,
        )
        .await;
        found.remove(0)
    }

    /// The first `count` records of the topic across `partitions` partitions.
    pub async fn read_all(&self, partitions: i32, count: usize) -> Vec<OwnedMessage> {
        read(
            self.broker.bootstrap(),
            self.topic.clone(),
            (0..partitions).map(|p| (p, 0)).collect(),
            count,
        )
        .await
    }
}

pub async fn read(
    bootstrap: String,
    topic: String,
    starts: Vec<(i32, i64)>,
    count: usize,
) -> Vec<OwnedMessage> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", kafka_rs::unique_name("producer-reader"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader consumer is created");
        let mut assignment = TopicPartitionList::new();
        for (partition, offset) in starts {
            assignment
                .add_partition_offset(&topic, partition, Offset::Offset(offset))
                .expect("valid partition offset");
        }
        consumer.assign(&assignment).expect("assign");
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut messages = Vec::new();
        while messages.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} records of `{topic}` arrived within {READ_TIMEOUT:?}",
                messages.len()
            );
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => messages.push(message.detach()),
                Some(Err(error)) => panic!("reading `{topic}` failed: {error}"),
                None => {}
            }
        }
        messages
    })
    .await
    .expect("reader task")
}

/// The headers of `message` as `(key, value)` pairs.
#[allow(unused_imports)]
pub use kafka_rs::header_pairs as headers_of;
