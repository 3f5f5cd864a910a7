//! One producer binding (a `client.service[]` entry or an inline target):
//! what it adds to the librdkafka client it shares, and the paths of its
//! records into librdkafka and back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rdkafka::error::KafkaError;
use rdkafka::message::ToBytes;
use rdkafka::producer::BaseRecord;

use super::callbacks::AsyncCallbacks;
use super::client::{Acknowledgement, Pending, Record, SharedClient};
use super::deliveries::{Deliveries, Reporting};
use super::error::ProduceError;
use super::record::{Delivered, Headers, SentRecord};
use crate::config::{Partitioner, ProducerConfig};

/// The deadline used when the service sets no `timeout`: librdkafka's own
/// delivery timeout (`message.timeout.ms`, 300 s), so the runtime never gives
/// up on a record before the client does.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Extra wait beyond the per-request timeout before the runtime stops waiting
/// on its own: librdkafka normally reports the timeout first, and a record
/// it fails is a clean failure rather than an unknown outcome.
const TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// What one binding (a `client.service[]` entry or an inline target) adds to
/// its shared client.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    /// The service name or producer type, for errors.
    pub(crate) label: String,
    pub(crate) client: Arc<SharedClient>,
    pub(crate) topic: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) async_produce: bool,
    pub(crate) trpc_meta: bool,
    pub(crate) partitioner: Partitioner,
    /// Whether the runtime computes `hash` partitions itself (sarama's
    /// FNV-1a) rather than librdkafka's `fnv1a_random`: on a transaction's
    /// client, whose librdkafka partitioner is `random` for every binding.
    pub(crate) hash_in_runtime: bool,
    /// The bootstrap brokers, sorted: which cluster the binding writes to.
    pub(crate) brokers: Vec<String>,
    pub(crate) callbacks: Option<AsyncCallbacks>,
}

impl Binding {
    pub(crate) fn new(
        label: String,
        client: Arc<SharedClient>,
        config: &ProducerConfig,
        timeout: Option<Duration>,
    ) -> Self {
        Binding {
            label,
            client,
            topic: config.topic.clone(),
            timeout,
            async_produce: config.async_produce,
            trpc_meta: config.common.trpc_meta,
            partitioner: config.partitioner,
            hash_in_runtime: false,
            brokers: sorted_brokers(&config.common.brokers),
            callbacks: None,
        }
    }

    /// Whether the runtime picks the partition of a record without one
    /// (round-robin; hash on a transaction's client), which needs the
    /// topic's partition count.
    pub(crate) fn picks_partition(&self, has_key: bool) -> bool {
        match self.partitioner {
            Partitioner::RoundRobin => true,
            Partitioner::Hash => self.hash_in_runtime && has_key,
            Partitioner::Random => false,
        }
    }

    /// The partition the runtime picks for a record of `topic` with `key`,
    /// out of `count` (see [`Binding::picks_partition`]).
    pub(crate) fn pick_partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        count: i32,
    ) -> Option<i32> {
        match (self.partitioner, key) {
            (Partitioner::RoundRobin, _) => Some(self.client.round_robin.next(topic, count)),
            (Partitioner::Hash, Some(key)) if self.hash_in_runtime => {
                Some(super::partition::sarama_hash_partition(key, count))
            }
            _ => None,
        }
    }
}

/// A broker list in an order-free form, to tell whether two bindings write
/// to the same cluster.
pub(crate) fn sorted_brokers(brokers: &[String]) -> Vec<String> {
    let mut sorted: Vec<String> = brokers.iter().map(|b| b.trim().to_owned()).collect();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// An asynchronous record, borrowed from the caller while it is queued
/// (librdkafka copies it).
pub(crate) struct Outgoing<'a> {
    pub(crate) topic: &'a str,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: &'a [u8],
    pub(crate) headers: &'a Headers,
}

impl Outgoing<'_> {
    pub(crate) fn size(&self) -> usize {
        self.value.len() + self.key.map_or(0, <[u8]>::len)
    }

    pub(crate) fn to_librdkafka(
        &self,
        partition: Option<i32>,
        pending: Box<Pending>,
    ) -> Record<'_, [u8], [u8]> {
        BaseRecord {
            topic: self.topic,
            partition,
            payload: Some(self.value),
            key: self.key,
            timestamp: None,
            headers: self.headers.to_owned_headers(),
            delivery_opaque: pending,
        }
    }

    /// Reports that the record could not be queued.
    pub(crate) fn fail(&self, pending: Pending, error: ProduceError) {
        if let Pending::Async(delivery) = pending {
            let record = SentRecord {
                topic: self.topic.to_owned(),
                key: self.key.map(Bytes::copy_from_slice),
                value: Bytes::copy_from_slice(self.value),
                headers: self.headers.clone(),
            };
            delivery.fail(record, error);
        }
    }
}

impl Binding {
    pub(crate) fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Picks the partition when the runtime owns the choice (round-robin),
    /// then queues the record. On an error the record's opaque comes back.
    pub(crate) async fn enqueue<K, P>(
        &self,
        mut record: Record<'_, K, P>,
        size: usize,
    ) -> Result<(), (ProduceError, Box<Pending>)>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let timeout = self.effective_timeout();
        let started = Instant::now();
        if record.partition.is_none() && self.picks_partition(record.key.is_some()) {
            match self.client.partition_count(record.topic, timeout).await {
                Ok(count) => {
                    let key = record.key.map(ToBytes::to_bytes);
                    if let Some(partition) = self.pick_partition(record.topic, key, count) {
                        record = record.partition(partition);
                    }
                }
                Err(error) => return Err((error, record.delivery_opaque)),
            }
        }
        let topic = record.topic;
        self.client
            .enqueue(record, started + timeout)
            .await
            .map_err(|(error, pending)| {
                (self.client.classify(topic, size, timeout, error), pending)
            })
    }

    /// Queues an asynchronous record that had to wait (see `queue_async`);
    /// reports a failure to queue it.
    pub(crate) async fn requeue_async(
        &self,
        record: &Outgoing<'_>,
        pending: Box<Pending>,
        partition: Option<i32>,
    ) {
        let librdkafka = record.to_librdkafka(partition, pending);
        if let Err((error, pending)) = self.enqueue(librdkafka, record.size()).await {
            record.fail(*pending, error);
        }
    }

    pub(crate) async fn await_delivery_of(
        &self,
        acknowledgement: Acknowledgement,
        queued: Instant,
        topic: &str,
        size: usize,
    ) -> Result<Delivered, ProduceError> {
        let outcome = self.delivery_outcome(acknowledgement, topic, size).await;
        crate::metrics::record_delivery(&self.label, topic, queued.elapsed(), outcome.is_ok());
        match outcome {
            Err(error) => Err(self.client.diagnose_timeout(error, topic).await),
            ok => ok,
        }
    }

    async fn delivery_outcome(
        &self,
        acknowledgement: Acknowledgement,
        topic: &str,
        size: usize,
    ) -> Result<Delivered, ProduceError> {
        let timeout = self.effective_timeout();
        match tokio::time::timeout(timeout + TIMEOUT_GRACE, acknowledgement).await {
            Ok(Ok(Ok(delivered))) => Ok(delivered),
            Ok(Ok(Err(error))) => Err(self.client.classify(topic, size, timeout, error)),
            // The client was dropped with the record still queued.
            Ok(Err(_canceled)) => {
                Err(self
                    .client
                    .classify(topic, size, timeout, KafkaError::Canceled))
            }
            Err(_elapsed) => Err(self.client.timed_out(topic, timeout)),
        }
    }
}

impl Reporting for Binding {
    fn deliveries(&self) -> &Deliveries {
        &self.client.deliveries
    }

    fn label(&self) -> &str {
        &self.label
    }

    fn callbacks(&self) -> Option<&AsyncCallbacks> {
        self.callbacks.as_ref()
    }

    fn classify(&self, topic: &str, size: usize, error: KafkaError) -> ProduceError {
        self.client
            .classify(topic, size, self.effective_timeout(), error)
    }

    fn timed_out(&self, topic: &str) -> ProduceError {
        self.client.timed_out(topic, self.effective_timeout())
    }

    fn diagnose(
        &self,
        error: ProduceError,
        topic: String,
    ) -> Pin<Box<dyn Future<Output = ProduceError> + Send>> {
        let client = Arc::clone(&self.client);
        Box::pin(async move { client.diagnose_timeout(error, &topic).await })
    }
}
