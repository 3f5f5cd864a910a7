//! The seed's `producer_ex` example: a native rdkafka record (the seed's
//! `SendSaramaMessage`) and asynchronous sends whose outcome reaches
//! success/error callbacks (seed Q10). Shutdown flushes, so every callback
//! has run when it returns.
//!
//! ```text
//! cargo run --example producer_ex                   # embedded broker
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::producer::{set_async_callbacks, AsyncCallbacks, Headers};
use kafka_runtime::rdkafka::message::{Header, OwnedHeaders};
use kafka_runtime::rdkafka::producer::FutureRecord;
use kafka_runtime::{kafka_producer, Inject, RawProducer, RuntimeHandle};

#[kafka_producer(service = "trpc.app.server.producer_ex")]
struct Events(RawProducer);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _broker = kafka_rs::broker_for_example(&[("example_events", 2)], "KAFKA_BOOTSTRAP").await?;

    // The seed's `kafka.AsyncProducerSuccCallback` / `AsyncProducerErrorCallback`.
    let succeeded = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (ok, err) = (Arc::clone(&succeeded), Arc::clone(&failed));
    set_async_callbacks(
        AsyncCallbacks::new()
            .on_success(move |record, delivered| {
                ok.fetch_add(1, Ordering::SeqCst);
                println!(
                    "async ok: {} bytes to {}[{}]@{}",
                    record.value.len(),
                    record.topic,
                    delivered.partition,
                    delivered.offset
                );
            })
            .on_error(move |error, record| {
                err.fetch_add(1, Ordering::SeqCst);
                println!("async error for {}: {error}", record.topic);
            }),
    );

    let config = Config::from_yaml_str(include_str!("producer_ex.yaml"))?;
    let runtime = RuntimeHandle::start(Arc::new(config)).await?;
    let Events(events) = Events::inject(&runtime)?;

    // A native record: partition, timestamp and headers as built.
    let record = FutureRecord::to("example_events")
        .partition(1)
        .key("native")
        .payload("a native rdkafka record")
        .headers(OwnedHeaders::new().insert(Header {
            key: "kind",
            value: Some("native"),
        }));
    let delivered = events.send_record(record).await?;
    println!(
        "native record at partition {} offset {}",
        delivered.partition, delivered.offset
    );

    // Asynchronous sends: each outcome reaches one callback.
    for i in 0..5 {
        events
            .async_send_message(
                "example_events",
                format!("k{i}"),
                format!("event {i}"),
                Headers::new(),
            )
            .await?;
    }
    // Larger than maxMessageBytes=10000: reported to the error callback.
    events
        .async_send_message("example_events", "big", vec![b'x'; 20_000], Headers::new())
        .await?;

    runtime.shutdown(Duration::from_secs(10)).await?;
    let (ok, err) = (
        succeeded.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
    );
    println!("callbacks: {ok} succeeded, {err} failed");
    if (ok, err) != (5, 1) {
        return Err(format!("expected 5 successes and 1 failure, got {ok} and {err}").into());
    }
    Ok(())
}
