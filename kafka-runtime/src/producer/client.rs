//! One librdkafka producer, shared by every binding with the same properties.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message as _, ToBytes};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::ClientConfig;
use tokio::sync::oneshot;

use super::deliveries::{AsyncDelivery, Deliveries};
use super::error::ProduceError;
use super::partition::RoundRobin;
use super::record::Delivered;
use super::serving::{ServedProducer, SERVING_THREAD};

/// How long a topic's partition count is trusted before it is fetched again
/// (round-robin needs it; partitions are rarely added).
const PARTITION_COUNT_TTL: Duration = Duration::from_secs(60);

/// How long the check behind a timed-out delivery may take.
const DIAGNOSIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Pause between attempts to enqueue while librdkafka's queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

/// Cluster-wide conditions librdkafka reports only as global error events,
/// kept so that a record that merely timed out can be reported as the cause.
#[derive(Debug, Default)]
pub(crate) struct ClientHealth {
    brokers_down: AtomicBool,
    auth_failed: AtomicBool,
}

/// A record's outcome as librdkafka reports it.
pub(crate) type Outcome = Result<Delivered, KafkaError>;

/// Who waits for a record's outcome: the record's delivery opaque.
pub(crate) enum Pending {
    /// An awaited send (`send_message`, `send_record`, sync `produce`).
    Awaited(oneshot::Sender<Outcome>),
    /// An asynchronous send, reported to the callbacks.
    Async(AsyncDelivery),
}

/// The future side of [`Pending::Awaited`]; an error means the client went
/// away with the record still queued.
pub(crate) type Acknowledgement = oneshot::Receiver<Outcome>;

/// A record as handed to librdkafka.
pub(crate) type Record<'a, K, P> = BaseRecord<'a, K, P, Box<Pending>>;

/// The client context: forwards librdkafka's global errors to the log and
/// to [`ClientHealth`], and delivery reports to whoever waits for them.
pub(crate) struct HealthContext {
    label: String,
    health: Arc<ClientHealth>,
}

impl ClientContext for HealthContext {
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.health.brokers_down.store(true, Ordering::Relaxed);
            }
            Some(RDKafkaErrorCode::Authentication)
            | Some(RDKafkaErrorCode::SaslAuthenticationFailed) => {
                self.health.auth_failed.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        tracing::warn!(producer = %self.label, error = %error, reason, "kafka producer error");
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logging::forward(&self.label, level, fac, log_message);
    }
}

impl ProducerContext for HealthContext {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<Pending>) {
        if result.is_ok() {
            // A delivered record: the cluster is reachable again. (Read
            // first: a store per record would bounce the line between the
            // threads that read it.)
            for flag in [&self.health.brokers_down, &self.health.auth_failed] {
                if flag.load(Ordering::Relaxed) {
                    flag.store(false, Ordering::Relaxed);
                }
            }
        }
        let sender = match *pending {
            Pending::Awaited(sender) => sender,
            Pending::Async(delivery) => return delivery.complete(result),
        };
        let outcome = match result {
            Ok(message) => {
                Ok(Delivered {
                    partition: message.partition(),
                    // librdkafka reports "invalid offset" (-1001) when acks=0.
                    offset: message.offset().max(-1),
                })
            }
            Err((error, _message)) => Err(error.clone()),
        };
        // The waiter may have given up (its own timeout): nothing to do.
        drop(sender.send(outcome));
    }
}

/// A librdkafka producer plus what the runtime adds around it: tracking of
/// asynchronous deliveries (so shutdown can wait for their callbacks),
/// partition counts and round-robin counters.
///
/// One librdkafka producer serves awaited and asynchronous sends alike:
/// each record's delivery opaque says who gets its outcome ([`Pending`]),
/// and the context's delivery callback, wherever reports are served
/// (`serving.rs`), hands it over. (rdkafka's `FutureProducer` would add a channel and a wake-up per
/// record, which asynchronous sends do not need.)
pub(crate) struct SharedClient {
    pub(crate) label: String,
    producer: Arc<ServedProducer<HealthContext>>,
    health: Arc<ClientHealth>,
    pub(crate) deliveries: Deliveries,
    partition_counts: Mutex<HashMap<String, (i32, Instant)>>,
    pub(crate) round_robin: RoundRobin,
    /// Set when the client is dropped on its own serving thread (see
    /// `Drop`); declared last so that it is dropped after `producer`.
    release: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl Drop for SharedClient {
    fn drop(&mut self) {
        // An asynchronous record's report holds the client, so the last
        // reference may go on the client's own serving thread, and
        // destroying the producer there would join that very thread. Hand
        // the producer to a thread of its own, which drops it once this
        // client (including `producer`) is gone: `release` closes then.
        if std::thread::current().name() != Some(SERVING_THREAD) {
            return;
        }
        let producer = Arc::clone(&self.producer);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("producer release".to_owned())
            .spawn(move || {
                let _ = released.recv();
                drop(producer);
            });
        match spawned {
            Ok(_) => {
                *self.release.lock().unwrap_or_else(PoisonError::into_inner) = Some(release);
            }
            Err(error) => {
                tracing::error!(producer = %self.label, %error, "cannot start a thread to close the producer");
            }
        }
    }
}

impl std::fmt::Debug for SharedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedClient")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl SharedClient {
    /// Creates the librdkafka producer. `label` names it in logs and errors
    /// (a service name or a producer type, never a target with a password).
    pub(crate) fn create(label: String, properties: &ClientConfig) -> Result<Self, KafkaError> {
        let health = Arc::new(ClientHealth::default());
        let context = HealthContext {
            label: label.clone(),
            health: Arc::clone(&health),
        };
        let mut properties = properties.clone();
        crate::logging::configure(&mut properties);
        let producer: BaseProducer<HealthContext> = properties.create_with_context(context)?;
        let producer = ServedProducer::start(producer).map_err(|error| {
            tracing::error!(producer = %label, %error, "cannot start the thread serving the producer's events");
            KafkaError::ClientCreation(error.to_string())
        })?;
        let producer = Arc::new(producer);
        Ok(SharedClient {
            label,
            producer,
            health,
            deliveries: Deliveries::default(),
            partition_counts: Mutex::new(HashMap::new()),
            round_robin: RoundRobin::default(),
            release: Mutex::new(None),
        })
    }

    /// Classifies a client error, using what the client knows about the
    /// cluster: a record that timed out while librdkafka reported failed
    /// authentication (or every broker down) failed for that reason.
    pub(crate) fn classify(
        &self,
        topic: &str,
        size: usize,
        timeout: Duration,
        error: KafkaError,
    ) -> ProduceError {
        let timed_out = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::MessageTimedOut | RDKafkaErrorCode::RequestTimedOut)
        );
        if timed_out && self.health.auth_failed.load(Ordering::Relaxed) {
            return ProduceError::Authentication {
                topic: topic.to_owned(),
                source: error,
            };
        }
        ProduceError::from_kafka(
            topic,
            size,
            timeout,
            self.health.brokers_down.load(Ordering::Relaxed),
            error,
        )
    }

    /// A timeout error that names the cluster condition when one is known.
    pub(crate) fn timed_out(&self, topic: &str, timeout: Duration) -> ProduceError {
        let cause = if self.health.auth_failed.load(Ordering::Relaxed) {
            Some(RDKafkaErrorCode::Authentication)
        } else if self.health.brokers_down.load(Ordering::Relaxed) {
            Some(RDKafkaErrorCode::AllBrokersDown)
        } else {
            None
        };
        match cause {
            Some(code) => self.classify(topic, 0, timeout, KafkaError::MessageProduction(code)),
            None => ProduceError::Timeout {
                topic: topic.to_owned(),
                timeout,
            },
        }
    }

    /// Hands `record` to librdkafka, waiting while its queue is full until
    /// `deadline`. Its outcome goes where its opaque says; on an error the
    /// opaque comes back.
    pub(crate) async fn enqueue<K, P>(
        &self,
        mut record: Record<'_, K, P>,
        deadline: Instant,
    ) -> Result<(), (KafkaError, Box<Pending>)>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        loop {
            match self.producer.producer().send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    record = back;
                    // Only served reports free room in the queue.
                    self.producer.serve_here();
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((error, back)) => return Err((error, back.delivery_opaque)),
            }
        }
    }

    /// Hands `record` to librdkafka if it has room; on an error the opaque
    /// comes back.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_send<K, P>(
        &self,
        record: Record<'_, K, P>,
    ) -> Result<(), (KafkaError, Box<Pending>)>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        self.producer
            .producer()
            .send(record)
            .map_err(|(error, back)| (error, back.delivery_opaque))
    }

    /// Counts an asynchronous send: the sending thread serves the queued
    /// reports now and then (`serving.rs`).
    pub(crate) fn sent_async(&self) {
        self.producer.sent_async();
    }

    /// Asks a broker for the cluster's metadata (no topics): whether this
    /// client reaches one within `timeout`. Blocks.
    pub(crate) fn reach_a_broker(&self, timeout: Duration) -> Result<(), KafkaError> {
        let metadata = self
            .producer
            .producer()
            .client()
            .fetch_metadata(None, timeout)?;
        if metadata.brokers().is_empty() {
            return Err(KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown));
        }
        Ok(())
    }

    /// The librdkafka producer, for the transactional calls.
    pub(crate) fn producer(&self) -> &BaseProducer<HealthContext> {
        self.producer.producer()
    }

    /// The cached partition count of `topic`, if still fresh.
    pub(crate) fn cached_partition_count(&self, topic: &str) -> Option<i32> {
        self.cached_count(topic)
            .filter(|(_, at)| at.elapsed() < PARTITION_COUNT_TTL)
            .map(|(count, _)| count)
    }

    /// The number of partitions of `topic`, from a cache refreshed every minute.
    pub(crate) async fn partition_count(
        self: &Arc<Self>,
        topic: &str,
        timeout: Duration,
    ) -> Result<i32, ProduceError> {
        if let Some((count, at)) = self.cached_count(topic) {
            if at.elapsed() < PARTITION_COUNT_TTL {
                return Ok(count);
            }
        }
        self.fetch_partition_count(topic, timeout).await
    }

    /// Turns a timed-out delivery into the more useful `UnknownTopic` when the
    /// topic does not exist: librdkafka keeps records for a missing topic
    /// queued until they time out (it waits for the topic to appear), so
    /// without this check the caller would only see a timeout.
    pub(crate) async fn diagnose_timeout(
        self: &Arc<Self>,
        error: ProduceError,
        topic: &str,
    ) -> ProduceError {
        if !matches!(error, ProduceError::Timeout { .. }) {
            return error;
        }
        match self.fetch_partition_count(topic, DIAGNOSIS_TIMEOUT).await {
            Err(unknown @ ProduceError::UnknownTopic { .. }) => unknown,
            _ => error,
        }
    }

    async fn fetch_partition_count(
        self: &Arc<Self>,
        topic: &str,
        timeout: Duration,
    ) -> Result<i32, ProduceError> {
        let client = Arc::clone(self);
        let name = topic.to_owned();
        // fetch_metadata blocks on the network: keep it off the async workers.
        let fetched = tokio::task::spawn_blocking(move || {
            let metadata = client
                .producer()
                .client()
                .fetch_metadata(Some(&name), timeout)?;
            let Some(entry) = metadata.topics().iter().find(|t| t.name() == name) else {
                return Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::UnknownTopicOrPartition,
                ));
            };
            if let Some(err) = entry.error() {
                return Err(KafkaError::MetadataFetch(err.into()));
            }
            Ok(i32::try_from(entry.partitions().len()).unwrap_or(i32::MAX))
        })
        .await
        .map_err(|join| {
            tracing::error!(error = %join, "metadata lookup task failed");
            ProduceError::Kafka {
                topic: topic.to_owned(),
                source: KafkaError::Canceled,
            }
        })?;
        let count = match fetched {
            Ok(0) => {
                return Err(ProduceError::UnknownTopic {
                    topic: topic.to_owned(),
                    source: KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition),
                })
            }
            Ok(count) => count,
            Err(error) => return Err(self.classify(topic, 0, timeout, error)),
        };
        self.partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), (count, Instant::now()));
        Ok(count)
    }

    fn cached_count(&self, topic: &str) -> Option<(i32, Instant)> {
        self.partition_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .copied()
    }

    /// Waits, at most until `deadline`, for every queued record to be
    /// acknowledged and every asynchronous callback to have run.
    pub(crate) async fn flush(self: &Arc<Self>, deadline: Instant) -> Result<(), ProduceError> {
        self.deliveries.remember_runtime();
        let client = Arc::clone(self);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let flushed = tokio::task::spawn_blocking(move || client.producer().flush(remaining))
            .await
            .unwrap_or(Err(KafkaError::Canceled));
        if flushed.is_err() {
            return Err(ProduceError::FlushIncomplete {
                producer: self.label.clone(),
                in_flight: self.producer().in_flight_count(),
            });
        }
        // The delivery reports are in; let their callbacks finish too.
        if self.deliveries.wait_idle(deadline.into()).await {
            Ok(())
        } else {
            Err(ProduceError::FlushIncomplete {
                producer: self.label.clone(),
                in_flight: i32::try_from(self.deliveries.len()).unwrap_or(i32::MAX),
            })
        }
    }
}
