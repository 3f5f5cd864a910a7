//! The two consumer paths every consume scenario times: ours (`serve()` with
//! a `#[kafka_consumer]` handler) and the raw `BaseConsumer` poll loop with
//! the same librdkafka properties and the same commit discipline (offset
//! stored after each handled message or batch, auto-commit).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::message::{BorrowedMessage, Message as _};
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::probe::{record_latency, Span, PROBE};

/// Runs `service` of `yaml` with `serve()` until `target` messages were
/// handled (or `deadline`); `ready` is set when partitions are assigned.
pub async fn ours(
    yaml: String,
    service: &'static str,
    target: u64,
    deadline: Instant,
    ready: Option<Arc<AtomicBool>>,
) -> Result<Span, String> {
    PROBE.reset(target);
    let mut serve = kafka_runtime::serve()
        .config_yaml(yaml)
        .only_services([service])
        .shutdown_timeout(Duration::from_secs(10))
        .with_graceful_shutdown(async move { PROBE.wait(deadline).await });
    if let Some(ready) = ready {
        serve = serve.on_partitions_assigned(move |_| ready.store(true, Ordering::SeqCst));
    }
    serve.await.map_err(|e| e.to_string())?;
    PROBE.span()
}

/// What the raw loop does with each record.
#[derive(Clone, Copy)]
pub enum RawWork {
    /// Nothing, then store the offset.
    Noop,
    /// Record the end-to-end latency, then store the offset.
    Latency,
    /// Collect `n` records, then store the offsets of the batch.
    Batch(usize),
}

/// The hand-written baseline: poll, handle, store the offset.
pub fn raw(
    config: ClientConfig,
    topic: &str,
    target: u64,
    deadline: Instant,
    work: RawWork,
    ready: Option<Arc<AtomicBool>>,
) -> Result<Span, String> {
    PROBE.reset(target);
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    consumer.subscribe(&[topic]).map_err(|e| e.to_string())?;
    let mut batch: Vec<BorrowedMessage<'_>> = Vec::new();
    while !PROBE.done() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            None => {
                if let Some(ready) = &ready {
                    if !ready.load(Ordering::Relaxed)
                        && consumer.assignment().is_ok_and(|a| a.count() > 0)
                    {
                        ready.store(true, Ordering::SeqCst);
                    }
                }
            }
            Some(Err(e)) => eprintln!("kafka-bench: raw consumer error: {e}"),
            Some(Ok(m)) => match work {
                RawWork::Noop => {
                    PROBE.hit(1);
                    consumer
                        .store_offset_from_message(&m)
                        .map_err(|e| e.to_string())?;
                }
                RawWork::Latency => {
                    record_latency(m.payload());
                    PROBE.hit(1);
                    consumer
                        .store_offset_from_message(&m)
                        .map_err(|e| e.to_string())?;
                }
                RawWork::Batch(size) => {
                    batch.push(m);
                    if batch.len() >= size {
                        store_batch(&consumer, &batch)?;
                        PROBE.hit(batch.len() as u64);
                        batch.clear();
                    }
                }
            },
        }
    }
    drop(batch);
    PROBE.span()
}

/// Stores, per partition, the offset after the last record of `batch`.
fn store_batch(consumer: &BaseConsumer, batch: &[BorrowedMessage<'_>]) -> Result<(), String> {
    let mut last: HashMap<(&str, i32), i64> = HashMap::new();
    for m in batch {
        let e = last.entry((m.topic(), m.partition())).or_insert(m.offset());
        *e = (*e).max(m.offset());
    }
    let mut tpl = TopicPartitionList::with_capacity(last.len());
    for ((topic, partition), offset) in last {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset + 1))
            .map_err(|e| e.to_string())?;
    }
    consumer.store_offsets(&tpl).map_err(|e| e.to_string())
}
