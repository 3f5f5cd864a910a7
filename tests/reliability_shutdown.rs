//! Graceful shutdown of a consumer process: SIGTERM mid-stream lets the
//! in-flight handlers finish and commits them; the restarted consumer
//! handles none of the completed messages again. And what handlers queued in
//! an asynchronous producer is flushed before the process exits.

mod producer_support;
mod reliability_support;

use std::collections::BTreeSet;
use std::time::Duration;

use reliability_support::*;

const PARTITIONS: i32 = 4;
const MESSAGES: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_stream_completes_in_flight_work_and_nothing_is_handled_twice() {
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("reliability-sigterm");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap(),
        topic: topic.clone(),
        group: unique_name("reliability-sigterm-group"),
        record: record_path(&topic),
        // Longer than the test: only the shutdown's own commit can save the
        // handled offsets, so a duplicate would show it missing.
        commit_interval_ms: 600_000,
        // Slow handlers, so that SIGTERM finds some in flight.
        handler_delay_ms: 20,
    };
    let producer = producer(&broker.bootstrap());
    let producing = {
        let (producer, topic) = (producer.clone(), topic.clone());
        tokio::spawn(async move { produce_range(&producer, &topic, 0..MESSAGES).await })
    };

    let first = spec.spawn("first");
    let mid_stream = poll(Duration::from_secs(60), Duration::from_millis(20), || {
        handled_unique(&read_record(&spec.record)) >= 100
    })
    .await;
    assert!(mid_stream, "the first consumer handled 100 messages");
    let sigterm_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let status = first.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");

    let before = read_record(&spec.record);
    let started: BTreeSet<(i32, i64)> = before
        .iter()
        .filter(|l| !l.done)
        .map(|l| (l.partition, l.offset))
        .collect();
    let completed: BTreeSet<(i32, i64)> = before
        .iter()
        .filter(|l| l.done)
        .map(|l| (l.partition, l.offset))
        .collect();
    assert_eq!(
        started, completed,
        "every handler running at SIGTERM finished before the process exited"
    );
    assert!(completed.len() < MESSAGES, "SIGTERM came mid-stream");
    let committed_at_stop = committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS);
    assert_committed_were_handled(&committed_at_stop, &before);
    let finished_after_sigterm = before
        .iter()
        .filter(|l| l.done && l.at_ms >= sigterm_at)
        .count();
    assert!(
        finished_after_sigterm > 0,
        "some handler was in flight at SIGTERM and finished"
    );
    for p in 0..PARTITIONS {
        let last_done = completed
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .max();
        assert_eq!(
            committed_at_stop.get(&p).map(|c| c - 1),
            last_done,
            "partition {p}: the shutdown committed exactly what was handled"
        );
    }

    assert_eq!(producing.await.unwrap(), MESSAGES);
    let second = spec.spawn("second");
    let all = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        handled_unique(&read_record(&spec.record)) >= MESSAGES
    })
    .await;
    let status = second.terminate(Duration::from_secs(30));
    assert!(all, "the restarted consumer handled the rest");
    assert!(status.success(), "clean exit on SIGTERM, got {status}");

    let lines = read_record(&spec.record);
    let high = high_watermarks(&spec.bootstrap, &topic, PARTITIONS);
    let (handled, distinct, duplicates) = assert_nothing_lost(&high, &lines);
    let again: Vec<(i32, i64)> = lines
        .iter()
        .filter(|l| l.run == "second" && completed.contains(&(l.partition, l.offset)))
        .map(|l| (l.partition, l.offset))
        .collect();
    assert!(
        again.is_empty(),
        "{} completed messages handled again after a clean SIGTERM: {:?}",
        again.len(),
        &again[..again.len().min(20)]
    );
    assert_eq!(duplicates, 0);
    report(&format!(
        "graceful shutdown [{} broker]: produced {MESSAGES}, handled {handled} ({distinct} distinct), \
         lost 0, duplicates 0, SIGTERM after {} completed, {} in-flight handlers finished after it",
        broker.kind(),
        completed.len(),
        finished_after_sigterm
    ));
}

/// A service relays every record it consumes through an asynchronous
/// producer that lingers 10 s before sending (`async=1`,
/// `flushFrequency=10000`). SIGTERM right after the last record was handed
/// to it: `serve()` flushes the producer before exiting, so every relayed
/// record is in the output topic, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_flushes_what_handlers_queued_in_an_async_producer() {
    const RELAYED: usize = 300;
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("reliability-flush-in");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let relay_topic = unique_name("reliability-flush-out");
    broker.create_topic(&relay_topic, 1).await.unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap(),
        topic: topic.clone(),
        group: unique_name("reliability-flush-group"),
        record: record_path(&topic),
        commit_interval_ms: 1_000,
        handler_delay_ms: 0,
    };
    let producer = producer(&broker.bootstrap());
    assert_eq!(produce_range(&producer, &topic, 0..RELAYED).await, RELAYED);
    let relay = spec.spawn_relay("relay", &relay_topic);
    let handed_over = poll(Duration::from_secs(60), Duration::from_millis(50), || {
        handled_unique(&read_record(&spec.record)) >= RELAYED
    })
    .await;
    assert!(
        handed_over,
        "the service handed every record to its producer"
    );
    // Still lingering in the producer: nothing (or, on a very slow machine,
    // not everything) has reached the output topic yet.
    let delivered_before = high_watermarks(&spec.bootstrap, &relay_topic, 1)[&0];
    assert!(
        (delivered_before as usize) < RELAYED,
        "the producer sent everything before SIGTERM; the flush was not tested"
    );
    let status = relay.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");

    let output = producer_support::Fixture {
        broker,
        topic: relay_topic.clone(),
    };
    let high = high_watermarks(&spec.bootstrap, &relay_topic, 1)[&0];
    assert_eq!(high, RELAYED as i64, "every relayed record delivered, once");
    let records = output.read_all(1, RELAYED).await;
    let mut payloads: Vec<String> = records
        .iter()
        .map(|r| {
            use kafka_runtime::rdkafka::Message as _;
            String::from_utf8_lossy(r.payload().unwrap_or_default()).into_owned()
        })
        .collect();
    payloads.sort();
    let mut expected: Vec<String> = (0..RELAYED).map(|i| format!("message-{i}")).collect();
    expected.sort();
    assert_eq!(payloads, expected);
    report(&format!(
        "flush on SIGTERM [{} broker]: {RELAYED} records handed to an async producer lingering \
         10 s, {} of them still queued at SIGTERM; after exit {high} in the output topic, each once",
        output.broker.kind(),
        RELAYED - delivered_before as usize
    ));
}
