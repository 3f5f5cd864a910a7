//! Helpers of the reliability tests: the consumer process
//! (`src/bin/reliability_consumer.rs`) started, killed and stopped, its
//! durable record file read back, a paced keyed producer, and the checks
//! (nothing lost, nothing committed that was not handled, duplicates).
#![allow(dead_code)]

mod commit_watch;
mod crash_loop;
mod follow;
mod repeats;

#[allow(unused_imports)]
pub use commit_watch::{CommitSamples, CommitWatch};
#[allow(unused_imports)]
pub use crash_loop::{CrashLoop, CrashOutcome, Kill, KillCheck, Production};
#[allow(unused_imports)]
pub use follow::Follow;
#[allow(unused_imports)]
pub use repeats::{assert_repeats_explained, repeats, unexplained, Exposure, Repeat};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[allow(unused_imports)]
pub use kafka_rs::{unique_name, wait_until, TestBroker};

/// The consumer binary cargo built for these tests.
pub const CONSUMER_BIN: &str = env!("CARGO_BIN_EXE_reliability_consumer");

/// The relaying service (`src/bin/reliability_relay.rs`).
pub const RELAY_BIN: &str = env!("CARGO_BIN_EXE_reliability_relay");

/// A record file line: a handler started (`S`) or finished (`D`) a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub done: bool,
    pub run: String,
    pub partition: i32,
    pub offset: i64,
    pub at_ms: u128,
}

/// A partition given to (`A`) or taken from a process, from its record file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub assigned: bool,
    pub run: String,
    pub partition: i32,
    pub at_ms: u128,
}

/// One `A` or `R` record file line, `None` if it is another kind.
fn parse_assignment(line: &str) -> Option<Assignment> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 6 || !matches!(f[0], "A" | "R") {
        return None;
    }
    Some(Assignment {
        assigned: f[0] == "A",
        run: f[1].to_owned(),
        partition: f[3].parse().ok()?,
        at_ms: f[5].parse().ok()?,
    })
}

/// Every partition assignment and revocation in the record file at `path`.
pub fn read_assignments(path: &Path) -> Vec<Assignment> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(parse_assignment).collect()
}

/// Reads every whole `S`/`D` line of the record file at `path` (missing: none).
pub fn read_record(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(parse_line).collect()
}

/// One `S` or `D` record file line, `None` if it is another kind or not whole.
fn parse_line(line: &str) -> Option<Line> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 6 || !matches!(f[0], "S" | "D") {
        return None;
    }
    Some(Line {
        done: f[0] == "D",
        run: f[1].to_owned(),
        partition: f[3].parse().ok()?,
        offset: f[4].parse().ok()?,
        at_ms: f[5].parse().ok()?,
    })
}

/// How many distinct (partition, offset) pairs were handled to the end.
pub fn handled_unique(lines: &[Line]) -> usize {
    lines
        .iter()
        .filter(|l| l.done)
        .map(|l| (l.partition, l.offset))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Now, as the record file writes times (unix ms).
pub fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// One consumer process and its record file.
pub struct ConsumerProcess {
    pub run: String,
    pub child: Child,
}

/// What a consumer process is told.
#[derive(Clone)]
pub struct ConsumerSpec {
    pub bootstrap: String,
    pub topic: String,
    pub group: String,
    pub record: PathBuf,
    pub commit_interval_ms: u64,
    pub handler_delay_ms: u64,
}

impl ConsumerSpec {
    /// Starts a consumer process named `run` in the record file.
    pub fn spawn(&self, run: &str) -> ConsumerProcess {
        let child = Command::new(CONSUMER_BIN)
            .env("RELIABILITY_BOOTSTRAP", &self.bootstrap)
            .env("RELIABILITY_TOPIC", &self.topic)
            .env("RELIABILITY_GROUP", &self.group)
            .env("RELIABILITY_RECORD", &self.record)
            .env("RELIABILITY_RUN", run)
            .env(
                "RELIABILITY_COMMIT_INTERVAL_MS",
                self.commit_interval_ms.to_string(),
            )
            .env(
                "RELIABILITY_HANDLER_DELAY_MS",
                self.handler_delay_ms.to_string(),
            )
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CONSUMER_BIN}: {e}"));
        ConsumerProcess {
            run: run.to_owned(),
            child,
        }
    }
}

impl ConsumerSpec {
    /// Starts the relaying service named `run`, which hands every record it
    /// consumes to an asynchronous producer writing to `relay_topic`.
    pub fn spawn_relay(&self, run: &str, relay_topic: &str) -> ConsumerProcess {
        let child = Command::new(RELAY_BIN)
            .env("RELIABILITY_BOOTSTRAP", &self.bootstrap)
            .env("RELIABILITY_TOPIC", &self.topic)
            .env("RELIABILITY_RELAY_TOPIC", relay_topic)
            .env("RELIABILITY_GROUP", &self.group)
            .env("RELIABILITY_RECORD", &self.record)
            .env("RELIABILITY_RUN", run)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {RELAY_BIN}: {e}"));
        ConsumerProcess {
            run: run.to_owned(),
            child,
        }
    }
}

impl ConsumerProcess {
    /// SIGKILL, and reap it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("killed child reaped");
    }

    /// SIGTERM, then waits (bounded) for the process to exit.
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "SIGTERM delivered");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "consumer {} did not exit within {within:?} of SIGTERM",
                    self.run
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails if the process already exited (it should serve until stopped).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("child status") {
            panic!("consumer {} exited on its own: {status}", self.run);
        }
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        // A failing test must not leave consumers behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A producer waiting for all in-sync replicas (`acks=all`), idempotent so
/// that its retries across broker faults write each message once.
pub fn producer(bootstrap: &str) -> FutureProducer {
    producer_with(bootstrap, true)
}

/// A producer with `acks=all`, idempotent or not.
pub fn producer_with(bootstrap: &str, idempotent: bool) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", idempotent.to_string())
        .set("message.timeout.ms", "60000")
        .create()
        .expect("a producer")
}

/// Produces messages `range` to `topic` keyed `key-<i % 101>` and waits
/// for every acknowledgement; returns how many were acknowledged.
pub async fn produce_range(
    producer: &FutureProducer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> usize {
    let mut pending = send_all(producer, topic, range);
    let mut acked = 0;
    while let Some(result) = pending.recv().await {
        result.expect("message acknowledged");
        acked += 1;
    }
    acked
}

/// Produces `total` messages to `topic` in `slices` slices half a second
/// apart (so the stream keeps flowing through the faults or group changes a
/// test makes); the task returns how many were acknowledged.
pub fn produce_paced(
    producer: FutureProducer,
    topic: String,
    total: usize,
    slices: usize,
) -> tokio::task::JoinHandle<usize> {
    produce_paced_range(producer, topic, 0..total, slices)
}

/// [`produce_paced`] for messages `range`.
pub fn produce_paced_range(
    producer: FutureProducer,
    topic: String,
    range: std::ops::Range<usize>,
    slices: usize,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut acked = 0;
        let (start, total) = (range.start, range.len());
        for s in 0..slices {
            let slice = (start + total * s / slices)..(start + total * (s + 1) / slices);
            acked += produce_range(&producer, &topic, slice).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        acked
    })
}

/// Messages sent again (once or more) after the broker failed their delivery.
pub static RESENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends `range` with a bounded number in flight; delivery results arrive
/// on the returned channel.
fn send_all(
    producer: &FutureProducer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> tokio::sync::mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let producer = producer.clone();
    let topic = topic.to_owned();
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(500));
    tokio::spawn(async move {
        for i in range {
            let permit = in_flight.clone().acquire_owned().await.expect("open");
            let producer = producer.clone();
            let topic = topic.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let key = format!("key-{}", i % 101);
                let payload = format!("message-{i}");
                let mut result = Err(String::new());
                // The feed must be complete whatever the broker does: a
                // delivery the broker failed for good (a request timed out
                // while the broker was away) is sent again and counted.
                for attempt in 0..30 {
                    if attempt == 1 {
                        RESENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    let record = FutureRecord::to(&topic).key(&key).payload(&payload);
                    result = producer
                        .send(record, Duration::from_secs(60))
                        .await
                        .map(|_| ())
                        .map_err(|(e, _)| e.to_string());
                    if result.is_ok() {
                        break;
                    }
                }
                drop(permit);
                let _ = tx.send(result).await;
            });
        }
    });
    rx
}

/// The high watermark of each partition of `topic` (partitions `0..n`).
pub fn high_watermarks(bootstrap: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("a probe");
    (0..partitions)
        .map(|p| {
            let (_, high) = probe
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}

/// The group's committed offset per partition (absent: nothing committed).
pub fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a probe");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// Fails unless every offset below `committed[p]` was handled according to
/// `lines` (read after the committed offsets were fetched).
pub fn assert_committed_were_handled(committed: &BTreeMap<i32, i64>, lines: &[Line]) {
    let handled: BTreeSet<(i32, i64)> = lines
        .iter()
        .filter(|l| l.done)
        .map(|l| (l.partition, l.offset))
        .collect();
    for (&p, &c) in committed {
        for o in 0..c {
            assert!(
                handled.contains(&(p, o)),
                "partition {p}: offset {c} committed but offset {o} never handled"
            );
        }
    }
}

/// Fails unless every offset below each high watermark was handled;
/// returns (handled lines, distinct handled, duplicates).
pub fn assert_nothing_lost(high: &BTreeMap<i32, i64>, lines: &[Line]) -> (usize, usize, usize) {
    let mut count: HashMap<(i32, i64), usize> = HashMap::new();
    for l in lines.iter().filter(|l| l.done) {
        *count.entry((l.partition, l.offset)).or_default() += 1;
    }
    let mut lost = Vec::new();
    for (&p, &h) in high {
        for o in 0..h {
            if !count.contains_key(&(p, o)) {
                lost.push((p, o));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} messages lost (never handled), first: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    let handled: usize = count.values().sum();
    (handled, count.len(), handled - count.len())
}

/// A small xorshift generator: random kill moments without a dependency;
/// the seed is printed so a run can be repeated.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> (Self, u64) {
        let seed = std::env::var("RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        (Rng(seed), seed)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// `RELIABILITY_<name>` as a number, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

/// Appends `text` to the reliability report in cargo's test temp dir and
/// prints it.
pub fn report(text: &str) {
    use std::io::Write;
    eprintln!("{text}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability-report.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{text}");
    }
}

/// A fresh record file path in cargo's test temp dir.
pub fn record_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    std::fs::create_dir_all(&dir).expect("record dir");
    dir.join(format!("{name}.log"))
}

/// Polls every given interval: reading the record file is not free, hence a
/// coarser interval than [`kafka_rs::wait_until`].
#[allow(unused_imports)]
pub use kafka_rs::poll_every as poll;

/// The most `D` lines of `run` within any window of `window_ms`.
pub fn peak_in_window(lines: &[Line], run: &str, window_ms: u128) -> usize {
    let times: Vec<u128> = lines
        .iter()
        .filter(|l| l.done && l.run == run)
        .map(|l| l.at_ms)
        .collect();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > window_ms {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// Records `run` handled that a later run (per `order`) handled again.
pub fn redone_later(lines: &[Line], order: &[String], run: &str) -> usize {
    let idx = order.iter().position(|r| r == run).expect("known run");
    let later: BTreeSet<(i32, i64)> = lines
        .iter()
        .filter(|l| l.done && order[idx + 1..].contains(&l.run))
        .map(|l| (l.partition, l.offset))
        .collect();
    lines
        .iter()
        .filter(|l| l.done && l.run == run && later.contains(&(l.partition, l.offset)))
        .count()
}

/// The longest time (ms) in which no record was handled to the end, within
/// `from_ms..=until_ms` (unix ms), on `partition` or on any: how long the
/// consumer stalled while records kept arriving.
pub fn longest_gap(lines: &[Line], partition: Option<i32>, from_ms: u128, until_ms: u128) -> u128 {
    let mut times: Vec<u128> = lines
        .iter()
        .filter(|l| l.done && partition.is_none_or(|p| l.partition == p))
        .map(|l| l.at_ms)
        .filter(|at| (from_ms..=until_ms).contains(at))
        .collect();
    times.sort_unstable();
    let mut longest = 0;
    let mut previous = from_ms;
    for at in times {
        longest = longest.max(at - previous);
        previous = at;
    }
    longest.max(until_ms.saturating_sub(previous))
}
