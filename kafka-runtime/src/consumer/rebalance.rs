//! The librdkafka consumer context: the partition table, and what happens
//! when the group moves partitions (the rebalance callback runs on the
//! poll thread, inside a poll, where it may wait for handlers).

use hashbrown::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::watch;

use super::commit;
use super::lag::{PausedLag, PausedPartition};
use super::table::{Slot, Table};
use super::transaction::{Ended, Transaction};
use crate::control::Hooks;
use crate::readiness::ServiceReadiness;
use crate::Error;

/// The context librdkafka calls back into.
pub(crate) struct EngineContext {
    pub(crate) service: Arc<str>,
    table: Mutex<Table>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// How long a revocation waits for in-flight handlers.
    revoke_wait: Duration,
    /// The user's rebalance hooks.
    hooks: Hooks,
    /// Whether user code paused the service ([`crate::ServiceControl`]).
    paused: watch::Receiver<bool>,
    /// Where joining and losing the group is reported.
    pub(crate) readiness: ServiceReadiness,
    /// The transaction of a transactional service.
    transaction: Option<Arc<Transaction>>,
    /// A fatal error met inside a rebalance callback.
    failure: Mutex<Option<Error>>,
    /// The lag of paused partitions, which the statistics do not follow.
    pub(crate) paused_lag: PausedLag<EngineContext>,
}

impl EngineContext {
    pub(crate) fn new(
        service: Arc<str>,
        revoke_wait: Duration,
        hooks: Hooks,
        paused: watch::Receiver<bool>,
        readiness: ServiceReadiness,
        transaction: Option<Arc<Transaction>>,
    ) -> Self {
        EngineContext {
            service,
            table: Mutex::new(Table::default()),
            runtime: tokio::runtime::Handle::current(),
            revoke_wait,
            hooks,
            paused,
            readiness,
            transaction,
            failure: Mutex::new(None),
            paused_lag: PausedLag::default(),
        }
    }

    /// The partitions fetching nothing now: the whole assignment while
    /// user code pauses the service, else those paused for their budget.
    fn paused_partitions(&self) -> HashSet<(String, i32)> {
        let table = self.table();
        if self.user_paused() {
            table.assigned.clone()
        } else {
            table
                .slots
                .iter()
                .filter(|(_, slot)| slot.paused)
                .map(|(key, _)| key.clone())
                .collect()
        }
    }

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

    /// Stops the tasks of `keys` (all when `None`), waits at most `wait`
    /// for their in-flight handlers (they store their offsets as they
    /// finish), then commits what is stored, synchronously; a
    /// transactional service ends its transaction instead, once every
    /// running handling finished (at most `wait` more).
    pub(crate) fn stop_and_commit(
        &self,
        consumer: &BaseConsumer<EngineContext>,
        keys: Option<Vec<(String, i32)>>,
        wait: Duration,
    ) {
        let stopped = self.stop_tasks(consumer, keys, wait);
        match &self.transaction {
            Some(transaction) => {
                transaction.drain(wait);
                if let Err(error) = self.end_transaction(consumer) {
                    self.fail(error);
                }
            }
            None if stopped => commit::commit_stored(&self.service, consumer),
            None => {}
        }
    }

    /// Ends a transactional service's transaction, nothing running: after
    /// an abort the engine drops every record it holds and the partitions
    /// go back to their last committed offsets. Then handlings may start
    /// again.
    pub(crate) fn end_transaction(
        &self,
        consumer: &BaseConsumer<EngineContext>,
    ) -> Result<(), Error> {
        let Some(transaction) = self.transaction.as_ref().filter(|t| t.is_usable()) else {
            return Ok(());
        };
        let ended = transaction.end(consumer).and_then(|ended| {
            if ended == Ended::Aborted {
                self.stop_tasks(consumer, None, self.revoke_wait);
                transaction.rewind(consumer)?;
            }
            Ok(())
        });
        match ended {
            Ok(()) => transaction.reopen(),
            Err(_) => transaction.disable(),
        }
        ended
    }

    /// A fatal error inside a rebalance callback or at shutdown, for the
    /// poll loop to end the member with ([`Self::take_failure`]).
    fn fail(&self, error: Error) {
        tracing::error!(service = &*self.service, %error, "fatal transaction error");
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(error);
    }

    /// The fatal error a rebalance callback ran into, if any.
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Stops the tasks of `keys` (all when `None`) and waits at most `wait`
    /// for their in-flight handlers; whether there were any.
    fn stop_tasks(
        &self,
        consumer: &BaseConsumer<EngineContext>,
        keys: Option<Vec<(String, i32)>>,
        wait: Duration,
    ) -> bool {
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
            return false;
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
            // A batch being collected is dropped unhandled and uncommitted.
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
        true
    }
}

impl ClientContext for EngineContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logging::forward(&self.service, level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        let paused = self.paused_partitions();
        crate::metrics::record_consumer_stats(&self.service, &statistics, |topic, partition| {
            !paused.is_empty() && paused.contains(&(topic.to_owned(), partition))
        });
        let measure: Vec<PausedPartition> = paused
            .into_iter()
            .filter_map(|(topic, partition)| {
                let committed = statistics
                    .topics
                    .get(&topic)?
                    .partitions
                    .get(&partition)?
                    .committed_offset;
                (committed >= 0).then_some((topic, partition, committed))
            })
            .collect();
        self.paused_lag
            .refresh(&self.service, &self.runtime, measure);
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
                // lost and nothing unhandled is committed. (The poll thread
                // stored what it handled itself before this poll.) With
                // `cooperative-sticky` (the seed's `sticky`) `tpl` holds only
                // the partitions that move.
                let keys = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect::<Vec<_>>();
                tracing::info!(service = &*self.service, partitions = ?keys, "partitions revoked");
                if consumer.assignment_lost() {
                    self.readiness
                        .rejoining("the member lost its assignment (session timed out or fenced)");
                    if let Some(transaction) = &self.transaction {
                        transaction.doom("the member lost its assignment");
                    }
                }
                {
                    let mut table = self.table();
                    for key in &keys {
                        table.assigned.remove(key);
                    }
                }
                self.stop_and_commit(consumer, Some(keys.clone()), self.revoke_wait);
                if let Some(transaction) = &self.transaction {
                    transaction.forget(Some(&keys));
                }
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
                self.readiness.joined();
                tracing::info!(
                    service = &*self.service,
                    partitions = tpl.count(),
                    "partitions assigned"
                );
            }
            Rebalance::Error(e) => {
                // rdkafka answers a rebalance error by dropping the whole
                // assignment (no revoke callback follows), so stop every
                // task now; their handled offsets are committed if the
                // group still accepts them.
                tracing::warn!(service = &*self.service, error = %e, "rebalance error; releasing every partition");
                self.readiness
                    .rejoining(&format!("rebalance error ({e}), every partition released"));
                self.table().assigned.clear();
                if let Some(transaction) = &self.transaction {
                    transaction.doom("rebalance error");
                }
                self.stop_and_commit(consumer, None, self.revoke_wait);
                if let Some(transaction) = &self.transaction {
                    transaction.forget(None);
                }
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
