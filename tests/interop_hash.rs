//! `partitioner=hash` on both sides puts every key in the same partition:
//! 10,000 keys (ASCII, UTF-8, binary, empty) over partition counts 1, 2, 3,
//! 5, 7, 12, 16 and 64, each produced for real by the plugin (`SendMessage`,
//! which reports the partition the broker stored it in) and by kafka-rs
//! (`send_message`, which reports `Delivered`), on Apache Kafka 4.1.1.
//! Records without a key differ, and the test pins how: the plugin puts them
//! all in the empty key's partition, kafka-rs spreads them at random.

mod interop_support;

use std::sync::Arc;
use std::time::Instant;

use interop_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::RuntimeHandle;

const KEYS: usize = 10_000;
const PARTITION_COUNTS: [i32; 8] = [1, 2, 3, 5, 7, 12, 16, 64];
const PRODUCER: &str = "interop.hash.producer";
/// Records without a key each side sends (`partitioner=hash`, 16 partitions).
const KEYLESS: usize = 200;

/// 10,000 distinct keys: the empty key, ASCII, multi-byte UTF-8 and binary
/// bytes (every byte value, from a fixed xorshift sequence).
fn keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let utf8 = ["ключ", "键", "clé", "🔑", "κλειδί", "مفتاح"];
    for i in 1..KEYS {
        let key = match i % 3 {
            0 => format!("user-{i}").into_bytes(),
            1 => format!("{}-{i}", utf8[i % utf8.len()]).into_bytes(),
            _ => {
                let len = 1 + (next() % 24) as usize;
                let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                bytes.extend_from_slice(&(i as u32).to_le_bytes()); // distinct
                bytes
            }
        };
        keys.push(key);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_sides_put_every_key_in_the_same_partition() {
    let bootstrap = Kafka::V4.bootstrap();
    let dir = scratch("hash");
    let keys = keys();
    assert!(keys.iter().any(|k| k.is_empty()));
    assert!(keys.iter().any(|k| std::str::from_utf8(k).is_err()));
    let target = format!("kafka://{bootstrap}?partitioner=hash&clientid=interop-hash");
    let yaml = write_yaml(&dir, &[], &[(PRODUCER, target)]);

    let mut plugin_records = Vec::new();
    let mut topics = Vec::new();
    for &count in &PARTITION_COUNTS {
        let (go_topic, rs_topic) = (unique_name("hash-go"), unique_name("hash-rs"));
        create_topic(&bootstrap, &go_topic, count).await;
        create_topic(&bootstrap, &rs_topic, count).await;
        plugin_records.extend(keys.iter().map(|k| Outgoing {
            topic: Some(go_topic.clone()),
            key: Some(k.clone()),
            value: b"v".to_vec(),
            ..Outgoing::default()
        }));
        topics.push((count, go_topic, rs_topic));
    }

    // Records without a key, on the 16-partition topics: the plugin wraps a
    // nil key in a non-nil sarama encoder, so it hashes it as the empty key.
    let (go16, rs16) = topics
        .iter()
        .find(|(count, _, _)| *count == 16)
        .map(|(_, go, rs)| (go.clone(), rs.clone()))
        .unwrap();
    let keyless_from = plugin_records.len();
    plugin_records.extend((0..KEYLESS).map(|_| Outgoing {
        topic: Some(go16.clone()),
        key: None,
        value: b"no key".to_vec(),
        ..Outgoing::default()
    }));

    let started = Instant::now();
    let plugin_sent = tokio::task::spawn_blocking({
        let yaml = yaml.clone();
        move || plugin_produce(&yaml, PRODUCER, &plugin_records, 256)
    })
    .await
    .unwrap();
    let plugin_secs = started.elapsed().as_secs_f64();

    let config = Config::from_path(&yaml).expect("the shared yaml loads");
    let runtime = RuntimeHandle::start(Arc::new(config))
        .await
        .expect("runtime");
    let producer = runtime.producer(PRODUCER).expect("producer");
    let started = Instant::now();
    let keys = Arc::new(keys);
    let mut ours: Vec<Vec<i32>> = Vec::new();
    for (_, _, rs_topic) in &topics {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..256usize {
            let (producer, keys, topic) = (producer.clone(), keys.clone(), rs_topic.clone());
            tasks.spawn(async move {
                let mut out = Vec::new();
                for i in (t..keys.len()).step_by(256) {
                    let d = producer
                        .send_message(&topic, keys[i].as_slice(), b"v", Headers::new())
                        .await
                        .unwrap_or_else(|e| panic!("kafka-rs send: {e}"));
                    out.push((i, d.partition));
                }
                out
            });
        }
        let mut partitions = vec![-1; keys.len()];
        while let Some(done) = tasks.join_next().await {
            for (i, p) in done.unwrap() {
                partitions[i] = p;
            }
        }
        ours.push(partitions);
    }
    let ours_secs = started.elapsed().as_secs_f64();
    let mut ours_keyless = std::collections::BTreeSet::new();
    for _ in 0..KEYLESS {
        let d = producer
            .send_message(&rs16, None::<&[u8]>, b"no key", Headers::new())
            .await
            .unwrap_or_else(|e| panic!("kafka-rs send: {e}"));
        ours_keyless.insert(d.partition);
    }
    runtime
        .shutdown(std::time::Duration::from_secs(10))
        .await
        .unwrap();

    let mut compared = 0;
    let mut differ = Vec::new();
    for (t, (count, _, _)) in topics.iter().enumerate() {
        for i in 0..keys.len() {
            let plugin = plugin_sent[t * keys.len() + i].partition;
            let rs = ours[t][i];
            assert!((0..*count).contains(&rs) && (0..*count).contains(&plugin));
            compared += 1;
            if plugin != rs {
                differ.push((*count, keys[i].clone(), plugin, rs));
            }
        }
    }
    let empty_key = PARTITION_COUNTS.iter().position(|c| *c == 16).unwrap() * keys.len();
    let plugin_keyless: std::collections::BTreeSet<i32> = plugin_sent[keyless_from..]
        .iter()
        .map(|s| s.partition)
        .collect();
    assert!(keys[0].is_empty());
    assert_eq!(
        plugin_keyless.into_iter().collect::<Vec<_>>(),
        vec![plugin_sent[empty_key].partition],
        "the plugin puts keyless records in the empty key's partition"
    );
    assert!(ours_keyless.len() > 1, "kafka-rs spreads keyless records");
    report(&format!(
        "keyless records with partitioner=hash, 16 partitions: the plugin put {KEYLESS} of {KEYLESS} in partition {} (the empty key's), kafka-rs spread {KEYLESS} over {} partitions",
        plugin_sent[empty_key].partition,
        ours_keyless.len()
    ));
    report(&format!(
        "hash parity: {} keys x {} partition counts = {compared} records per side, {} in different partitions (plugin SendMessage x256 goroutines {plugin_secs:.1} s, kafka-rs send_message x256 tasks {ours_secs:.1} s)",
        keys.len(),
        PARTITION_COUNTS.len(),
        differ.len()
    ));
    assert!(
        differ.is_empty(),
        "{} keys land in different partitions, first ones (partitions, key, plugin, kafka-rs): {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}
