//! The broker a bench runs against, topic creation, filling topics, and the
//! configurations both sides share.

use std::time::{Duration, Instant};

use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use kafka_runtime::rdkafka::client::DefaultClientContext;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::error::{KafkaError, RDKafkaErrorCode};
use kafka_runtime::rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::testing::EmbeddedBroker;

/// Where the bench's topics live.
pub enum Broker {
    /// librdkafka's mock cluster, in this process.
    Embedded(EmbeddedBroker),
    /// A broker reached over the network (Apache Kafka).
    External { bootstrap: String },
}

impl Broker {
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Embedded(b) => b.bootstrap_servers(),
            Broker::External { bootstrap } => bootstrap.clone(),
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Broker::Embedded(_))
    }

    /// Creates `topic` and waits until its partitions have leaders.
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), String> {
        match self {
            Broker::Embedded(b) => b
                .create_topic(topic, partitions)
                .map_err(|e| format!("creating topic {topic}: {e}"))?,
            Broker::External { bootstrap } => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .create()
                    .map_err(|e| e.to_string())?;
                let spec = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
                let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
                for result in admin
                    .create_topics([&spec], &options)
                    .await
                    .map_err(|e| format!("creating topic {topic}: {e}"))?
                {
                    result.map_err(|(_, code)| format!("creating topic {topic}: {code}"))?;
                }
            }
        }
        let bootstrap = self.bootstrap();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || wait_for_topic(&bootstrap, &topic, partitions))
            .await
            .map_err(|e| e.to_string())?
    }
}

fn wait_for_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), String> {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(md) = probe.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            let ready = md.topics().iter().any(|t| {
                t.name() == topic
                    && t.error().is_none()
                    && t.partitions().len() == partitions as usize
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            });
            if ready {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("topic {topic} did not become ready within 30 s"))
}

/// How records of a fill are keyed and placed.
#[derive(Clone, Copy)]
pub enum Layout {
    /// No key, partition `i % partitions`.
    RoundRobin,
    /// Key `k<n>` for `n` in `0..keys` (scrambled), partition by key.
    Keys(u32),
}

/// The key index of record `i` under [`Layout::Keys`]: a fixed scramble so
/// that consecutive records rarely share a key.
pub fn key_index(i: u64, keys: u32) -> u32 {
    let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_right(29);
    (mixed % u64::from(keys)) as u32
}

/// Writes `count` records of `value_size` bytes to `topic` and checks that
/// the broker kept them all (the mock cluster drops the oldest records of a
/// partition past about 5 MB).
pub fn fill(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: u64,
    value_size: usize,
    layout: Layout,
    mut progress: impl FnMut(u64),
) -> Result<(), String> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.kbytes", "262144")
        .create()
        .map_err(|e| e.to_string())?;
    let value = vec![b'x'; value_size];
    for i in 0..count {
        let (key, partition) = match layout {
            Layout::RoundRobin => (None, (i % partitions as u64) as i32),
            Layout::Keys(keys) => {
                let k = key_index(i, keys);
                (Some(format!("k{k}")), (k % partitions as u32) as i32)
            }
        };
        loop {
            let mut record = BaseRecord::<str, [u8]>::to(topic)
                .payload(&value)
                .partition(partition);
            if let Some(key) = &key {
                record = record.key(key.as_str());
            }
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(format!("filling {topic}: {e}")),
            }
        }
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
            progress(i);
        }
    }
    producer
        .flush(Duration::from_secs(300))
        .map_err(|e| format!("flushing the fill of {topic}: {e}"))?;
    progress(count);
    let mut total = 0;
    for (p, (low, high)) in watermarks(bootstrap, topic, partitions)?
        .into_iter()
        .enumerate()
    {
        if low > 0 {
            return Err(format!(
                "the broker dropped the oldest {low} records of {topic}/{p} (the mock cluster keeps about 5 MB per partition): lower the message count or use more partitions"
            ));
        }
        total += high;
    }
    if (total as u64) < count {
        tracing_free_warn(&format!(
            "{topic}: the broker reports {total} records, {count} were written"
        ));
    }
    Ok(())
}

fn tracing_free_warn(message: &str) {
    eprintln!("kafka-bench: warning: {message}");
}

/// A consumer service `name` on `topic` with a fresh `group`; `extra` is
/// appended to the address (`&key=value...`).
pub fn consumer_yaml(name: &str, bootstrap: &str, topic: &str, group: &str, extra: &str) -> String {
    format!(
        "server:\n  service:\n    - name: {name}\n      address: {bootstrap}?topics={topic}&group={group}&initial=oldest{extra}\n      protocol: kafka\n"
    )
}

/// A producer service `name` writing to `topic`; `extra` is appended to the target.
pub fn producer_yaml(name: &str, bootstrap: &str, topic: &str, extra: &str) -> String {
    format!(
        "client:\n  service:\n    - name: {name}\n      target: kafka://{bootstrap}?topic={topic}{extra}\n"
    )
}

/// The librdkafka properties our mapping layer gives consumer `name` of
/// `yaml`: the raw baseline uses exactly these.
pub fn consumer_properties(yaml: &str, name: &str) -> Result<ClientConfig, String> {
    let config = Config::from_yaml_str(yaml).map_err(|e| e.to_string())?;
    let service = config
        .consumer(name)
        .ok_or_else(|| format!("no consumer service {name}"))?;
    let mut props = service.config.client_config();
    // What the runtime's consumer engine adds to the mapping (besides its
    // statistics interval and log routing): the raw baseline gets it too.
    for (key, value) in ENGINE_DEFAULTS {
        if props.get(key).is_none() {
            props.set(key, value);
        }
    }
    Ok(props)
}

/// The librdkafka properties the runtime's consumer engine sets unless the
/// configuration does (kafka-runtime `consumer::engine_defaults`):
/// `fetch.queue.backoff.ms` and `queued.max.messages.kbytes`.
pub const ENGINE_DEFAULTS: [(&str, &str); 2] = [
    ("fetch.queue.backoff.ms", "10"),
    ("queued.max.messages.kbytes", "4096"),
];

/// The librdkafka properties our mapping layer gives producer `name` of `yaml`.
pub fn producer_properties(yaml: &str, name: &str) -> Result<ClientConfig, String> {
    let config = Config::from_yaml_str(yaml).map_err(|e| e.to_string())?;
    let service = config
        .producer(name)
        .ok_or_else(|| format!("no producer service {name}"))?;
    Ok(service.config.client_config())
}

/// The (low, high) watermarks of each of `topic`'s first `partitions` partitions.
pub fn watermarks(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<(i64, i64)>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {topic}/{p}: {e}"))
        })
        .collect()
}
