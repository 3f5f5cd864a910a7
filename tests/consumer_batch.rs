//! Batch handlers on a real broker: by count, by `batchFlush`, whole-batch
//! retry, and typed batches.

mod consumer_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

/// Every batch handed over: (topic, payloads, when).
static BATCHES: Mutex<Vec<(String, Vec<String>, Instant)>> = Mutex::new(Vec::new());
static FAILED_ONCE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn batches(topic: &str) -> Vec<(Vec<String>, Instant)> {
    BATCHES
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| t == topic)
        .map(|(_, b, at)| (b.clone(), *at))
        .collect()
}

fn record(topic: &str, payloads: Vec<String>) {
    BATCHES
        .lock()
        .unwrap()
        .push((topic.to_owned(), payloads, Instant::now()));
}

#[kafka_consumer(service = "batch.raw", batch)]
async fn raw(ctx: Context, msgs: Vec<Message>) -> Result<(), HandlerError> {
    assert_eq!(ctx.raw().offset, msgs[0].offset);
    assert_eq!(ctx.raw().last_offset, msgs[msgs.len() - 1].offset);
    // Each message names where it came from, on a retry too (the engine
    // hands retries its own copy): a mismatch shows in the payload.
    let payloads = msgs
        .iter()
        .map(|m| match (&m.topic, m.partition) {
            (t, p) if *t == ctx.raw().topic && p == ctx.raw().partition => {
                String::from_utf8_lossy(&m.payload_bytes()).into_owned()
            }
            (t, p) => format!("message from {t:?}/{p}"),
        })
        .collect::<Vec<_>>();
    record(&ctx.raw().topic, payloads.clone());
    // A batch holding "fail-once" fails on its first delivery.
    let topic = ctx.raw().topic.to_string();
    if payloads.iter().any(|p| p == "fail-once") {
        let mut failed = FAILED_ONCE.lock().unwrap();
        if !failed.contains(&topic) {
            failed.push(topic);
            return Err(HandlerError::msg("the whole batch fails once"));
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct Order {
    id: u32,
}

#[kafka_consumer(service = "batch.typed", batch)]
async fn typed(ctx: Context, orders: Vec<Order>) -> Result<(), HandlerError> {
    record(
        &ctx.raw().topic,
        orders.iter().map(|o| o.id.to_string()).collect(),
    );
    Ok(())
}

async fn serve_batches(
    service: &str,
    tune: impl FnOnce(Service) -> Service,
) -> (TestBroker, String, Running) {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name(&service.replace('.', "-"));
    broker.create_topic(&topic, 1).await.unwrap();
    let config = config(&broker.bootstrap(), &[tune(Service::new(service, &topic))]);
    let running = start(config, &[service]);
    (broker, topic, running)
}

fn total(topic: &str) -> usize {
    batches(topic).iter().map(|(b, _)| b.len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_fill_up_to_the_batch_size() {
    let (broker, topic, running) =
        serve_batches("batch.raw", |s| s.key("batch", 4).key("batchFlush", 60_000)).await;
    let producer = producer(&broker.bootstrap());
    for i in 0..8 {
        produce(&producer, &topic, Some(0), "k", &format!("m{i}")).await;
    }
    eventually("8 messages in batches", || total(&topic) >= 8).await;
    running.stop().await.unwrap();
    let got: Vec<Vec<String>> = batches(&topic).into_iter().map(|(b, _)| b).collect();
    // With a 60 s flush only full batches can have been handed over.
    assert_eq!(
        got,
        [vec!["m0", "m1", "m2", "m3"], vec!["m4", "m5", "m6", "m7"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partial_batch_is_flushed_after_batch_flush() {
    let (broker, topic, running) =
        serve_batches("batch.raw", |s| s.key("batch", 100).key("batchFlush", 400)).await;
    let producer = producer(&broker.bootstrap());
    let sent = Instant::now();
    for i in 0..3 {
        produce(&producer, &topic, Some(0), "k", &format!("m{i}")).await;
    }
    eventually("a partial batch handed over", || total(&topic) >= 3).await;
    running.stop().await.unwrap();
    let got = batches(&topic);
    assert!(got.iter().all(|(b, _)| b.len() < 100));
    assert_eq!(
        got.iter().flat_map(|(b, _)| b.clone()).collect::<Vec<_>>(),
        ["m0", "m1", "m2"]
    );
    // The first batch waited for its flush time.
    assert!(
        got[0].1 - sent >= Duration::from_millis(350),
        "{:?}",
        got[0].1 - sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_is_retried_whole() {
    let (broker, topic, running) = serve_batches("batch.raw", |s| {
        s.key("batch", 3)
            .key("batchFlush", 60_000)
            .key("maxRetry", 0)
    })
    .await;
    let producer = producer(&broker.bootstrap());
    for p in ["a", "fail-once", "c", "d", "e", "f"] {
        produce(&producer, &topic, Some(0), "k", p).await;
    }
    eventually("the failed batch retried and the next one handled", || {
        batches(&topic).len() >= 3
    })
    .await;
    running.stop().await.unwrap();
    let got: Vec<Vec<String>> = batches(&topic).into_iter().map(|(b, _)| b).collect();
    assert_eq!(
        got,
        [
            vec!["a", "fail-once", "c"],
            vec!["a", "fail-once", "c"],
            vec!["d", "e", "f"]
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_batches_drop_what_does_not_decode() {
    let (broker, topic, running) = serve_batches("batch.typed", |s| {
        s.key("batch", 3).key("batchFlush", 60_000)
    })
    .await;
    let producer = producer(&broker.bootstrap());
    for p in [r#"{"id":1}"#, "garbage", r#"{"id":3}"#] {
        produce(&producer, &topic, Some(0), "k", p).await;
    }
    eventually("the typed batch handled", || total(&topic) >= 2).await;
    running.stop().await.unwrap();
    let got: Vec<Vec<String>> = batches(&topic).into_iter().map(|(b, _)| b).collect();
    assert_eq!(got, [vec!["1", "3"]]);
}
