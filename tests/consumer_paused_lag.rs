//! The consumer lag gauge while a service is paused: it counts the records
//! that wait (librdkafka's statistics alone would freeze it at its value
//! from the moment of the pause; kafka-runtime/src/consumer/lag.rs).

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

#[kafka_consumer(service = "paused.lag")]
async fn lagging(ctx: kafka_runtime::Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    LAGGING.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// Three records produced while the service is paused show as a lag of 3
/// (a paused partition gets no Fetch responses, so the engine asks for its
/// high watermark), and the lag returns to 0 once they are handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_lag_counts_the_records_waiting_while_a_service_is_paused() {
    logs();
    let addr = kafka_rs::free_local_addr().unwrap();
    metrics::install_prometheus(addr).unwrap();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("paused-lag");
    broker.create_topic(&topic, 1).await.unwrap();
    let mut config = config(&broker.bootstrap(), &[Service::new("paused.lag", &topic)]);
    config.consumers[0]
        .config
        .common
        .librdkafka_overrides
        .insert("statistics.interval.ms".into(), "200".into());
    let (running, control) = start_with_control(config, &["paused.lag"], Duration::from_secs(10));
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(0), "k", "before").await;
    eventually("the first record handled", || LAGGING.count(&topic) == 1).await;
    let lag = {
        let topic = topic.clone();
        move || {
            let text = scrape_metrics(addr).unwrap();
            let labels = [
                ("service", "paused.lag"),
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

    control.pause("paused.lag").unwrap();
    eventually("the engine applied the pause", || {
        logs().contains("consumption paused")
    })
    .await;
    for payload in ["p-1", "p-2", "p-3"] {
        produce(&producer, &topic, Some(0), "k", payload).await;
    }
    lag_is(3.0, "three records wait while the service is paused").await;
    assert_eq!(LAGGING.count(&topic), 1, "a paused service handles nothing");

    control.resume("paused.lag").unwrap();
    eventually("the records held back by the pause", || {
        LAGGING.count(&topic) == 4
    })
    .await;
    lag_is(0.0, "caught up after resuming").await;
    running.stop().await.unwrap();
}
