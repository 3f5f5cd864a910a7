//! The asynchronous deliveries of one producer client (`async=1` sends):
//! one task awaits all of them, instead of one task per record.
//!
//! Spawning a task per record cost more than librdkafka's own work per
//! record (the scheduler, the task list, a timer each); a record's delivery
//! future is instead boxed and pushed into a `FuturesUnordered` that a
//! single task drives. librdkafka bounds every delivery by
//! `message.timeout.ms` (the producer's `timeout`, else 300 s), so no timer
//! of our own is needed per record. `wait_idle` is what `flush` waits on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

type Delivery = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Deliveries still being awaited, and a signal when there are none.
#[derive(Default)]
struct Outstanding {
    count: AtomicUsize,
    idle: Notify,
}

/// One client's asynchronous deliveries.
#[derive(Default)]
pub(crate) struct Deliveries {
    /// Feeds the task that awaits the deliveries; started on first use, in
    /// the caller's runtime, and again if that runtime has gone.
    queue: Mutex<Option<mpsc::UnboundedSender<Counted>>>,
    outstanding: Arc<Outstanding>,
}

impl Deliveries {
    /// Awaits `delivery` in the background; `wait_idle` waits for it.
    pub(crate) fn spawn<F>(&self, delivery: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.outstanding.count.fetch_add(1, Ordering::AcqRel);
        let mut delivery = Counted {
            inner: Box::pin(delivery),
            outstanding: Arc::clone(&self.outstanding),
        };
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = queue.as_ref() {
            match sender.send(delivery) {
                Ok(()) => return,
                // The task's runtime has shut down: start another below.
                Err(mpsc::error::SendError(back)) => delivery = back,
            }
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(drive(receiver));
        // A fresh channel with its receiver alive accepts the record.
        let _ = sender.send(delivery);
        *queue = Some(sender);
    }

    /// Deliveries not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.outstanding.count.load(Ordering::Acquire)
    }

    /// Waits until every delivery handed to `spawn` has finished; `false`
    /// if `deadline` came first.
    pub(crate) async fn wait_idle(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.outstanding.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.len() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.len() == 0;
            }
        }
    }
}

/// Awaits every delivery the channel brings until it closes.
async fn drive(mut receiver: mpsc::UnboundedReceiver<Counted>) {
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = running.next(), if !running.is_empty() => {}
            next = receiver.recv() => match next {
                Some(delivery) => running.push(delivery),
                None => break,
            },
        }
    }
    while running.next().await.is_some() {}
}

/// A delivery that counts itself out of `outstanding` when it is dropped:
/// finished, or left behind by a runtime shutting down.
struct Counted {
    inner: Delivery,
    outstanding: Arc<Outstanding>,
}

impl Future for Counted {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.outstanding.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.outstanding.idle.notify_waiters();
        }
    }
}
