//! The consumer engine: one consumer-group member per Kafka service.
//!
//! Layout: a dedicated thread polls one librdkafka `BaseConsumer` (polling is
//! blocking, and rebalance callbacks run on the polling thread, where they may
//! wait for handlers) and dispatches records, in bursts, to their partition's
//! worker, a tokio task fed through a bounded channel. A worker that falls
//! behind fills its channel; the poll thread then holds the partition's
//! further records back, and pauses the partition once it holds more than
//! its share of a per-service byte budget, until the worker drains, so memory
//! stays bounded and a slow partition never holds up the others (this is also
//! what sarama's `maxProcessingTime` protected). Workers store an offset only after
//! the handler succeeded (or the retry policy gave up); librdkafka commits
//! stored offsets every `commit_interval`, and synchronously on revocation and
//! shutdown.
//!
//! When a partition's worker is idle (nothing queued, nothing running), the
//! poll thread starts the next record's handler itself and finishes it there
//! if it completes in its first poll; a handler that waits continues on the
//! worker (`inline.rs`, `handling.rs`; a batch service collects its batch
//! there too). This saves the hand-off, which costs more than a cheap
//! handler; `governor.rs` decides when handlers are too costly for it.
//!
//! A worker handles its partition one message (or batch) at a time, unless
//! the service sets `keyOrderedConcurrency=N`: then up to N handlers run at
//! once within the partition, one per key at a time, and only the contiguous
//! prefix of handled offsets is stored (see `ordered.rs`).

mod attempt;
mod governor;
mod group;
mod handling;
mod inline;
mod limiter;
mod ordered;
mod protocol;
mod rebalance;
mod records;
mod worker;

pub(crate) use attempt::Failure;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::TopicPartitionList;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::config::ConsumerService;
use crate::control::Hooks;
use crate::handler::Handler;
use crate::{Error, Message};
use attempt::Policy;
use rebalance::{EngineContext, PartitionRef, Slot, Table};
use worker::{Claim, ServiceRuntime, Work};

/// How long one `poll` blocks; bounds how fast the poll thread notices
/// shutdown and drained workers.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long one `poll` blocks while records wait for a full worker queue:
/// short, so a worker that drained its queue gets the next records at once
/// instead of idling until the poll returns.
const FEED_INTERVAL: Duration = Duration::from_millis(1);

/// librdkafka's `fetch.queue.backoff.ms` unless the configuration sets it
/// (`librdkafka_overrides`): how long fetching a partition is postponed once
/// its prefetch queue is over its thresholds. librdkafka's 1 s default put a
/// one-second stall into every consumer that fell behind its prefetch even
/// briefly (kafka-bench: 240,000 records drained in 1.4 s instead of 0.4 s);
/// sarama, the seed's client, has no such pause.
const FETCH_QUEUE_BACKOFF: Duration = Duration::from_millis(10);

/// The most records one pass of the poll loop takes before handing them to
/// the workers.
const BURST: usize = 256;

/// The bytes (keys and payloads) all partitions of a service may hold back
/// for their workers before a partition is paused. Pausing a partition makes
/// librdkafka drop what it prefetched for it and fetch it again on resume,
/// which costs a broker round trip; holding back a little instead keeps a
/// fast worker fed through short hiccups, and keeps memory bounded.
const PENDING_BUDGET: usize = 32 << 20;
/// Per-partition share of [`PENDING_BUDGET`], whatever the partition count.
const PENDING_PER_PARTITION: std::ops::RangeInclusive<usize> = (64 << 10)..=(4 << 20);

/// How a service's poll thread ended: normally, with a fatal error, or with
/// a panic (a bug in the engine), whose payload `serve()` re-raises.
pub(crate) type Ended = std::thread::Result<Result<(), Error>>;

/// A running service; `done` resolves when its poll thread has finished.
pub(crate) struct RunningService {
    pub(crate) name: String,
    pub(crate) done: oneshot::Receiver<Ended>,
}

/// What user code attached to a service: rebalance hooks and the pause
/// switch of [`crate::ServiceControl`].
pub(crate) struct Controls {
    pub(crate) hooks: Hooks,
    pub(crate) paused: watch::Receiver<bool>,
}

/// Creates the service's consumer, subscribes it and starts its poll thread.
/// `shutdown` stops it; it then gives in-flight handlers `shutdown_timeout`.
pub(crate) fn start(
    service: &ConsumerService,
    handler: Handler,
    controls: Controls,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
) -> Result<RunningService, Error> {
    let config = &service.config;
    let kafka_err = |source| Error::Kafka {
        service: service.name.clone(),
        source,
    };
    let name: Arc<str> = Arc::from(service.name.as_str());
    let context = EngineContext {
        service: name.clone(),
        table: Mutex::new(Table::default()),
        runtime: tokio::runtime::Handle::current(),
        // A revocation must finish within the group's rebalance timeout
        // (also librdkafka's `max.poll.interval.ms` here, and the callback
        // blocks polling), or the coordinator evicts this member anyway;
        // keep a margin for the commit that follows.
        revoke_wait: config.group_rebalance_timeout.mul_f64(0.75),
        hooks: controls.hooks,
        paused: controls.paused.clone(),
    };
    let mut client_config = config.client_config();
    if client_config.get("statistics.interval.ms").is_none() {
        // Statistics feed the consumer lag gauges (crate::metrics).
        let interval = crate::metrics::DEFAULT_STATISTICS_INTERVAL.as_millis();
        client_config.set("statistics.interval.ms", interval.to_string());
    }
    if client_config.get("fetch.queue.backoff.ms").is_none() {
        client_config.set(
            "fetch.queue.backoff.ms",
            FETCH_QUEUE_BACKOFF.as_millis().to_string(),
        );
    }
    crate::logging::configure(&mut client_config);
    let consumer: BaseConsumer<EngineContext> =
        BaseConsumer::from_config_and_context(&client_config, context).map_err(kafka_err)?;
    for topic in &config.topics {
        crate::metrics::register_consumer(&service.name, topic);
    }
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(kafka_err)?;

    let batch = match (&handler, config.batch) {
        (Handler::Batch(_), Some(n)) => Some((n.max(1) as usize, config.batch_flush)),
        (Handler::Batch(_), None) => Some((1, config.batch_flush)),
        (Handler::Single(_), _) => None,
    };
    let runtime = Arc::new(ServiceRuntime {
        name,
        group: Arc::from(config.group.as_str()),
        handler,
        policy: Policy {
            retry: config.retry,
            interval: config.retry_interval,
            timeout: service.timeout,
        },
        batch,
        trpc_meta: config.common.trpc_meta,
        limiter: limiter::Limiter::new(config.limiter_rate, config.limiter_burst),
        key_ordered_concurrency: config.key_ordered_concurrency.max(1) as usize,
        paused: controls.paused,
        dead_letter: crate::deadletter::DeadLetter::create(config).map_err(kafka_err)?,
    });
    // Enough to keep a worker busy between polls and a whole batch ready,
    // small enough that a paused partition holds little memory.
    let capacity = batch.map_or(64, |(n, _)| (2 * n).max(64));
    let (done_tx, done) = oneshot::channel();
    let consumer = Arc::new(consumer);
    let protocol = protocol::ProtocolConflict::new(&service.name, config);
    let thread_name = format!("kafka-consumer-{}", service.name);
    std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            // Handlers started on this thread (`Poller::try_inline`) find the
            // runtime as they would on a worker: spawn, timers, I/O.
            let handle = consumer.context().runtime.clone();
            let _entered = handle.enter();
            let poller = Poller {
                protocol,
                inline: runtime.may_inline().then(governor::Governor::default),
                consumer,
                service: runtime,
                capacity,
                any_pending: std::cell::Cell::new(false),
                next_flush: std::cell::Cell::new(None),
            };
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                poller.run(&shutdown, shutdown_timeout)
            }));
            let service = poller.service.name.clone();
            leave_group(poller.consumer, &service, shutdown_timeout);
            let _ = done_tx.send(ended);
        })
        .map_err(|e| Error::Wiring(format!("could not start a consumer thread: {e}")))?;
    Ok(RunningService {
        name: service.name.clone(),
        done,
    })
}

struct Poller {
    consumer: Arc<BaseConsumer<EngineContext>>,
    service: Arc<ServiceRuntime>,
    capacity: usize,
    /// Whether some partition may hold records back (`Slot::pending`); saves
    /// walking every slot after each poll when none does.
    any_pending: std::cell::Cell<bool>,
    /// Whether, and for now, records may be handled on this thread; `None`
    /// when the service never may ([`ServiceRuntime::may_inline`]).
    inline: Option<governor::Governor>,
    /// The earliest flush deadline of a batch collected on this thread
    /// (`Slot::open_batch`), if any.
    next_flush: std::cell::Cell<Option<Instant>>,
    /// Whether, and since when, the group refuses this member's protocol.
    protocol: protocol::ProtocolConflict,
}

impl Poller {
    /// Polls until shutdown or a fatal client error, then stops cleanly
    /// either way.
    fn run(&self, shutdown: &CancellationToken, shutdown_timeout: Duration) -> Result<(), Error> {
        let mut outcome = Ok(());
        let mut paused = false;
        'polling: while !shutdown.is_cancelled() {
            paused = self.apply_user_pause(paused);
            let mut timeout = if self.any_pending.get() {
                FEED_INTERVAL
            } else {
                POLL_INTERVAL
            };
            if let Some(due) = self.next_flush.get() {
                timeout = timeout.min(due.saturating_duration_since(Instant::now()));
            }
            // Take what librdkafka has ready (up to BURST records) before
            // handing it to the workers: one wake-up per worker and burst
            // instead of one per record.
            let mut burst = self.inline.as_ref().map(governor::Governor::burst);
            for _ in 0..BURST {
                match self.consumer.poll(timeout) {
                    None => break,
                    Some(Ok(record)) => self.dispatch(&record, burst.as_mut()),
                    // librdkafka retries transient errors itself and reports them
                    // for information; only a fatal error ends the member.
                    Some(Err(e))
                        if e.rdkafka_error_code()
                            == Some(RDKafkaErrorCode::InconsistentGroupProtocol) =>
                    {
                        let assignments = self.consumer.context().table().assignments;
                        if let Some(error) = self.protocol.refused(&self.consumer, assignments) {
                            tracing::error!(service = &*self.service.name, %error, "leaving the group");
                            outcome = Err(error);
                            break 'polling;
                        }
                    }
                    Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) => {
                        tracing::error!(service = &*self.service.name, error = %e, "fatal consumer error");
                        outcome = Err(Error::Kafka {
                            service: self.service.name.to_string(),
                            source: e,
                        });
                        break 'polling;
                    }
                    Some(Err(e)) => tracing::warn!(
                        service = &*self.service.name, error = %e, "consumer error"
                    ),
                }
                timeout = Duration::ZERO;
            }
            if let (Some(governor), Some(burst)) = (&self.inline, burst) {
                governor.end(burst);
            }
            if self
                .next_flush
                .get()
                .is_some_and(|due| due <= Instant::now())
            {
                self.flush_due_batches();
            }
            if self.any_pending.get() {
                self.feed_pending();
            }
        }
        tracing::info!(
            service = &*self.service.name,
            "stopping: finishing in-flight handlers"
        );
        let ctx = self.consumer.context();
        ctx.stop_and_commit(&self.consumer, None, shutdown_timeout);
        rebalance::commit_stored(&self.service.name, &self.consumer);
        outcome
    }

    /// Follows [`crate::ServiceControl`]: pauses or resumes fetching for the
    /// whole assignment when the switch moved since `applied`; returns the
    /// state now applied. Workers hold back handling on their own (see
    /// `worker::run`); this only keeps more records from piling up.
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
            // Partitions still held back by a full worker queue stay paused;
            // feed_pending resumes them once their queue drains.
            let table = ctx.table();
            let mut tpl = TopicPartitionList::new();
            for e in assignment.elements() {
                let key = (e.topic().to_owned(), e.partition());
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

    /// Hands a record to its partition: handled right here when the
    /// partition's worker is idle and the service allows it
    /// ([`Self::try_inline`]), else queued for the worker (`feed_pending`
    /// hands it over), starting the worker on the partition's first record of
    /// this assignment; pauses the partition when it holds back more than its
    /// share of [`PENDING_BUDGET`].
    fn dispatch(&self, record: &BorrowedMessage<'_>, burst: Option<&mut governor::Burst>) {
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let Table {
            slots,
            assignments,
            assigned,
            topic_names,
        } = &mut *table;
        let (topic, partition) = (topic_names.of(record), record.partition());
        let key = PartitionRef(topic, partition);
        let budget = (PENDING_BUDGET / assigned.len().max(1))
            .clamp(*PENDING_PER_PARTITION.start(), *PENDING_PER_PARTITION.end());
        // A partition with a worker is assigned (revocations remove both),
        // so the usual case takes one lookup.
        let slot = match slots.get_mut(&key) {
            Some(slot) => slot,
            None if !assigned.contains(&key) => {
                tracing::debug!(
                    service = &*self.service.name,
                    topic,
                    partition,
                    offset = record.offset(),
                    "dropping a record of a partition no longer assigned"
                );
                return;
            }
            None => slots
                .entry((topic.to_owned(), partition))
                .or_insert_with(|| {
                    self.start_worker(topic, partition, record.offset(), *assignments)
                }),
        };
        if let Some(burst) = burst {
            if self.try_inline(slot, record, burst) {
                return;
            }
        }
        let msg = Message::from_borrowed(record, &slot.claim.topic, &mut slot.arena);
        self.hold_back(slot, msg, budget);
    }

    /// Queues `msg` for its partition's worker (`feed_pending` hands it
    /// over) and pauses the partition when it holds back more than `budget`.
    fn hold_back(&self, slot: &mut Slot, msg: Message, budget: usize) {
        let (topic, partition) = (&*slot.claim.topic, slot.claim.partition);
        slot.pending_bytes += held_bytes(&msg);
        let over_budget = !slot.paused && slot.pending_bytes > budget;
        slot.pending.push_back(msg);
        self.any_pending.set(true);
        if over_budget {
            slot.paused = true;
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, partition);
            tracing::debug!(
                service = &*self.service.name,
                topic,
                partition,
                "worker queue full: partition paused"
            );
            if let Err(e) = self.consumer.pause(&tpl) {
                tracing::warn!(service = &*self.service.name, topic, partition, error = %e, "could not pause a partition");
            }
        }
    }

    /// Starts the worker of a partition whose first record of this
    /// assignment is at `offset`.
    fn start_worker(&self, topic: &str, partition: i32, offset: i64, assignment: u64) -> Slot {
        let ctx = self.consumer.context();
        let (tx, rx) = mpsc::channel(self.capacity);
        let stop = Arc::new(CancellationToken::new());
        let identity = group::identity(&self.consumer);
        let claim = Arc::new(Claim {
            topic: Arc::from(topic),
            partition,
            initial_offset: offset,
            assignment,
            member_id: identity.as_ref().map(|id| Arc::from(id.member_id.as_str())),
            generation_id: identity.map(|id| id.generation_id),
        });
        let busy = self.inline.is_some().then(|| Arc::new(AtomicUsize::new(0)));
        let task = ctx.runtime.spawn(worker::run(
            self.service.clone(),
            self.consumer.clone(),
            claim.clone(),
            rx,
            CancellationToken::clone(&stop),
            busy.clone(),
        ));
        Slot {
            tx,
            claim,
            busy,
            open_batch: Vec::new(),
            arena: Default::default(),
            batch_due: None,
            pending: VecDeque::new(),
            pending_bytes: 0,
            paused: false,
            stop,
            task,
        }
    }

    /// Moves held-back records into workers that have room again and resumes
    /// their partitions once nothing is held back; `true` when no partition
    /// holds anything back any more.
    fn feed_pending(&self) -> bool {
        let ctx = self.consumer.context();
        let mut table = ctx.table();
        let mut drained = true;
        for ((topic, partition), slot) in table.slots.iter_mut() {
            while let Some(msg) = slot.pending.pop_front() {
                let size = held_bytes(&msg);
                match slot.tx.try_reserve() {
                    Ok(permit) => {
                        if let Some(busy) = &slot.busy {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        permit.send(Work::Record(msg));
                        slot.pending_bytes -= size;
                    }
                    Err(mpsc::error::TrySendError::Full(())) => {
                        slot.pending.push_front(msg);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(())) => {
                        slot.pending.clear();
                        slot.pending_bytes = 0;
                    }
                }
            }
            drained &= slot.pending.is_empty();
            if slot.pending.is_empty() && slot.paused {
                slot.paused = false;
                if ctx.user_paused() {
                    // The whole service is paused; resuming it resumes this
                    // partition too.
                    continue;
                }
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition(topic, *partition);
                tracing::debug!(
                    service = &*self.service.name,
                    topic,
                    partition,
                    "worker caught up: partition resumed"
                );
                if let Err(e) = self.consumer.resume(&tpl) {
                    tracing::warn!(service = &*self.service.name, topic, partition, error = %e, "could not resume a partition");
                }
            }
        }
        self.any_pending.set(!drained);
        drained
    }
}

/// Leaves the group now rather than whenever the last reference drops: the
/// consumer is dropped on this thread once the workers, stopped by now,
/// released theirs; its `Drop` closes the queue and serves it until
/// librdkafka reports the consumer closed (the final revocation runs our
/// callback, with nothing left to wait for; records polled then are neither
/// handled nor committed). Closing it here first would make that `Drop`
/// close it a second time and log an error (`BrokerDestroy`). Only when a
/// worker still holds the consumer after `wait` (a handler that overran the
/// shutdown deadline) is it closed here and left to that worker.
fn leave_group(consumer: Arc<BaseConsumer<EngineContext>>, service: &str, wait: Duration) {
    let deadline = Instant::now() + wait.max(Duration::from_secs(1));
    let mut consumer = consumer;
    loop {
        match Arc::try_unwrap(consumer) {
            Ok(last) => {
                drop(last);
                break;
            }
            Err(shared) if Instant::now() < deadline => {
                consumer = shared;
                std::thread::sleep(FEED_INTERVAL);
            }
            Err(shared) => {
                tracing::warn!(
                    service,
                    "a handler still holds the consumer after the shutdown deadline; \
                     leaving the group without it"
                );
                match shared.close_queue() {
                    Ok(()) => {
                        while !shared.closed() && Instant::now() < deadline + wait {
                            let _ = shared.poll(POLL_INTERVAL);
                        }
                    }
                    Err(e) => tracing::warn!(service, error = %e, "could not close the consumer"),
                }
                break;
            }
        }
    }
    tracing::info!(service, "stopped");
}

/// What a held-back record counts against [`PENDING_BUDGET`].
fn held_bytes(msg: &Message) -> usize {
    msg.payload.as_ref().map_or(0, |p| p.len()) + msg.key.as_ref().map_or(0, |k| k.len()) + 64
}
