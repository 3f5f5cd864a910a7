//! Non-blocking retry topics (`retryTopics=N`): a failing record leaves its
//! partition at once, runs again in `TOPIC-retry-1` ... `TOPIC-retry-N`
//! after the retry schedule's waits, then reaches the dead-letter topic.
//!
//! ```text
//! cargo run --example retry_topics                      # embedded broker
//! KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:9092 cargo run --example retry_topics
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::{kafka_consumer, Context, HandlerError};

static PAID: AtomicUsize = AtomicUsize::new(0);
static DECLINED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[kafka_consumer(service = "trpc.app.server.retry_topics")]
async fn handle(ctx: Context, payment: String) -> Result<(), HandlerError> {
    if payment == "declined" {
        DECLINED_RUNS.fetch_add(1, Ordering::SeqCst);
        println!(
            "{payment}: run {} in {} fails; next run in {:?}",
            ctx.attempt(),
            ctx.raw().topic,
            ctx.next_retry_delay()
        );
        return Err(HandlerError::msg("card declined"));
    }
    println!(
        "{payment}: paid (run {} in {})",
        ctx.attempt(),
        ctx.raw().topic
    );
    PAID.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The retry topics must exist, as large as the topic they retry.
    let _broker = kafka_rs::broker_for_example(
        &[
            ("example_payments", 1),
            ("example_payments-retry-1", 1),
            ("example_payments-retry-2", 1),
            ("example_payments.dlt", 1),
        ],
        "KAFKA_BOOTSTRAP",
    )
    .await?;
    let config = Config::from_yaml_str(include_str!("retry_topics.yaml"))?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", std::env::var("KAFKA_BOOTSTRAP")?)
        .create()?;
    for payment in ["declined", "payment 1", "payment 2", "payment 3"] {
        let record = FutureRecord::to("example_payments")
            .key("card-1")
            .payload(payment);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)?;
    }
    // The record of run 1 in the topic, then one run per retry topic.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = || PAID.load(Ordering::SeqCst) >= 3 && DECLINED_RUNS.load(Ordering::SeqCst) >= 3;
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(async move {
            while !done() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await?;
    let (paid, runs) = (
        PAID.load(Ordering::SeqCst),
        DECLINED_RUNS.load(Ordering::SeqCst),
    );
    if (paid, runs) != (3, 3) {
        return Err(format!(
            "{paid} payments and {runs} runs of the declined one, expected 3 and 3"
        )
        .into());
    }
    println!("3 payments went through while the declined one hopped twice; shut down cleanly");
    Ok(())
}
