//! The seed's `examples/consumer_with_mulit_service` (sic): two Kafka
//! services in one process, each bound to its own handler by name. Both
//! groups read the same topic, so every record is handled twice, once per
//! service.
//!
//! `cargo run --example consumer_with_mulit_service`; with
//! `KAFKA_RS_EXAMPLE_CONFIG=path/trpc_go.yaml` it serves that file until
//! SIGINT/SIGTERM instead, as a real service does.

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;

use kafka_runtime::{kafka_consumer, Context, HandlerError};

#[kafka_consumer(service = "trpc.databaseDemo.kafka.consumer1")]
async fn consumer1(ctx: Context, text: String) -> Result<(), HandlerError> {
    println!("consumer1 ({}): {text}", ctx.raw().group);
    support::HANDLED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[kafka_consumer(service = "trpc.databaseDemo.kafka.consumer2")]
async fn consumer2(ctx: Context, text: String) -> Result<(), HandlerError> {
    println!("consumer2 ({}): {text}", ctx.raw().group);
    support::HANDLED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(served) = support::serve_external().await {
        return served;
    }
    let payloads: Vec<String> = (1..=3).map(|i| format!("message {i}")).collect();
    let broker = support::broker_with_records("test_topic", &payloads).await?;
    let config = support::config(
        "consumer_with_mulit_service.yaml",
        &broker.bootstrap_servers(),
    )?;
    let expected = 2 * payloads.len();
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(support::handled(expected))
        .await?;
    support::check(expected)
}
