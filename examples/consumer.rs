//! The seed's `examples/consumer`: one handler for one Kafka service.
//!
//! `cargo run --example consumer` starts an embedded broker, writes a few
//! records, serves `examples/consumer.yaml` until they are handled, and exits.
//! In a real service `main` is just `kafka_runtime::serve().await` (which
//! reads `trpc_go.yaml` and stops on SIGINT/SIGTERM); with
//! `KAFKA_RS_EXAMPLE_CONFIG=path/trpc_go.yaml` set, the example is that
//! service (the interop tests run it with the plugin's own example YAML).
//! The service name is the plugin example's (its handler's default service).

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;

use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

/// Only `Ok` confirms a record; an `Err` is retried after `retryInterval`
/// (3 s by default), so keep handlers idempotent.
#[kafka_consumer(service = "trpc.kafka.consumer.service")]
async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    println!(
        "[{}] {}/{}@{}: key={:?} value={}",
        ctx.service(),
        msg.topic,
        msg.partition,
        msg.offset,
        msg.key.as_deref().map(String::from_utf8_lossy),
        String::from_utf8_lossy(&msg.payload_bytes()),
    );
    support::HANDLED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(served) = support::serve_external().await {
        return served;
    }
    let payloads: Vec<String> = (1..=5).map(|i| format!("hello {i}")).collect();
    let broker = support::broker_with_records("test_topic", &payloads).await?;
    let config = support::config("consumer.yaml", &broker.bootstrap_servers())?;
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(support::handled(payloads.len()))
        .await?;
    support::check(payloads.len())
}
