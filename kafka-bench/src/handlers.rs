//! The bench's `#[kafka_consumer]` handlers, one service each; every run
//! starts `serve()` for one of them (`only_services`).

use std::time::Duration;

use kafka_runtime::{kafka_consumer, HandlerError, Message};

use crate::probe::{record_latency, KEY_ORDER, PROBE};

/// Service of the no-op scenario (and the backlog consumer).
pub const NOOP: &str = "bench.noop";
/// Service of the batch scenario.
pub const BATCH: &str = "bench.batch";
/// Service of the slow-handler scenario.
pub const SLOW: &str = "bench.slow";
/// Service of the latency scenario.
pub const LATENCY: &str = "bench.latency";

/// How long the slow handler waits per message.
pub const SLOW_DELAY: Duration = Duration::from_millis(5);

#[kafka_consumer(service = "bench.noop")]
async fn noop(_msg: Message) -> Result<(), HandlerError> {
    PROBE.hit(1);
    Ok(())
}

#[kafka_consumer(service = "bench.batch", batch)]
async fn batch(msgs: Vec<Message>) -> Result<(), HandlerError> {
    PROBE.hit(msgs.len() as u64);
    Ok(())
}

#[kafka_consumer(service = "bench.slow")]
async fn slow(msg: Message) -> Result<(), HandlerError> {
    let key = msg.key.clone().unwrap_or_default();
    KEY_ORDER.begin(&key, msg.offset);
    tokio::time::sleep(SLOW_DELAY).await;
    KEY_ORDER.end(&key);
    PROBE.hit(1);
    Ok(())
}

#[kafka_consumer(service = "bench.latency")]
async fn latency(msg: Message) -> Result<(), HandlerError> {
    record_latency(msg.payload.as_deref());
    PROBE.hit(1);
    Ok(())
}
