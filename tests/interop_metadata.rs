//! `trpcMeta=true` both ways, byte for byte: tRPC metadata the plugin's
//! producer writes as headers is the metadata a kafka-rs handler sees, and
//! metadata a kafka-rs producer carries (`Metadata::scope`) is what the
//! plugin's handler gets from `codec.Message(ctx).ServerMetaData()`.
//! Values include every byte value and the empty value; keys include UTF-8.

mod interop_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{Metadata, RuntimeHandle};

const RECORDS: usize = 200;
const PRODUCER: &str = "interop.meta.producer";
const CONSUMER: &str = "interop.meta.consumer";

/// Record `i`'s metadata: 1 to 4 entries, binary and empty values.
fn metadata(i: usize) -> BTreeMap<String, Vec<u8>> {
    let mut md = BTreeMap::new();
    md.insert("trace-id".to_owned(), format!("trace-{i}").into_bytes());
    if i % 2 == 0 {
        md.insert(
            "binary".to_owned(),
            (0..=255u8).map(|b| b.wrapping_add(i as u8)).collect(),
        );
    }
    if i % 3 == 0 {
        md.insert("empty".to_owned(), Vec::new());
    }
    if i % 5 == 0 {
        md.insert("ключ-元".to_owned(), "значение-值".as_bytes().to_vec());
    }
    md
}

fn value(i: usize) -> Vec<u8> {
    format!("meta-{i}").into_bytes()
}

/// Checks that every record `i` was handled with exactly `metadata(i)`, both
/// as the handler's metadata and as the record's headers.
fn check(side: &str, handled: &[Handled]) -> usize {
    let mut seen = 0;
    for i in 0..RECORDS {
        let h = handled
            .iter()
            .find(|h| h.value.as_deref() == Some(&value(i)[..]))
            .unwrap_or_else(|| panic!("{side}: record {i} not handled"));
        assert_eq!(h.meta, metadata(i), "{side}: metadata of record {i}");
        let headers: BTreeMap<String, Vec<u8>> = h
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8(k.clone()).unwrap(),
                    v.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            headers.len(),
            h.headers.len(),
            "{side}: one header per entry"
        );
        assert_eq!(headers, metadata(i), "{side}: headers of record {i}");
        seen += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_metadata_reaches_kafka_rs_handlers() {
    let bootstrap = Kafka::V4.bootstrap();
    let dir = scratch("meta-go-to-rs");
    let topic = unique_name("meta-go-to-rs");
    create_topic(&bootstrap, &topic, 3).await;
    let group = unique_name("meta-g");
    let yaml = write_yaml(
        &dir,
        &[(
            CONSUMER,
            format!("{bootstrap}?topics={topic}&group={group}&initial=oldest&trpcMeta=true"),
        )],
        &[(
            PRODUCER,
            format!("kafka://{bootstrap}?topic={topic}&trpcMeta=true&clientid=meta"),
        )],
    );
    let records: Vec<Outgoing> = (0..RECORDS)
        .map(|i| Outgoing {
            key: Some(format!("k{i}").into_bytes()),
            value: value(i),
            meta: metadata(i),
            ..Outgoing::default()
        })
        .collect();
    let y = yaml.clone();
    tokio::task::spawn_blocking(move || plugin_produce(&y, PRODUCER, &records, 8))
        .await
        .unwrap();
    let mut member = Member::start(Side::KafkaRs, "rs", &yaml, Duration::ZERO);
    wait_for(
        "kafka-rs to handle every record",
        Duration::from_secs(60),
        || member.handled().len() >= RECORDS,
    )
    .await;
    assert!(member.stop().success(), "{}", member.log_text());
    let n = check("kafka-rs handler", &member.handled());
    report(&format!(
        "trpcMeta plugin -> kafka-rs: {n}/{RECORDS} records handled with exactly the metadata sent (as metadata and as headers)"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_rs_metadata_reaches_plugin_handlers() {
    let bootstrap = Kafka::V4.bootstrap();
    let dir = scratch("meta-rs-to-go");
    let topic = unique_name("meta-rs-to-go");
    create_topic(&bootstrap, &topic, 3).await;
    let group = unique_name("meta-g");
    let yaml = write_yaml(
        &dir,
        &[(
            CONSUMER,
            format!("{bootstrap}?topics={topic}&group={group}&initial=oldest&trpcMeta=true"),
        )],
        &[(
            PRODUCER,
            format!("kafka://{bootstrap}?topic={topic}&trpcMeta=true&clientid=meta"),
        )],
    );
    let runtime = RuntimeHandle::start(Arc::new(Config::from_path(&yaml).unwrap()))
        .await
        .expect("runtime");
    let producer = runtime.producer(PRODUCER).expect("producer");
    for i in 0..RECORDS {
        let md: Metadata = metadata(i).into_iter().collect();
        md.scope(producer.produce(format!("k{i}"), value(i), Headers::new()))
            .await
            .unwrap_or_else(|e| panic!("produce {i}: {e}"));
    }
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();
    let mut member = Member::start(Side::Plugin, "go", &yaml, Duration::ZERO);
    wait_for(
        "the plugin to handle every record",
        Duration::from_secs(60),
        || member.handled().len() >= RECORDS,
    )
    .await;
    member.stop();
    let n = check("plugin handler", &member.handled());
    report(&format!(
        "trpcMeta kafka-rs -> plugin: {n}/{RECORDS} records handled with exactly the metadata sent (as metadata and as headers)"
    ));
}
