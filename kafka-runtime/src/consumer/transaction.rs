//! The transaction cycle of a transactional service (`transactionalId`):
//! what the service's handlers sent and the input offsets they handled
//! commit together, in one Kafka transaction, or not at all.
//!
//! # The cycle
//!
//! A handling runs under a [`Lease`] of the open transaction, with its
//! producers routed into it (`producer/transactional.rs`); on success it
//! records its (last) offset in the transaction before the lease ends. The
//! poll thread ends a transaction every `transactionCommitInterval`
//! ([`Transaction::tick`]): it closes the gate (new handlings wait),
//! keeps polling until the running ones finished, then commits the
//! recorded offsets with the transaction (`send_offsets_to_transaction`
//! with the member's group metadata, so a member whose generation is gone
//! is refused: KIP-447 fencing), begins the next one and reopens the gate.
//! So every committed transaction holds exactly the outputs of the
//! handlings whose offsets it commits.
//!
//! # Failures
//!
//! A handler that fails (error, panic, timeout) may already have sent
//! records into the transaction, and no retry can take them back: the
//! failure dooms the transaction. It is aborted once the running handlings
//! finished, every partition goes back to its last committed offset (the
//! engine drops what it holds and seeks), and handling resumes after the
//! retry schedule's wait (`retryInterval`, `retryBackoff`, `retryJitter`)
//! in a new transaction, starting with the failed record. Attempts are
//! counted per handling across these rewinds, so `maxRetry` holds as
//! usual; a record given up on goes to the dead-letter topic (or is
//! skipped) without calling the handler again, and its offset commits
//! with the next transaction. A batch whose handler names only some
//! records as failed ([`crate::BatchError`]) still dooms the transaction,
//! which took the other records' outputs too: the whole batch runs again,
//! and once `maxRetry` is spent the named records are given up on and the
//! rest runs once more. A commit the cluster refuses is aborted and
//! rewound the same way; a fatal error (the producer was fenced by a newer
//! instance with the same `transactional.id`) ends the member.
//!
//! # Rebalances
//!
//! Before partitions are revoked the engine finishes their handlings and
//! ends the transaction while the member still owns them ([`Transaction::drain`],
//! then the same end as above); a lost assignment or a rebalance error
//! aborts it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::offsets::OffsetSink;
use crate::producer::TransactionalProducer;
use crate::Error;

/// How long one transactional call (init, send offsets, commit, abort,
/// seek) may block.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait before calling again after a retriable error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// (topic, partition).
type PartitionKey = (String, i32);

/// A record (its handling's first offset) and its failed attempts.
pub(crate) type RecordKey = (String, i32, i64);

/// A handling (a record, or a batch) whose handler failed in an aborted
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    /// How many times its handler ran and failed.
    pub(crate) attempts: u32,
    /// The last error.
    pub(crate) error: String,
    /// The offsets of the records that failed, each with its error: every
    /// record of the handling, unless a batch handler's
    /// [`crate::BatchError`] named only some. Once `maxRetry` is spent,
    /// these are given up on and the others run again (their outputs were
    /// aborted with the transaction).
    pub(crate) records: Vec<(i64, String)>,
    /// How long handling waits after the abort: the retry schedule's wait
    /// after this attempt (`retryInterval`, `retryBackoff`, `retryJitter`).
    pub(crate) retry_in: Duration,
}

/// One transactional service's transaction state.
pub(crate) struct Transaction {
    service: Arc<str>,
    producer: Arc<TransactionalProducer>,
    interval: Duration,
    retry_interval: Duration,
    state: Mutex<State>,
    /// Wakes the poll thread waiting for running handlings ([`Self::drain`]).
    drained: Condvar,
    /// Wakes handlings waiting for the gate to open.
    opened: Notify,
    /// Whether the producer is registered ([`Self::start`]) and has not
    /// failed fatally since: only then can a transaction end.
    usable: AtomicBool,
}

struct State {
    /// Whether handlings may start.
    open: bool,
    /// Handlings running.
    leases: usize,
    /// Whether a handling ran since the transaction began.
    used: bool,
    began: Instant,
    /// Why the open transaction must be aborted.
    doomed: Option<String>,
    /// Whether the abort is for a failed handler (then handling resumes
    /// after `retryInterval`).
    failed: bool,
    /// The gate stays closed until then, after an abort for a failure.
    hold_until: Option<Instant>,
    /// The longest wait the failures of the open transaction asked for.
    retry_in: Option<Duration>,
    /// The last offset each partition's handlings completed in the open
    /// transaction.
    offsets: HashMap<PartitionKey, i64>,
    /// Where each partition goes back to on an abort: the first offset
    /// not committed.
    positions: HashMap<PartitionKey, i64>,
    failures: HashMap<RecordKey, Failed>,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Committed with the handled offsets.
    Committed,
    /// Aborted: the engine drops what it holds and the partitions go back
    /// to their last committed offsets ([`Transaction::rewind`]).
    Aborted,
}

/// What the poll thread does about the transaction now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tick {
    /// Nothing: it is open (or held after an abort).
    Nothing,
    /// The gate is closed and handlings are still running: poll briefly.
    Draining,
    /// Nothing runs: end it now ([`Transaction::end`]).
    End,
}

impl Transaction {
    pub(crate) fn new(
        service: Arc<str>,
        producer: Arc<TransactionalProducer>,
        interval: Duration,
        retry_interval: Duration,
    ) -> Self {
        Transaction {
            service,
            producer,
            interval,
            retry_interval,
            state: Mutex::new(State {
                open: false,
                leases: 0,
                used: false,
                began: Instant::now(),
                doomed: None,
                failed: false,
                hold_until: None,
                retry_in: None,
                offsets: HashMap::new(),
                positions: HashMap::new(),
                failures: HashMap::new(),
            }),
            drained: Condvar::new(),
            opened: Notify::new(),
            usable: AtomicBool::new(false),
        }
    }

    /// Whether a transaction is open that can end: [`Self::start`]
    /// succeeded and nothing failed fatally since.
    pub(crate) fn is_usable(&self) -> bool {
        self.usable.load(Ordering::Acquire)
    }

    /// A fatal error: no transaction can end any more (the member stops).
    pub(crate) fn disable(&self) {
        self.usable.store(false, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a few field writes: a panic elsewhere cannot
        // leave the state half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The producer handlers' sends are routed to.
    pub(crate) fn producer(&self) -> &Arc<TransactionalProducer> {
        &self.producer
    }

    /// On the poll thread, before the first poll: registers the
    /// transactional id (fencing an earlier instance with the same id and
    /// aborting what it left open), retrying while the cluster says to,
    /// and opens the first transaction.
    pub(crate) fn start(&self, shutdown: &CancellationToken) -> Result<(), Error> {
        loop {
            match self.producer.init(CALL_TIMEOUT) {
                Ok(()) => break,
                Err(e) if retriable(&e) && !shutdown.is_cancelled() => {
                    tracing::warn!(service = &*self.service, error = %e, "could not register the transactional id yet; retrying");
                    std::thread::sleep(RETRY_BACKOFF);
                }
                Err(e) => return Err(self.fatal(e)),
            }
        }
        self.producer.begin().map_err(|e| self.fatal(e))?;
        tracing::info!(
            service = &*self.service,
            transactional_id = self.producer.id(),
            "transactions initialised"
        );
        self.usable.store(true, Ordering::Release);
        self.reopen();
        Ok(())
    }

    /// Waits until handlings may start and takes a lease (`None` when
    /// `stop` fired first).
    pub(crate) async fn enter(&self, stop: &CancellationToken) -> Option<Lease<'_>> {
        loop {
            let opened = self.opened.notified();
            tokio::pin!(opened);
            // Registered before the check, so an opening in between wakes it.
            opened.as_mut().enable();
            {
                let mut state = self.lock();
                if state.open {
                    state.leases += 1;
                    state.used = true;
                    return Some(Lease { transaction: self });
                }
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return None,
                () = opened => {}
            }
        }
    }

    /// A partition's first record since the assignment or the last
    /// rewind: where it goes back to, unless something was committed.
    pub(crate) fn note_position(&self, topic: &str, partition: i32, offset: i64) {
        self.lock()
            .positions
            .entry((topic.to_owned(), partition))
            .or_insert(offset);
    }

    /// The partitions left this member: forget where they would go back
    /// to (and their records' failures). `None`: every partition.
    pub(crate) fn forget(&self, keys: Option<&[PartitionKey]>) {
        let mut state = self.lock();
        match keys {
            None => {
                state.positions.clear();
                state.failures.clear();
            }
            Some(keys) => {
                for key in keys {
                    state.positions.remove(key);
                }
                state
                    .failures
                    .retain(|(t, p, _), _| !keys.iter().any(|(kt, kp)| kt == t && kp == p));
            }
        }
    }

    /// Marks the open transaction for abort (`why`) and closes the gate.
    pub(crate) fn doom(&self, why: &str) {
        let mut state = self.lock();
        state.open = false;
        state.doomed.get_or_insert_with(|| why.to_owned());
    }

    /// On the poll thread, every loop: closes the gate when the
    /// transaction is due (or doomed), and says whether it can end now.
    pub(crate) fn tick(&self) -> Tick {
        let mut state = self.lock();
        if let Some(until) = state.hold_until {
            if Instant::now() < until {
                return Tick::Nothing;
            }
            state.hold_until = None;
            state.open = true;
            drop(state);
            self.opened.notify_waiters();
            return Tick::Nothing;
        }
        if state.open {
            let due = state.used && state.began.elapsed() >= self.interval;
            if !due {
                return Tick::Nothing;
            }
            state.open = false;
        }
        if state.leases > 0 {
            Tick::Draining
        } else {
            Tick::End
        }
    }

    /// Closes the gate and waits, at most `wait`, for the running
    /// handlings; one still running then dooms the transaction (its
    /// outputs would otherwise miss their offsets). Blocks: for the
    /// rebalance callback and shutdown.
    pub(crate) fn drain(&self, wait: Duration) {
        let mut state = self.lock();
        state.open = false;
        let (mut state, timed_out) = self
            .drained
            .wait_timeout_while(state, wait, |s| s.leases > 0)
            .unwrap_or_else(|p| p.into_inner());
        if timed_out.timed_out() && state.leases > 0 {
            let why = format!("{} handling(s) still running after {wait:?}", state.leases);
            state.doomed.get_or_insert(why);
        }
    }

    /// Ends the transaction, the gate closed and nothing running: commits
    /// it with the handled offsets, or aborts it when it is doomed or the
    /// cluster refuses the commit; then begins the next one (the gate stays
    /// closed: [`Self::reopen`], after a rewind if it was aborted). An
    /// error is fatal for the member (the producer was fenced...).
    pub(crate) fn end<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
    ) -> Result<Ended, Error> {
        let (doomed, offsets) = {
            let mut state = self.lock();
            (state.doomed.clone(), std::mem::take(&mut state.offsets))
        };
        let ended = match doomed {
            Some(why) => {
                tracing::warn!(service = &*self.service, reason = %why, "aborting the transaction");
                self.abort()?;
                Ended::Aborted
            }
            None => match self.commit(consumer, &offsets) {
                Ok(()) => {
                    let mut state = self.lock();
                    for ((topic, partition), offset) in offsets {
                        state.positions.insert((topic, partition), offset + 1);
                    }
                    Ended::Committed
                }
                Err(e) if e.is_fatal() => return Err(e.into_error(self)),
                Err(e) => {
                    tracing::warn!(service = &*self.service, error = %e.0, "the transaction could not commit; aborting it");
                    self.abort()?;
                    Ended::Aborted
                }
            },
        };
        self.producer.begin().map_err(|e| self.fatal(e))?;
        let mut state = self.lock();
        state.used = false;
        state.doomed = None;
        state.began = Instant::now();
        let retry_in = state.retry_in.take();
        if ended == Ended::Aborted && std::mem::take(&mut state.failed) {
            let wait = retry_in.unwrap_or(self.retry_interval);
            state.hold_until = Some(Instant::now() + wait);
        }
        Ok(ended)
    }

    /// Opens the gate, unless an abort for a failure holds it closed for
    /// `retryInterval` ([`Self::tick`] opens it then).
    pub(crate) fn reopen(&self) {
        let mut state = self.lock();
        if state.hold_until.is_some() {
            return;
        }
        state.open = true;
        drop(state);
        self.opened.notify_waiters();
    }

    /// After an abort, once the engine dropped every record it held: moves
    /// every partition that received records since its last commit back
    /// to that commit, for the partitions still assigned. A partition that
    /// cannot be moved back would skip records, so a failure ends the
    /// member.
    pub(crate) fn rewind<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), Error> {
        let positions: Vec<(PartitionKey, i64)> = self
            .lock()
            .positions
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if positions.is_empty() {
            return Ok(());
        }
        let assigned = consumer.assignment().map_err(|e| self.fatal(e))?;
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &positions {
            if assigned.find_partition(topic, *partition).is_some() {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|e| self.fatal(e))?;
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let sought = consumer
            .seek_partitions(tpl, CALL_TIMEOUT)
            .map_err(|e| self.fatal(e))?;
        for element in sought.elements() {
            if let Err(e) = element.error() {
                return Err(self.fatal(e));
            }
        }
        tracing::info!(
            service = &*self.service,
            partitions = sought.count(),
            "partitions moved back to their last committed offsets"
        );
        Ok(())
    }

    fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offsets: &HashMap<PartitionKey, i64>,
    ) -> Result<(), CommitError> {
        if !offsets.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), offset) in offsets {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))
                    .map_err(CommitError)?;
            }
            let group = consumer
                .group_metadata()
                .ok_or(CommitError(KafkaError::NoMessageReceived))?;
            self.retrying(|| self.producer.send_offsets(&tpl, &group, CALL_TIMEOUT))
                .map_err(CommitError)?;
        }
        self.retrying(|| self.producer.commit(CALL_TIMEOUT))
            .map_err(CommitError)
    }

    fn abort(&self) -> Result<(), Error> {
        self.retrying(|| self.producer.abort(CALL_TIMEOUT))
            .map_err(|e| self.fatal(e))
    }

    /// Calls `call` again while it fails with a retriable error, for at
    /// most [`CALL_TIMEOUT`].
    fn retrying(&self, mut call: impl FnMut() -> KafkaResult<()>) -> KafkaResult<()> {
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            match call() {
                Err(e) if retriable(&e) && Instant::now() < deadline => {
                    tracing::debug!(service = &*self.service, error = %e, "transactional call failed; retrying");
                    std::thread::sleep(RETRY_BACKOFF);
                }
                result => return result,
            }
        }
    }

    fn fatal(&self, source: KafkaError) -> Error {
        Error::Kafka {
            service: self.service.to_string(),
            source,
        }
    }
}

/// Offsets of a transactional service are recorded by the attempt stage
/// under its lease ([`Lease::handled`]), not stored in the consumer: the
/// partition tasks' offset trackers store into this, which keeps nothing.
impl OffsetSink for Transaction {
    fn store(&self, _topic: &str, _partition: i32, _offset: i64) -> Result<(), KafkaError> {
        Ok(())
    }
}

/// A commit that failed: fatal (end the member) or not (abort).
struct CommitError(KafkaError);

impl CommitError {
    fn is_fatal(&self) -> bool {
        match &self.0 {
            KafkaError::Transaction(e) => e.is_fatal(),
            _ => false,
        }
    }

    fn into_error(self, transaction: &Transaction) -> Error {
        transaction.fatal(self.0)
    }
}

fn retriable(error: &KafkaError) -> bool {
    matches!(error, KafkaError::Transaction(e) if e.is_retriable())
}

/// A running handling's hold on the open transaction: the transaction
/// cannot end while a lease is out.
pub(crate) struct Lease<'a> {
    transaction: &'a Transaction,
}

impl Lease<'_> {
    /// The handling succeeded through `last`: its partition's offset
    /// commits with the transaction.
    pub(crate) fn handled(&self, topic: &str, partition: i32, last: i64) {
        let mut state = self.transaction.lock();
        let offset = state
            .offsets
            .entry((topic.to_owned(), partition))
            .or_insert(last);
        *offset = (*offset).max(last);
    }

    /// The failures of the record at `key` in earlier, aborted transactions.
    pub(crate) fn earlier_failure(&self, key: &RecordKey) -> Option<Failed> {
        self.transaction.lock().failures.get(key).cloned()
    }

    /// The record at `key` is done with (handled, or given up on).
    pub(crate) fn forget_failure(&self, key: &RecordKey) {
        self.transaction.lock().failures.remove(key);
    }

    /// The handler failed on the handling at `key`: the transaction is
    /// doomed.
    pub(crate) fn failed(&self, key: RecordKey, failed: Failed) {
        let mut state = self.transaction.lock();
        let why = format!(
            "the handler failed on {}[{}]@{} (attempt {}): {}",
            key.0, key.1, key.2, failed.attempts, failed.error
        );
        let wait = state
            .retry_in
            .map_or(failed.retry_in, |w| w.max(failed.retry_in));
        state.retry_in = Some(wait);
        state.failures.insert(key, failed);
        state.open = false;
        state.failed = true;
        state.doomed.get_or_insert(why);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut state = self.transaction.lock();
        state.leases -= 1;
        if state.leases == 0 {
            self.transaction.drained.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transaction() -> Transaction {
        let consumer = crate::config::parse_consumer_address(
            "svc",
            "127.0.0.1:9?topics=t&group=g&transactionalId=svc-1",
        )
        .unwrap();
        let producer = TransactionalProducer::create("svc", &consumer, "svc-1").unwrap();
        Transaction::new(
            Arc::from("svc"),
            Arc::new(producer),
            Duration::from_millis(20),
            Duration::from_millis(50),
        )
    }

    #[tokio::test]
    async fn the_gate_waits_for_running_handlings_and_holds_new_ones() {
        let t = transaction();
        let stop = CancellationToken::new();
        assert_eq!(t.tick(), Tick::End, "never opened, nothing runs");
        t.reopen();
        let lease = t.enter(&stop).await.unwrap();
        lease.handled("t", 0, 7);
        lease.handled("t", 0, 5);
        assert_eq!(
            t.lock().offsets[&("t".to_owned(), 0)],
            7,
            "offsets only grow"
        );
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(t.tick(), Tick::Draining, "due, but a handling runs");
        // A new handling waits for the gate.
        let waiting = tokio::time::timeout(Duration::from_millis(30), t.enter(&stop)).await;
        assert!(waiting.is_err(), "the gate is closed");
        drop(lease);
        assert_eq!(t.tick(), Tick::End);
        t.reopen();
        assert!(t.enter(&stop).await.is_some());
        stop.cancel();
        t.doom("test");
        assert!(
            t.enter(&stop).await.is_none(),
            "stopped while the gate is closed"
        );
    }

    #[test]
    fn a_failure_dooms_the_transaction_and_counts_attempts() {
        let t = transaction();
        let stop = CancellationToken::new();
        t.reopen();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let lease = rt.block_on(t.enter(&stop)).unwrap();
        let key = ("t".to_owned(), 1, 42);
        assert_eq!(lease.earlier_failure(&key), None);
        let failed = Failed {
            attempts: 1,
            error: "boom".into(),
            records: vec![(42, "boom".into())],
            retry_in: Duration::from_millis(5),
        };
        lease.failed(key.clone(), failed.clone());
        assert_eq!(lease.earlier_failure(&key), Some(failed));
        drop(lease);
        assert_eq!(t.tick(), Tick::End, "doomed: ends at once");
        assert!(t
            .lock()
            .doomed
            .as_deref()
            .unwrap()
            .contains("t[1]@42 (attempt 1): boom"));
        t.drain(Duration::from_millis(1));
        t.forget(Some(&[("t".to_owned(), 1)]));
        assert!(t.lock().failures.is_empty());
    }

    #[test]
    fn positions_are_the_first_record_until_a_commit_moves_them() {
        let t = transaction();
        t.note_position("t", 0, 10);
        t.note_position("t", 0, 11);
        assert_eq!(t.lock().positions[&("t".to_owned(), 0)], 10);
        t.forget(None);
        assert!(t.lock().positions.is_empty());
    }
}
