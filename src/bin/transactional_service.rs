//! The transactional consume-transform-produce service the exactly-once
//! test (`tests/reliability_exactly_once.rs`) kills and restarts: one
//! `#[kafka_consumer]` handler on a service with `transactionalId`, which
//! writes two records per input record through an injected producer.
//!
//! For input value `message-<i>` it sends `<i>/a` (awaited) and `<i>/b`
//! (awaited) to the output topic, with the input's key. With
//! `TXN_FAIL_EVERY=N`, the first attempt on every input `i` with
//! `i % N == 0` fails after sending `<i>/a` (once per process): that record
//! of the aborted transaction must never be read by a read-committed
//! consumer. Each handling appends `H <run> <partition> <offset>` to the
//! progress file (one `write(2)` each), which tells the test that the
//! process is working; correctness is read from the output topic only.
//!
//! Environment: `TXN_BOOTSTRAP`, `TXN_INPUT`, `TXN_OUTPUT`, `TXN_GROUP`,
//! `TXN_ID` (the transactional id), `TXN_INSTANCE` (the static group
//! instance id), `TXN_PROGRESS` (the progress file), `TXN_RUN` (an id for
//! this process), and optionally `TXN_FAIL_EVERY` (default 0: never) and
//! `TXN_SESSION_TIMEOUT_MS` (default 10000). It stops cleanly on
//! SIGTERM/SIGINT and exits 0.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Message, RawProducer};

/// The consumer service's name in the generated configuration.
const SERVICE: &str = "txn.transform";

/// Where the transformed records go.
#[kafka_producer(service = "txn.output")]
struct Output(RawProducer);

struct Settings {
    progress: File,
    run: String,
    fail_every: u64,
    /// Inputs that already failed once in this process.
    failed: Mutex<HashSet<u64>>,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} must be set"))
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {v:?}")),
        Err(_) => Ok(default),
    }
}

#[kafka_consumer(service = "txn.transform")]
async fn transform(msg: Message, out: Output) -> Result<(), HandlerError> {
    let settings = SETTINGS.get().expect("set before serving");
    let line = format!("H {} {} {}\n", settings.run, msg.partition, msg.offset);
    (&settings.progress)
        .write_all(line.as_bytes())
        .map_err(HandlerError::new)?;
    let value = msg.payload.as_deref().unwrap_or_default();
    let index: u64 = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.strip_prefix("message-"))
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| HandlerError::msg("the input is not `message-<i>`"))?;
    let key = msg.key.as_deref();
    let Output(out) = out;
    out.produce(key, format!("{index}/a"), Headers::new())
        .await?;
    let fails = settings.fail_every > 0
        && index % settings.fail_every == 0
        && settings.failed.lock().expect("not poisoned").insert(index);
    if fails {
        return Err(HandlerError::msg(format!(
            "injected failure on input {index} after its first output"
        )));
    }
    out.produce(key, format!("{index}/b"), Headers::new())
        .await?;
    Ok(())
}

fn config() -> Result<Config, String> {
    let bootstrap = env("TXN_BOOTSTRAP")?;
    let input = env("TXN_INPUT")?;
    let output = env("TXN_OUTPUT")?;
    let group = env("TXN_GROUP")?;
    let id = env("TXN_ID")?;
    let instance = env("TXN_INSTANCE")?;
    let session = env_number("TXN_SESSION_TIMEOUT_MS", 10_000)?;
    let yaml = format!(
        "server:\n  service:\n    - name: {SERVICE}\n      address: {bootstrap}?topics={input}&group={group}&initial=oldest&transactionalId={id}&groupInstanceId={instance}&retryInterval=100&groupSessionTimeout={session}\n      protocol: kafka\n      timeout: 20000\n\
         client:\n  service:\n    - name: txn.output\n      target: kafka://{bootstrap}?topic={output}&partitioner=hash\n      timeout: 20000\n"
    );
    Config::from_yaml_str(&yaml).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = config()?;
    let progress = OpenOptions::new()
        .create(true)
        .append(true)
        .open(env("TXN_PROGRESS")?)?;
    let settings = Settings {
        progress,
        run: env("TXN_RUN")?,
        fail_every: env_number("TXN_FAIL_EVERY", 0)?,
        failed: Mutex::new(HashSet::new()),
    };
    if SETTINGS.set(settings).is_err() {
        unreachable!("set once");
    }
    kafka_runtime::serve()
        .config(config)
        .shutdown_timeout(Duration::from_secs(20))
        .await?;
    Ok(())
}
