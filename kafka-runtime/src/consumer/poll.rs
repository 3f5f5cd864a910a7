//! The poll-and-dispatch stage: one thread per service polls its
//! librdkafka consumer (polling blocks, and rebalance callbacks run on the
//! polling thread, where they may wait for handlers) and dispatches what
//! it polled, burst by burst:
//!
//! 1. poll up to [`BURST`] records (rebalance callbacks run here, between
//!    bursts, when the poll thread has stored what it handled);
//! 2. for each run of consecutive records of one partition: under the
//!    table lock, copy the records out of librdkafka (a batch service adds
//!    them to the partition's batch collector, `batch.rs`) and decide who
//!    handles them; then, without the lock:
//!    - the poll thread itself, when the partition's task has nothing
//!      queued or running, the service is not paused and handlers are
//!      cheap (`governor.rs`): it starts each handling (attempt stage) and
//!      finishes it there if it ends in its first poll; a handling that
//!      waits goes to the partition's task, before the rest of the run;
//!    - else the partition's task (`partition.rs`), the whole run in one
//!      message (one wake-up per run, not per record);
//! 3. store the offsets of what it handled (offsets stage), once per run
//!    (at most [`STORE_EVERY`](super::offsets::STORE_EVERY) records), before
//!    anything of the partition is handed to its task.
//!
//! A task that falls behind holds its records in our memory: past its
//! share of [`PENDING_BUDGET`] the poll thread pauses the partition, and
//! resumes it once the task is below half of it, so memory stays bounded
//! and a slow partition never holds up the others (what sarama's
//! `maxProcessingTime` protected).

use std::cell::Cell;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::TopicPartitionList;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::attempt::{self, Begun};
use super::batch::Collector;
use super::commit;
use super::governor::Governor;
use super::group;
use super::offsets::{OffsetSink, Tracker};
use super::partition::{work_bytes, Partition};
use super::protocol::ProtocolConflict;
use super::rebalance::EngineContext;
use super::shared::{Claim, Outcome, Records, Service, Work};
use super::table::{PartitionRef, Queued, Slot, Table};
use super::transaction::Tick;
use crate::metrics::HandledMetrics;
use crate::{Error, Message};

/// How long one `poll` blocks; bounds how fast the poll thread notices
/// shutdown.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long one `poll` blocks while a partition is paused for its budget:
/// short, so a task that drained its queue gets records again at once.
const FEED_INTERVAL: Duration = Duration::from_millis(1);

/// The most records one pass of the poll loop takes before dispatching them.
const BURST: usize = 256;

/// The bytes (keys and payloads) all partitions of a service may hold
/// queued for their tasks before a partition is paused. Pausing makes
/// librdkafka drop what it prefetched for the partition and fetch it again
/// on resume, which costs a broker round trip; holding a little keeps a
/// task fed through short hiccups, and keeps memory bounded.
const PENDING_BUDGET: usize = 16 << 20;
/// Per-partition share of [`PENDING_BUDGET`], whatever the partition count.
const PENDING_PER_PARTITION: std::ops::RangeInclusive<usize> = (64 << 10)..=(2 << 20);

/// The consumer as the engine builds it.
pub(crate) type EngineConsumer = BaseConsumer<EngineContext>;

/// One service's poll thread.
pub(crate) struct Poller {
    pub(crate) consumer: Arc<EngineConsumer>,
    pub(crate) service: Arc<Service>,
    /// Whether, and for now, records may be handled on this thread; `None`
    /// when the service never may ([`Service::may_start_on_poll_thread`]).
    governor: Option<Governor>,
    /// Whether some partition is paused for its budget.
    any_paused: Cell<bool>,
    /// The earliest due time of a batch being collected, if any.
    next_due: Cell<Option<Instant>>,
    /// Whether, and since when, the group refuses this member's protocol.
    protocol: ProtocolConflict,
}

/// Records of one partition this thread handles itself, and what it
/// needs for that without the table lock.
struct Here {
    units: Vec<Records>,
    claim: Arc<Claim>,
    stop: Arc<CancellationToken>,
}

impl Poller {
    pub(crate) fn new(
        consumer: Arc<EngineConsumer>,
        service: Arc<Service>,
        protocol: ProtocolConflict,
    ) -> Self {
        Poller {
            governor: service.may_start_on_poll_thread().then(Governor::default),
            consumer,
            service,
            any_paused: Cell::new(false),
            next_due: Cell::new(None),
            protocol,
        }
    }

    /// Polls until shutdown or an error that ends the member, then stops
    /// cleanly either way: every task finishes (at most `shutdown_timeout`),
    /// what was handled is committed, and the consumer leaves its group.
    pub(crate) fn run(
        &self,
        shutdown: &CancellationToken,
        shutdown_timeout: Duration,
    ) -> Result<(), Error> {
        let mut outcome = match &self.service.transaction {
            Some(transaction) => transaction.start(shutdown),
            None => Ok(()),
        };
        let mut paused = false;
        let mut draining = false;
        let mut burst: Vec<BorrowedMessage<'_>> = Vec::with_capacity(BURST);
        'polling: while outcome.is_ok() && !shutdown.is_cancelled() {
            paused = self.apply_user_pause(paused);
            self.note_membership();
            let mut timeout = if self.any_paused.get() || draining {
                FEED_INTERVAL
            } else {
                POLL_INTERVAL
            };
            if let Some(due) = self.next_due.get() {
                timeout = timeout.min(due.saturating_duration_since(Instant::now()));
            }
            for _ in 0..BURST {
                match self.consumer.poll(timeout) {
                    None => break,
                    Some(Ok(record)) => burst.push(record),
                    Some(Err(e))
                        if e.rdkafka_error_code()
                            == Some(RDKafkaErrorCode::InconsistentGroupProtocol) =>
                    {
                        let assignments = self.consumer.context().table().assignments;
                        self.consumer.context().readiness.refused(&format!(
                            "consumer group `{}` refuses this member's partition assignment \
                             protocol (InconsistentGroupProtocol): its members use another strategy",
                            self.service.group
                        ));
                        if let Some(error) = self.protocol.refused(&self.consumer, assignments) {
                            tracing::error!(service = &*self.service.name, %error, "leaving the group");
                            outcome = Err(error);
                            break 'polling;
                        }
                    }
                    Some(Err(e)) if ends_the_member(&e) => {
                        tracing::error!(service = &*self.service.name, error = %e, "fatal consumer error");
                        outcome = Err(Error::Kafka {
                            service: self.service.name.to_string(),
                            source: e,
                        });
                        break 'polling;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(service = &*self.service.name, error = %e, "consumer error")
                    }
                }
                timeout = Duration::ZERO;
            }
            let mut now = Instant::now();
            self.dispatch(&burst, &mut now);
            burst.clear();
            if self.next_due.get().is_some_and(|due| due <= now) {
                self.hand_over_due_batches(now);
            }
            if self.any_paused.get() {
                self.resume_drained();
            }
            if let Some(error) = self.consumer.context().take_failure() {
                outcome = Err(error);
                break 'polling;
            }
            draining = false;
            if let Some(transaction) = &self.service.transaction {
                match transaction.tick() {
                    Tick::Nothing => {}
                    Tick::Draining => draining = true,
                    Tick::End => {
                        if let Err(error) = self.consumer.context().end_transaction(&self.consumer)
                        {
                            tracing::error!(service = &*self.service.name, %error, "fatal transaction error");
                            outcome = Err(error);
                            break 'polling;
                        }
                    }
                }
            }
        }
        drop(burst);
        let readiness = &self.consumer.context().readiness;
        match &outcome {
            Ok(()) => readiness.stopped("the service is stopping"),
            Err(error) => readiness.stopped(&error.to_string()),
        }
        tracing::info!(
            service = &*self.service.name,
            "stopping: finishing in-flight handlers"
        );
        let ctx = self.consumer.context();
        ctx.stop_and_commit(&self.consumer, None, shutdown_timeout);
        if self.service.transaction.is_none() {
            commit::commit_stored(&self.service.name, &self.consumer);
        }
        match ctx.take_failure() {
            Some(error) if outcome.is_ok() => Err(error),
            _ => outcome,
        }
    }

    /// Until the member first joins its group: whether it holds a
    /// generation already (a member assigned no partition may not see an
    /// assignment callback under every protocol).
    fn note_membership(&self) {
        let ctx = self.consumer.context();
        if ctx.table().assignments > 0 || ctx.readiness.is_joined() {
            return;
        }
        if group::identity(&self.consumer).is_some_and(|id| id.generation_id > 0) {
            ctx.readiness.joined();
        }
    }

    /// Dispatches a burst, run by run of records of one partition.
    fn dispatch(&self, burst: &[BorrowedMessage<'_>], now: &mut Instant) {
        let mut rest = burst;
        while let Some(head) = rest.first() {
            let same = |r: &BorrowedMessage<'_>| {
                r.partition() == head.partition() && r.topic_ptr() == head.topic_ptr()
            };
            let len = rest.iter().position(|r| !same(r)).unwrap_or(rest.len());
            let (run, after) = rest.split_at(len);
            self.dispatch_run(run, now);
            rest = after;
        }
    }

    /// Dispatches records of one partition, in order.
    fn dispatch_run(&self, run: &[BorrowedMessage<'_>], now: &mut Instant) {
        if let Some(here) = self.take_or_hand_over(run, *now) {
            self.run_here(here, now);
        }
    }

    /// Handles `here` on this thread, without the table lock: each
    /// handling's first poll runs here, until one waits (it and what
    /// follows go to the partition's task, in order) or handlers turn out
    /// costly (the rest goes to the task). `now` is the last clock read,
    /// moved on by each handling.
    fn run_here(&self, here: Here, now: &mut Instant) {
        let Here { units, claim, stop } = here;
        // No lock held: user code runs here.
        let mut tracker = Tracker::default();
        let mut units = units.into_iter();
        let mut left: Vec<Work> = Vec::new();
        let governor = self.governor.as_ref();
        let handled = HandledMetrics::of(&self.service.name, &claim.topic);
        for unit in units.by_ref() {
            let (count, last) = (unit.as_slice().len(), last_offset(&unit));
            let (begun, took) = attempt::begin(&self.service, &claim, unit, &stop, now, &handled);
            let outcome = match begun {
                Begun::Done(outcome) => Some(outcome),
                Begun::Continues {
                    mut continuation,
                    running,
                } => {
                    // A failure's next step (a retry waits; giving up
                    // without a dead-letter topic may end here).
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    match running {
                        false => match continuation.as_mut().poll(&mut cx) {
                            Poll::Ready(outcome) => Some(outcome),
                            Poll::Pending => None,
                        },
                        true => None,
                    }
                    .or_else(|| {
                        left.push(Work::Started {
                            continuation,
                            last,
                            records: count,
                        });
                        None
                    })
                }
            };
            if let Some(governor) = governor {
                governor.add(count as u32, took, now.into_std());
            }
            match outcome {
                Some(Outcome::Commit) => tracker.complete(last, true),
                Some(Outcome::SkipWithoutCommit) => tracker.complete(last, false),
                // Stopped (the partition is being revoked): nothing more.
                Some(Outcome::Stopped) => return self.flush(&claim, &mut tracker),
                // Waits: it and what follows go to the task, in order.
                None => break,
            }
            if tracker.flush_due() {
                self.flush(&claim, &mut tracker);
            }
            if governor.is_some_and(|g| !g.allows(now.into_std())) {
                break;
            }
        }
        // Stored before the task may take the partition over.
        self.flush(&claim, &mut tracker);
        left.extend(work_of(units));
        if !left.is_empty() {
            self.send(&claim, left);
        }
    }

    /// Under the table lock: the partition's slot (started on its first
    /// record of this assignment), the run's records copied out, added to
    /// the batch being collected for a batch service; then either handed
    /// to the partition's task at once, or returned to be handled here.
    fn take_or_hand_over(&self, run: &[BorrowedMessage<'_>], now: Instant) -> Option<Here> {
        let head = run.first()?;
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let Table {
            slots,
            assignments,
            assigned,
            topic_names,
        } = &mut *table;
        let budget = (PENDING_BUDGET / assigned.len().max(1))
            .clamp(*PENDING_PER_PARTITION.start(), *PENDING_PER_PARTITION.end());
        let topic = topic_names.of(head);
        let key = PartitionRef(&topic, head.partition());
        // A partition with a slot is assigned (revocations remove both),
        // so the usual case takes one lookup.
        let slot = match slots.get_mut(&key) {
            Some(slot) => slot,
            None if !assigned.contains(&key) => {
                tracing::debug!(
                    service = &*self.service.name,
                    topic = &*topic,
                    partition = head.partition(),
                    records = run.len(),
                    "dropping records of a partition no longer assigned"
                );
                return None;
            }
            None => slots
                .entry((topic.to_string(), head.partition()))
                .or_insert_with(|| self.start_task(&topic, head, *assignments)),
        };
        let Slot {
            claim,
            arena,
            batch,
            ..
        } = &mut *slot;
        let msgs = run
            .iter()
            .map(|record| Message::from_borrowed(record, &claim.topic, arena));
        let units: Vec<Records> = match batch {
            None => msgs.map(Records::One).collect(),
            Some(collector) => {
                let full: Vec<Records> = msgs
                    .filter_map(|m| collector.push(m, now.into_std()))
                    .map(Records::Batch)
                    .collect();
                self.note_due(collector);
                full
            }
        };
        if units.is_empty() {
            return None;
        }
        let here = slot.queued.is_idle()
            && !ctx.user_paused()
            && self
                .governor
                .as_ref()
                .is_some_and(|g| g.allows(now.into_std()));
        if here {
            return Some(Here {
                units,
                claim: slot.claim.clone(),
                stop: slot.stop.clone(),
            });
        }
        let work: Vec<Work> = work_of(units).collect();
        self.queue(slot, work, budget);
        None
    }

    /// Sends what this thread handed over to the partition's task.
    fn send(&self, claim: &Claim, work: Vec<Work>) {
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let budget = (PENDING_BUDGET / table.assigned.len().max(1))
            .clamp(*PENDING_PER_PARTITION.start(), *PENDING_PER_PARTITION.end());
        // No poll ran since the slot was looked up, so no revocation took it.
        if let Some(slot) = table
            .slots
            .get_mut(&PartitionRef(&claim.topic, claim.partition))
        {
            self.queue(slot, work, budget);
        }
    }

    /// Queues work for a partition's task and pauses the partition when
    /// the task holds more than `budget` bytes.
    fn queue(&self, slot: &mut Slot, work: Vec<Work>, budget: usize) {
        for work in work {
            let (records, bytes) = (work.len(), work_bytes(&work));
            slot.queued.add(records, bytes);
            if slot.tx.send(work).is_err() {
                // The task stopped (revocation or shutdown): unhandled,
                // uncommitted, read again by the partition's next owner.
                slot.queued.finish(records, bytes);
            }
        }
        if !slot.paused && slot.queued.bytes() > budget {
            slot.paused = true;
            self.any_paused.set(true);
            let (topic, partition) = (&*slot.claim.topic, slot.claim.partition);
            tracing::debug!(
                service = &*self.service.name,
                topic,
                partition,
                "partition task behind: partition paused"
            );
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, partition);
            if let Err(e) = self.consumer.pause(&tpl) {
                tracing::warn!(service = &*self.service.name, topic, partition, error = %e, "could not pause a partition");
            }
        }
    }

    fn flush(&self, claim: &Claim, tracker: &mut Tracker) {
        let sink: &dyn OffsetSink = &*self.consumer;
        tracker.flush(sink, &self.service.name, &claim.topic, claim.partition);
    }

    fn note_due(&self, collector: &Collector) {
        if let Some(due) = collector.due().map(Instant::from_std) {
            if self.next_due.get().is_none_or(|next| due < next) {
                self.next_due.set(Some(due));
            }
        }
    }

    /// Starts the task of a partition whose first record of this
    /// assignment is `head`.
    fn start_task(&self, topic: &Arc<str>, head: &BorrowedMessage<'_>, assignment: u64) -> Slot {
        let ctx = self.consumer.context();
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(CancellationToken::new());
        let identity = group::identity(&self.consumer);
        let claim = Arc::new(Claim {
            topic: topic.clone(),
            partition: head.partition(),
            initial_offset: head.offset(),
            assignment,
            member_id: identity.as_ref().map(|id| Arc::from(id.member_id.as_str())),
            generation_id: identity.map(|id| id.generation_id),
        });
        let queued = Arc::new(Queued::default());
        let sink: Arc<dyn OffsetSink> = match &self.service.transaction {
            Some(transaction) => {
                transaction.note_position(topic, head.partition(), head.offset());
                transaction.clone()
            }
            None => self.consumer.clone(),
        };
        let partition = Partition {
            service: self.service.clone(),
            sink,
            claim: claim.clone(),
            queued: queued.clone(),
            stop: stop.clone(),
        };
        let task = ctx.runtime.spawn(partition.run(rx));
        Slot {
            claim,
            tx,
            queued,
            paused: false,
            batch: self
                .service
                .batch
                .map(|(size, flush)| Collector::new(size, flush)),
            arena: Default::default(),
            stop,
            task,
        }
    }

    /// Hands over the batches whose `batchFlush` has passed: started here
    /// when the partition's task is idle, the service is not paused and
    /// handlers are cheap; else queued for the task.
    fn hand_over_due_batches(&self, now: Instant) {
        let ctx = self.consumer.context();
        let mut next: Option<Instant> = None;
        let mut due: Vec<(Arc<Claim>, Vec<Message>)> = Vec::new();
        {
            let table = &mut *ctx.table();
            for slot in table.slots.values_mut() {
                let Some(collector) = &mut slot.batch else {
                    continue;
                };
                if let Some(batch) = collector.take_due(now.into_std()) {
                    due.push((slot.claim.clone(), batch));
                }
                if let Some(at) = collector.due().map(Instant::from_std) {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        self.next_due.set(next);
        for (claim, batch) in due {
            self.dispatch_batch(&claim, batch, now);
        }
    }

    /// A due batch: handled like a full one.
    fn dispatch_batch(&self, claim: &Arc<Claim>, batch: Vec<Message>, now: Instant) {
        let ctx = self.consumer.context();
        let here = {
            let mut table = ctx.table();
            let budget = (PENDING_BUDGET / table.assigned.len().max(1))
                .clamp(*PENDING_PER_PARTITION.start(), *PENDING_PER_PARTITION.end());
            let Some(slot) = table
                .slots
                .get_mut(&PartitionRef(&claim.topic, claim.partition))
            else {
                return;
            };
            let here = slot.queued.is_idle()
                && !ctx.user_paused()
                && self
                    .governor
                    .as_ref()
                    .is_some_and(|g| g.allows(now.into_std()));
            if !here {
                self.queue(slot, vec![Work::Batch(batch)], budget);
                return;
            }
            Here {
                units: vec![Records::Batch(batch)],
                claim: slot.claim.clone(),
                stop: slot.stop.clone(),
            }
        };
        self.run_here(here, &mut { now });
    }

    /// Resumes the partitions paused for their budget whose task is below
    /// half of it again.
    fn resume_drained(&self) {
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let budget = (PENDING_BUDGET / table.assigned.len().max(1))
            .clamp(*PENDING_PER_PARTITION.start(), *PENDING_PER_PARTITION.end());
        let mut still_paused = false;
        for slot in table.slots.values_mut() {
            if !slot.paused {
                continue;
            }
            if slot.queued.bytes() > budget / 2 {
                still_paused = true;
                continue;
            }
            slot.paused = false;
            if ctx.user_paused() {
                // The whole service is paused; resuming it resumes this
                // partition too.
                continue;
            }
            let (topic, partition) = (&*slot.claim.topic, slot.claim.partition);
            tracing::debug!(
                service = &*self.service.name,
                topic,
                partition,
                "partition task caught up: partition resumed"
            );
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, partition);
            if let Err(e) = self.consumer.resume(&tpl) {
                tracing::warn!(service = &*self.service.name, topic, partition, error = %e, "could not resume a partition");
            }
        }
        self.any_paused.set(still_paused);
    }

    /// Follows [`crate::ServiceControl`]: pauses or resumes fetching for the
    /// whole assignment when the switch moved since `applied`; returns the
    /// state now applied. Tasks hold back handling on their own
    /// ([`Service::admit`]); this only keeps more records from piling up.
    fn apply_user_pause(&self, applied: bool) -> bool {
        let ctx = self.consumer.context();
        let wanted = ctx.user_paused();
        if wanted == applied {
            return applied;
        }
        let assignment = match self.consumer.assignment() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(service = &*self.service.name, error = %e, "could not read the assignment to pause or resume");
                return applied;
            }
        };
        let result = if wanted {
            tracing::info!(service = &*self.service.name, "consumption paused");
            self.consumer.pause(&assignment)
        } else {
            tracing::info!(service = &*self.service.name, "consumption resumed");
            // Partitions still paused for their budget stay paused;
            // resume_drained resumes them once their task catches up.
            let table = ctx.table();
            let mut tpl = TopicPartitionList::new();
            for e in assignment.elements() {
                let key = PartitionRef(e.topic(), e.partition());
                if !table.slots.get(&key).is_some_and(|s| s.paused) {
                    tpl.add_partition(e.topic(), e.partition());
                }
            }
            drop(table);
            self.consumer.resume(&tpl)
        };
        if let Err(e) = result {
            tracing::warn!(service = &*self.service.name, error = %e, "could not pause or resume the assignment");
        }
        wanted
    }
}

/// Whether a consumer error ends the member, and `serve()` with an error:
/// librdkafka retries transient errors itself and reports them for
/// information; a fatal error is final. (The one place to add group errors
/// that no retry can cure.)
fn ends_the_member(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal)
}

/// The (last) offset of a handling's records.
fn last_offset(records: &Records) -> i64 {
    records.as_slice().last().map_or(-1, |m| m.offset)
}

/// Units left for a partition's task, as the work it takes: consecutive
/// single records in one piece.
fn work_of(units: impl IntoIterator<Item = Records>) -> impl Iterator<Item = Work> {
    let mut units = units.into_iter().peekable();
    std::iter::from_fn(move || match units.next()? {
        Records::Batch(batch) => Some(Work::Batch(batch)),
        Records::One(msg) => {
            let mut msgs = vec![msg];
            while let Some(Records::One(_)) = units.peek() {
                if let Some(Records::One(msg)) = units.next() {
                    msgs.push(msg);
                }
            }
            Some(Work::Records(msgs))
        }
    })
}
