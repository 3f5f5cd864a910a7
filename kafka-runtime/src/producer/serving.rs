//! Who serves a producer client's events (delivery reports, errors): a
//! thread of the client's own, helped by the tasks that send
//! asynchronously at a high rate.
//!
//! A thread that waits on librdkafka's queue wakes for every delivery
//! report and frees the records there, which the sending thread allocated:
//! both threads then take the allocator's slow paths, and the process spent
//! about 1.4x a hand-written librdkafka loop's CPU per record (which serves
//! its reports itself, between sends). So a task sending asynchronously
//! serves the reports queued so far every [`INLINE_EVERY`] sends, and while
//! it does, the thread only mops up every [`MOP_UP`]. Otherwise (awaited
//! sends, a trickle of asynchronous ones, no sends) the thread waits on the
//! queue and serves each report at once, so an awaited send is acknowledged
//! as soon as librdkafka has its outcome.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, ProducerContext};

/// The name of a client's own serving thread.
pub(crate) const SERVING_THREAD: &str = "kafka-rs producer events";

/// Asynchronous sends of one thread between two servings by that thread
/// (what the raw loop of kafka-bench does, one `poll(0)` per 1,000 sends).
const INLINE_EVERY: u32 = 1024;

/// How often the thread serves while sending tasks do: what they leave
/// (the last reports of a burst) waits at most this long.
const MOP_UP: Duration = Duration::from_millis(10);

/// The longest the thread waits on the queue before it checks whether it
/// should stop (as rdkafka's `ThreadedProducer`).
const WAIT: Duration = Duration::from_millis(100);

/// What the serving thread and the sending tasks share.
#[derive(Default)]
struct Flags {
    stop: AtomicBool,
    /// Set by a sending task when it served; cleared by the thread.
    served_inline: AtomicBool,
}

thread_local! {
    /// Asynchronous sends of this thread since it last served.
    static SENT: Cell<u32> = const { Cell::new(0) };
}

/// A librdkafka producer and the thread serving its events; dropping it
/// stops and joins the thread (never drop it on that thread).
pub(crate) struct ServedProducer<C: ProducerContext + 'static> {
    producer: Arc<BaseProducer<C>>,
    flags: Arc<Flags>,
    thread: Option<JoinHandle<()>>,
}

impl<C: ProducerContext + 'static> ServedProducer<C> {
    /// Starts the serving thread of `producer`.
    pub(crate) fn start(producer: BaseProducer<C>) -> std::io::Result<Self> {
        let producer = Arc::new(producer);
        let flags = Arc::new(Flags::default());
        let thread = {
            let producer = Arc::clone(&producer);
            let flags = Arc::clone(&flags);
            std::thread::Builder::new()
                .name(SERVING_THREAD.to_owned())
                .spawn(move || serve(&producer, &flags))?
        };
        Ok(ServedProducer {
            producer,
            flags,
            thread: Some(thread),
        })
    }

    /// The librdkafka producer.
    pub(crate) fn producer(&self) -> &BaseProducer<C> {
        &self.producer
    }

    /// Counts an asynchronous send of the calling thread; every
    /// [`INLINE_EVERY`]th serves the queued reports here.
    pub(crate) fn sent_async(&self) {
        let due = SENT.with(|sent| {
            let n = sent.get() + 1;
            sent.set(n % INLINE_EVERY);
            n == INLINE_EVERY
        });
        if due {
            self.serve_here();
        }
    }

    /// Serves the reports queued now on the calling thread (librdkafka's
    /// queue is full: only served reports free room in it).
    pub(crate) fn serve_here(&self) {
        // Read first: a store per serving would bounce the line between
        // the sending threads and the serving thread.
        if !self.flags.served_inline.load(Ordering::Relaxed) {
            self.flags.served_inline.store(true, Ordering::Relaxed);
        }
        self.producer.poll(Duration::ZERO);
    }
}

/// The serving thread's loop.
fn serve<C: ProducerContext>(producer: &BaseProducer<C>, flags: &Flags) {
    while !flags.stop.load(Ordering::Acquire) {
        if flags.served_inline.swap(false, Ordering::Relaxed) {
            std::thread::sleep(MOP_UP);
            // Serves every report queued (for at most 1 ms).
            producer.poll(Duration::from_millis(1));
        } else {
            producer.poll(WAIT);
        }
    }
}

impl<C: ProducerContext + 'static> Drop for ServedProducer<C> {
    fn drop(&mut self) {
        self.flags.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("a producer's event thread panicked");
            }
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::ThreadId;
    use std::time::Duration;

    use crate::producer::{build_producer, AsyncCallbacks, Headers};
    use crate::testing::EmbeddedBroker;

    /// What became of the records of [`send_and_report`].
    struct Reported {
        /// How often each key was reported delivered.
        per_key: HashMap<String, usize>,
        /// Reports that ran on a thread the sending task ran on.
        by_the_sender: usize,
    }

    /// Sends `count` asynchronous records keyed 0..count through a producer
    /// with `overrides`, then flushes; fails on any failed delivery.
    async fn send_and_report(topic: &str, count: usize, overrides: &[(&str, &str)]) -> Reported {
        let broker = EmbeddedBroker::start().unwrap();
        broker.create_topic(topic, 4).unwrap();
        let target = format!(
            "kafka://{}?topic={topic}&async=1",
            broker.bootstrap_servers()
        );
        let mut cfg = crate::config::parse_producer_target("p", &target).unwrap();
        for (key, value) in overrides {
            cfg.common
                .librdkafka_overrides
                .insert((*key).to_owned(), (*value).to_owned());
        }
        let reports: Arc<Mutex<Vec<(String, ThreadId)>>> = Arc::default();
        let failures = Arc::new(AtomicUsize::new(0));
        let (ok, failed) = (Arc::clone(&reports), Arc::clone(&failures));
        let producer = build_producer("p", &cfg, Some(Duration::from_secs(30)))
            .unwrap()
            .with_callbacks(
                AsyncCallbacks::new()
                    .on_success(move |record, _| {
                        let key =
                            String::from_utf8_lossy(record.key.as_deref().unwrap_or_default());
                        ok.lock()
                            .unwrap()
                            .push((key.into_owned(), std::thread::current().id()));
                    })
                    .on_error(move |_, _| {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }),
            );
        let mut sender_threads = HashSet::new();
        for i in 0..count {
            producer
                .produce(i.to_string(), "v", Headers::new())
                .await
                .unwrap();
            sender_threads.insert(std::thread::current().id());
        }
        producer.flush(Duration::from_secs(30)).await.unwrap();
        assert_eq!(failures.load(Ordering::SeqCst), 0, "failed deliveries");
        let reports = reports.lock().unwrap();
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for (key, _) in reports.iter() {
            *per_key.entry(key.clone()).or_default() += 1;
        }
        let by_the_sender = reports
            .iter()
            .filter(|(_, thread)| sender_threads.contains(thread))
            .count();
        Reported {
            per_key,
            by_the_sender,
        }
    }

    fn assert_each_once(per_key: &HashMap<String, usize>, count: usize) {
        assert_eq!(per_key.len(), count, "every record reported");
        let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "reported more than once: {twice:?}");
    }

    /// A task sending asynchronously serves reports itself between its
    /// sends, and every record is reported exactly once by the time
    /// `flush` returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sending_task_serves_reports_and_each_is_reported_once() {
        let reported = send_and_report("serving-inline", 20_000, &[]).await;
        assert_each_once(&reported.per_key, 20_000);
        assert!(
            reported.by_the_sender > 0,
            "no report was served by the sending task"
        );
    }

    /// librdkafka's queue holds 100 records here: a sender that finds it
    /// full serves the reports that free it, and nothing is lost or
    /// reported twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_freed_by_the_sender_and_nothing_is_lost() {
        let reported = send_and_report(
            "serving-full",
            5_000,
            &[("queue.buffering.max.messages", "100")],
        )
        .await;
        assert_each_once(&reported.per_key, 5_000);
        assert!(reported.by_the_sender > 0, "the sender never served");
    }
}
