//! The librdkafka consumer context: the partition table shared by the poll
//! thread and the rebalance callback, and what happens on revocation.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::worker::{Claim, Work};
use crate::control::Hooks;
use crate::Message;

/// One assigned partition as the engine sees it.
pub(crate) struct Slot {
    /// Feeds the partition's worker; bounded, so memory stays bounded.
    pub(crate) tx: mpsc::Sender<Work>,
    /// The claim the worker serves (the poll thread needs it to handle a
    /// record inline).
    pub(crate) claim: Arc<Claim>,
    /// Work items sent to the worker and not finished yet; `Some` only for
    /// services whose records the poll thread may handle inline (see
    /// `Poller::try_inline`), which it does only while this is zero.
    pub(crate) busy: Option<Arc<std::sync::atomic::AtomicUsize>>,
    /// A batch service's records collected on the poll thread while the
    /// worker is idle, handed to the handler when full or at `batch_due`
    /// (`batchFlush` after the first); dropped unhandled on revocation, as a
    /// worker's half-collected batch is.
    pub(crate) open_batch: Vec<Message>,
    /// Where the partition's records are copied out of librdkafka.
    pub(crate) arena: crate::message::Arena,
    pub(crate) batch_due: Option<std::time::Instant>,
    /// Messages polled while the worker's channel was full, in order.
    pub(crate) pending: VecDeque<Message>,
    /// Key and payload bytes held in `pending`.
    pub(crate) pending_bytes: usize,
    /// Whether the partition is paused because `pending` is over its budget
    /// (it stays paused until `pending` is empty).
    pub(crate) paused: bool,
    /// Stops the worker (shared: the poll thread hands a clone to every
    /// record it starts, and an `Arc` clone takes no lock).
    pub(crate) stop: Arc<CancellationToken>,
    pub(crate) task: JoinHandle<()>,
}

/// A (topic, partition) key looked up without building its owned form
/// (the poll thread does it for every record).
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
    /// any other partition (left in a local queue across a revocation) is
    /// dropped unhandled and uncommitted: it belongs to its new owner.
    pub(crate) assigned: HashSet<(String, i32)>,
    /// The names of the topics records came from, by librdkafka topic handle.
    pub(crate) topic_names: TopicNames,
}

/// Topic names by librdkafka topic handle, so that the poll thread does not
/// read a record's topic the way `record.topic()` does (a foreign call, a
/// `strlen` and a UTF-8 check per record: about 10% of the poll thread of
/// a batch service in kafka-bench's profile). A service reads a few topics,
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
    pub(crate) fn of(&mut self, record: &BorrowedMessage<'_>) -> &str {
        let handle = record.topic_ptr() as usize;
        match self.0.iter().position(|(h, _)| *h == handle) {
            Some(i) => &self.0[i].1,
            None => {
                self.0.push((handle, Arc::from(record.topic())));
                &self.0[self.0.len() - 1].1
            }
        }
    }

    /// Forgets every handle: called whenever the assignment changes.
    pub(crate) fn forget(&mut self) {
        self.0.clear();
    }
}

/// The context librdkafka calls back into on rebalances.
pub(crate) struct EngineContext {
    pub(crate) service: Arc<str>,
    pub(crate) table: Mutex<Table>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// How long a revocation waits for in-flight handlers.
    pub(crate) revoke_wait: Duration,
    /// The user's rebalance hooks.
    pub(crate) hooks: Hooks,
    /// Whether user code paused the service ([`crate::ServiceControl`]).
    pub(crate) paused: watch::Receiver<bool>,
}

impl EngineContext {
    /// Whether user code has paused the service.
    pub(crate) fn user_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub(crate) fn table(&self) -> MutexGuard<'_, Table> {
        // A poisoned lock only means another thread panicked while holding
        // it; the table itself stays consistent (every update is one insert
        // or remove), so keep going rather than take the service down.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the workers of `keys` (all when `None`), waits at most `wait`
    /// for their in-flight handlers (they store their offsets as they
    /// finish), then commits what is stored, synchronously.
    pub(crate) fn stop_and_commit(
        &self,
        consumer: &BaseConsumer<EngineContext>,
        keys: Option<Vec<(String, i32)>>,
        wait: Duration,
    ) {
        let slots: Vec<((String, i32), Slot)> = {
            let mut table = self.table();
            match keys {
                None => table.slots.drain().collect(),
                Some(keys) => keys
                    .into_iter()
                    .filter_map(|k| table.slots.remove(&k).map(|s| (k, s)))
                    .collect(),
            }
        };
        if slots.is_empty() {
            return;
        }
        let mut tasks = Vec::with_capacity(slots.len());
        for ((topic, partition), slot) in slots {
            slot.stop.cancel();
            if slot.paused {
                // A partition that comes back later must not come back paused.
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition(&topic, partition);
                let _ = consumer.resume(&tpl);
            }
            drop(slot.tx);
            tasks.push(slot.task);
        }
        let service = self.service.clone();
        self.runtime.block_on(async move {
            let deadline = tokio::time::Instant::now() + wait;
            for mut task in tasks {
                if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                    tracing::warn!(
                        service = &*service,
                        "a handler did not finish within the deadline; it is aborted and \
                         its message stays uncommitted (it will be delivered again)"
                    );
                    task.abort();
                }
            }
        });
        commit_stored(&self.service, consumer);
    }
}

/// Commits the stored offsets now. "No offset" just means nothing was handled
/// since the last commit.
pub(crate) fn commit_stored(service: &str, consumer: &BaseConsumer<EngineContext>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(service, error = %e, "could not commit handled offsets"),
    }
}

impl ClientContext for EngineContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logging::forward(&self.service, level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        crate::metrics::record_consumer_stats(&self.service, &statistics);
    }
}

impl ConsumerContext for EngineContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // See `TopicNames`: a topic handle may go away, and its address be
        // reused, only across a rebalance.
        self.table().topic_names.forget();
        match rebalance {
            Rebalance::Revoke(tpl) => {
                // Runs on the poll thread before librdkafka gives the
                // partitions up: their handlers finish and their offsets are
                // committed while we still own them, so nothing handled is
                // lost and nothing unhandled is committed. With
                // `cooperative-sticky` (the seed's `sticky`) `tpl` holds only
                // the partitions that move.
                let keys = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect::<Vec<_>>();
                tracing::info!(service = &*self.service, partitions = ?keys, "partitions revoked");
                {
                    let mut table = self.table();
                    for key in &keys {
                        table.assigned.remove(key);
                    }
                }
                self.stop_and_commit(consumer, Some(keys), self.revoke_wait);
                if self.user_paused() {
                    // librdkafka keeps a partition's pause across an
                    // unassignment; the service's pause is re-applied on
                    // assignment, and a partition must not come back paused
                    // after the service was resumed.
                    let _ = consumer.resume(tpl);
                }
                self.hooks.revoked(&self.service, tpl);
            }
            Rebalance::Assign(tpl) => {
                // Cooperative rebalances also report empty assignments; only
                // a real hand-over moves the local generation.
                let mut table = self.table();
                if tpl.count() > 0 {
                    table.assignments += 1;
                }
                for e in tpl.elements() {
                    table.assigned.insert((e.topic().to_owned(), e.partition()));
                }
                drop(table);
                tracing::info!(
                    service = &*self.service,
                    partitions = tpl.count(),
                    "partitions assigned"
                );
            }
            Rebalance::Error(e) => {
                // rdkafka answers a rebalance error by dropping the whole
                // assignment (no revoke callback follows), so stop every
                // worker now; their handled offsets are committed if the
                // group still accepts them.
                tracing::warn!(service = &*self.service, error = %e, "rebalance error; releasing every partition");
                self.table().assigned.clear();
                self.stop_and_commit(consumer, None, self.revoke_wait);
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // Now that librdkafka has taken the assignment, a paused service
            // keeps new partitions from fetching until it is resumed.
            if self.user_paused() && tpl.count() > 0 {
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!(service = &*self.service, error = %e, "could not pause newly assigned partitions");
                }
            }
            self.hooks.assigned(&self.service, tpl);
        }
    }
}
