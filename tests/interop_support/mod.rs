//! What the interoperability tests share: the brokers and Go binaries that
//! `scripts/interop.sh` provides, group members of both sides as processes
//! (the Go plugin through `interop/cmd/plugin-peer`, kafka-rs through the
//! `interop_member` binary), the lines they print about what they handled,
//! and the offsets a group committed.
//!
//! Both sides read the same `trpc_go.yaml`. A test fails, and says how to run
//! it, when what it needs is missing; it never skips.
#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kafka_rs::{poll_every, TestBroker};
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;

pub use kafka_rs::unique_name;

/// The Apache Kafka versions the interop phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kafka {
    /// 4.1.1, the project's reference broker.
    V4,
    /// 3.9.1, the last line sarama 1.40.1 (the plugin's) commits offsets on.
    V3,
}

impl Kafka {
    fn env(self) -> &'static str {
        match self {
            Kafka::V4 => "KAFKA_RS_INTEROP_KAFKA4",
            Kafka::V3 => "KAFKA_RS_INTEROP_KAFKA3",
        }
    }

    /// Its bootstrap list.
    pub fn bootstrap(self) -> String {
        required_env(self.env())
    }

    /// `4.1.1` or `3.9.1`.
    pub fn version(self) -> &'static str {
        match self {
            Kafka::V4 => "4.1.1",
            Kafka::V3 => "3.9.1",
        }
    }
}

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => panic!(
            "{name} is not set: the interop tests need the Apache Kafka brokers and Go binaries \
             that scripts/interop.sh starts and builds; run `bash scripts/interop.sh`"
        ),
    }
}

/// The Go program that runs the plugin (`interop/cmd/plugin-peer`).
pub fn plugin_peer() -> PathBuf {
    let path = PathBuf::from(required_env("KAFKA_RS_INTEROP_PEER"));
    assert!(
        path.is_file(),
        "KAFKA_RS_INTEROP_PEER={} is not a file",
        path.display()
    );
    path
}

/// The plugin's own example `name`, built by scripts/interop.sh.
pub fn plugin_example(name: &str) -> PathBuf {
    let path = Path::new(&required_env("KAFKA_RS_INTEROP_GO_EXAMPLES")).join(name);
    assert!(
        path.is_file(),
        "the plugin's example {} was not built",
        path.display()
    );
    path
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("interop")
        .join(unique_name(name));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Creates `topic` on the broker at `bootstrap`.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    TestBroker::External {
        bootstrap: bootstrap.to_owned(),
    }
    .create_topic(topic, partitions)
    .await
    .unwrap_or_else(|e| panic!("creating {topic}: {e}"));
}

/// Appends a figure line to the phase's report (printed by
/// scripts/interop.sh at the end) and to this test's output.
pub fn report(line: &str) {
    eprintln!("interop: {line}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-report.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// One record a member handled, as either side prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub member: String,
    pub generation: i32,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub meta: BTreeMap<String, Vec<u8>>,
    pub start_ns: u128,
    pub end_ns: u128,
    /// `plugin-peer -proto`: the value as the Protobuf runtime decoded it
    /// (a google.protobuf.Timestamp's seconds and nanos), or why it did not.
    pub decoded: Option<Result<(i64, i32), String>>,
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    v.as_str()
        .map(|s| STANDARD.decode(s).expect("base64 from a member"))
}

impl Handled {
    fn parse(v: &Value) -> Self {
        let headers = v["headers"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| (b64(&h["key"]).unwrap_or_default(), b64(&h["value"])))
                    .collect()
            })
            .unwrap_or_default();
        let meta = v["meta"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), b64(v).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        Handled {
            member: v["member"].as_str().unwrap_or_default().to_owned(),
            generation: v["generation"].as_i64().unwrap_or(-1) as i32,
            topic: v["topic"].as_str().unwrap_or_default().to_owned(),
            partition: v["partition"].as_i64().expect("partition") as i32,
            offset: v["offset"].as_i64().expect("offset"),
            key: b64(&v["key"]),
            value: b64(&v["value"]),
            headers,
            meta,
            start_ns: v["start_ns"]
                .as_u64()
                .map(u128::from)
                .unwrap_or_else(|| v["start_ns"].as_f64().expect("start_ns") as u128),
            end_ns: v["end_ns"]
                .as_u64()
                .map(u128::from)
                .unwrap_or_else(|| v["end_ns"].as_f64().expect("end_ns") as u128),
            decoded: match (&v["decoded"], v["decode_error"].as_str()) {
                (_, Some(error)) => Some(Err(error.to_owned())),
                (Value::Object(d), None) => Some(Ok((
                    d["seconds"].as_i64().expect("seconds"),
                    d["nanos"].as_i64().expect("nanos") as i32,
                ))),
                _ => None,
            },
        }
    }
}

/// Which implementation a member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The tRPC-Go plugin v1.2.0 (sarama 1.40.1).
    Plugin,
    /// kafka-rs.
    KafkaRs,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Plugin => "plugin",
            Side::KafkaRs => "kafka-rs",
        }
    }
}

/// A group member in a process of its own, serving a `trpc_go.yaml`.
pub struct Member {
    pub side: Side,
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    log: PathBuf,
}

impl Member {
    /// Starts a member of `side` serving `yaml`; its handler takes `delay`
    /// per record.
    pub fn start(side: Side, name: &str, yaml: &Path, delay: Duration) -> Member {
        Member::start_with(side, name, yaml, delay, &[])
    }

    /// [`Member::start`] with more arguments for the plugin's program
    /// (`-proto`: decode values as Protobuf).
    pub fn start_with(
        side: Side,
        name: &str,
        yaml: &Path,
        delay: Duration,
        plugin_args: &[&str],
    ) -> Member {
        let log = yaml.with_file_name(format!("{name}.log"));
        let mut command = match side {
            Side::Plugin => {
                let mut c = Command::new(plugin_peer());
                c.arg("-conf")
                    .arg(yaml)
                    .arg("-mode")
                    .arg("consume")
                    .arg("-delay")
                    .arg(format!("{}us", delay.as_micros()))
                    .args(plugin_args);
                c
            }
            Side::KafkaRs => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_interop_member"));
                c.env("KAFKA_RS_CONFIG", yaml)
                    .env("INTEROP_DELAY_MS", delay.as_millis().to_string());
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("member log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {} member {name}: {e}", side.name()));
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let log_copy = log.clone();
        std::thread::spawn(move || {
            let mut other = std::fs::OpenOptions::new().append(true).open(log_copy).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v.get("event").is_some() => sink.lock().unwrap().push(v),
                    // The plugin's tRPC logger writes to stdout too.
                    _ => {
                        if let Some(f) = other.as_mut() {
                            let _ = writeln!(f, "{line}");
                        }
                    }
                }
            }
        });
        Member {
            side,
            name: name.to_owned(),
            child,
            lines,
            log,
        }
    }

    /// Every record handled so far.
    pub fn handled(&self) -> Vec<Handled> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == "record")
            .map(Handled::parse)
            .collect()
    }

    /// The error `serve()` returned, if the member printed one.
    pub fn serve_error(&self) -> Option<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|v| v["event"] == "serve-error")
            .and_then(|v| v["error"].as_str().map(str::to_owned))
    }

    /// The readiness reports a kafka-rs member printed, in order, each with
    /// whether `serve()` had already printed its error then.
    pub fn readiness(&self) -> Vec<(bool, String, bool)> {
        let mut failed = false;
        let mut reports = Vec::new();
        for v in self.lines.lock().unwrap().iter() {
            match v["event"].as_str() {
                Some("serve-error") => failed = true,
                Some("readiness") => reports.push((
                    v["ready"].as_bool().unwrap_or(false),
                    v["report"].as_str().unwrap_or_default().to_owned(),
                    failed,
                )),
                _ => {}
            }
        }
        reports
    }

    /// Whether the process has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Graceful stop: SIGTERM, then waits up to 30 s for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the {} member {} did not stop within 30 s of SIGTERM; its log: {}",
                    self.side.name(),
                    self.name,
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its stderr (and the plugin's stdout log lines), for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `condition` holds, checking every 50 ms; fails with `what`
/// after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    assert!(
        poll_every(timeout, Duration::from_millis(50), &mut condition).await,
        "timed out after {timeout:?} waiting for {what}"
    );
}

/// One record for the plugin's producer (`plugin-peer -mode produce`).
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// Set: sent with `SendMessage(topic, ..)`; else `Produce` to the target's topic.
    pub topic: Option<String>,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub meta: BTreeMap<String, Vec<u8>>,
    /// Set: the plugin's program sends this google.protobuf.Timestamp
    /// (seconds, nanos), encoded by the Go Protobuf runtime, instead of `value`.
    pub proto: Option<(i64, i32)>,
}

/// What the plugin acknowledged for record `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub index: usize,
    pub partition: i32,
    pub offset: i64,
}

/// Sends `records` through the plugin's client service `service` of `yaml`
/// from `concurrency` goroutines; what the plugin acknowledged, by index.
pub fn plugin_produce(
    yaml: &Path,
    service: &str,
    records: &[Outgoing],
    concurrency: usize,
) -> Vec<Sent> {
    let input = yaml.with_file_name(format!("{}.jsonl", unique_name("produce")));
    let mut text = String::new();
    for r in records {
        let meta: serde_json::Map<String, Value> = r
            .meta
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(STANDARD.encode(v))))
            .collect();
        let line = serde_json::json!({
            "topic": r.topic.clone().unwrap_or_default(),
            "key": r.key.as_ref().map(|k| STANDARD.encode(k)),
            "value": STANDARD.encode(&r.value),
            "meta": meta,
            "proto": r.proto.map(|(seconds, nanos)| serde_json::json!({"seconds": seconds, "nanos": nanos})),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&input, text).expect("producer input");
    let output = Command::new(plugin_peer())
        .arg("-conf")
        .arg(yaml)
        .args(["-mode", "produce", "-service", service, "-concurrency"])
        .arg(concurrency.to_string())
        .arg("-input")
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .expect("plugin-peer produce");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the plugin's producer failed ({}): {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        stdout
    );
    let mut sent: Vec<Sent> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "sent")
        .map(|v| Sent {
            index: v["index"].as_u64().expect("index") as usize,
            partition: v["partition"].as_i64().expect("partition") as i32,
            offset: v["offset"].as_i64().expect("offset"),
        })
        .collect();
    sent.sort_by_key(|s| s.index);
    assert_eq!(
        sent.len(),
        records.len(),
        "the plugin acknowledged every record"
    );
    sent
}

/// The offsets `group` committed on `topic`, by partition (absent ones left out).
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
    probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets")
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// The high watermark of every partition of `topic`.
pub fn end_offsets(bootstrap: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
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

/// A `trpc_go.yaml` with one consumer service per `(name, address)` and one
/// producer service per `(name, target)`, written into `dir`.
pub fn write_yaml(
    dir: &Path,
    consumers: &[(&str, String)],
    producers: &[(&str, String)],
) -> PathBuf {
    let mut yaml = String::new();
    if !consumers.is_empty() {
        yaml.push_str("server:\n  service:\n");
        for (name, address) in consumers {
            yaml.push_str(&format!(
                "    - name: {name}\n      address: {address}\n      protocol: kafka\n      timeout: 10000\n"
            ));
        }
    }
    if !producers.is_empty() {
        yaml.push_str("client:\n  service:\n");
        for (name, target) in producers {
            yaml.push_str(&format!(
                "    - name: {name}\n      target: {target}\n      timeout: 10000\n"
            ));
        }
    }
    let path = dir.join(format!("{}.yaml", unique_name("trpc_go")));
    std::fs::write(&path, yaml).expect("yaml");
    path
}
