//! The seed's producer keys, each observed on real records: compression,
//! requiredAcks, maxRetry/retryInterval, idempotent, trpcMeta, timeout, and
//! the errors a caller can tell apart (unknown topic, unreachable brokers).

mod producer_support;

use std::time::{Duration, Instant};

use kafka_runtime::config::{Compression, RequiredAcks};
use kafka_runtime::producer::{build_producer, Headers};
use kafka_runtime::rdkafka::message::Message;
use kafka_runtime::rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use kafka_runtime::{Metadata, ProduceError};
use producer_support::{headers_of, Fixture};

#[tokio::test]
async fn every_compression_codec_round_trips() {
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let fx = Fixture::new(&format!("producer-codec-{codec}"), 1).await;
        let mut config = fx.config();
        config.common.compression = codec;
        let producer = build_producer("test", &config, None).unwrap();
        // Repetitive values so every codec actually compresses something.
        let values: Vec<String> = (0..20)
            .map(|i| format!("{codec}-{i}-{}", "abc".repeat(100)))
            .collect();
        for value in &values {
            producer
                .async_send_message(&fx.topic, "k", value, Headers::new())
                .await
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).await.unwrap();
        let seen: Vec<_> = fx
            .read_all(1, values.len())
            .await
            .iter()
            .map(|m| String::from_utf8(m.payload().unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(seen, values, "codec {codec}");
    }
}

#[tokio::test]
async fn every_required_acks_level_delivers() {
    for acks in [RequiredAcks::None, RequiredAcks::Leader, RequiredAcks::All] {
        let fx = Fixture::new("producer-acks", 1).await;
        let mut config = fx.plain_config();
        config.required_acks = acks;
        let producer = build_producer("test", &config, None).unwrap();
        let d = producer
            .send_message(&fx.topic, "k", format!("acks {acks}"), Headers::new())
            .await
            .unwrap();
        if acks == RequiredAcks::None {
            // No acknowledgement, so no offset.
            assert_eq!(d.offset, -1, "{d:?}");
        } else {
            assert_eq!(d.offset, 0, "{d:?}");
        }
        let message = fx.read_at(0, 0).await;
        assert_eq!(message.payload(), Some(format!("acks {acks}").as_bytes()));
    }
}

#[tokio::test]
async fn idempotent_producer_delivers_in_order() {
    let fx = Fixture::new("producer-idem", 1).await;
    let mut config = fx.plain_config();
    config.idempotent = true;
    let producer = build_producer("test", &config, None).unwrap();
    for i in 0..10 {
        producer
            .async_send_message(&fx.topic, "k", format!("{i}"), Headers::new())
            .await
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).await.unwrap();
    let seen: Vec<_> = fx
        .read_all(1, 10)
        .await
        .iter()
        .map(|m| String::from_utf8(m.payload().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(seen, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn trpc_meta_travels_as_headers_only_when_enabled() {
    let fx = Fixture::new("producer-meta", 1).await;
    let mut with_meta = fx.plain_config();
    with_meta.common.trpc_meta = true;
    let meta_producer = build_producer("meta", &with_meta, None).unwrap();
    let plain_producer = build_producer("plain", &fx.plain_config(), None).unwrap();
    let metadata: Metadata = [("tenant", "acme"), ("trace", "t-1")].into_iter().collect();
    let (a, b) = metadata
        .scope(async {
            let a = meta_producer
                .send_message(&fx.topic, "k", "with", Headers::from([("own", "1")]))
                .await
                .unwrap();
            let b = plain_producer
                .send_message(&fx.topic, "k", "without", Headers::from([("own", "1")]))
                .await
                .unwrap();
            (a, b)
        })
        .await;
    let with = fx.read_at(a.partition, a.offset).await;
    assert_eq!(
        headers_of(&with),
        vec![
            ("own".to_owned(), b"1".to_vec()),
            ("tenant".to_owned(), b"acme".to_vec()),
            ("trace".to_owned(), b"t-1".to_vec()),
        ]
    );
    let without = fx.read_at(b.partition, b.offset).await;
    assert_eq!(
        headers_of(&without),
        vec![("own".to_owned(), b"1".to_vec())]
    );
}

/// maxRetry and retryInterval reach librdkafka: with retries a transient
/// broker error is ridden out (after at least one interval), without them
/// the same error reaches the caller. Fault injection needs the embedded broker.
#[tokio::test]
async fn max_retry_and_retry_interval_are_honoured() {
    let fx = Fixture::embedded("producer-retry", 1).await;
    let (broker, topic) = (fx.broker.embedded().expect("embedded"), fx.topic.clone());
    let mut config = fx.config();
    config.common.compression = Compression::None;

    let inject_one_error = || {
        broker.with_cluster(|cluster| {
            cluster.request_errors(
                RDKafkaApiKey::Produce,
                &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS],
            )
        })
    };

    config.max_retry = 0;
    let no_retry = build_producer("no-retry", &config, None).unwrap();
    // Warm up the connection so the injected error hits the produce request.
    no_retry
        .send_message(&topic, "k", "warm", Headers::new())
        .await
        .unwrap();
    inject_one_error();
    let err = no_retry
        .send_message(&topic, "k", "fails", Headers::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ProduceError::Kafka { .. }), "{err:?}");
    assert!(err.to_string().contains("replicas"), "{err}");

    config.max_retry = 3;
    config.retry_interval = Duration::from_millis(400);
    let retrying = build_producer("retry", &config, None).unwrap();
    retrying
        .send_message(&topic, "k", "warm", Headers::new())
        .await
        .unwrap();
    inject_one_error();
    let started = Instant::now();
    retrying
        .send_message(&topic, "k", "survives", Headers::new())
        .await
        .unwrap();
    // librdkafka applies up to 20% jitter below the configured backoff.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "retried after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn per_request_timeout_is_reported_as_timeout() {
    let fx = Fixture::embedded("producer-timeout", 1).await;
    let (broker, topic) = (fx.broker.embedded().expect("embedded"), fx.topic.clone());
    let config = fx.config();
    let producer = build_producer("slow", &config, Some(Duration::from_millis(1_000))).unwrap();
    producer
        .send_message(&topic, "k", "warm", Headers::new())
        .await
        .unwrap();
    // The broker answers, but later than the deadline.
    broker
        .with_cluster(|cluster| cluster.broker_round_trip_time(1, Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let err = producer
        .send_message(&topic, "k", "late", Headers::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProduceError::Timeout { timeout, .. } if *timeout == Duration::from_millis(1_000)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains(&topic));
}

#[tokio::test]
async fn unreachable_brokers_are_reported_as_such() {
    let fx = Fixture::embedded("producer-down", 1).await;
    let (broker, topic) = (fx.broker.embedded().expect("embedded"), fx.topic.clone());
    let config = fx.config();
    let producer = build_producer("down", &config, Some(Duration::from_millis(2_000))).unwrap();
    producer
        .send_message(&topic, "k", "warm", Headers::new())
        .await
        .unwrap();
    broker
        .with_cluster(|cluster| cluster.broker_down(1))
        .unwrap();
    let err = producer
        .send_message(&topic, "k", "lost", Headers::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProduceError::BrokerUnreachable { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_topics_are_reported_as_such() {
    let fx = Fixture::new("producer-unknown", 1).await;
    let mut config = fx.plain_config();
    config.common.metadata_allow_auto_topic_creation = Some(false);
    let producer = build_producer("unknown", &config, Some(Duration::from_millis(5_000))).unwrap();
    let missing = kafka_rs::unique_name("producer-no-such-topic");
    let err = producer
        .send_message(&missing, "k", "v", Headers::new())
        .await
        .unwrap_err();
    match &err {
        ProduceError::UnknownTopic { topic, .. } => assert_eq!(topic, &missing),
        other => panic!("expected UnknownTopic, got {other:?}"),
    }
}

/// The embedded broker speaks no SASL, so a client with SCRAM credentials
/// cannot authenticate: librdkafka reports an authentication failure and the
/// record times out; the caller sees `Authentication`, not a bare timeout.
#[tokio::test]
async fn failed_authentication_is_reported_as_such() {
    let fx = Fixture::embedded("producer-auth", 1).await;
    let topic = fx.topic.clone();
    let mut config = fx.config();
    config.common.mechanism = Some(kafka_runtime::config::SaslMechanism::ScramSha512);
    config.common.user = Some("nobody".to_owned());
    config.common.password = Some(kafka_runtime::config::Secret::new("wrong-password"));
    let producer = build_producer("auth", &config, Some(Duration::from_millis(3_000))).unwrap();
    let err = producer
        .send_message(&topic, "k", "v", Headers::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProduceError::Authentication { .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?}{err}").contains("wrong-password"));
}

/// A flush that cannot finish in time says so (and how much is in flight)
/// instead of returning as if everything had been acknowledged.
#[tokio::test]
async fn flush_reports_records_still_in_flight_at_its_deadline() {
    let fx = Fixture::embedded("producer-flush-deadline", 1).await;
    let (broker, topic) = (fx.broker.embedded().expect("embedded"), fx.topic.clone());
    let config = fx.config();
    let producer = build_producer("stuck", &config, Some(Duration::from_secs(20))).unwrap();
    producer
        .send_message(&topic, "k", "warm", Headers::new())
        .await
        .unwrap();
    broker
        .with_cluster(|cluster| cluster.broker_down(1))
        .unwrap();
    for i in 0..3 {
        producer
            .async_send_message(&topic, "k", format!("{i}"), Headers::new())
            .await
            .unwrap();
    }
    let err = producer
        .flush(Duration::from_millis(300))
        .await
        .unwrap_err();
    match err {
        ProduceError::FlushIncomplete { in_flight, .. } => assert_eq!(in_flight, 3),
        other => panic!("expected FlushIncomplete, got {other:?}"),
    }
}
