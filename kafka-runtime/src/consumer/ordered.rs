//! Key-ordered concurrency within one partition (`keyOrderedConcurrency=N`,
//! N > 1), part of the per-partition stage: the partition's task runs its
//! records here instead of one at a time.
//!
//! - Each key is a lane: at most one handler per key runs at a time, and a
//!   key's messages run in offset order. A message waits for its key's
//!   predecessor, retries included, so per-key order is what the sequential
//!   path gives.
//! - Records without a key share one lane (they are not each a key of their
//!   own): keyless data has no other order than the partition's, and treating
//!   each record as its own key would silently drop that order.
//! - At most N handlers of the partition run at once, each one message under
//!   the same pause switch, limiter and retry/timeout/panic policy as the
//!   sequential path ([`Service::admit`], [`attempt::handle`]).
//! - Offsets: the offsets stage's [`Tracker`] stores only the contiguous
//!   prefix of handled messages, so a crash or a rebalance never skips a
//!   message that was not handled.
//! - Memory stays bounded: at most [`buffer_cap`] messages wait besides the N
//!   running, and at most [`window`] offsets are tracked between the stored
//!   prefix and the newest message (a message that never finishes therefore
//!   stops the partition after a while, instead of letting its redelivery
//!   window grow without end). Past either bound the task stops taking
//!   records; what the poll thread queued for it stays counted until done,
//!   so the poll thread pauses the partition.
//! - On stop (revocation, shutdown) nothing new starts; running handlers
//!   finish their attempt within the caller's bound and the prefix is stored.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt;
use super::offsets::{OffsetSink, Tracker};
use super::shared::{held_bytes, Claim, Outcome, Records, Service, Work};
use super::table::Queued;
use crate::Message;

/// A lane's key; `None` is the one lane of records without a key.
type Key = Option<Bytes>;

/// Messages that may wait, not yet started, besides the `limit` running:
/// enough to find work for every slot when keys repeat.
pub(super) fn buffer_cap(limit: usize) -> usize {
    (2 * limit).max(64)
}

/// Offsets tracked between the stored prefix and the newest message.
pub(super) fn window(limit: usize) -> usize {
    8 * buffer_cap(limit)
}

/// A key-ordered partition's task.
pub(super) struct Ordered {
    pub(super) service: Arc<Service>,
    pub(super) sink: Arc<dyn OffsetSink>,
    pub(super) claim: Arc<Claim>,
    pub(super) queued: Arc<Queued>,
    pub(super) stop: Arc<CancellationToken>,
}

/// A finished handling: its offset, key, outcome and counted bytes.
type Done = (i64, Key, Outcome, usize);

impl Ordered {
    /// Runs the partition's messages with up to
    /// `service.key_ordered_concurrency` handlers at once, until the channel
    /// closes and everything received is handled, or `stop` fires and the
    /// running handlers are done.
    pub(super) async fn run(self, mut rx: mpsc::UnboundedReceiver<Work>) {
        let limit = self.service.key_ordered_concurrency.max(1);
        let mut lanes = Lanes::new(buffer_cap(limit));
        let mut tracker = Tracker::default();
        let mut inbox: VecDeque<Message> = VecDeque::new();
        let mut running: JoinSet<Done> = JoinSet::new();
        let mut open = true;
        let mut stopping = false;
        loop {
            // Take what was received into the lanes while there is room.
            while !stopping && lanes.has_room() && tracker.open() < window(limit) {
                let Some(msg) = inbox.pop_front() else { break };
                tracker.receive(msg.offset);
                lanes.push(msg);
            }
            while !stopping && !self.stop.is_cancelled() && running.len() < limit {
                let Some(msg) = lanes.start_next() else { break };
                running.spawn(one(
                    self.service.clone(),
                    self.claim.clone(),
                    msg,
                    CancellationToken::clone(&self.stop),
                ));
            }
            if running.is_empty() && (stopping || (!open && lanes.is_empty() && inbox.is_empty())) {
                // Stopped: what waits is neither handled nor stored, for redelivery.
                return;
            }
            tokio::select! {
                biased;
                Some(done) = running.join_next(), if !running.is_empty() => {
                    let (offset, key, outcome, bytes) = match done {
                        Ok(done) => done,
                        // The handler's own panics are caught by the attempt
                        // stage; a panic here is the engine's.
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        // Only dropping the set cancels its tasks.
                        Err(_) => continue,
                    };
                    lanes.finish(&key);
                    match outcome {
                        Outcome::Commit => tracker.complete(offset, true),
                        Outcome::SkipWithoutCommit => tracker.complete(offset, false),
                        // Not handled: the prefix ends before it.
                        Outcome::Stopped => stopping = true,
                    }
                    tracker.flush(&*self.sink, &self.service.name, &self.claim.topic, self.claim.partition);
                    self.queued.finish(1, bytes);
                }
                () = self.stop.cancelled(), if !stopping => stopping = true,
                work = rx.recv(), if open && !stopping && inbox.is_empty() => match work {
                    Some(work) => inbox.extend(records_of(work)),
                    None => open = false,
                },
            }
        }
    }
}

/// The records of a piece of work: a key-ordered partition only ever gets
/// [`Work::Records`] (the poll thread starts no handling of its own for
/// it, and batch services are refused with key-ordered concurrency).
fn records_of(work: Work) -> Vec<Message> {
    match work {
        Work::Records(msgs) | Work::Batch(msgs) => msgs,
        Work::Started { .. } => {
            debug_assert!(
                false,
                "a handling was started on the poll thread for a key-ordered partition"
            );
            Vec::new()
        }
    }
}

/// One message: admitted (pause, limiter), then handled like the sequential
/// path handles it.
async fn one(
    service: Arc<Service>,
    claim: Arc<Claim>,
    msg: Message,
    stop: CancellationToken,
) -> Done {
    let (offset, key, bytes) = (msg.offset, msg.key.clone(), held_bytes(&msg));
    let due = service
        .wait_until_due(&stop, std::slice::from_ref(&msg))
        .await;
    let outcome = if due && service.admit(&stop, 1).await {
        attempt::handle(&service, &claim, Records::One(msg), &stop).await
    } else {
        Outcome::Stopped
    };
    (offset, key, outcome, bytes)
}

/// The per-key lanes of messages received and not yet started.
struct Lanes {
    /// Keys with a message running or waiting.
    lanes: HashMap<Key, Lane>,
    /// Lanes that may start their head, by the head's offset: the oldest
    /// message starts first, which keeps the stored prefix moving.
    ready: BTreeMap<i64, Key>,
    waiting: usize,
    cap: usize,
}

#[derive(Default)]
struct Lane {
    running: bool,
    queue: VecDeque<Message>,
}

impl Lanes {
    fn new(cap: usize) -> Self {
        Lanes {
            lanes: HashMap::new(),
            ready: BTreeMap::new(),
            waiting: 0,
            cap,
        }
    }

    fn push(&mut self, msg: Message) {
        let lane = self.lanes.entry(msg.key.clone()).or_default();
        if !lane.running && lane.queue.is_empty() {
            self.ready.insert(msg.offset, msg.key.clone());
        }
        lane.queue.push_back(msg);
        self.waiting += 1;
    }

    /// The oldest message whose key has nothing running; its lane is then
    /// running until [`Lanes::finish`].
    fn start_next(&mut self) -> Option<Message> {
        let (_, key) = self.ready.pop_first()?;
        let lane = self.lanes.get_mut(&key)?;
        let msg = lane.queue.pop_front()?;
        lane.running = true;
        self.waiting -= 1;
        Some(msg)
    }

    /// `key`'s running message is done: its next one may start.
    fn finish(&mut self, key: &Key) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        lane.running = false;
        match lane.queue.front() {
            Some(next) => {
                self.ready.insert(next.offset, key.clone());
            }
            None => {
                self.lanes.remove(key);
            }
        }
    }

    fn has_room(&self) -> bool {
        self.waiting < self.cap
    }

    fn is_empty(&self) -> bool {
        self.waiting == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(offset: i64, key: Option<&'static str>) -> Message {
        let m = Message::new("t", 0, offset);
        match key {
            Some(k) => m.with_key(k),
            None => m,
        }
    }

    #[test]
    fn one_running_message_per_key_oldest_first() {
        let mut lanes = Lanes::new(64);
        lanes.push(msg(0, Some("a")));
        lanes.push(msg(1, Some("a")));
        lanes.push(msg(2, Some("b")));
        lanes.push(msg(3, None));
        lanes.push(msg(4, None));
        let started: Vec<i64> = std::iter::from_fn(|| lanes.start_next())
            .map(|m| m.offset)
            .collect();
        assert_eq!(started, [0, 2, 3], "one per key (null keys share a lane)");
        lanes.finish(&None);
        lanes.finish(&Some(Bytes::from_static(b"a")));
        assert_eq!(
            lanes.start_next().map(|m| m.offset),
            Some(1),
            "oldest first"
        );
        assert_eq!(lanes.start_next().map(|m| m.offset), Some(4));
        assert!(lanes.start_next().is_none());
        assert!(lanes.is_empty());
        for key in [Some("a"), Some("b"), None] {
            lanes.finish(&key.map(|k| Bytes::from_static(k.as_bytes())));
        }
        assert!(lanes.lanes.is_empty(), "finished lanes are dropped");
        assert!(lanes.ready.is_empty());
    }

    #[test]
    fn waiting_messages_are_capped() {
        let mut lanes = Lanes::new(2);
        lanes.push(msg(0, Some("a")));
        assert!(lanes.has_room());
        lanes.push(msg(1, Some("a")));
        assert!(!lanes.has_room());
        assert!(lanes.start_next().is_some());
        assert!(lanes.has_room(), "a started message no longer waits");
        assert!(lanes.start_next().is_none(), "a's next waits for a");
    }

    #[test]
    fn bounds_grow_with_the_limit() {
        assert_eq!(buffer_cap(2), 64);
        assert_eq!(buffer_cap(1024), 2048);
        assert_eq!(window(16), 512);
    }
}
