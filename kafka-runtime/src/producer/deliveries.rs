//! The asynchronous deliveries of one producer client (`async=1` sends):
//! what each record carries through librdkafka, and the count `flush` waits
//! on.
//!
//! A record's outcome is reported from librdkafka's delivery callback,
//! wherever reports are served (the client's serving thread, or a task
//! sending asynchronously: `serving.rs`): the record travels as the message's
//! delivery opaque ([`AsyncDelivery`], boxed once), so there is no future,
//! channel or wake-up per record. Those cost more than librdkafka's own
//! work per record (the async path ran at 0.4x of a bare `BaseProducer`).
//! librdkafka bounds every delivery by `message.timeout.ms` (the producer's
//! `timeout`, else 300 s), so no timer of our own is needed per record.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use rdkafka::producer::DeliveryResult;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::callbacks::{self, AsyncCallbacks};
use super::error::ProduceError;
use super::record::{Delivered, Headers, SentRecord};

/// Whom an asynchronous record reports to: its producer binding. A trait,
/// so that the client, which carries the records, need not know the
/// binding, which holds the client.
pub(crate) trait Reporting: Send + Sync {
    /// The client's deliveries, which count this one.
    fn deliveries(&self) -> &Deliveries;
    /// The producer's name in metrics and logs.
    fn label(&self) -> &str;
    /// The producer's own callbacks, if any.
    fn callbacks(&self) -> Option<&AsyncCallbacks>;
    /// A failed delivery as the caller sees it.
    fn classify(&self, topic: &str, size: usize, error: KafkaError) -> ProduceError;
    /// A delivery that timed out, naming the cluster condition when known.
    fn timed_out(&self, topic: &str) -> ProduceError;
    /// `error`, or `UnknownTopic` when a timed-out record's topic does not
    /// exist (fetches metadata: run on the runtime).
    fn diagnose(
        &self,
        error: ProduceError,
        topic: String,
    ) -> Pin<Box<dyn Future<Output = ProduceError> + Send>>;
}

/// Deliveries still outstanding, and a signal when there are none.
#[derive(Default)]
struct Outstanding {
    count: AtomicUsize,
    idle: Notify,
}

/// One client's asynchronous deliveries.
#[derive(Default)]
pub(crate) struct Deliveries {
    outstanding: Arc<Outstanding>,
    /// Where the rare follow-up of a failed delivery (the timeout diagnosis,
    /// which fetches metadata) runs: the runtime of the first async send,
    /// refreshed by every `flush`. The serving thread is not a runtime thread.
    runtime: Mutex<Option<Handle>>,
    has_runtime: AtomicBool,
}

impl Deliveries {
    /// Counts one delivery in until [`AsyncDelivery`] is dropped.
    fn track(&self) {
        self.outstanding.count.fetch_add(1, Ordering::AcqRel);
        if !self.has_runtime.load(Ordering::Relaxed) {
            self.remember_runtime();
        }
    }

    fn finish_one(&self) {
        if self.outstanding.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.outstanding.idle.notify_waiters();
        }
    }

    /// Keeps the caller's runtime (if any) for follow-up work.
    pub(crate) fn remember_runtime(&self) {
        if let Ok(handle) = Handle::try_current() {
            *self.runtime.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
            self.has_runtime.store(true, Ordering::Relaxed);
        }
    }

    /// Runs `report` inside the remembered runtime, so that callbacks may
    /// use tokio (spawn, handles) as they could when they ran in a task;
    /// a panicking callback is logged, not allowed to stop the polling
    /// thread that reports every other record.
    fn run_callback(&self, report: impl FnOnce()) {
        let runtime = match Handle::try_current() {
            Ok(_) => None,
            Err(_) => self.runtime(),
        };
        let _entered = runtime.as_ref().map(Handle::enter);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(report)).is_err() {
            tracing::error!("an asynchronous send callback panicked");
        }
    }

    fn runtime(&self) -> Option<Handle> {
        self.runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Deliveries not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.outstanding.count.load(Ordering::Acquire)
    }

    /// Waits until every tracked delivery has finished; `false` if
    /// `deadline` came first.
    pub(crate) async fn wait_idle(&self, deadline: tokio::time::Instant) -> bool {
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

/// What an asynchronous record carries through librdkafka: whom to report
/// its outcome to, and since when it was queued. The record itself is not
/// copied: a callback gets it rebuilt from the message librdkafka reports
/// (which still holds key, value and headers), and only if there is a
/// callback to receive it. Counts the record out of `flush`'s wait when
/// dropped (reported, or dropped with a client that went away).
pub(crate) struct AsyncDelivery {
    binding: Arc<dyn Reporting>,
    queued: Instant,
}

impl Drop for AsyncDelivery {
    fn drop(&mut self) {
        self.binding.deliveries().finish_one();
    }
}

impl AsyncDelivery {
    /// Counts a record in; its outcome is reported to `binding`'s callbacks.
    pub(crate) fn start(binding: Arc<dyn Reporting>) -> Self {
        binding.deliveries().track();
        AsyncDelivery {
            binding,
            queued: Instant::now(),
        }
    }

    /// Reports the outcome librdkafka gave (metrics, then the callbacks);
    /// runs where the client's reports are served (`serving.rs`).
    pub(crate) fn complete(self, result: &DeliveryResult<'_>) {
        let binding = &*self.binding;
        let message = match result {
            Ok(message) | Err((_, message)) => message,
        };
        let topic = message.topic();
        let outcome = match result {
            Ok(message) => Ok(Delivered {
                partition: message.partition(),
                // librdkafka reports "invalid offset" (-1001) when acks=0.
                offset: message.offset().max(-1),
            }),
            Err((error, message)) => {
                let size = message.payload_len() + message.key().map_or(0, <[u8]>::len);
                Err(binding.classify(topic, size, error.clone()))
            }
        };
        crate::metrics::record_delivery(
            binding.label(),
            topic,
            self.queued.elapsed(),
            outcome.is_ok(),
        );
        match outcome {
            Err(error @ ProduceError::Timeout { .. }) => {
                let record = sent_record(message);
                self.diagnose(record, error);
            }
            // A success nobody listens to (the default): nothing to run,
            // so no runtime to enter and no panic to catch.
            Ok(_) if !callbacks::has_success_callback(binding.callbacks()) => {}
            outcome => binding.deliveries().run_callback(|| {
                callbacks::report(binding.callbacks(), topic, || sent_record(message), outcome);
            }),
        }
    }

    /// Reports a failure to queue the record (it never reached librdkafka).
    pub(crate) fn fail(self, record: SentRecord, error: ProduceError) {
        let binding = &*self.binding;
        let topic = record.topic.clone();
        binding.deliveries().run_callback(|| {
            callbacks::report(binding.callbacks(), &topic, || record, Err(error));
        });
    }

    /// A timed-out record may be for a missing topic: check on the runtime
    /// (the check fetches metadata), then report.
    fn diagnose(self, record: SentRecord, error: ProduceError) {
        let Some(runtime) = self.binding.deliveries().runtime() else {
            return self.fail(record, error);
        };
        let diagnosis = self.binding.diagnose(error, record.topic.clone());
        let mut pending = Diagnosis(Some((self, record)));
        runtime.spawn(async move {
            let diagnosed = diagnosis.await;
            if let Some((delivery, record)) = pending.0.take() {
                delivery.fail(record, diagnosed);
            }
        });
    }
}

/// The record a callback receives, rebuilt from the message librdkafka
/// reports.
fn sent_record(message: &BorrowedMessage<'_>) -> SentRecord {
    let mut headers = Headers::new();
    if let Some(borrowed) = message.headers() {
        for header in borrowed.iter() {
            headers.push(
                header.key,
                Bytes::copy_from_slice(header.value.unwrap_or_default()),
            );
        }
    }
    SentRecord {
        topic: message.topic().to_owned(),
        key: message.key().map(Bytes::copy_from_slice),
        value: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
        headers,
    }
}

/// A timed-out delivery whose report waits for its diagnosis; reports on
/// drop, so the callback fires even if the runtime drops the task unfinished
/// (then with the plain timeout).
struct Diagnosis(Option<(AsyncDelivery, SentRecord)>);

impl Drop for Diagnosis {
    fn drop(&mut self) {
        if let Some((delivery, record)) = self.0.take() {
            let error = delivery.binding.timed_out(&record.topic);
            delivery.fail(record, error);
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::producer::{build_producer, AsyncCallbacks, Headers};
    use crate::testing::EmbeddedBroker;

    /// A producer dropped with records in flight: every record is still
    /// reported once, and the client (released by the last report, on its
    /// serving thread) is closed without that thread joining itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_with_records_in_flight_reports_each_once() {
        let broker = EmbeddedBroker::start().unwrap();
        broker.create_topic("in-flight", 2).unwrap();
        let target = format!(
            "kafka://{}?topic=in-flight&async=1",
            broker.bootstrap_servers()
        );
        let cfg = crate::config::parse_producer_target("p", &target).unwrap();
        let reported = Arc::new(AtomicUsize::new(0));
        let (ok, failed) = (Arc::clone(&reported), Arc::clone(&reported));
        let producer = build_producer("p", &cfg, Some(Duration::from_secs(10)))
            .unwrap()
            .with_callbacks(
                AsyncCallbacks::new()
                    .on_success(move |_, _| {
                        ok.fetch_add(1, Ordering::SeqCst);
                    })
                    .on_error(move |_, _| {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }),
            );
        for i in 0..500 {
            producer
                .produce(i.to_string(), "v", Headers::new())
                .await
                .unwrap();
        }
        drop(producer);
        let deadline = Instant::now() + Duration::from_secs(15);
        while reported.load(Ordering::SeqCst) < 500 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(reported.load(Ordering::SeqCst), 500);
    }
}
