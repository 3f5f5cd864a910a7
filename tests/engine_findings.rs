//! Engine bugs the reliability work found, each kept as the test that shows
//! it. They fail today (on consumer engine v2 too), so they are kept out of
//! `cargo test` (feature `kafka-engine-findings`, `test = false`) until the
//! consumer engine (kafka-runtime/src/consumer/) fixes them; run them with
//!
//! ```text
//! cargo test -p kafka-rs --features kafka-engine-findings --test engine_findings
//! ```
//!
//! on the mock cluster, or with `KAFKA_RS_TEST_BOOTSTRAP` set on Apache
//! Kafka. Each test's comment gives the diagnosis: what, where, why.

mod consumer_support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use consumer_support::*;
use kafka_rs::{metric_value, scrape_metrics};
use kafka_runtime::metrics;
use kafka_runtime::{kafka_consumer, HandlerError};

static LAGGING: Seen = Seen::new();

/// Everything the runtime logged at INFO and above (captured globally).
fn logs() -> String {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        logs
    });
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[kafka_consumer(service = "finding.lag")]
async fn lagging(ctx: kafka_runtime::Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    LAGGING.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// What: the consumer lag gauge does not count the records that arrive
/// while a service is paused; it stays at its value from the moment of the
/// pause (0 on the mock cluster, what the last fetch carried on Apache
/// Kafka) until the service resumes.
///
/// Where: `Poller::apply_user_pause` (kafka-runtime/src/consumer/poll.rs,
/// engine v2) pauses the assignment in librdkafka; the lag comes only from
/// librdkafka's statistics (`EngineContext::stats`, consumer/rebalance.rs,
/// into `metrics::record_consumer_stats`).
///
/// Why: librdkafka's `consumer_lag` is its cached high watermark minus the
/// committed offset, and the high watermark is refreshed only by Fetch
/// responses, which a paused partition no longer gets. The engine pauses a
/// partition the same way when its task is behind (consumer/poll.rs,
/// "partition task behind: partition paused"), so its lag should freeze
/// too exactly when the consumer falls behind (reasoned from the code, not
/// tested here). A fix: while
/// partitions are paused, query their high watermarks every statistics
/// interval (`fetch_watermarks`) and set the gauge from high minus committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_lag_counts_the_records_waiting_while_a_service_is_paused() {
    logs();
    let addr = kafka_rs::free_local_addr().unwrap();
    metrics::install_prometheus(addr).unwrap();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("finding-lag");
    broker.create_topic(&topic, 1).await.unwrap();
    let mut config = config(&broker.bootstrap(), &[Service::new("finding.lag", &topic)]);
    config.consumers[0]
        .config
        .common
        .librdkafka_overrides
        .insert("statistics.interval.ms".into(), "200".into());
    let (running, control) = start_with_control(config, &["finding.lag"], Duration::from_secs(10));
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(0), "k", "before").await;
    eventually("the first record handled", || LAGGING.count(&topic) == 1).await;
    let lag = {
        let topic = topic.clone();
        move || {
            let text = scrape_metrics(addr).unwrap();
            let labels = [
                ("service", "finding.lag"),
                ("topic", topic.as_str()),
                ("partition", "0"),
            ];
            metric_value(&text, metrics::CONSUMER_LAG, &labels)
        }
    };
    let lag_is = |wanted: f64, what: &'static str| {
        let lag = lag.clone();
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let seen = tokio::task::spawn_blocking(lag.clone()).await.unwrap();
                if seen == Some(wanted) {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{what}: consumer lag {seen:?}, expected {wanted}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    lag_is(0.0, "caught up").await;

    control.pause("finding.lag").unwrap();
    eventually("the engine applied the pause", || {
        logs().contains("consumption paused")
    })
    .await;
    for payload in ["p-1", "p-2", "p-3"] {
        produce(&producer, &topic, Some(0), "k", payload).await;
    }
    lag_is(3.0, "three records wait while the service is paused").await;
    assert_eq!(LAGGING.count(&topic), 1, "a paused service handles nothing");

    control.resume("finding.lag").unwrap();
    eventually("the records held back by the pause", || {
        LAGGING.count(&topic) == 4
    })
    .await;
    lag_is(0.0, "caught up after resuming").await;
    running.stop().await.unwrap();
}
