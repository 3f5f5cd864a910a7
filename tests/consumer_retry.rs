//! Retry semantics on a real broker: `maxRetry` 0 / negative / N, the retry
//! interval, the handler `timeout`, and panics counted as failed attempts.

mod consumer_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

/// Every attempt: (topic, payload, when).
static ATTEMPTS: Mutex<Vec<(String, String, Instant)>> = Mutex::new(Vec::new());
static DONE: Seen = Seen::new();

fn attempts(topic: &str, payload: &str) -> Vec<Instant> {
    ATTEMPTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, p, _)| t == topic && p == payload)
        .map(|(_, _, at)| *at)
        .collect()
}

/// Behaviour by payload: `fail-N` fails the first N attempts, `fail` always
/// fails, `panic-N` panics on the first N attempts, `slow-N` sleeps 2 s on
/// the first N attempts; anything else succeeds.
async fn behave(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    let attempt = {
        let mut all = ATTEMPTS.lock().unwrap();
        all.push((topic.clone(), payload.clone(), Instant::now()));
        all.iter()
            .filter(|(t, p, _)| *t == topic && *p == payload)
            .count()
    };
    let (kind, n) = payload.split_once('-').unwrap_or((payload.as_str(), "0"));
    let n: usize = n.parse().unwrap_or(0);
    match kind {
        "fail" if n == 0 || attempt <= n => return Err(HandlerError::msg("failing on purpose")),
        "panic" if attempt <= n => panic!("panicking on purpose (attempt {attempt})"),
        "slow" if attempt <= n => tokio::time::sleep(Duration::from_secs(2)).await,
        _ => {}
    }
    DONE.push(&topic, ctx.raw().partition, ctx.raw().offset, &payload);
    Ok(())
}

/// What each attempt of `retry.forever` received: every retry gets the
/// record again, whole.
static RECEIVED: Mutex<Vec<Message>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "retry.forever")]
async fn forever(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    RECEIVED.lock().unwrap().push(msg.clone());
    let payload = String::from_utf8(msg.payload_bytes().to_vec()).map_err(HandlerError::new)?;
    behave(ctx, payload).await
}

#[kafka_consumer(service = "retry.never")]
async fn never(ctx: Context, payload: String) -> Result<(), HandlerError> {
    behave(ctx, payload).await
}

#[kafka_consumer(service = "retry.two")]
async fn two(ctx: Context, payload: String) -> Result<(), HandlerError> {
    behave(ctx, payload).await
}

#[kafka_consumer(service = "retry.interval")]
async fn interval(ctx: Context, payload: String) -> Result<(), HandlerError> {
    behave(ctx, payload).await
}

#[kafka_consumer(service = "retry.panic")]
async fn panics(ctx: Context, payload: String) -> Result<(), HandlerError> {
    behave(ctx, payload).await
}

#[kafka_consumer(service = "retry.timeout")]
async fn times_out(ctx: Context, payload: String) -> Result<(), HandlerError> {
    behave(ctx, payload).await
}

/// Produces `payloads` in order to a fresh one-partition topic served by
/// `service`, waits until `last` is handled, and returns the topic.
async fn run(service: &str, tune: impl FnOnce(Service) -> Service, payloads: &[&str]) -> String {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name(&service.replace('.', "-"));
    broker.create_topic(&topic, 1).await.unwrap();
    let config = config(&broker.bootstrap(), &[tune(Service::new(service, &topic))]);
    let running = start(config, &[service]);
    let producer = producer(&broker.bootstrap());
    for p in payloads {
        produce(&producer, &topic, Some(0), "k", p).await;
    }
    eventually("the last record handled", || {
        DONE.payloads(&topic).last().map(String::as_str) == payloads.last().copied()
    })
    .await;
    running.stop().await.unwrap();
    topic
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_retry_zero_retries_until_the_handler_succeeds() {
    let topic = run("retry.forever", |s| s.key("maxRetry", 0), &["fail-4", "ok"]).await;
    assert_eq!(attempts(&topic, "fail-4").len(), 5);
    assert_eq!(DONE.payloads(&topic), ["fail-4", "ok"]);
    let received: Vec<Message> = RECEIVED
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.offset == 0 && m.payload_bytes() == "fail-4")
        .cloned()
        .collect();
    assert_eq!(received.len(), 5, "{received:?}");
    for m in &received {
        assert_eq!((&*m.topic, m.partition), (topic.as_str(), 0), "{m:?}");
        assert_eq!(m, &received[0]);
        assert_eq!(m.key.as_deref(), Some(&b"k"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn negative_max_retry_never_retries() {
    let topic = run("retry.never", |s| s.key("maxRetry", -1), &["fail", "ok"]).await;
    assert_eq!(attempts(&topic, "fail").len(), 1);
    assert_eq!(DONE.payloads(&topic), ["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_retry_two_runs_at_most_three_times() {
    let topic = run(
        "retry.two",
        |s| s.key("maxRetry", 2),
        &["fail", "fail-2", "ok"],
    )
    .await;
    assert_eq!(attempts(&topic, "fail").len(), 3);
    assert_eq!(attempts(&topic, "fail-2").len(), 3);
    assert_eq!(DONE.payloads(&topic), ["fail-2", "ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_retry_interval_is_honoured() {
    let topic = run(
        "retry.interval",
        |s| s.key("maxRetry", 0).key("retryInterval", 300),
        &["fail-2"],
    )
    .await;
    let at = attempts(&topic, "fail-2");
    assert_eq!(at.len(), 3);
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(300), "retried after {gap:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_handler_is_retried_and_the_consumer_survives() {
    let topic = run("retry.panic", |s| s.key("maxRetry", 0), &["panic-2", "ok"]).await;
    assert_eq!(attempts(&topic, "panic-2").len(), 3);
    assert_eq!(DONE.payloads(&topic), ["panic-2", "ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_handler_timeout_fails_the_attempt() {
    let topic = run(
        "retry.timeout",
        |s| s.key("maxRetry", 0).timeout_ms(200),
        &["slow-1", "ok"],
    )
    .await;
    let at = attempts(&topic, "slow-1");
    assert_eq!(at.len(), 2);
    let gap = at[1] - at[0];
    // Timed out after 200 ms (not the 2 s sleep), then retried.
    assert!(
        gap >= Duration::from_millis(200) && gap < Duration::from_millis(1_900),
        "{gap:?}"
    );
    assert_eq!(DONE.payloads(&topic), ["slow-1", "ok"]);
}
