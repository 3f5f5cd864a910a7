//! Metrics: a consumer service on a broker embedded in the process, with the
//! Prometheus endpoint of `kafka-runtime`'s `prometheus` feature. Nothing to
//! install:
//!
//! ```text
//! cargo run --example metrics
//! ```
//!
//! It serves the endpoint on a loopback port, produces a few records (one of
//! which the handler fails once, so it is retried), waits until the endpoint
//! counts them all, prints the runtime's metrics as Prometheus shows them
//! and shuts down. In an application the two calls that matter are
//! `kafka_runtime::metrics::install_prometheus(addr)` before `serve()`, and
//! a scrape job pointed at `addr`.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kafka_runtime::metrics;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::testing::EmbeddedBroker;
use kafka_runtime::{kafka_consumer, HandlerError};

const TOPIC: &str = "metrics.orders";
const SERVICE: &str = "trpc.metrics.server.orders";
const TIMEOUT: Duration = Duration::from_secs(30);

const TRPC_GO_YAML: &str = r#"
server:
  service:
    - name: trpc.metrics.server.orders
      address: {brokers}?topics=metrics.orders&group=metrics&initial=oldest&retryInterval=10
      protocol: kafka
"#;

static FAILED_ONCE: AtomicBool = AtomicBool::new(false);

#[kafka_consumer(service = "trpc.metrics.server.orders")]
async fn handle(order: String) -> Result<(), HandlerError> {
    if order == "order-2" && !FAILED_ONCE.swap(true, Ordering::SeqCst) {
        return Err(HandlerError::msg("a transient failure, retried"));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = kafka_rs::free_local_addr()?;
    metrics::install_prometheus(addr)?;
    println!("metrics at http://{addr}/metrics");

    let broker = EmbeddedBroker::start()?;
    broker.create_topic(TOPIC, 1)?;
    let yaml = TRPC_GO_YAML.replace("{brokers}", &broker.bootstrap_servers());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(
        kafka_runtime::serve()
            .config_yaml(yaml)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .create()?;
    for i in 1..=3 {
        let payload = format!("order-{i}");
        producer
            .send(
                FutureRecord::<str, str>::to(TOPIC).payload(&payload),
                TIMEOUT,
            )
            .await
            .map_err(|(e, _)| e)?;
    }

    let labels = [("service", SERVICE), ("topic", TOPIC)];
    let deadline = Instant::now() + TIMEOUT;
    let text = loop {
        let text = tokio::task::spawn_blocking(move || kafka_rs::scrape_metrics(addr)).await??;
        if kafka_rs::metric_value(&text, metrics::MESSAGES_HANDLED, &labels) == Some(3.0) {
            break text;
        }
        if Instant::now() > deadline {
            return Err(format!("the 3 orders were not counted in time:\n{text}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in text.lines().filter(|l| l.contains("kafka_")) {
        println!("{line}");
    }
    let retried = kafka_rs::metric_value(&text, metrics::MESSAGES_RETRIED, &labels);
    if retried != Some(1.0) {
        return Err(format!("expected 1 retry, the endpoint says {retried:?}").into());
    }

    let _ = stop.send(());
    serve.await??;
    println!("handled 3 orders (one retried once); metrics scraped from the endpoint");
    Ok(())
}

use std::future::IntoFuture;
