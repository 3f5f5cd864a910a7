//! `partitioner=hash` lands every key where sarama's hash partitioner would;
//! `roundrobin` cycles partitions evenly; `random` spreads records.

mod producer_support;

use std::collections::BTreeMap;

use kafka_runtime::config::Partitioner;
use kafka_runtime::producer::{build_producer, fnv1a_32, sarama_hash_partition, Headers, Key};
use kafka_runtime::rdkafka::message::Message;
use producer_support::Fixture;

/// Keys that cover both signs of sarama's `int32(hash)`.
fn keys() -> Vec<String> {
    let keys: Vec<String> = (0..40)
        .map(|i| format!("user-{i}"))
        .chain(["", "a", "foobar", "订单-42"].map(String::from))
        .collect();
    let negative = keys
        .iter()
        .filter(|k| (fnv1a_32(k.as_bytes()) as i32) < 0)
        .count();
    assert!(
        negative >= 5 && negative < keys.len(),
        "the key set must cover negative and positive int32 hashes"
    );
    keys
}

#[tokio::test]
async fn hash_partitioner_matches_sarama_on_the_broker() {
    let keys = keys();
    for partitions in [1, 2, 3, 5, 7, 12, 16] {
        let fx = Fixture::new("producer-hash", partitions).await;
        let mut config = fx.plain_config();
        config.partitioner = Partitioner::Hash;
        let producer = build_producer("test", &config, None).unwrap();
        for key in &keys {
            // An empty key is still a key: sarama hashes it (the FNV basis).
            let d = producer
                .send_message(&fx.topic, key.as_str(), "v", Headers::new())
                .await
                .unwrap();
            assert_eq!(
                d.partition,
                sarama_hash_partition(key.as_bytes(), partitions),
                "key {key:?}, {partitions} partitions"
            );
        }
        // What the broker stored agrees, record by record.
        for message in fx.read_all(partitions, keys.len()).await {
            let key = message.key().unwrap_or_default();
            assert_eq!(
                message.partition(),
                sarama_hash_partition(key, partitions),
                "stored key {:?}, {partitions} partitions",
                String::from_utf8_lossy(key)
            );
        }
    }
}

#[tokio::test]
async fn hash_partitioner_spreads_records_without_key() {
    let fx = Fixture::new("producer-hash-nokey", 3).await;
    let mut config = fx.plain_config();
    config.partitioner = Partitioner::Hash;
    let producer = build_producer("test", &config, None).unwrap();
    let mut seen = BTreeMap::new();
    for i in 0..90 {
        let d = producer
            .send_message(&fx.topic, Key::none(), format!("{i}"), Headers::new())
            .await
            .unwrap();
        *seen.entry(d.partition).or_insert(0) += 1;
    }
    // sarama sends key-less records to a random partition: each partition is
    // left empty with probability (2/3)^90.
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test]
async fn round_robin_distributes_evenly() {
    let fx = Fixture::new("producer-rr", 4).await;
    let mut config = fx.plain_config();
    config.partitioner = Partitioner::RoundRobin;
    let producer = build_producer("test", &config, None).unwrap();
    let mut reported = Vec::new();
    for i in 0..40 {
        let d = producer
            .send_message(&fx.topic, "same-key", format!("{i}"), Headers::new())
            .await
            .unwrap();
        reported.push(d.partition);
    }
    // In turn, not merely balanced.
    let expected: Vec<i32> = (0..40).map(|i| i % 4).collect();
    assert_eq!(reported, expected);
    let mut per_partition = BTreeMap::new();
    for message in fx.read_all(4, 40).await {
        *per_partition.entry(message.partition()).or_insert(0) += 1;
    }
    assert_eq!(
        per_partition,
        BTreeMap::from([(0, 10), (1, 10), (2, 10), (3, 10)])
    );
}

#[tokio::test]
async fn random_partitioner_uses_every_partition() {
    let fx = Fixture::new("producer-random", 3).await;
    let producer = build_producer("test", &fx.plain_config(), None).unwrap();
    let mut seen = BTreeMap::new();
    for i in 0..90 {
        let d = producer
            .send_message(&fx.topic, "same-key", format!("{i}"), Headers::new())
            .await
            .unwrap();
        *seen.entry(d.partition).or_insert(0) += 1;
    }
    // With one key, a key-hashing partitioner would use a single partition;
    // random leaves each one empty with probability (2/3)^90.
    assert_eq!(seen.len(), 3, "{seen:?}");
}
