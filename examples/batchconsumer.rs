//! The seed's `examples/batchconsumer`: a batch handler. The service's
//! address must set `batch=N`; `batchFlush` hands over a partial batch.
//!
//! `cargo run --example batchconsumer`: embedded broker, a few JSON records,
//! serve `examples/batchconsumer.yaml` until they are handled, exit.

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;

use kafka_runtime::{kafka_consumer, Context, HandlerError};

// `JsonSchema` gives the type its schema in the application's AsyncAPI
// document (`KAFKA_RS_ASYNCAPI=path.json`).
/// A typed payload: records are decoded from JSON; one that does not decode
/// is logged and skipped.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Order {
    id: u32,
    item: String,
}

/// `Err` retries the whole batch; `Ok` commits through its last record.
#[kafka_consumer(service = "trpc.app.server.batchconsumer", batch)]
async fn handle(ctx: Context, orders: Vec<Order>) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    println!(
        "batch of {} from {}/{} offsets {}..={}: {:?}",
        orders.len(),
        raw.topic,
        raw.partition,
        raw.offset,
        raw.last_offset,
        orders
            .iter()
            .map(|o| (o.id, o.item.as_str()))
            .collect::<Vec<_>>()
    );
    support::HANDLED.fetch_add(orders.len(), Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(served) = support::serve_external().await {
        return served;
    }
    let payloads: Vec<String> = (1..=10)
        .map(|i| format!(r#"{{"id":{i},"item":"book {i}"}}"#))
        .collect();
    let broker = support::broker_with_records("test_topic", &payloads).await?;
    let config = support::config("batchconsumer.yaml", &broker.bootstrap_servers())?;
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(support::handled(payloads.len()))
        .await?;
    support::check(payloads.len())
}
