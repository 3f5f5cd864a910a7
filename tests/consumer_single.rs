//! Single-message handlers on a real broker: delivery, typed payloads,
//! undecodable records, order per partition, a stuck partition not blocking
//! the others, and at-least-once across a restart.

mod consumer_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

static RAW: Seen = Seen::new();
static TYPED: Seen = Seen::new();
static ORDERED: Seen = Seen::new();
static RESTART: Seen = Seen::new();
static SLOW: Seen = Seen::new();
static SKIPPED: Seen = Seen::new();
static REJECT_ALL: AtomicBool = AtomicBool::new(false);
static REJECTED: AtomicUsize = AtomicUsize::new(0);

#[kafka_consumer(service = "single.raw")]
async fn raw(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    assert_eq!(ctx.service(), "single.raw");
    assert_eq!(ctx.raw().offset, msg.offset);
    let payload = String::from_utf8(msg.payload_bytes().to_vec())?;
    RAW.push(&msg.topic, msg.partition, msg.offset, &payload);
    Ok(())
}

#[derive(serde::Deserialize)]
struct Order {
    id: u32,
}

#[kafka_consumer(service = "single.typed")]
async fn typed(ctx: Context, order: Order) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    TYPED.push(&raw.topic, raw.partition, raw.offset, &order.id.to_string());
    Ok(())
}

/// Fails for ever on "poison" (maxRetry=0 retries without end).
#[kafka_consumer(service = "single.ordered")]
async fn ordered(ctx: Context, payload: String) -> Result<(), HandlerError> {
    if payload == "poison" {
        return Err(HandlerError::msg("poison never succeeds"));
    }
    let raw = ctx.raw();
    ORDERED.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "single.restart")]
async fn restart(ctx: Context, payload: String) -> Result<(), HandlerError> {
    if REJECT_ALL.load(Ordering::SeqCst) {
        REJECTED.fetch_add(1, Ordering::SeqCst);
        return Err(HandlerError::msg("rejecting while the test says so"));
    }
    let raw = ctx.raw();
    RESTART.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// Slower than fetching, so the partition's queue fills and it is paused.
#[kafka_consumer(service = "single.slow")]
async fn slow(ctx: Context, payload: String) -> Result<(), HandlerError> {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let raw = ctx.raw();
    SLOW.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// "skip" is acknowledged without committing its offset.
#[kafka_consumer(service = "single.skip")]
async fn skip(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    SKIPPED.push(&raw.topic, raw.partition, raw.offset, &payload);
    if payload == "skip" {
        return Err(HandlerError::continue_without_commit());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivers_single_messages_with_their_context() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-raw");
    broker.create_topic(&topic, 2).await.unwrap();
    let config = config(&broker.bootstrap(), &[Service::new("single.raw", &topic)]);
    let running = start(config, &["single.raw"]);
    let producer = producer(&broker.bootstrap());
    for i in 0..6 {
        produce(&producer, &topic, Some(i % 2), "k", &format!("m{i}")).await;
    }
    eventually("6 messages handled", || RAW.count(&topic) >= 6).await;
    running.stop().await.unwrap();
    let mut got = RAW.payloads(&topic);
    got.sort();
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4", "m5"]);
}

/// One service reading several topics: every record reaches the handler
/// under its own topic (the poll thread keeps topic names by librdkafka
/// topic handle, so a mix-up there would show as records filed under the
/// wrong topic).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_reading_several_topics_keeps_each_records_topic() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topics: Vec<String> = (0..3)
        .map(|i| unique_name(&format!("single-multi{i}")))
        .collect();
    for topic in &topics {
        broker.create_topic(topic, 2).await.unwrap();
    }
    let mut service = Service::new("single.raw", &topics[0]);
    service.topics = topics.clone();
    let running = start(config(&broker.bootstrap(), &[service]), &["single.raw"]);
    let producer = producer(&broker.bootstrap());
    // Interleaved, so that records of different topics follow each other.
    for i in 0..8 {
        for topic in &topics {
            produce(&producer, topic, Some(i % 2), "k", &format!("{topic}/{i}")).await;
        }
    }
    eventually("8 records of each topic handled", || {
        topics.iter().all(|t| RAW.count(t) >= 8)
    })
    .await;
    running.stop().await.unwrap();
    for topic in &topics {
        let mut got = RAW.payloads(topic);
        got.sort();
        let mut want: Vec<String> = (0..8).map(|i| format!("{topic}/{i}")).collect();
        want.sort();
        assert_eq!(got, want, "records filed under {topic}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_payloads_decode_and_undecodable_ones_are_skipped() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-typed");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("typed-group");
    let make = || {
        config(
            &broker.bootstrap(),
            &[Service::new("single.typed", &topic).group(&group)],
        )
    };
    let running = start(make(), &["single.typed"]);
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(0), "k", r#"{"id":1}"#).await;
    produce(&producer, &topic, Some(0), "k", "this is not JSON").await;
    produce(&producer, &topic, Some(0), "k", r#"{"id":3}"#).await;
    eventually("both decodable orders handled", || TYPED.count(&topic) >= 2).await;
    running.stop().await.unwrap();
    assert_eq!(TYPED.payloads(&topic), ["1", "3"]);

    // The undecodable record was committed with the others: a restarted
    // member starts after it.
    produce(&producer, &topic, Some(0), "k", r#"{"id":4}"#).await;
    let running = start(make(), &["single.typed"]);
    eventually("the next order handled", || TYPED.count(&topic) >= 3).await;
    running.stop().await.unwrap();
    assert_eq!(TYPED.payloads(&topic), ["1", "3", "4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_is_kept_per_partition_and_a_stuck_partition_blocks_no_other() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-ordered");
    broker.create_topic(&topic, 3).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[Service::new("single.ordered", &topic).key("maxRetry", 0)],
    );
    let running = start(config, &["single.ordered"]);
    let producer = producer(&broker.bootstrap());
    // Partition 0 is stuck on its first record for ever.
    produce(&producer, &topic, Some(0), "k", "poison").await;
    for i in 0..30 {
        let partition = 1 + (i % 2);
        produce(
            &producer,
            &topic,
            Some(partition),
            "k",
            &format!("{partition}-{i:02}"),
        )
        .await;
    }
    eventually("30 records of partitions 1 and 2 handled", || {
        ORDERED.count(&topic) >= 30
    })
    .await;
    running.stop().await.unwrap();
    let seen = ORDERED.with_partitions(&topic);
    for partition in [1, 2] {
        let got: Vec<&String> = seen
            .iter()
            .filter(|(p, _)| *p == partition)
            .map(|(_, v)| v)
            .collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "partition {partition} handled out of order");
        assert_eq!(got.len(), 15);
    }
    assert!(seen.iter().all(|(p, _)| *p != 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_across_a_restart() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-restart");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("restart-group");
    let make = || {
        config(
            &broker.bootstrap(),
            &[Service::new("single.restart", &topic).group(&group)],
        )
    };
    let producer = producer(&broker.bootstrap());

    // Run 1 handles a, b, c and shuts down cleanly.
    let running = start(make(), &["single.restart"]);
    for p in ["a", "b", "c"] {
        produce(&producer, &topic, Some(0), "k", p).await;
    }
    eventually("a, b, c handled", || RESTART.count(&topic) >= 3).await;
    running.stop().await.unwrap();

    // Run 2 fails on everything: d is polled but never handled.
    REJECT_ALL.store(true, Ordering::SeqCst);
    produce(&producer, &topic, Some(0), "k", "d").await;
    let running = start(make(), &["single.restart"]);
    eventually("d rejected at least twice", || {
        REJECTED.load(Ordering::SeqCst) >= 2
    })
    .await;
    running.stop().await.unwrap();
    assert_eq!(
        RESTART.count(&topic),
        3,
        "nothing is handled while the handler fails"
    );

    // Run 3: d is delivered again (it was never committed), a, b, c are not.
    REJECT_ALL.store(false, Ordering::SeqCst);
    produce(&producer, &topic, Some(0), "k", "e").await;
    let running = start(make(), &["single.restart"]);
    eventually("d and e handled", || RESTART.count(&topic) >= 5).await;
    running.stop().await.unwrap();
    assert_eq!(RESTART.payloads(&topic), ["a", "b", "c", "d", "e"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backlog_larger_than_the_queue_is_handled_once_in_order() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-slow");
    broker.create_topic(&topic, 1).await.unwrap();
    let producer = producer(&broker.bootstrap());
    // Far more than a partition's in-memory queue (64): the poll thread has
    // to pause the partition and resume it as the handler catches up.
    let sends = (0..400).map(|i| {
        let producer = producer.clone();
        let topic = topic.clone();
        async move { produce(&producer, &topic, Some(0), "k", &format!("{i:04}")).await }
    });
    futures_join_all(sends).await;
    let config = config(&broker.bootstrap(), &[Service::new("single.slow", &topic)]);
    let running = start(config, &["single.slow"]);
    eventually("400 records handled", || SLOW.count(&topic) >= 400).await;
    running.stop().await.unwrap();
    let mut payloads = SLOW.payloads(&topic);
    payloads.sort();
    payloads.dedup();
    assert_eq!(payloads.len(), 400, "every record exactly once");
    let offsets = SLOW.offsets(&topic);
    assert_eq!(offsets, (0..400).collect::<Vec<i64>>(), "in offset order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn continue_without_commit_moves_on_but_leaves_the_offset_uncommitted() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("single-skip");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("skip-group");
    let make = || {
        config(
            &broker.bootstrap(),
            &[Service::new("single.skip", &topic).group(&group)],
        )
    };
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(0), "k", "skip").await;
    let running = start(make(), &["single.skip"]);
    eventually("skip seen", || SKIPPED.count(&topic) == 1).await;
    running.stop().await.unwrap();
    // Not committed: the next member of the group sees it again.
    let running = start(make(), &["single.skip"]);
    eventually("skip redelivered", || SKIPPED.count(&topic) == 2).await;
    running.stop().await.unwrap();
    assert_eq!(SKIPPED.payloads(&topic), ["skip", "skip"]);
}

/// Waits for every future (the test crate has no `futures` dependency).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    for task in tasks {
        task.await.unwrap();
    }
}
