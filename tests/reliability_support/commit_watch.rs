//! The group's committed offsets sampled in the background while a test
//! makes faults: when commits stopped going through, when they resumed, and
//! (when given the record file) that nothing was ever committed unhandled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{assert_committed_were_handled, now_ms, read_record};

/// How often the watch asks the broker.
const EVERY: Duration = Duration::from_millis(200);

/// A running watch; [`CommitWatch::stop`] ends it.
pub struct CommitWatch {
    running: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<CommitSamples>,
}

/// The committed offsets seen, with their time (unix ms); failed reads
/// (the coordinator away) are left out.
#[derive(Clone, Debug, Default)]
pub struct CommitSamples(pub Vec<(u128, BTreeMap<i32, i64>)>);

impl CommitWatch {
    /// Starts sampling `group`'s offsets of `topic`; with `record`, every
    /// sample is also checked against the record file read after it.
    pub fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        partitions: i32,
        record: Option<PathBuf>,
    ) -> Self {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let (running, mut watching) = tokio::sync::watch::channel(true);
        let task = tokio::task::spawn_blocking(move || {
            let mut samples = Vec::new();
            let mut probe: Option<BaseConsumer> = None;
            while *watching.borrow_and_update() {
                let client = probe.get_or_insert_with(|| config.create().expect("a probe"));
                let read = client.committed_offsets(tpl.clone(), Duration::from_secs(2));
                if read.is_err() {
                    // A client that lost the coordinator (the mock cluster's
                    // restarted broker) may not find it again: start afresh.
                    probe = None;
                }
                if let Ok(committed) = read {
                    let offsets: BTreeMap<i32, i64> = committed
                        .elements()
                        .iter()
                        .filter_map(|e| match e.offset() {
                            Offset::Offset(o) => Some((e.partition(), o)),
                            _ => None,
                        })
                        .collect();
                    // Committed first, then the record: a handled line is
                    // written before its offset can be stored.
                    if let Some(record) = &record {
                        assert_committed_were_handled(&offsets, &read_record(record));
                    }
                    samples.push((now_ms(), offsets));
                }
                std::thread::sleep(EVERY);
            }
            CommitSamples(samples)
        });
        CommitWatch { running, task }
    }

    /// Stops sampling and returns the samples (fails the test if a sample
    /// found an offset committed that was never handled).
    pub async fn stop(self) -> CommitSamples {
        let _ = self.running.send(false);
        self.task
            .await
            .expect("every sample: committed offsets were handled")
    }
}

impl CommitSamples {
    /// The first moment after `after_ms` at which some partition's committed
    /// offset was beyond what it was at `after_ms`: commits went through
    /// again.
    pub fn advanced_after(&self, after_ms: u128) -> Option<u128> {
        let base = self
            .0
            .iter()
            .rev()
            .find(|(at, _)| *at <= after_ms)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        self.0
            .iter()
            .filter(|(at, _)| *at > after_ms)
            .find(|(_, c)| c.iter().any(|(p, o)| base.get(p).is_none_or(|b| o > b)))
            .map(|(at, _)| *at)
    }

    /// How many samples were read.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
