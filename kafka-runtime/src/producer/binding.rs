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
    pub(crate) round_robin: bool,
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
            round_robin: config.partitioner == Partitioner::RoundRobin,
            callbacks: None,
        }
    }
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
        if self.round_robin && record.partition.is_none() {
            match self.client.partition_count(record.topic, timeout).await {
                Ok(count) => {
                    let partition = self.client.round_robin.next(record.topic, count);
                    record = record.partition(partition);
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
