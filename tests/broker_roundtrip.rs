//! Produce and consume through plain `rdkafka` clients configured by the
//! configuration mapping layer, on the broker [`TestBroker`] selects: the
//! embedded mock cluster by default, Apache Kafka under `scripts/test.sh`.
//!
//! Both clients come from a `trpc_go.yaml` text through
//! `kafka_runtime::config` (`Config::from_yaml_str`, then
//! `ConsumerConfig::client_config` / `ProducerConfig::client_config`), so
//! they also prove that librdkafka and both brokers accept the mapped
//! properties (gzip, `acks=all`, `cooperative-sticky`, background commits of
//! stored offsets, ...).
//!
//! These tests pin what the rest of the framework relies on from a broker:
//! records keep key, payload and headers; explicit partitions are honoured;
//! a consumer group commits, and a new member of the group resumes after the
//! committed offset.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_rs::header_pairs;
use kafka_rs::{unique_name, wait_until, TestBroker, TEST_SESSION_TIMEOUT};
use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use kafka_runtime::rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::{Message, Offset, TopicPartitionList};

/// Upper bound for any single broker round trip in these tests.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The `trpc_go.yaml` of these tests: one consumer and one producer service
/// on `topic`, in the seed's address language.
fn config(broker: &TestBroker, topic: &str, group: &str) -> Config {
    let bootstrap = broker.bootstrap();
    // `initial=oldest`: the group subscribes after the records were written.
    // `groupSessionTimeout`: the group is reopened; see `TEST_SESSION_TIMEOUT`.
    let session_ms = TEST_SESSION_TIMEOUT.as_millis();
    let yaml = format!(
        r#"
server:
  service:
    - name: trpc.test.roundtrip.consumer
      address: {bootstrap}?topics={topic}&group={group}&initial=oldest&groupSessionTimeout={session_ms}
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.test.roundtrip.producer
      target: kafka://{bootstrap}?topic={topic}&clientid=roundtrip&compression=gzip&requiredAcks=-1
      timeout: 1000
"#
    );
    Config::from_yaml_str(&yaml).expect("the test configuration is valid")
}

/// A producer configured by the mapping layer from the producer service.
fn producer(config: &Config) -> FutureProducer {
    config
        .producer("trpc.test.roundtrip.producer")
        .expect("the producer service is configured")
        .config
        .client_config()
        .create()
        .expect("librdkafka accepts the mapped producer properties")
}

/// A consumer configured by the mapping layer from the consumer service.
fn consumer(config: &Config) -> StreamConsumer {
    config
        .consumer("trpc.test.roundtrip.consumer")
        .expect("the consumer service is configured")
        .config
        .client_config()
        .create()
        .expect("librdkafka accepts the mapped consumer properties")
}

fn headers(pairs: &[(&str, &[u8])]) -> OwnedHeaders {
    pairs
        .iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(*value),
            })
        })
}

async fn send(producer: &FutureProducer, record: FutureRecord<'_, [u8], [u8]>) -> (i32, i64) {
    let delivery = producer
        .send(record, TIMEOUT)
        .await
        .map_err(|(err, _)| err)
        .expect("the broker acknowledges the record");
    (delivery.partition, delivery.offset)
}

async fn receive(consumer: &StreamConsumer) -> BorrowedMessage<'_> {
    tokio::time::timeout(TIMEOUT, consumer.recv())
        .await
        .expect("a record arrives within the timeout")
        .expect("the consumer reads without error")
}

/// The group's committed offset (a blocking OffsetFetch round trip) for each partition of `topic`.
fn committed(consumer: &StreamConsumer, topic: &str, partitions: i32) -> BTreeMap<i32, Offset> {
    let mut wanted = TopicPartitionList::new();
    for partition in 0..partitions {
        wanted.add_partition(topic, partition);
    }
    consumer
        .committed_offsets(wanted, TIMEOUT)
        .expect("the group coordinator answers OffsetFetch")
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_record_keeps_key_payload_headers_and_its_commit() {
    let broker = TestBroker::start().await.expect("a test broker starts");
    let topic = unique_name("roundtrip");
    let group = unique_name("roundtrip-group");
    broker
        .create_topic(&topic, 1)
        .await
        .expect("the topic is created");

    let config = config(&broker, &topic, &group);
    let producer = producer(&config);
    let sent_headers: &[(&str, &[u8])] = &[("trace-id", b"abc-123"), ("bin", &[0, 159, 255])];
    let (partition, offset) = send(
        &producer,
        FutureRecord::to(&topic)
            .key(&b"order-42"[..])
            .payload(&b"{\"amount\":7}"[..])
            .headers(headers(sent_headers)),
    )
    .await;
    assert_eq!(partition, 0);

    let consumer = consumer(&config);
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = receive(&consumer).await;
    assert_eq!(message.topic(), topic);
    assert_eq!((message.partition(), message.offset()), (partition, offset));
    assert_eq!(message.key(), Some(&b"order-42"[..]));
    assert_eq!(message.payload(), Some(&b"{\"amount\":7}"[..]));
    let expected: Vec<(String, Vec<u8>)> = sent_headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    assert_eq!(header_pairs(&message), expected);

    // The framework's commit path: store the handled offset and let the
    // mapped background commit (every 3 s, as the seed) send it.
    consumer
        .store_offset_from_message(&message)
        .expect("the offset is stored");
    drop(message);
    let expected = BTreeMap::from([(0, Offset::Offset(offset + 1))]);
    let committed_in_time =
        wait_until(TIMEOUT, || committed(&consumer, &topic, 1) == expected).await;
    assert!(
        committed_in_time,
        "the stored offset was not committed within {TIMEOUT:?}: {:?}",
        committed(&consumer, &topic, 1)
    );
    drop(consumer);

    // A new member of the same group resumes after the committed record.
    let (_, next_offset) = send(
        &producer,
        FutureRecord::to(&topic)
            .key(&b"order-43"[..])
            .payload(&b"second"[..]),
    )
    .await;
    let consumer = self::consumer(&config);
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = receive(&consumer).await;
    assert_eq!(message.offset(), next_offset);
    assert_eq!(message.key(), Some(&b"order-43"[..]));
    assert_eq!(message.payload(), Some(&b"second"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_record_per_partition_round_trips_on_a_multi_partition_topic() {
    const PARTITIONS: i32 = 3;
    let broker = TestBroker::start().await.expect("a test broker starts");
    let topic = unique_name("roundtrip-multi");
    let group = unique_name("roundtrip-multi-group");
    broker
        .create_topic(&topic, PARTITIONS)
        .await
        .expect("the topic is created");

    let config = config(&broker, &topic, &group);
    let producer = producer(&config);
    let mut sent = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let key = format!("key-{partition}");
        let payload = format!("payload-{partition}");
        let partition_header = partition.to_string();
        let (acked_partition, offset) = send(
            &producer,
            FutureRecord::to(&topic)
                .partition(partition)
                .key(key.as_bytes())
                .payload(payload.as_bytes())
                .headers(headers(&[("partition", partition_header.as_bytes())])),
        )
        .await;
        assert_eq!(acked_partition, partition);
        sent.insert(partition, (offset, key, payload));
    }

    let consumer = consumer(&config);
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut received = BTreeMap::new();
    while received.len() < PARTITIONS as usize {
        let message = receive(&consumer).await;
        let record = (
            message.offset(),
            String::from_utf8(message.key().expect("a key").to_vec()).expect("utf-8 key"),
            String::from_utf8(message.payload().expect("a payload").to_vec())
                .expect("utf-8 payload"),
        );
        assert_eq!(
            header_pairs(&message),
            vec![(
                "partition".to_owned(),
                message.partition().to_string().into_bytes()
            )]
        );
        assert!(
            received.insert(message.partition(), record).is_none(),
            "partition {} delivered twice",
            message.partition()
        );
        consumer
            .commit_message(&message, CommitMode::Sync)
            .expect("the commit is accepted");
    }
    assert_eq!(received, sent);

    let expected_commits: BTreeMap<i32, Offset> = sent
        .iter()
        .map(|(partition, (offset, _, _))| (*partition, Offset::Offset(offset + 1)))
        .collect();
    assert_eq!(committed(&consumer, &topic, PARTITIONS), expected_commits);
}
