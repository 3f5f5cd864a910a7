//! Retry backoff on a real broker (`retryBackoff`, `retryMaxInterval`,
//! `retryJitter`): the waits between the runs of a failing handler follow
//! the schedule, and the handler's `Context` tells each run its number and
//! the wait that follows its failure.

mod consumer_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError};

/// Every run: (topic, when, attempt, next retry delay).
type Run = (String, Instant, u32, Option<Duration>);
static RUNS: Mutex<Vec<Run>> = Mutex::new(Vec::new());
static DONE: Seen = Seen::new();

/// Fails every run on `fail`; anything else succeeds.
async fn record(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    RUNS.lock().unwrap().push((
        topic.clone(),
        Instant::now(),
        ctx.attempt(),
        ctx.next_retry_delay(),
    ));
    if payload == "fail" {
        return Err(HandlerError::msg("failing on purpose"));
    }
    DONE.push(&topic, ctx.raw().partition, ctx.raw().offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "backoff.exponential")]
async fn exponential(ctx: Context, payload: String) -> Result<(), HandlerError> {
    record(ctx, payload).await
}

#[kafka_consumer(service = "backoff.jitter")]
async fn jitter(ctx: Context, payload: String) -> Result<(), HandlerError> {
    record(ctx, payload).await
}

fn runs(topic: &str) -> Vec<(Instant, u32, Option<Duration>)> {
    RUNS.lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| t == topic)
        .map(|(_, at, attempt, next)| (*at, *attempt, *next))
        .collect()
}

/// Serves `["fail", "ok"]` on a fresh topic until `ok` is handled.
async fn run(service: &str, tune: impl FnOnce(Service) -> Service) -> String {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name(&service.replace('.', "-"));
    broker.create_topic(&topic, 1).await.unwrap();
    let config = config(&broker.bootstrap(), &[tune(Service::new(service, &topic))]);
    let running = start(config, &[service]);
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(0), "k", "fail").await;
    produce(&producer, &topic, Some(0), "k", "ok").await;
    eventually("the record after the failing one", || {
        DONE.payloads(&topic) == ["ok"]
    })
    .await;
    running.stop().await.unwrap();
    topic
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Whether `gap` is within 10% of `scheduled`.
fn within_ten_percent(gap: Duration, scheduled: Duration) -> bool {
    let tolerance = scheduled / 10;
    gap + tolerance >= scheduled && gap <= scheduled + tolerance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exponential_waits_double_up_to_the_cap_within_ten_percent() {
    let topic = run("backoff.exponential", |s| {
        s.key("maxRetry", 5)
            .key("retryInterval", 500)
            .key("retryBackoff", "exponential")
            .key("retryMaxInterval", 4_000)
    })
    .await;
    let runs = runs(&topic);
    // The failing record runs 6 times (maxRetry=5), then `ok` once.
    let attempts: Vec<u32> = runs.iter().map(|r| r.1).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6, 1]);
    let told: Vec<Option<Duration>> = runs.iter().map(|r| r.2).collect();
    // Long enough that 10% (at least 50 ms) is above a loaded machine's
    // wake-up latency.
    let schedule = [ms(500), ms(1_000), ms(2_000), ms(4_000), ms(4_000)];
    let mut expected: Vec<Option<Duration>> = schedule.iter().copied().map(Some).collect();
    // The last run's failure gives up; `ok` could be retried after 500 ms.
    expected.extend([None, Some(ms(500))]);
    assert_eq!(told, expected);
    let gaps: Vec<Duration> = runs[..6].windows(2).map(|w| w[1].0 - w[0].0).collect();
    eprintln!("exponential backoff: scheduled {schedule:?}, measured {gaps:?}");
    for (gap, scheduled) in gaps.iter().zip(schedule) {
        assert!(
            within_ten_percent(*gap, scheduled),
            "waited {gap:?} where the schedule says {scheduled:?}; all gaps: {gaps:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jitter_shortens_each_wait_by_at_most_its_share_and_context_tells_the_drawn_wait() {
    let topic = run("backoff.jitter", |s| {
        s.key("maxRetry", 4)
            .key("retryInterval", 1_000)
            .key("retryJitter", 50)
    })
    .await;
    let runs = runs(&topic);
    assert_eq!(runs.len(), 6, "5 runs of the failing record, 1 of `ok`");
    let told: Vec<Duration> = runs[..4]
        .iter()
        .map(|r| r.2.expect("a retry follows"))
        .collect();
    assert_eq!(runs[4].2, None, "the 5th run's failure gives up");
    for (i, wait) in told.iter().enumerate() {
        assert!(
            *wait >= ms(500) && *wait <= ms(1_000),
            "wait {i} drawn as {wait:?}, outside 50%..100% of 1 s: {told:?}"
        );
        let gap = runs[i + 1].0 - runs[i].0;
        assert!(
            within_ten_percent(gap, *wait),
            "waited {gap:?} where the context said {wait:?}"
        );
    }
    assert!(
        told.windows(2).any(|w| w[0] != w[1]),
        "four draws all equal: {told:?}"
    );
}
