//! Per-record outcomes of a batch handler on a real broker: a handler that
//! reports which records failed ([`kafka_runtime::BatchError`]) gets only
//! those again, only those are dead-lettered, and the others are committed.

mod consumer_support;
mod producer_support;
mod reliability_support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use consumer_support::*;
use kafka_runtime::deadletter;
use kafka_runtime::rdkafka::message::Message as _;
use kafka_runtime::{kafka_consumer, BatchError, Context, HandlerError, Message};
use producer_support::{headers_of, Fixture};

/// Every call: (topic, attempt, offsets of its records).
static CALLS: Mutex<Vec<(String, u32, Vec<i64>)>> = Mutex::new(Vec::new());

/// Fails each record whose payload starts with `bad`, on every run.
#[kafka_consumer(service = "batch.outcomes", batch)]
async fn outcomes(ctx: Context, msgs: Vec<Message>) -> Result<(), BatchError> {
    let offsets = msgs.iter().map(|m| m.offset).collect();
    CALLS
        .lock()
        .unwrap()
        .push((ctx.raw().topic.to_string(), ctx.attempt(), offsets));
    let mut failed = BatchError::new();
    for (i, msg) in msgs.iter().enumerate() {
        if msg.payload_bytes().starts_with(b"bad") {
            failed.fail(
                i,
                HandlerError::msg(format!("record {} is bad", msg.offset)),
            );
        }
    }
    failed.into_result()
}

const RECORDS: i64 = 500;
const BAD: [i64; 2] = [137, 422];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_failing_records_of_500_are_retried_and_dead_lettered_alone() {
    init_logs();
    let dlt = Fixture::new("batch-outcomes-dlt", 1).await;
    let bootstrap = dlt.broker.bootstrap();
    let topic = unique_name("batch-outcomes");
    dlt.broker.create_topic(&topic, 1).await.unwrap();
    let p = producer(&bootstrap);
    for offset in 0..RECORDS {
        let payload = if BAD.contains(&offset) {
            format!("bad-{offset}")
        } else {
            format!("good-{offset}")
        };
        produce_keyed_with_headers(
            &p,
            &topic,
            0,
            Some(&format!("k-{offset}")),
            &payload,
            &[("h", "v")],
        )
        .await;
    }
    let service = Service::new("batch.outcomes", &topic)
        .key("batch", 100)
        .key("batchFlush", 1_000)
        .key("maxRetry", 2)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["batch.outcomes"]);
    let copies = dlt.read_all(1, 2).await;
    let (b, g, t) = (bootstrap.clone(), group.clone(), topic.clone());
    let all_committed = kafka_rs::wait_until(WAIT, move || {
        reliability_support::committed(&b, &g, &t, 1).get(&0) == Some(&RECORDS)
    })
    .await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(all_committed, "offset {RECORDS} committed");

    let calls: Vec<(u32, Vec<i64>)> = CALLS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| *t == topic)
        .map(|(_, attempt, offsets)| (*attempt, offsets.clone()))
        .collect();
    // How many times the handler saw each offset, and at which attempts.
    let mut seen: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (attempt, offsets) in &calls {
        for o in offsets {
            seen.entry(*o).or_default().push(*attempt);
        }
    }
    assert_eq!(seen.len(), RECORDS as usize, "every record handled");
    for (offset, attempts) in &seen {
        if BAD.contains(offset) {
            assert_eq!(attempts, &[1, 2, 3], "offset {offset}: maxRetry=2");
        } else {
            assert_eq!(attempts, &[1], "offset {offset} handled once");
        }
    }
    let retries: Vec<&Vec<i64>> = calls
        .iter()
        .filter(|(attempt, _)| *attempt > 1)
        .map(|(_, offsets)| offsets)
        .collect();
    assert!(
        retries.iter().all(|o| o.iter().all(|o| BAD.contains(o))),
        "retries hold the failed records only: {retries:?}"
    );

    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(high.get(&0), Some(&2), "exactly two dead-letter copies");
    for (copy, offset) in copies.iter().zip(BAD) {
        assert_eq!(copy.key(), Some(format!("k-{offset}").as_bytes()));
        assert_eq!(copy.payload(), Some(format!("bad-{offset}").as_bytes()));
        let headers = headers_of(copy);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(headers[0], ("h".to_owned(), b"v".to_vec()), "{headers:?}");
        assert_eq!(get(deadletter::OFFSET_HEADER), Some(offset.to_string()));
        assert_eq!(get(deadletter::ATTEMPTS_HEADER).as_deref(), Some("3"));
        assert_eq!(
            get(deadletter::REASON_HEADER).as_deref(),
            Some("handler-failed")
        );
        assert_eq!(
            get(deadletter::ERROR_HEADER),
            Some(format!("record {offset} is bad"))
        );
    }
}
