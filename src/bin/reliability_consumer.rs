//! The consumer service the reliability tests kill, restart and stop:
//! one `#[kafka_consumer]` handler served by `kafka_runtime::serve()` in a
//! process of its own, so that a test can SIGKILL or SIGTERM it.
//!
//! Every handled record is appended to a durable record file as one line
//! `D <run> <topic> <partition> <offset> <unix-ms>` before the handler returns
//! `Ok` (and a line `S ...` when the handler starts), so the file lists
//! everything the engine may have committed. Each partition the group gives
//! this process is a line `A <run> <topic> <partition> -1 <unix-ms>`, each it
//! takes away (after its handled offsets were committed) `R ...`.
//!
//! Durability: each line is one `write(2)` on a file opened with `O_APPEND`,
//! unbuffered. Once `write` returns the bytes belong to the kernel's page
//! cache, which a killed process cannot lose; only a machine crash could,
//! and the tests kill processes, not machines, so no `fsync` per record is
//! needed (it would cap the handler at the disk's sync rate and measure the
//! disk rather than the engine). Appends of whole lines never interleave.
//!
//! Environment (all required unless a default is given):
//! - `RELIABILITY_BOOTSTRAP`: the broker list;
//! - `RELIABILITY_TOPIC`, `RELIABILITY_GROUP`: what to consume, as which group;
//! - `RELIABILITY_RECORD`: the record file;
//! - `RELIABILITY_RUN`: an id for this process in the record file;
//! - `RELIABILITY_COMMIT_INTERVAL_MS` (default 1000): how often stored
//!   offsets are committed; this bounds the duplicates after a SIGKILL;
//! - `RELIABILITY_HANDLER_DELAY_MS` (default 0): how long a handler works;
//! - `RELIABILITY_SESSION_TIMEOUT_MS` (default 6000).
//!
//! It stops cleanly on SIGTERM/SIGINT (serve()'s default signals) and exits 0.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_runtime::config::Config;
use kafka_runtime::{kafka_consumer, HandlerError, Message, PartitionsEvent};

/// The service name in the generated configuration.
const SERVICE: &str = "reliability.consumer";

struct Record {
    file: File,
    run: String,
    delay: Duration,
}

static RECORD: OnceLock<Record> = OnceLock::new();

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} must be set"))
}

fn env_ms(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a number of milliseconds, got {v:?}")),
        Err(_) => Ok(default),
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn append(kind: char, msg: &Message) -> Result<(), HandlerError> {
    write_line(kind, &msg.topic, msg.partition, msg.offset).map_err(HandlerError::new)
}

fn write_line(kind: char, topic: &str, partition: i32, offset: i64) -> std::io::Result<()> {
    let record = RECORD.get().expect("set before serving");
    let line = format!(
        "{kind} {} {topic} {partition} {offset} {}\n",
        record.run,
        now_ms()
    );
    // One write call per line: an O_APPEND write is placed atomically.
    (&record.file).write_all(line.as_bytes())
}

/// Writes an `A` or `R` line per partition of `event`.
fn partitions_changed(kind: char, event: &PartitionsEvent) {
    for (topic, partition) in &event.partitions {
        if let Err(e) = write_line(kind, topic, *partition, -1) {
            eprintln!("reliability_consumer: cannot write the record file: {e}");
        }
    }
}

#[kafka_consumer(service = "reliability.consumer")]
async fn handle(msg: Message) -> Result<(), HandlerError> {
    append('S', &msg)?;
    let delay = RECORD.get().expect("set before serving").delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    append('D', &msg)
}

fn config() -> Result<Config, String> {
    let bootstrap = env("RELIABILITY_BOOTSTRAP")?;
    let topic = env("RELIABILITY_TOPIC")?;
    let group = env("RELIABILITY_GROUP")?;
    let session = env_ms("RELIABILITY_SESSION_TIMEOUT_MS", 6_000)?;
    let yaml = format!(
        "server:\n  service:\n    - name: {SERVICE}\n      address: {bootstrap}?topics={topic}&group={group}&initial=oldest&maxRetry=0&retryInterval=50&groupSessionTimeout={session}\n      protocol: kafka\n      timeout: 10000\n"
    );
    let mut config = Config::from_yaml_str(&yaml).map_err(|e| e.to_string())?;
    let commit = env_ms("RELIABILITY_COMMIT_INTERVAL_MS", 1_000)?;
    for service in &mut config.consumers {
        service.config.commit_interval = Duration::from_millis(commit);
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = config()?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(env("RELIABILITY_RECORD")?)?;
    let delay = Duration::from_millis(env_ms("RELIABILITY_HANDLER_DELAY_MS", 0)?);
    let run = env("RELIABILITY_RUN")?;
    if RECORD.set(Record { file, run, delay }).is_err() {
        unreachable!("set once");
    }
    kafka_runtime::serve()
        .config(config)
        .shutdown_timeout(Duration::from_secs(20))
        .on_partitions_assigned(|event| partitions_changed('A', event))
        .on_partitions_revoked(|event| partitions_changed('R', event))
        .await?;
    Ok(())
}
