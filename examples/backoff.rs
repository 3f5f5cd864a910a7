//! Retry backoff: `retryBackoff=exponential` with `retryMaxInterval` and
//! `retryJitter`. The handler's `Context` tells each run its number and how
//! long the engine waits before the next run if this one fails.
//!
//! `cargo run --example backoff`: embedded broker, three records the handler
//! fails on their first three runs, serve `examples/backoff.yaml` until they
//! are handled, exit.

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;

use kafka_runtime::{kafka_consumer, Context, HandlerError};

#[kafka_consumer(service = "trpc.app.server.backoff")]
async fn handle(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    if ctx.attempt() <= 3 {
        // On a failure the engine waits `next_retry_delay`, then runs again.
        println!(
            "{payload} ({}/{}@{}): run {} fails; next run in {:?}",
            raw.topic,
            raw.partition,
            raw.offset,
            ctx.attempt(),
            ctx.next_retry_delay()
        );
        return Err(HandlerError::msg("downstream unavailable"));
    }
    println!("{payload}: run {} succeeds", ctx.attempt());
    support::HANDLED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(served) = support::serve_external().await {
        return served;
    }
    let payloads: Vec<String> = (1..=3).map(|i| format!("order {i}")).collect();
    let broker = support::broker_with_records("test_topic", &payloads).await?;
    let config = support::config("backoff.yaml", &broker.bootstrap_servers())?;
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(support::handled(payloads.len()))
        .await?;
    support::check(payloads.len())
}
