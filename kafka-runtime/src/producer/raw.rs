//! The bytes-level producer: the seed's client API on one binding.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Header;
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, FutureRecord};
use tokio::sync::oneshot;

use super::binding::{Binding, Outgoing};
use super::callbacks::AsyncCallbacks;
use super::client::Pending;
use super::deliveries::AsyncDelivery;
use super::error::ProduceError;
use super::record::{Delivered, Headers, Key};
use crate::Metadata;

/// A producer of raw bytes: the seed's `Produce`, `SendMessage`,
/// `AsyncSendMessage` and `SendSaramaMessage` on one configured target.
///
/// Cheap to clone; clones share the underlying librdkafka producer, which is
/// itself shared by every binding with the same settings.
///
/// A runnable round trip through every call, on the embedded broker, is on
/// `kafka_runtime::testing::EmbeddedBroker` (feature `testing`).
///
/// ```
/// # #[cfg(feature = "testing")] {
/// use std::time::Duration;
/// use kafka_runtime::producer::Headers;
/// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
/// # broker.create_topic("orders", 2).unwrap();
/// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
/// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
/// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// producer.produce("order-1", "v", Headers::new()).await.unwrap();
/// let at = producer.send_message("orders", "order-2", b"v".as_slice(), Headers::new()).await.unwrap();
/// assert!(at.partition == 0 || at.partition == 1);
/// # });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RawProducer {
    binding: Arc<Binding>,
}

impl RawProducer {
    pub(crate) fn from_binding(binding: Binding) -> Self {
        RawProducer {
            binding: Arc::new(binding),
        }
    }

    /// The target's `topic`, where [`RawProducer::produce`] writes.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert_eq!(producer.topic(), Some("orders"));
    /// # });
    /// # }
    /// ```
    pub fn topic(&self) -> Option<&str> {
        self.binding.topic.as_deref()
    }

    /// The per-request `timeout` of the service, if set.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // `timeout: 10000` on the service (here: given to build_producer)
    /// assert_eq!(producer.timeout(), Some(Duration::from_secs(10)));
    /// # });
    /// # }
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.binding.timeout
    }

    /// Whether the target has `async=1` ([`RawProducer::produce`] returns once
    /// the record is queued and reports its outcome to the callbacks).
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders&async=1", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert!(producer.is_async());
    /// # });
    /// # }
    /// ```
    pub fn is_async(&self) -> bool {
        self.binding.async_produce
    }

    /// This producer with its own asynchronous-outcome callbacks, which take
    /// precedence over the global ones ([`crate::producer::set_async_callbacks`]).
    #[must_use]
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders&async=1", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use kafka_runtime::producer::AsyncCallbacks;
    /// let ok = Arc::new(AtomicUsize::new(0));
    /// let seen = Arc::clone(&ok);
    /// let own = producer.with_callbacks(AsyncCallbacks::new().on_success(move |_, _| {
    ///     seen.fetch_add(1, Ordering::SeqCst);
    /// }));
    /// own.produce("k", "v", Headers::new()).await.unwrap(); // async=1: outcome to the callback
    /// own.flush(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(ok.load(Ordering::SeqCst), 1);
    /// # });
    /// # }
    /// ```
    pub fn with_callbacks(&self, callbacks: AsyncCallbacks) -> Self {
        let mut binding = (*self.binding).clone();
        binding.callbacks = Some(callbacks);
        RawProducer::from_binding(binding)
    }

    /// Writes a record to the target's `topic` (seed `Produce`). Waits for the
    /// acknowledgement, unless the target has `async=1`: then it returns once
    /// the record is queued and the outcome goes to the callbacks.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// producer.produce("order-1", r#"{"id":1}"#, Headers::new().with("source", "doc")).await.unwrap();
    /// producer.produce(None::<&str>, "no key", Headers::new()).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub async fn produce(
        &self,
        key: impl Into<Key>,
        value: impl AsRef<[u8]>,
        headers: impl Into<Headers>,
    ) -> Result<(), ProduceError> {
        let topic = self.configured_topic()?;
        if self.binding.async_produce {
            self.async_send_message(topic, key, value, headers).await
        } else {
            self.send_message(topic, key, value, headers)
                .await
                .map(|_| ())
        }
    }

    /// Writes a record to `topic` and waits for the acknowledgement (seed
    /// `SendMessage`): the partition and offset it got on the broker.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let at = producer.send_message("orders", "k", "v", Headers::new()).await.unwrap();
    /// assert!(at.offset >= 0);
    /// # });
    /// # }
    /// ```
    pub async fn send_message(
        &self,
        topic: &str,
        key: impl Into<Key>,
        value: impl AsRef<[u8]>,
        headers: impl Into<Headers>,
    ) -> Result<Delivered, ProduceError> {
        let key = key.into();
        let headers = self.outgoing_headers(headers.into());
        let value = value.as_ref();
        let size = value.len() + key.as_bytes().map_or(0, <[u8]>::len);
        let record = FutureRecord::<[u8], [u8]> {
            topic,
            partition: None,
            payload: Some(value),
            key: key.as_bytes(),
            timestamp: None,
            headers: headers.to_owned_headers(),
        };
        self.deliver(record, size).await
    }

    /// Queues a record for `topic` and returns without waiting (seed
    /// `AsyncSendMessage`). Its outcome reaches the success or error
    /// callback exactly once, including failures to queue it; shutdown waits
    /// for outstanding callbacks.
    ///
    /// Returns an error only for a record that could not be formed (typed
    /// producers: serialization); those never reach a callback.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// producer.async_send_message("orders", "k", "v", Headers::new()).await.unwrap();
    /// producer.flush(Duration::from_secs(5)).await.unwrap(); // its callback has run
    /// # });
    /// # }
    /// ```
    pub async fn async_send_message(
        &self,
        topic: &str,
        key: impl Into<Key>,
        value: impl AsRef<[u8]>,
        headers: impl Into<Headers>,
    ) -> Result<(), ProduceError> {
        let (key, value) = (key.into(), value.as_ref());
        let headers = self.outgoing_headers(headers.into());
        let record = Outgoing {
            topic,
            key: key.as_bytes(),
            value,
            headers: &headers,
        };
        let binding = self.route()?;
        if let Err((pending, partition)) = Self::queue_async(&binding, &record) {
            binding.requeue_async(&record, pending, partition).await;
        }
        Ok(())
    }

    /// The binding a record goes through: this producer's own, or inside
    /// a transactional handler its twin on the transaction's client
    /// (`transactional.rs`).
    fn route(&self) -> Result<Cow<'_, Arc<Binding>>, ProduceError> {
        match super::transactional::current() {
            None => Ok(Cow::Borrowed(&self.binding)),
            Some(transaction) => transaction.route(&self.binding).map(Cow::Owned),
        }
    }

    /// Queues an asynchronous record without waiting: this is the whole
    /// path of almost every record, kept out of the `async fn` so its state
    /// stays small. The record's opaque comes back (with the partition
    /// already picked, if any) when queueing must wait: librdkafka's queue
    /// is full, or round-robin needs a partition count it has not cached.
    #[allow(clippy::result_large_err)]
    fn queue_async(
        binding: &Arc<Binding>,
        record: &Outgoing<'_>,
    ) -> Result<(), (Box<Pending>, Option<i32>)> {
        let pending = Box::new(Pending::Async(AsyncDelivery::start(binding.clone())));
        let partition = if binding.picks_partition(record.key.is_some()) {
            match binding.client.cached_partition_count(record.topic) {
                Some(count) => binding.pick_partition(record.topic, record.key, count),
                None => return Err((pending, None)),
            }
        } else {
            None
        };
        match binding
            .client
            .try_send(record.to_librdkafka(partition, pending))
        {
            Ok(()) => {
                binding.client.sent_async();
                Ok(())
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), pending)) => {
                Err((pending, partition))
            }
            Err((error, pending)) => {
                let timeout = binding.effective_timeout();
                let error = binding
                    .client
                    .classify(record.topic, record.size(), timeout, error);
                record.fail(*pending, error);
                Ok(())
            }
        }
    }

    /// Sends a native rdkafka record and waits for the acknowledgement (seed
    /// `SendSaramaMessage`). The record's own partition, timestamp and headers
    /// are kept; the target's partitioner, `trpcMeta` and `timeout` apply.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use kafka_runtime::rdkafka::message::{Header, OwnedHeaders};
    /// use kafka_runtime::rdkafka::producer::FutureRecord;
    /// let record = FutureRecord::to("orders")
    ///     .key("k")
    ///     .payload("v")
    ///     .partition(1)
    ///     .headers(OwnedHeaders::new().insert(Header { key: "h", value: Some("1") }));
    /// let at = producer.send_record(record).await.unwrap();
    /// assert_eq!(at.partition, 1);
    /// # });
    /// # }
    /// ```
    pub async fn send_record<K, P>(
        &self,
        mut record: FutureRecord<'_, K, P>,
    ) -> Result<Delivered, ProduceError>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        if self.binding.trpc_meta {
            let metadata = Metadata::current();
            if !metadata.is_empty() {
                let headers = metadata.iter().fold(
                    record.headers.take().unwrap_or_default(),
                    |headers, (key, value)| {
                        headers.insert(Header {
                            key,
                            value: Some(value.as_ref()),
                        })
                    },
                );
                record = record.headers(headers);
            }
        }
        let size = record.payload.map_or(0, |p| p.to_bytes().len())
            + record.key.map_or(0, |k| k.to_bytes().len());
        self.deliver(record, size).await
    }

    /// Waits, at most `timeout`, until every record queued through this
    /// producer's client is acknowledged and its callback has run.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// for i in 0..10 {
    ///     producer.async_send_message("orders", i.to_string(), "v", Headers::new()).await.unwrap();
    /// }
    /// producer.flush(Duration::from_secs(5)).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub async fn flush(&self, timeout: Duration) -> Result<(), ProduceError> {
        self.binding.client.flush(Instant::now() + timeout).await
    }

    pub(crate) fn configured_topic(&self) -> Result<&str, ProduceError> {
        self.binding
            .topic
            .as_deref()
            .ok_or_else(|| ProduceError::NoTopic {
                producer: self.binding.label.clone(),
            })
    }

    fn outgoing_headers(&self, mut headers: Headers) -> Headers {
        if self.binding.trpc_meta {
            headers.append_metadata(&Metadata::current());
        }
        crate::tracecontext::inject(&mut headers);
        headers
    }

    async fn deliver<K, P>(
        &self,
        record: FutureRecord<'_, K, P>,
        size: usize,
    ) -> Result<Delivered, ProduceError>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let topic = record.topic;
        let (sender, acknowledgement) = oneshot::channel();
        let record = BaseRecord {
            topic,
            partition: record.partition,
            payload: record.payload,
            key: record.key,
            timestamp: record.timestamp,
            headers: record.headers,
            delivery_opaque: Box::new(Pending::Awaited(sender)),
        };
        let binding = self.route()?;
        let queued = Instant::now();
        binding
            .enqueue(record, size)
            .await
            .map_err(|(error, _)| error)?;
        binding
            .await_delivery_of(acknowledgement, queued, topic, size)
            .await
    }
}
