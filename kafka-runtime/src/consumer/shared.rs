//! What every stage of the pipeline shares: the service being run, the
//! partition claim being served, the unit of work the poll thread hands a
//! partition's task, and what became of a handling.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::limiter::Limiter;
use super::retry::Policy;
use super::transaction::Transaction;
use crate::deadletter::GiveUp;
use crate::handler::Handler;
use crate::Message;

/// One consumer service as every stage sees it (shared by `Arc`).
pub(crate) struct Service {
    pub(crate) name: Arc<str>,
    /// Shared with every handler's [`RawContext`](crate::RawContext) (a
    /// reference count per message).
    pub(crate) group: Arc<str>,
    pub(crate) handler: Handler,
    pub(crate) policy: Policy,
    /// `batch=N` and `batchFlush` of a batch handler.
    pub(crate) batch: Option<(usize, Duration)>,
    pub(crate) trpc_meta: bool,
    pub(crate) limiter: Option<Limiter>,
    /// `keyOrderedConcurrency`: above 1, a partition's records run by key
    /// (`ordered.rs`) instead of one at a time.
    pub(crate) key_ordered_concurrency: usize,
    /// The service's pause switch ([`crate::ServiceControl`]).
    pub(crate) paused: watch::Receiver<bool>,
    /// Where given-up records go: the next retry topic (`retryTopics`),
    /// `deadLetterTopic`, or nowhere (skipped). Shared with the consumer of
    /// the retry topics.
    pub(crate) give_up: Arc<GiveUp>,
    /// Whether this member consumes retry topics: a record is handled only
    /// once the wait its copy names has passed.
    pub(crate) due_gate: bool,
    /// The transaction of a transactional service (`transactionalId`).
    pub(crate) transaction: Option<Arc<Transaction>>,
}

impl Service {
    /// Whether the poll thread may start handlings itself (`poll.rs`): one
    /// message or batch at a time per partition (key-ordered partitions
    /// run several, on their task), no limiter (its wait belongs on a
    /// task), and no transaction (a handling may wait for the transaction
    /// to reopen, and the poll thread is what ends it).
    pub(crate) fn may_start_on_poll_thread(&self) -> bool {
        self.key_ordered_concurrency <= 1
            && self.limiter.is_none()
            && !self.due_gate
            && self.transaction.is_none()
    }

    /// On a member of retry topics, waits until `msgs` are due (the last
    /// one is due last: a retry topic's records become due in the order
    /// they were written). `false` if stopped meanwhile.
    pub(crate) async fn wait_until_due(&self, stop: &CancellationToken, msgs: &[Message]) -> bool {
        if !self.due_gate {
            return true;
        }
        let Some(due) = msgs.last().and_then(crate::retrytopic::due_of) else {
            return true;
        };
        let Ok(wait) = due.duration_since(std::time::SystemTime::now()) else {
            return true;
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    /// Whether user code has paused the service.
    pub(crate) fn user_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Waits until `count` messages may start: a paused service starts no
    /// handler (what it holds stays unhandled and uncommitted until resume
    /// or revocation), and the limiter hands out one token per message.
    /// `false` if stopped meanwhile.
    pub(crate) async fn admit(&self, stop: &CancellationToken, count: usize) -> bool {
        if self.user_paused() {
            let mut paused = self.paused.clone();
            tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                // An error means the switch is gone, which cannot pause anything.
                _ = paused.wait_for(|p| !*p) => {}
            }
        }
        if let Some(limiter) = &self.limiter {
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
}

/// The partition a task serves, as assigned to this member.
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

/// What became of a message (or batch) after its handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled, or given up on and dead-lettered or skipped: its offset may
    /// be stored.
    Commit,
    /// `continue_without_commit`: go on without storing the offset.
    SkipWithoutCommit,
    /// The partition is being revoked or the service stops while waiting
    /// (retry, dead letter, pause): leave the message unhandled and
    /// uncommitted, for redelivery.
    Stopped,
}

/// The rest of a handling whose first poll ran on the poll thread and
/// waits: the attempt stage made it, a partition task finishes it.
pub(crate) type Continuation = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What the poll thread hands a partition's task, in offset order.
pub(crate) enum Work {
    /// Records to handle in turn (one handling each; by key for a
    /// key-ordered service).
    Records(Vec<Message>),
    /// A batch handler's batch, complete (full, or `batchFlush` passed).
    Batch(Vec<Message>),
    /// A handling started on the poll thread whose handler waits.
    Started {
        continuation: Continuation,
        /// Its (last) record's offset.
        last: i64,
        /// How many records it covers.
        records: usize,
    },
}

impl Work {
    /// The records it covers (what the poll thread's budget counts).
    pub(crate) fn len(&self) -> usize {
        match self {
            Work::Records(msgs) | Work::Batch(msgs) => msgs.len(),
            Work::Started { records, .. } => *records,
        }
    }
}

/// The records of one handling: one message for a single-message
/// handler, or one partition's batch.
#[derive(Clone)]
pub(crate) enum Records {
    One(Message),
    Batch(Vec<Message>),
}

impl Records {
    /// The messages, in offset order.
    pub(crate) fn as_slice(&self) -> &[Message] {
        match self {
            Records::One(msg) => std::slice::from_ref(msg),
            Records::Batch(msgs) => msgs,
        }
    }

    /// The messages as a batch handler takes them.
    pub(crate) fn into_vec(self) -> Vec<Message> {
        match self {
            Records::One(msg) => vec![msg],
            Records::Batch(msgs) => msgs,
        }
    }

    /// The message a single-message handler takes (the first).
    pub(crate) fn into_first(self) -> Option<Message> {
        match self {
            Records::One(msg) => Some(msg),
            Records::Batch(msgs) => msgs.into_iter().next(),
        }
    }
}

/// What a record held for a partition's task counts against the poll
/// thread's budget (`poll.rs`).
pub(crate) fn held_bytes(msg: &Message) -> usize {
    msg.payload.as_ref().map_or(0, |p| p.len()) + msg.key.as_ref().map_or(0, |k| k.len()) + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(offset: i64) -> Message {
        let mut m = Message::new("orders", 3, offset)
            .with_key(format!("k{offset}"))
            .with_payload(format!("v{offset}"));
        m.headers.push(("h".into(), Some("x".into())));
        m.timestamp = Some(1_700_000_000_000 + offset);
        m
    }

    #[test]
    fn a_clone_equals_the_original_and_shares_its_bytes() {
        let batch = Records::Batch(vec![msg(7), msg(8)]);
        let spare = batch.clone();
        assert_eq!(spare.as_slice(), batch.as_slice());
        for (copy, original) in spare.as_slice().iter().zip(batch.as_slice()) {
            assert!(Arc::ptr_eq(&copy.topic, &original.topic));
            let (c, o) = (copy.payload.as_ref(), original.payload.as_ref());
            assert_eq!(c.map(|b| b.as_ptr()), o.map(|b| b.as_ptr()));
        }
        let one = Records::One(msg(9));
        assert_eq!(one.clone().into_first(), Some(msg(9)));
        assert_eq!(one.into_vec(), vec![msg(9)]);
    }
}
