//! Every producer API path delivers real records that a plain consumer reads
//! back with their key, value and headers, at the partition and offset the
//! producer reported.

mod producer_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_runtime::producer::{
    build_producer, AsyncCallbacks, Delivered, FromRawProducer, Headers, Key, SentRecord,
};
use kafka_runtime::rdkafka::message::Message;
use kafka_runtime::rdkafka::producer::FutureRecord;
use kafka_runtime::{ProduceError, Producer};
use producer_support::{headers_of, Fixture};
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn send_message_reports_the_real_partition_and_offset() {
    let fx = Fixture::new("producer-send", 3).await;
    let producer = build_producer("test", &fx.plain_config(), None).unwrap();
    let mut delivered = Vec::new();
    for i in 0..6 {
        let d = producer
            .send_message(
                &fx.topic,
                format!("key-{i}"),
                format!("value-{i}"),
                Headers::new().with("n", i.to_string()),
            )
            .await
            .unwrap();
        delivered.push((i, d));
    }
    for (i, d) in delivered {
        assert!((0..3).contains(&d.partition), "{d:?}");
        assert!(d.offset >= 0, "{d:?}");
        let message = fx.read_at(d.partition, d.offset).await;
        assert_eq!(message.offset(), d.offset);
        assert_eq!(message.key(), Some(format!("key-{i}").as_bytes()));
        assert_eq!(message.payload(), Some(format!("value-{i}").as_bytes()));
        assert_eq!(
            headers_of(&message),
            vec![("n".to_owned(), i.to_string().into_bytes())]
        );
    }
}

#[tokio::test]
async fn produce_writes_to_the_configured_topic() {
    let fx = Fixture::new("producer-produce", 1).await;
    let producer = build_producer("test", &fx.plain_config(), None).unwrap();
    producer
        .produce("k", "v", Headers::from([("h", "1"), ("h", "2")]))
        .await
        .unwrap();
    producer
        .produce(Key::none(), "no key", Headers::new())
        .await
        .unwrap();
    let messages = fx.read_all(1, 2).await;
    assert_eq!(messages[0].key(), Some(&b"k"[..]));
    assert_eq!(messages[0].payload(), Some(&b"v"[..]));
    assert_eq!(
        headers_of(&messages[0]),
        vec![
            ("h".to_owned(), b"1".to_vec()),
            ("h".to_owned(), b"2".to_vec())
        ]
    );
    assert_eq!(messages[1].key(), None);
    assert_eq!(messages[1].payload(), Some(&b"no key"[..]));
}

#[tokio::test]
async fn produce_without_topic_is_a_clear_error() {
    let fx = Fixture::new("producer-notopic", 1).await;
    let mut config = fx.plain_config();
    config.topic = None;
    let producer = build_producer("svc.no.topic", &config, None).unwrap();
    let err = producer
        .produce("k", "v", Headers::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ProduceError::NoTopic { .. }), "{err:?}");
    assert!(err.to_string().contains("svc.no.topic"), "{err}");
}

#[tokio::test]
async fn native_records_are_sent_as_built() {
    let fx = Fixture::new("producer-native", 2).await;
    let producer = build_producer("test", &fx.plain_config(), None).unwrap();
    let record = FutureRecord::to(&fx.topic)
        .partition(1)
        .key("native-key")
        .payload("native-value")
        .timestamp(1_700_000_000_000);
    let d = producer.send_record(record).await.unwrap();
    assert_eq!(d.partition, 1);
    let message = fx.read_at(1, d.offset).await;
    assert_eq!(message.key(), Some(&b"native-key"[..]));
    assert_eq!(message.payload(), Some(&b"native-value"[..]));
    assert_eq!(message.timestamp().to_millis(), Some(1_700_000_000_000));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    item: String,
    amount: f64,
}

#[tokio::test]
async fn typed_values_round_trip_as_json() {
    let fx = Fixture::new("producer-typed", 1).await;
    let raw = build_producer("test", &fx.plain_config(), None).unwrap();
    let orders: Producer<Order> = Producer::from_raw(raw);
    let order = Order {
        id: 7,
        item: "book".into(),
        amount: 12.5,
    };
    let d = orders
        .send_message(&fx.topic, "order-7", &order, Headers::new())
        .await
        .unwrap();
    orders
        .produce("order-7", &order, Headers::new())
        .await
        .unwrap();
    let message = fx.read_at(d.partition, d.offset).await;
    let seen: Order = serde_json::from_slice(message.payload().unwrap()).unwrap();
    assert_eq!(seen, order);
}

type Outcomes = Arc<Mutex<Vec<(String, Result<Delivered, String>)>>>;

fn recording_callbacks() -> (AsyncCallbacks, Outcomes) {
    let outcomes: Outcomes = Arc::default();
    let ok = Arc::clone(&outcomes);
    let err = Arc::clone(&outcomes);
    let callbacks = AsyncCallbacks::new()
        .on_success(move |record: &SentRecord, d| {
            let value = String::from_utf8_lossy(&record.value).into_owned();
            ok.lock().unwrap().push((value, Ok(d)));
        })
        .on_error(move |error: &ProduceError, record: &SentRecord| {
            let value = String::from_utf8_lossy(&record.value).into_owned();
            let kind = match error {
                ProduceError::MessageTooLarge { .. } => "too-large".to_owned(),
                other => format!("other: {other}"),
            };
            err.lock().unwrap().push((value, Err(kind)));
        });
    (callbacks, outcomes)
}

#[tokio::test]
async fn async_sends_fire_one_callback_per_record() {
    let fx = Fixture::new("producer-async", 2).await;
    let mut config = fx.plain_config();
    config.max_message_bytes = 1_000;
    let (callbacks, outcomes) = recording_callbacks();
    let producer = build_producer("test", &config, None)
        .unwrap()
        .with_callbacks(callbacks);
    for i in 0..10 {
        producer
            .async_send_message(
                &fx.topic,
                format!("k{i}"),
                format!("ok-{i}"),
                Headers::new(),
            )
            .await
            .unwrap();
    }
    // A record over maxMessageBytes: forced failure, reported to the callback.
    let big = "x".repeat(5_000);
    producer
        .async_send_message(&fx.topic, "big", &big, Headers::new())
        .await
        .unwrap();
    producer.flush(Duration::from_secs(30)).await.unwrap();

    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 11, "{outcomes:?}");
    let mut ok: Vec<_> = outcomes
        .iter()
        .filter_map(|(v, o)| o.as_ref().ok().map(|d| (v.clone(), *d)))
        .collect();
    ok.sort_by(|a, b| a.0.cmp(&b.0));
    ok.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(ok.len(), 10, "each success reported exactly once");
    let failures: Vec<_> = outcomes.iter().filter(|(_, o)| o.is_err()).collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, big);
    assert_eq!(failures[0].1, Err("too-large".to_owned()));
    // The reported positions are real.
    for (value, d) in ok {
        let message = fx.read_at(d.partition, d.offset).await;
        assert_eq!(message.payload(), Some(value.as_bytes()));
    }
}

#[tokio::test]
async fn async_produce_target_reports_to_callbacks() {
    let fx = Fixture::new("producer-async1", 1).await;
    let mut config = fx.plain_config();
    config.async_produce = true;
    let (callbacks, outcomes) = recording_callbacks();
    let producer = build_producer("test", &config, None)
        .unwrap()
        .with_callbacks(callbacks);
    assert!(producer.is_async());
    for i in 0..5 {
        producer
            .produce("k", format!("a-{i}"), Headers::new())
            .await
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    assert!(outcomes.iter().all(|(_, o)| o.is_ok()), "{outcomes:?}");
    let messages = fx.read_all(1, 5).await;
    let values: Vec<_> = messages
        .iter()
        .map(|m| m.payload().unwrap().to_vec())
        .collect();
    let expected: Vec<_> = (0..5).map(|i| format!("a-{i}").into_bytes()).collect();
    assert_eq!(values, expected);
}

#[tokio::test]
async fn too_large_records_fail_with_message_too_large() {
    let fx = Fixture::new("producer-toolarge", 1).await;
    let mut config = fx.plain_config();
    config.max_message_bytes = 1_000;
    let producer = build_producer("test", &config, None).unwrap();
    let err = producer
        .send_message(&fx.topic, "k", vec![0u8; 4_000], Headers::new())
        .await
        .unwrap_err();
    match &err {
        ProduceError::MessageTooLarge { topic, size, .. } => {
            assert_eq!(topic, &fx.topic);
            assert_eq!(*size, 4_001);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains(&fx.topic));
}

/// When librdkafka's local queue is full, sends wait for room (within the
/// request deadline) instead of failing.
#[tokio::test]
async fn a_full_local_queue_applies_backpressure() {
    let fx = Fixture::new("producer-queue-full", 1).await;
    let mut config = fx.plain_config();
    config
        .common
        .librdkafka_overrides
        .insert("queue.buffering.max.messages".into(), "5".into());
    let (callbacks, outcomes) = recording_callbacks();
    let producer = build_producer("test", &config, None)
        .unwrap()
        .with_callbacks(callbacks);
    for i in 0..100 {
        producer
            .async_send_message(&fx.topic, "k", format!("q-{i}"), Headers::new())
            .await
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 100);
    assert!(outcomes.iter().all(|(_, o)| o.is_ok()), "{outcomes:?}");
    let values: Vec<_> = fx
        .read_all(1, 100)
        .await
        .iter()
        .map(|m| m.payload().unwrap().to_vec())
        .collect();
    let expected: Vec<_> = (0..100).map(|i| format!("q-{i}").into_bytes()).collect();
    assert_eq!(values, expected);
}
