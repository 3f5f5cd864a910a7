//! Per-record outcomes of a batch handler: it returns a
//! `kafka_runtime::BatchError` naming the records that failed; only those
//! run again (`maxRetry`) and are dead-lettered (`deadLetterTopic`), the
//! rest of the batch is committed.
//!
//! `cargo run --example batch_outcomes`: embedded broker, ten orders of
//! which one is always refused, serve `examples/batch_outcomes.yaml` until
//! the nine good ones are handled and the refused one has run twice, exit.

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use kafka_runtime::{kafka_consumer, BatchError, Context, HandlerError};

/// Runs on the refused order.
static REFUSED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: u32,
    quantity: u32,
}

#[kafka_consumer(service = "trpc.app.server.batch_outcomes", batch)]
async fn handle(ctx: Context, orders: Vec<Order>) -> Result<(), BatchError> {
    println!(
        "run {} on a batch of {}: ids {:?}",
        ctx.attempt(),
        orders.len(),
        orders.iter().map(|o| o.id).collect::<Vec<_>>()
    );
    let mut failed = BatchError::new();
    for (i, order) in orders.iter().enumerate() {
        if order.quantity == 0 {
            REFUSED_RUNS.fetch_add(1, Ordering::SeqCst);
            failed.fail(
                i,
                HandlerError::msg(format!("order {} has no quantity", order.id)),
            );
        } else {
            support::HANDLED.fetch_add(1, Ordering::SeqCst);
        }
    }
    failed.into_result()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(served) = support::serve_external().await {
        return served;
    }
    let payloads: Vec<String> = (1..=10)
        .map(|id| {
            format!(
                r#"{{"id":{id},"quantity":{}}}"#,
                if id == 4 { 0 } else { id }
            )
        })
        .collect();
    let broker = support::broker_with_records("test_topic", &payloads).await?;
    broker.create_topic("test_topic.dlt", 1)?;
    let config = support::config("batch_outcomes.yaml", &broker.bootstrap_servers())?;
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(async {
            support::handled(9).await;
            // maxRetry=1: the refused order runs twice, then is dead-lettered.
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            while REFUSED_RUNS.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await?;
    let refused_runs = REFUSED_RUNS.load(Ordering::SeqCst);
    println!("order 4 ran {refused_runs} times");
    if refused_runs != 2 {
        return Err(format!("order 4 ran {refused_runs} times, not 2").into());
    }
    support::check(9)
}
