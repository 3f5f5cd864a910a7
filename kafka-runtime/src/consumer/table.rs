//! The partition table: what the engine holds per assigned partition,
//! shared by the poll thread and the rebalance callback (which runs on the
//! poll thread, inside a poll). Neither holds its lock while user code
//! runs.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::{Equivalent, HashMap, HashSet};
use rdkafka::message::{BorrowedMessage, Message as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::batch::Collector;
use super::shared::{Claim, Work};
use crate::message::Arena;

/// One assigned partition as the engine sees it.
pub(crate) struct Slot {
    /// The claim the partition's task serves.
    pub(crate) claim: Arc<Claim>,
    /// Feeds the partition's task; unbounded, so the poll thread never
    /// waits: [`Queued`] bounds what it holds.
    pub(crate) tx: mpsc::UnboundedSender<Work>,
    /// Records sent to the task and not finished yet.
    pub(crate) queued: Arc<Queued>,
    /// Whether the poll thread paused the partition because `queued` went
    /// over its budget (it resumes it below half of it).
    pub(crate) paused: bool,
    /// A batch service's batch being collected.
    pub(crate) batch: Option<Collector>,
    /// Where the partition's records are copied out of librdkafka.
    pub(crate) arena: Arena,
    /// Stops the task (shared: the poll thread hands a clone to every
    /// handling it starts, and an `Arc` clone takes no lock).
    pub(crate) stop: Arc<CancellationToken>,
    pub(crate) task: JoinHandle<()>,
}

/// What a partition's task has on its hands: records sent to it and not
/// finished, and their bytes (keys and payloads, see `held_bytes`).
#[derive(Debug, Default)]
pub(crate) struct Queued {
    records: AtomicUsize,
    bytes: AtomicUsize,
}

impl Queued {
    pub(crate) fn add(&self, records: usize, bytes: usize) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Called by the task once it stored what it handled of them.
    pub(crate) fn finish(&self, records: usize, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        // Release: the poll thread that reads zero also sees the stored offset.
        self.records.fetch_sub(records, Ordering::Release);
    }

    /// Whether the task has nothing left: the poll thread may handle the
    /// partition's next records itself.
    pub(crate) fn is_idle(&self) -> bool {
        self.records.load(Ordering::Acquire) == 0
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A (topic, partition) key looked up without building its owned form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionRef<'a>(pub(crate) &'a str, pub(crate) i32);

impl Hash for PartitionRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Exactly as `(String, i32)` hashes: field by field.
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl Equivalent<(String, i32)> for PartitionRef<'_> {
    fn equivalent(&self, key: &(String, i32)) -> bool {
        self.1 == key.1 && self.0 == key.0
    }
}

/// Partition table, keyed by (topic, partition).
#[derive(Default)]
pub(crate) struct Table {
    pub(crate) slots: HashMap<(String, i32), Slot>,
    /// Assignments received so far (the local "generation").
    pub(crate) assignments: u64,
    /// Partitions currently assigned to this member. A record polled for
    /// any other partition (polled before a revocation) is dropped
    /// unhandled and uncommitted: it belongs to its new owner.
    pub(crate) assigned: HashSet<(String, i32)>,
    /// The names of the topics records came from, by librdkafka topic handle.
    pub(crate) topic_names: TopicNames,
}

/// Topic names by librdkafka topic handle, so that the poll thread does not
/// read a record's topic the way `record.topic()` does (a foreign call, a
/// `strlen` and a UTF-8 check per record). A service reads a few topics,
/// so a scan of their handles is cheaper than hashing the name.
///
/// Keyed by the handle's address, which is only unambiguous while the
/// handle lives. A record keeps its handle alive (librdkafka's
/// `rd_kafka_message_setup` takes a reference), and so does every
/// partition assigned to this member; a handle goes away, and its address
/// can be reused for another topic, only after the partitions of its topic
/// were revoked, and the other topic's records arrive only after that topic
/// was assigned. Both happen in a rebalance callback, which forgets every
/// name ([`TopicNames::forget`]), so a remembered address always still
/// belongs to the topic it was remembered for.
#[derive(Default)]
pub(crate) struct TopicNames(Vec<(usize, Arc<str>)>);

impl TopicNames {
    /// The name of `record`'s topic.
    pub(crate) fn of(&mut self, record: &BorrowedMessage<'_>) -> Arc<str> {
        let handle = record.topic_ptr() as usize;
        match self.0.iter().find(|(h, _)| *h == handle) {
            Some((_, name)) => name.clone(),
            None => {
                let name: Arc<str> = Arc::from(record.topic());
                self.0.push((handle, name.clone()));
                name
            }
        }
    }

    /// Forgets every handle: called whenever the assignment changes.
    pub(crate) fn forget(&mut self) {
        self.0.clear();
    }
}
