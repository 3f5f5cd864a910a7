//! Protobuf payloads both ways with the tRPC-Go plugin: records the
//! plugin's producer writes with Go's Protobuf runtime
//! (`proto.Marshal(timestamppb.Timestamp)`) are decoded by a kafka-rs
//! handler with `codec = protobuf`, and records a kafka-rs
//! `Producer<T, Protobuf>` writes are decoded by the plugin's handler with
//! `proto.Unmarshal`, field for field.

mod interop_support;

use std::collections::BTreeSet;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop_support::*;
use kafka_runtime::codec::Protobuf;
use kafka_runtime::config::Config;
use kafka_runtime::producer::{FromRawProducer, Headers};
use kafka_runtime::{kafka_consumer, HandlerError, Producer, RuntimeHandle};

const RECORDS: usize = 100;
const PRODUCER: &str = "interop.proto.producer";
const CONSUMER: &str = "interop.proto.consumer";

/// google.protobuf.Timestamp, declared with prost (same field numbers and
/// types as Go's generated `timestamppb.Timestamp`).
#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// Record `i`'s timestamp; negative seconds and zero nanos included.
fn stamp(i: usize) -> (i64, i32) {
    let seconds = 1_700_000_000 + i as i64 * 7_919 - if i % 10 == 0 { 3_400_000_000 } else { 0 };
    (seconds, (i as i32 * 1_000_003) % 1_000_000_000)
}

static DECODED: Mutex<Vec<(i64, i32)>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "interop.proto.consumer", codec = protobuf)]
async fn decode(ts: Timestamp) -> Result<(), HandlerError> {
    DECODED.lock().unwrap().push((ts.seconds, ts.nanos));
    Ok(())
}

fn expected() -> BTreeSet<(i64, i32)> {
    (0..RECORDS).map(stamp).collect()
}

fn yaml(name: &str) -> std::path::PathBuf {
    let bootstrap = Kafka::V4.bootstrap();
    let topic = unique_name(name);
    let group = unique_name("proto-g");
    let dir = scratch(name);
    let yaml = write_yaml(
        &dir,
        &[(
            CONSUMER,
            format!("{bootstrap}?topics={topic}&group={group}&initial=oldest"),
        )],
        &[(PRODUCER, format!("kafka://{bootstrap}?topic={topic}"))],
    );
    std::fs::write(dir.join("topic"), &topic).unwrap();
    yaml
}

async fn topic_of(yaml: &std::path::Path) -> String {
    let topic = std::fs::read_to_string(yaml.with_file_name("topic")).unwrap();
    create_topic(&Kafka::V4.bootstrap(), &topic, 3).await;
    topic
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_protobuf_records_decode_in_a_kafka_rs_handler() {
    let yaml = yaml("proto-go-to-rs");
    topic_of(&yaml).await;
    let records: Vec<Outgoing> = (0..RECORDS)
        .map(|i| Outgoing {
            key: Some(format!("k{i}").into_bytes()),
            proto: Some(stamp(i)),
            ..Outgoing::default()
        })
        .collect();
    let y = yaml.clone();
    tokio::task::spawn_blocking(move || plugin_produce(&y, PRODUCER, &records, 4))
        .await
        .unwrap();
    let config = Config::from_path(&yaml).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        kafka_runtime::serve()
            .config(config)
            .only_services([CONSUMER])
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    wait_for(
        "kafka-rs to decode every record",
        Duration::from_secs(60),
        || DECODED.lock().unwrap().len() >= RECORDS,
    )
    .await;
    let _ = stop.send(());
    server.await.unwrap().expect("serve() ends cleanly");
    let decoded = DECODED.lock().unwrap().clone();
    assert_eq!(decoded.len(), RECORDS, "each record decoded once");
    let decoded: BTreeSet<(i64, i32)> = decoded.into_iter().collect();
    assert_eq!(decoded, expected());
    report(&format!(
        "Protobuf plugin -> kafka-rs: {RECORDS}/{RECORDS} google.protobuf.Timestamp records written by Go's proto.Marshal decoded by a `codec = protobuf` handler, field for field"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_rs_protobuf_records_decode_in_the_plugin_handler() {
    let yaml = yaml("proto-rs-to-go");
    topic_of(&yaml).await;
    let runtime = RuntimeHandle::start(Arc::new(Config::from_path(&yaml).unwrap()))
        .await
        .expect("runtime");
    let producer: Producer<Timestamp, Protobuf> =
        FromRawProducer::from_raw(runtime.producer(PRODUCER).expect("producer"));
    for i in 0..RECORDS {
        let (seconds, nanos) = stamp(i);
        producer
            .produce(
                format!("k{i}"),
                &Timestamp { seconds, nanos },
                Headers::new(),
            )
            .await
            .unwrap_or_else(|e| panic!("produce {i}: {e}"));
    }
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();
    let mut member = Member::start_with(Side::Plugin, "go", &yaml, Duration::ZERO, &["-proto"]);
    wait_for(
        "the plugin to handle every record",
        Duration::from_secs(60),
        || member.handled().len() >= RECORDS,
    )
    .await;
    member.stop();
    let handled = member.handled();
    assert_eq!(handled.len(), RECORDS, "each record handled once");
    let decoded: BTreeSet<(i64, i32)> = handled
        .iter()
        .map(|h| match &h.decoded {
            Some(Ok(stamp)) => *stamp,
            other => panic!("record {} not decoded by Go: {other:?}", h.offset),
        })
        .collect();
    assert_eq!(decoded, expected());
    report(&format!(
        "Protobuf kafka-rs -> plugin: {RECORDS}/{RECORDS} records written by Producer<T, Protobuf> decoded by Go's proto.Unmarshal into timestamppb.Timestamp, field for field"
    ));
}
