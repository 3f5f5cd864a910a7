//! The produce paths: ours (`RawProducer` from a `RuntimeHandle`, built from
//! the same YAML) and raw rdkafka producers with the same properties.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::rdkafka::error::{KafkaError, RDKafkaErrorCode};
use kafka_runtime::rdkafka::producer::{
    BaseProducer, BaseRecord, FutureProducer, FutureRecord, Producer as _,
};
use kafka_runtime::rdkafka::util::Timeout;
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::RuntimeHandle;

/// The producer service of the produce scenarios.
pub const PRODUCER: &str = "bench.producer";
/// Concurrent tasks of the awaited scenario.
pub const TASKS: u64 = 256;
const FLUSH: Duration = Duration::from_secs(300);

async fn start(yaml: &str) -> Result<(RuntimeHandle, kafka_runtime::RawProducer), String> {
    let config = Config::from_yaml_str(yaml).map_err(|e| e.to_string())?;
    let runtime = RuntimeHandle::start(Arc::new(config))
        .await
        .map_err(|e| e.to_string())?;
    let producer = runtime.producer(PRODUCER).map_err(|e| e.to_string())?;
    Ok((runtime, producer))
}

/// Ours, `async=1`: `produce` per record, then `flush`.
pub async fn ours_async(yaml: &str, count: u64, value_size: usize) -> Result<Duration, String> {
    let (runtime, producer) = start(yaml).await?;
    let value = vec![b'x'; value_size];
    let started = Instant::now();
    for _ in 0..count {
        producer
            .produce(None::<&str>, &value, Headers::new())
            .await
            .map_err(|e| e.to_string())?;
    }
    producer.flush(FLUSH).await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    runtime
        .shutdown(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    Ok(elapsed)
}

/// Raw: `BaseProducer::send` per record (polling when the queue is full),
/// then `flush`.
pub fn raw_async(
    config: &ClientConfig,
    topic: &str,
    count: u64,
    value_size: usize,
) -> Result<Duration, String> {
    let producer: BaseProducer = config.create().map_err(|e| e.to_string())?;
    let value = vec![b'x'; value_size];
    let started = Instant::now();
    for i in 0..count {
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&value)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(100));
                }
                Err((e, _)) => return Err(e.to_string()),
            }
        }
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(FLUSH).map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

/// Ours: `send_message` awaited by [`TASKS`] tasks.
pub async fn ours_awaited(
    yaml: &str,
    topic: &str,
    count: u64,
    value_size: usize,
) -> Result<Duration, String> {
    let (runtime, producer) = start(yaml).await?;
    let value: Arc<[u8]> = vec![b'x'; value_size].into();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let producer = producer.clone();
            let value = Arc::clone(&value);
            let topic = topic.to_owned();
            let n = share(count, t);
            tokio::spawn(async move {
                for _ in 0..n {
                    producer
                        .send_message(&topic, None::<&str>, &*value, Headers::new())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed();
    runtime
        .shutdown(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    Ok(elapsed)
}

/// Raw: `FutureProducer::send` awaited by [`TASKS`] tasks.
pub async fn raw_awaited(
    config: &ClientConfig,
    topic: &str,
    count: u64,
    value_size: usize,
) -> Result<Duration, String> {
    let producer: FutureProducer = config.create().map_err(|e| e.to_string())?;
    let value: Arc<[u8]> = vec![b'x'; value_size].into();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let producer = producer.clone();
            let value = Arc::clone(&value);
            let topic = topic.to_owned();
            let n = share(count, t);
            tokio::spawn(async move {
                for _ in 0..n {
                    producer
                        .send(
                            FutureRecord::<(), [u8]>::to(&topic).payload(&*value),
                            Timeout::After(Duration::from_secs(300)),
                        )
                        .await
                        .map_err(|(e, _)| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed())
}

/// Task `t`'s share of `count` records.
fn share(count: u64, t: u64) -> u64 {
    count / TASKS + u64::from(t < count % TASKS)
}
