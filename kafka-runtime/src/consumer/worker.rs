//! One partition's worker: takes the partition's messages in order, runs the
//! handler on each message (or batch), and stores the offset after success.
//!
//! One worker per assigned partition gives concurrency across partitions and
//! order within one, as sarama's `ConsumeClaim` did in the seed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::attempt::{Outcome, Policy};
use super::handling::{self, Handling};
use super::limiter::Limiter;
use super::rebalance::EngineContext;
use super::records::Records;
use crate::deadletter::DeadLetter;
use crate::handler::Handler;
use crate::Message;

/// What every worker of one service shares.
pub(crate) struct ServiceRuntime {
    pub(crate) name: Arc<str>,
    /// Shared with every handler's [`RawContext`](crate::RawContext) (a
    /// reference count per message).
    pub(crate) group: Arc<str>,
    pub(crate) handler: Handler,
    pub(crate) policy: Policy,
    pub(crate) batch: Option<(usize, Duration)>,
    pub(crate) trpc_meta: bool,
    pub(crate) limiter: Option<Limiter>,
    /// `keyOrderedConcurrency`: above 1, [`super::ordered`] runs the
    /// partition's messages instead of the sequential loop below.
    pub(crate) key_ordered_concurrency: usize,
    /// The service's pause switch ([`crate::ServiceControl`]).
    pub(crate) paused: watch::Receiver<bool>,
    /// Where given-up records go (`deadLetterTopic`); `None` skips them.
    pub(crate) dead_letter: Option<DeadLetter>,
}

impl ServiceRuntime {
    /// Whether the poll thread may start handling records itself (see
    /// `Poller::try_inline`): one message or batch at a time per partition
    /// (not with key-ordered concurrency, whose loop owns its records) and
    /// without a limiter, whose wait belongs on a worker.
    pub(crate) fn may_inline(&self) -> bool {
        self.key_ordered_concurrency <= 1 && self.limiter.is_none()
    }
}

/// What the poll thread hands a partition's worker.
pub(crate) enum Work {
    /// A record to handle in turn.
    Record(Message),
    /// A record (or batch) whose handling the poll thread started itself
    /// and whose handler is waiting (its first poll returned `Pending`): the
    /// worker finishes it, then stores `offset` as the outcome says. The
    /// poll thread only starts records when the worker has nothing else, so
    /// these are always the partition's next records.
    Started {
        /// The (last) record's offset.
        offset: i64,
        /// How many records it covers (see `Slot::busy`).
        records: usize,
        /// Its handling, under the same policy as a worker's.
        handling: Handling,
    },
}

/// Marks `records` records of the partition finished (see `Slot::busy`).
fn finished(busy: Option<&AtomicUsize>, records: usize) {
    if let Some(busy) = busy {
        // Release: the poll thread that reads zero also sees the stored offset.
        busy.fetch_sub(records, Ordering::Release);
    }
}

/// The next record for a batch being collected and for the key-ordered
/// loop. `Work::Started` cannot reach them: the poll thread starts records
/// itself only when the worker has nothing unfinished (`Slot::busy` is zero),
/// while a batch being collected is unfinished, and never for key-ordered
/// services ([`ServiceRuntime::may_inline`]). Cancel-safe, as
/// `mpsc::Receiver::recv` is.
pub(super) async fn next_record(rx: &mut mpsc::Receiver<Work>) -> Option<Message> {
    match rx.recv().await? {
        Work::Record(msg) => Some(msg),
        Work::Started { offset, .. } => unreachable!(
            "engine invariant: a record (offset {offset}) was started inline while its worker was busy"
        ),
    }
}

/// The claim a worker serves.
///
/// Its names are shared with every message and
/// [`RawContext`](crate::RawContext) of the claim: a reference count per
/// message, not a copy.
pub(crate) struct Claim {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) initial_offset: i64,
    pub(crate) assignment: u64,
    /// This member's id when the claim started.
    pub(crate) member_id: Option<Arc<str>>,
    /// The group generation when the claim started.
    pub(crate) generation_id: Option<i32>,
}

/// Runs until the channel closes or `stop` fires; an attempt in flight is
/// finished first.
pub(crate) async fn run(
    service: Arc<ServiceRuntime>,
    consumer: Arc<BaseConsumer<EngineContext>>,
    claim: Arc<Claim>,
    mut rx: mpsc::Receiver<Work>,
    stop: CancellationToken,
    busy: Option<Arc<AtomicUsize>>,
) {
    if service.key_ordered_concurrency > 1 && service.batch.is_none() {
        let served = super::ordered::Served {
            service,
            consumer,
            claim,
        };
        return super::ordered::run(served, rx, stop).await;
    }
    let busy = busy.as_deref();
    loop {
        if stop.is_cancelled() {
            return;
        }
        // A record already queued needs no wait (and no waiter registered
        // on `stop`, which costs two locks per record).
        let work = match rx.try_recv() {
            Ok(w) => w,
            Err(_) => tokio::select! {
                biased;
                () = stop.cancelled() => return,
                w = rx.recv() => match w { Some(w) => w, None => return },
            },
        };
        let first = match work {
            Work::Record(msg) => msg,
            Work::Started {
                offset,
                records,
                handling,
            } => {
                // Admitted by the poll thread when it started it.
                match handling.await {
                    Outcome::Commit => store(&service, &consumer, &claim, offset),
                    Outcome::SkipWithoutCommit => {}
                    Outcome::Stopped => return,
                }
                finished(busy, records);
                continue;
            }
        };
        let records = match service.batch {
            None => Records::One(first),
            Some((size, flush)) => {
                match collect_batch(first, &mut rx, &stop, size, flush).await {
                    Some(batch) => Records::Batch(batch),
                    // Stopped while collecting: nothing was handled, nothing is stored.
                    None => return,
                }
            }
        };
        let count = records.as_slice().len();
        if !admit(&service, &stop, count).await {
            return;
        }
        let last_offset = records.as_slice().last().map_or(0, |m| m.offset);
        match handling::handle(&service, &claim, records, &stop).await {
            Outcome::Commit => store(&service, &consumer, &claim, last_offset),
            Outcome::SkipWithoutCommit => {}
            Outcome::Stopped => return,
        }
        finished(busy, count);
    }
}

/// Waits until `count` messages may start: a paused service starts no
/// handler (what it holds stays unhandled and uncommitted until resume or
/// revocation), and the limiter hands out one token per message. `false` if
/// stopped meanwhile.
pub(super) async fn admit(
    service: &ServiceRuntime,
    stop: &CancellationToken,
    count: usize,
) -> bool {
    if !wait_unpaused(&service.paused, stop).await {
        return false;
    }
    if let Some(limiter) = &service.limiter {
        for _ in 0..count {
            tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                () = limiter.acquire() => {}
            }
        }
    }
    true
}

/// Stores `offset` as handled, for librdkafka's next commit.
pub(super) fn store(
    service: &ServiceRuntime,
    consumer: &BaseConsumer<EngineContext>,
    claim: &Claim,
    offset: i64,
) {
    // rd_kafka_offset_store stores `offset + 1`, the next record to read. It
    // fails once the partition is no longer assigned, which is what we want:
    // a revoked partition's offsets belong to its new owner.
    if let Err(e) = consumer.store_offset(&claim.topic, claim.partition, offset) {
        store_failed(service, claim, offset, &e);
    }
}

/// Logs an offset librdkafka would not store.
pub(super) fn store_failed(
    service: &ServiceRuntime,
    claim: &Claim,
    offset: i64,
    error: &rdkafka::error::KafkaError,
) {
    tracing::warn!(
        service = &*service.name, topic = &*claim.topic, partition = claim.partition,
        offset, error = %error,
        "could not store the offset of a handled message (partition revoked?)"
    );
}

/// Waits while the service is paused; `false` if stopped meanwhile.
async fn wait_unpaused(paused: &watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    if !*paused.borrow() {
        return true;
    }
    let mut paused = paused.clone();
    tokio::select! {
        biased;
        () = stop.cancelled() => false,
        // An error means the switch is gone, which cannot pause anything.
        _ = paused.wait_for(|p| !*p) => true,
    }
}

/// Up to `size` messages, or fewer when `flush` has passed since the first.
async fn collect_batch(
    first: Message,
    rx: &mut mpsc::Receiver<Work>,
    stop: &CancellationToken,
    size: usize,
    flush: Duration,
) -> Option<Vec<Message>> {
    let deadline = Instant::now() + flush;
    let mut batch = Vec::with_capacity(size);
    batch.push(first);
    while batch.len() < size {
        tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            m = tokio::time::timeout_at(deadline, next_record(rx)) => match m {
                Ok(Some(m)) => batch.push(m),
                // Timed out (flush) or the channel closed: hand over what we have.
                Ok(None) | Err(_) => break,
            },
        }
    }
    Some(batch)
}
