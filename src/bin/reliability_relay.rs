//! A service that relays what it consumes through an asynchronous producer,
//! for the test that SIGTERMs it: every record handled was only queued in
//! the producer (`async=1`, `flushFrequency=10000`: librdkafka lingers up to
//! 10 s before sending), so only `serve()`'s flush at shutdown can deliver
//! it before the process exits.
//!
//! Each record handed to the producer is a line
//! `D <run> <topic> <partition> <offset> <unix-ms>` in the record file (see
//! `reliability_consumer.rs` for its durability), written after `produce`
//! returned.
//!
//! Environment (all required): `RELIABILITY_BOOTSTRAP`, `RELIABILITY_TOPIC`
//! (consumed), `RELIABILITY_RELAY_TOPIC` (produced to, the consumed record's
//! key and value), `RELIABILITY_GROUP`, `RELIABILITY_RECORD`,
//! `RELIABILITY_RUN`. It stops on SIGTERM/SIGINT (serve()'s default signals)
//! and exits 0.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Message, RawProducer};

struct Record {
    file: File,
    run: String,
}

static RECORD: OnceLock<Record> = OnceLock::new();

#[kafka_producer(service = "reliability.relay.out")]
struct Out(RawProducer);

#[kafka_consumer(service = "reliability.relay")]
async fn relay(msg: Message, out: Out) -> Result<(), HandlerError> {
    out.0
        .produce(
            msg.key.as_deref().map(<[u8]>::to_vec),
            msg.payload_bytes(),
            Headers::new(),
        )
        .await?;
    let record = RECORD.get().expect("set before serving");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let line = format!(
        "D {} {} {} {} {now}\n",
        record.run, msg.topic, msg.partition, msg.offset
    );
    // One write call per line: an O_APPEND write is placed atomically.
    (&record.file)
        .write_all(line.as_bytes())
        .map_err(HandlerError::new)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} must be set"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = env("RELIABILITY_BOOTSTRAP")?;
    let topic = env("RELIABILITY_TOPIC")?;
    let relay_topic = env("RELIABILITY_RELAY_TOPIC")?;
    let group = env("RELIABILITY_GROUP")?;
    let yaml = format!(
        "server:\n  service:\n    - name: reliability.relay\n      address: {bootstrap}?topics={topic}&group={group}&initial=oldest\n      protocol: kafka\n      timeout: 10000\n\
         client:\n  service:\n    - name: reliability.relay.out\n      target: kafka://{bootstrap}?topic={relay_topic}&async=1&flushFrequency=10000&compression=none\n"
    );
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(env("RELIABILITY_RECORD")?)?;
    let run = env("RELIABILITY_RUN")?;
    if RECORD.set(Record { file, run }).is_err() {
        unreachable!("set once");
    }
    kafka_runtime::serve()
        .config_yaml(yaml)
        .shutdown_timeout(Duration::from_secs(20))
        .await?;
    Ok(())
}
