//! Helpers of the tests on the three-node Apache Kafka cluster
//! (`scripts/cluster-tests.sh`, which starts it with
//! `scripts/kafka.sh start-cluster`): the cluster's nodes killed, stopped
//! and started through scripts/kafka.sh, partition leaders and in-sync
//! replicas read from the cluster's metadata, the framework's idempotent
//! producer sending at a steady pace with every send timed, and the log
//! read back whole.
//!
//! These tests need that cluster: without it they fail, saying how to start
//! it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use kafka_runtime::RuntimeHandle;

pub use kafka_rs::TestBroker;

/// The three-node cluster the test runs against.
pub struct Cluster {
    pub broker: TestBroker,
}

/// How long the cluster may take to have every replica in sync again.
const IN_SYNC_WITHIN: Duration = Duration::from_secs(180);

impl Cluster {
    /// The cluster `KAFKA_RS_TEST_BOOTSTRAP` points at; fails the test
    /// unless it is the three-node Apache Kafka of scripts/kafka.sh.
    pub async fn connect() -> Cluster {
        let how = "run the cluster tests with `bash scripts/cluster-tests.sh` (or start the \
                   cluster with `eval \"$(bash scripts/kafka.sh start-cluster)\"` first)";
        let bootstrap = std::env::var(kafka_rs::BOOTSTRAP_ENV).unwrap_or_default();
        assert!(
            !bootstrap.trim().is_empty(),
            "{} is not set: these tests need the three-node Apache Kafka cluster; {how}",
            kafka_rs::BOOTSTRAP_ENV
        );
        let nodes = std::env::var("KAFKA_RS_TEST_KAFKA_NODES").unwrap_or_default();
        assert_eq!(
            nodes.trim(),
            "3",
            "KAFKA_RS_TEST_KAFKA_NODES is {nodes:?}, not 3: these tests need the three-node \
             cluster (replication factor 3, min.insync.replicas 2); {how}"
        );
        assert_eq!(
            kafka_rs::replication_factor(),
            3,
            "KAFKA_RS_TEST_REPLICATION must be 3 on the cluster; {how}"
        );
        let broker = TestBroker::start().await.expect("the external broker");
        let cluster = Cluster { broker };
        // scripts/kafka.sh must control this cluster (checked by kafka_script).
        let status = cluster.script(&["status"]);
        assert!(
            status.contains("node 3:"),
            "not a three-node cluster: {status}"
        );
        cluster
    }

    /// The bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    /// `bash scripts/kafka.sh ARGS` on this cluster; fails the test if it fails.
    pub fn script(&self, args: &[&str]) -> String {
        tokio::task::block_in_place(|| self.broker.kafka_script(args))
            .unwrap_or_else(|e| panic!("scripts/kafka.sh {}: {e}", args.join(" ")))
    }

    /// The nodes scripts/kafka.sh reports as stopped.
    pub fn stopped_nodes(&self) -> Vec<String> {
        self.script(&["status"])
            .lines()
            .filter_map(|l| l.strip_prefix("node "))
            .filter(|l| l.ends_with(": stopped"))
            .map(|l| l.trim_end_matches(": stopped").to_owned())
            .collect()
    }

    /// Connects to the cluster, brings it back to full health, and creates a
    /// topic named from `prefix` whose replicas are all in sync: where each
    /// test starts. Returns the cluster and the topic.
    pub async fn with_fresh_topic(prefix: &str, partitions: i32) -> (Cluster, String) {
        let cluster = Cluster::connect().await;
        cluster.heal().await;
        let topic = kafka_rs::unique_name(prefix);
        cluster
            .broker
            .create_topic(&topic, partitions)
            .await
            .unwrap();
        cluster.wait_in_sync().await;
        (cluster, topic)
    }

    /// Starts every stopped node, then waits until every partition of every
    /// topic has all its replicas in sync: the state each test starts from
    /// and leaves behind.
    pub async fn heal(&self) {
        let stopped = self.stopped_nodes();
        if !stopped.is_empty() {
            let mut args = vec!["start-node"];
            args.extend(stopped.iter().map(String::as_str));
            self.script(&args);
        }
        self.wait_in_sync().await;
    }

    /// Waits (bounded) until every partition of every topic has a leader and
    /// all its replicas in sync; returns how long that took.
    pub async fn wait_in_sync(&self) -> Duration {
        let bootstrap = self.bootstrap();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let probe: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .expect("a metadata probe");
            let mut last = String::new();
            while started.elapsed() < IN_SYNC_WITHIN {
                match probe.fetch_metadata(None, Duration::from_secs(5)) {
                    Ok(metadata) => {
                        let behind: Vec<String> = metadata
                            .topics()
                            .iter()
                            .flat_map(|t| {
                                t.partitions().iter().filter_map(move |p| {
                                    let whole = p.leader() >= 0
                                        && p.isr().len() == p.replicas().len()
                                        && p.error().is_none();
                                    (!whole).then(|| format!("{}/{}", t.name(), p.id()))
                                })
                            })
                            .collect();
                        if behind.is_empty() && metadata.brokers().len() == 3 {
                            return started.elapsed();
                        }
                        last = format!(
                            "{} brokers, partitions not in sync: {:?}",
                            metadata.brokers().len(),
                            &behind[..behind.len().min(10)]
                        );
                    }
                    Err(e) => last = e.to_string(),
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            panic!("the cluster was not in sync within {IN_SYNC_WITHIN:?}: {last}");
        })
        .await
        .expect("the metadata probe does not panic")
    }

    /// The node (1..3, the node id scripts/kafka.sh gives it) leading
    /// `topic`'s `partition`.
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        let probe: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("a metadata probe");
        let metadata = tokio::task::block_in_place(|| {
            probe.fetch_metadata(Some(topic), Duration::from_secs(10))
        })
        .expect("metadata");
        let leader = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .and_then(|t| t.partitions().iter().find(|p| p.id() == partition))
            .map(|p| p.leader())
            .unwrap_or(-1);
        assert!(leader >= 1, "{topic}/{partition} has no leader");
        leader
    }
}

/// One send of a [`PacedSender`]: when it started, when it was answered,
/// and where the record went (or why it did not).
#[derive(Clone, Debug)]
pub struct Send {
    pub index: usize,
    pub started: Instant,
    pub answered: Instant,
    pub outcome: Result<(i32, i64), String>,
}

/// The framework's producer (`client.service[]`,
/// `requiredAcks=-1&idempotent=true`) sending `key-…`/`value-…` records at
/// a steady pace, every send awaited and timed.
pub struct PacedSender {
    pub runtime: RuntimeHandle,
    pub service: String,
}

impl PacedSender {
    /// A producer service for `topic` with a `timeout_ms` delivery timeout.
    pub async fn start(bootstrap: &str, topic: &str, timeout_ms: u64) -> PacedSender {
        let service = "cluster.producer".to_owned();
        let yaml = format!(
            "client:\n  service:\n    - name: {service}\n      target: kafka://{bootstrap}?topic={topic}&requiredAcks=-1&idempotent=true&compression=none\n      timeout: {timeout_ms}\n"
        );
        let config = Config::from_yaml_str(&yaml).expect("producer configuration");
        let runtime = RuntimeHandle::start(Arc::new(config))
            .await
            .expect("the producer starts");
        PacedSender { runtime, service }
    }

    /// Sends records 0, 1, 2... at `per_second`, at most `in_flight` at
    /// once, each keyed by `key(i)` with value `value-i`, until `stop` turns
    /// true; the task returns every send once all are answered.
    pub fn spawn_until(
        &self,
        topic: &str,
        per_second: u64,
        in_flight: usize,
        key: fn(usize) -> String,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<Vec<Send>> {
        let producer = self.runtime.producer(&self.service).expect("the producer");
        let topic = topic.to_owned();
        tokio::spawn(async move {
            let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
            let begun = Instant::now();
            let mut tasks = Vec::new();
            let mut index = 0;
            while !*stop.borrow() {
                // The pace: record i goes out i / per_second after the start.
                let due =
                    begun + Duration::from_micros(index as u64 * 1_000_000 / per_second.max(1));
                tokio::time::sleep_until(due.into()).await;
                let permit = permits.clone().acquire_owned().await.expect("open");
                let producer = producer.clone();
                let topic = topic.clone();
                let i = index;
                tasks.push(tokio::spawn(async move {
                    let started = Instant::now();
                    let outcome = producer
                        .send_message(&topic, key(i), format!("value-{i}"), Headers::new())
                        .await
                        .map(|d| (d.partition, d.offset))
                        .map_err(|e| e.to_string());
                    drop(permit);
                    Send {
                        index: i,
                        started,
                        answered: Instant::now(),
                        outcome,
                    }
                }));
                index += 1;
            }
            let mut sends = Vec::with_capacity(tasks.len());
            for task in tasks {
                sends.push(task.await.expect("a send task"));
            }
            sends
        })
    }
}

/// The longest time without an acknowledgement among `sends` (from one
/// acknowledgement, or the first send, to the next) of records that went to
/// `partition` (or to any), and the slowest of those sends.
pub fn producer_stall(sends: &[Send], partition: Option<i32>) -> (Duration, Duration) {
    let ours: Vec<&Send> = sends
        .iter()
        .filter(|s| match (&s.outcome, partition) {
            (_, None) => true,
            (Ok((p, _)), Some(wanted)) => *p == wanted,
            (Err(_), Some(_)) => false,
        })
        .collect();
    let mut acks: Vec<Instant> = ours
        .iter()
        .filter(|s| s.outcome.is_ok())
        .map(|s| s.answered)
        .collect();
    acks.sort();
    let first_send = ours.iter().map(|s| s.started).min();
    let mut longest = Duration::ZERO;
    let mut previous = first_send;
    for at in acks {
        if let Some(p) = previous {
            longest = longest.max(at.saturating_duration_since(p));
        }
        previous = Some(at);
    }
    let slowest = ours
        .iter()
        .map(|s| s.answered.saturating_duration_since(s.started))
        .max()
        .unwrap_or_default();
    (longest, slowest)
}

/// Every record of `topic` (partitions `0..partitions`) as
/// (partition, offset) -> value, read from the beginning.
pub async fn read_log(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<(i32, i64), String> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", kafka_rs::unique_name("cluster-log-reader"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("a reader");
        let mut high = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            let (_, h) = reader
                .fetch_watermarks(&topic, p, Duration::from_secs(10))
                .expect("watermarks");
            high.insert(p, h);
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .expect("partition");
        }
        let total: i64 = high.values().sum();
        reader.assign(&tpl).expect("assign");
        let mut log = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while (log.len() as i64) < total {
            assert!(
                Instant::now() < deadline,
                "read {} of {total} records of {topic}",
                log.len()
            );
            match reader.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let value =
                        String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                    log.insert((m.partition(), m.offset()), value);
                }
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        log
    })
    .await
    .expect("the reader does not panic")
}

/// Fails unless every acknowledged send is in `log` where its
/// acknowledgement said, and no value is in the log twice; returns how many
/// sends were acknowledged.
pub fn assert_acknowledged_exactly_once(
    sends: &[Send],
    log: &BTreeMap<(i32, i64), String>,
) -> usize {
    let logged: std::collections::HashSet<&str> = log.values().map(String::as_str).collect();
    let mut acked = 0;
    for send in sends {
        if let Ok((partition, offset)) = send.outcome {
            acked += 1;
            let expected = format!("value-{}", send.index);
            if offset < 0 {
                // librdkafka acknowledges a retried idempotent batch the
                // broker had already written (DUPLICATE_SEQUENCE_NUMBER)
                // without its offset: the record must still be in the log.
                assert!(
                    logged.contains(expected.as_str()),
                    "acknowledged record {} (no offset) is not in the log",
                    send.index
                );
                continue;
            }
            assert_eq!(
                log.get(&(partition, offset)),
                Some(&expected),
                "acknowledged record {} missing at {partition}/{offset}",
                send.index
            );
        }
    }
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for value in log.values() {
        *copies.entry(value.as_str()).or_default() += 1;
    }
    let twice: Vec<(&&str, &usize)> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} records in the log more than once: {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    acked
}

/// `CLUSTER_<name>` as a number, else `default` (the CI size).
pub fn env_size(name: &str, default: usize) -> usize {
    let var = format!("CLUSTER_{name}");
    match std::env::var(&var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

/// A run under load on a fresh topic: a consumer service process handling
/// it (its record file followed, its group's commits watched) and the
/// framework's idempotent producer ready to send at a steady pace.
pub struct LoadRun {
    pub cluster: Cluster,
    pub topic: String,
    pub spec: crate::reliability_support::ConsumerSpec,
    pub watch: crate::reliability_support::CommitWatch,
    pub consumer: crate::reliability_support::ConsumerProcess,
    pub follow: crate::reliability_support::Follow,
    pub sender: PacedSender,
}

impl LoadRun {
    /// Starts a run named `name` (topic, group and consumer process names
    /// derive from it) over `partitions`, the consumer committing every
    /// `commit_interval_ms`.
    pub async fn start(name: &str, partitions: i32, commit_interval_ms: u64) -> LoadRun {
        use crate::reliability_support::{record_path, CommitWatch, ConsumerSpec, Follow};
        let (cluster, topic) =
            Cluster::with_fresh_topic(&format!("cluster-{name}"), partitions).await;
        let bootstrap = cluster.bootstrap();
        let spec = ConsumerSpec {
            bootstrap: bootstrap.clone(),
            topic: topic.clone(),
            group: kafka_rs::unique_name(&format!("cluster-{name}-group")),
            record: record_path(&topic),
            commit_interval_ms,
            handler_delay_ms: 0,
        };
        let watch = CommitWatch::start(
            &bootstrap,
            &spec.group,
            &topic,
            partitions,
            Some(spec.record.clone()),
        );
        let consumer = spec.spawn(name);
        let follow = Follow::new(&spec.record);
        let sender = PacedSender::start(&bootstrap, &topic, 60_000).await;
        LoadRun {
            cluster,
            topic,
            spec,
            watch,
            consumer,
            follow,
            sender,
        }
    }
}

/// The end of a run under load, once production stopped: every send was
/// acknowledged, then the still running consumer handled every record in the
/// log and committed all of it. Returns the partitions' high watermarks and
/// the commits the watch sampled during the run.
pub async fn settle(
    sends: &[Send],
    spec: &crate::reliability_support::ConsumerSpec,
    partitions: i32,
    follow: &mut crate::reliability_support::Follow,
    consumer: &mut crate::reliability_support::ConsumerProcess,
    watch: crate::reliability_support::CommitWatch,
) -> (
    BTreeMap<i32, i64>,
    crate::reliability_support::CommitSamples,
) {
    use crate::reliability_support::{committed, high_watermarks, poll};
    let failed: Vec<&Send> = sends.iter().filter(|s| s.outcome.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} sends failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    let high = high_watermarks(&spec.bootstrap, &spec.topic, partitions);
    let in_log = high.values().sum::<i64>() as usize;
    let all = poll(Duration::from_secs(180), Duration::from_millis(200), || {
        follow.update().handled_unique() >= in_log
    })
    .await;
    consumer.assert_running();
    assert!(all, "the consumer handled every record in the log");
    let all_committed = poll(Duration::from_secs(60), Duration::from_millis(200), || {
        committed(&spec.bootstrap, &spec.group, &spec.topic, partitions) == high
    })
    .await;
    let samples = watch.stop().await;
    assert!(
        all_committed,
        "the consumer committed everything it handled"
    );
    (high, samples)
}

/// What a run under load left, checked once its consumer stopped.
pub struct Outcome {
    /// Acknowledged sends: all of them, each in the log exactly once.
    pub acked: usize,
    /// Records in the log: the acknowledged ones and nothing else.
    pub in_log: usize,
    /// The consumer's record file.
    pub lines: Vec<crate::reliability_support::Line>,
    /// Handlings, distinct records handled, and records handled twice.
    pub handled: usize,
    pub distinct: usize,
    pub duplicates: usize,
}

/// Reads the log and the consumer's record back: every acknowledged send in
/// the log exactly once and nothing else there, every record of the log
/// (up to `high`) handled.
pub async fn assert_outcome(
    sends: &[Send],
    spec: &crate::reliability_support::ConsumerSpec,
    partitions: i32,
    high: &BTreeMap<i32, i64>,
) -> Outcome {
    use crate::reliability_support::{assert_nothing_lost, read_record};
    let log = read_log(&spec.bootstrap, &spec.topic, partitions).await;
    let acked = assert_acknowledged_exactly_once(sends, &log);
    assert_eq!(acked, sends.len());
    assert_eq!(
        log.len(),
        acked,
        "the log holds the acknowledged records and nothing else"
    );
    let lines = read_record(&spec.record);
    let (handled, distinct, duplicates) = assert_nothing_lost(high, &lines);
    Outcome {
        acked,
        in_log: log.len(),
        lines,
        handled,
        distinct,
        duplicates,
    }
}
