//! The Prometheus endpoint after a known workload: handled, retried, failed
//! and dead-lettered counts, handler latency samples and consumer lag, scraped over HTTP.

mod consumer_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use consumer_support::*;
use kafka_rs::{metric_value, scrape_metrics};
use kafka_runtime::metrics;
use kafka_runtime::{kafka_consumer, HandlerError};

static HANDLED: Seen = Seen::new();
static FLAKY_FAILED: AtomicBool = AtomicBool::new(false);

/// "bad" always fails; "flaky" fails once, then succeeds.
#[kafka_consumer(service = "obs.metrics")]
async fn measured(ctx: kafka_runtime::Context, payload: String) -> Result<(), HandlerError> {
    match payload.as_str() {
        "bad" => return Err(HandlerError::msg("bad never succeeds")),
        "flaky" if !FLAKY_FAILED.swap(true, Ordering::SeqCst) => {
            return Err(HandlerError::msg("flaky fails once"))
        }
        _ => {}
    }
    let raw = ctx.raw();
    HANDLED.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_endpoint_counts_a_known_workload() {
    init_logs();
    let addr = kafka_rs::free_local_addr().unwrap();
    metrics::install_prometheus(addr).unwrap();

    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("obs-metrics");
    broker.create_topic(&topic, 1).await.unwrap();
    let dead_letters = unique_name("obs-metrics-dlt");
    broker.create_topic(&dead_letters, 1).await.unwrap();
    // maxRetry=1: at most two runs per message; "bad" then goes to the
    // dead-letter topic.
    let service = Service::new("obs.metrics", &topic)
        .key("maxRetry", 1)
        .key("deadLetterTopic", &dead_letters);
    let mut config = config(&broker.bootstrap(), &[service]);
    config.consumers[0]
        .config
        .common
        .librdkafka_overrides
        .insert("statistics.interval.ms".into(), "200".into());
    let running = start(config, &["obs.metrics"]);

    let producer = producer(&broker.bootstrap());
    for payload in ["a", "flaky", "b", "bad", "c"] {
        produce(&producer, &topic, Some(0), "k", payload).await;
    }
    let labels = [("service", "obs.metrics"), ("topic", topic.as_str())];
    let scrape = move || async move {
        tokio::task::spawn_blocking(move || scrape_metrics(addr))
            .await
            .unwrap()
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let text = loop {
        let text = scrape().await;
        let handled = metric_value(&text, metrics::MESSAGES_HANDLED, &labels);
        let failed = metric_value(&text, metrics::MESSAGES_FAILED, &labels);
        let dead = metric_value(&text, metrics::MESSAGES_DEAD_LETTERED, &labels);
        if handled == Some(4.0) && failed == Some(1.0) && dead == Some(1.0) {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "workload not counted in time:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(HANDLED.count(&topic), 4);
    let value = |name: &str| metric_value(&text, name, &labels);
    assert_eq!(value(metrics::MESSAGES_HANDLED), Some(4.0), "{text}");
    assert_eq!(value(metrics::MESSAGES_FAILED), Some(1.0), "{text}");
    // "flaky" once, "bad" once (then given up).
    assert_eq!(value(metrics::MESSAGES_RETRIED), Some(2.0), "{text}");
    assert_eq!(value(metrics::MESSAGES_DEAD_LETTERED), Some(1.0), "{text}");
    // Every attempt is timed: 3 + 2 (flaky) + 2 (bad).
    let count = format!("{}_count", metrics::HANDLER_DURATION);
    assert_eq!(value(&count), Some(7.0), "{text}");
    let bucket = format!("{}_bucket", metrics::HANDLER_DURATION);
    assert_eq!(
        metric_value(&text, &bucket, &[labels[0], labels[1], ("le", "+Inf")]),
        Some(7.0),
        "{text}"
    );
    assert!(text.contains(&format!("# TYPE {} counter", metrics::MESSAGES_HANDLED)));

    // Every record is handled and committed, so once librdkafka's
    // statistics report the committed offset the lag is 0.
    let lag_labels = [labels[0], labels[1], ("partition", "0")];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = scrape().await;
        if metric_value(&text, metrics::CONSUMER_LAG, &lag_labels) == Some(0.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer lag 0 not reported:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await.unwrap();

    // Producer deliveries: two acknowledged records of a `client.service[]`.
    let yaml = format!(
        "client:\n  service:\n    - name: obs.metrics.producer\n      \
         target: kafka://{}?topic={topic}\n",
        broker.bootstrap()
    );
    let config = kafka_runtime::config::Config::from_yaml_str(&yaml).unwrap();
    let runtime = kafka_runtime::RuntimeHandle::start(std::sync::Arc::new(config))
        .await
        .unwrap();
    let producer = runtime.producer("obs.metrics.producer").unwrap();
    for value in ["p1", "p2"] {
        producer
            .send_message(&topic, "k", value, kafka_runtime::producer::Headers::new())
            .await
            .unwrap();
    }
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();
    let text = scrape().await;
    let labels = [
        ("service", "obs.metrics.producer"),
        ("topic", topic.as_str()),
    ];
    let value = |name: &str| metric_value(&text, name, &labels);
    assert_eq!(value(metrics::PRODUCER_DELIVERED), Some(2.0), "{text}");
    assert_eq!(value(metrics::PRODUCER_DELIVERY_ERRORS), None, "{text}");
    let count = format!("{}_count", metrics::PRODUCER_DELIVERY_DURATION);
    assert_eq!(value(&count), Some(2.0), "{text}");
}
