//! Typed producers: values encoded by a codec (JSON by default) before
//! they are sent.

use std::fmt;
use std::marker::PhantomData;

use crate::codec::{Encode, Json};

use super::callbacks::AsyncCallbacks;
use super::error::ProduceError;
use super::raw::RawProducer;
use super::record::{Delivered, Headers, Key};

/// A producer of `T` values, each sent as encoded by the codec `C`: JSON
/// (serde) by default, [`Protobuf`](crate::codec::Protobuf) for
/// `prost::Message` types (`Producer<Order, Protobuf>`, feature
/// `protobuf`), [`Raw`](crate::codec::Raw) for bytes and text as they are,
/// or your own ([`crate::codec`]).
///
/// Declare it in a `#[kafka_producer]` struct; for native records use
/// [`RawProducer`].
///
/// ```
/// use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Producer};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Order { id: u32 }
///
/// #[kafka_producer(target = "kafka://127.0.0.1:9092?topic=orders.out")]
/// struct Forward(Producer<Order>);
///
/// #[kafka_consumer(service = "trpc.doc.typed")]
/// async fn handle(order: Order, forward: Forward) -> Result<(), HandlerError> {
///     forward.0.produce(order.id.to_string(), &order, kafka_runtime::producer::Headers::new()).await?;
///     let _raw = forward.0.raw(); // bytes and native records
///     Ok(())
/// }
/// ```
///
/// A round trip on a broker: see `kafka_runtime::testing::EmbeddedBroker`
/// (feature `testing`) and the crate-level quick start.
pub struct Producer<T, C = Json> {
    raw: RawProducer,
    // `fn(&T)`: the producer only consumes `T`s, so it is `Send + Sync` and
    // `Clone` whatever `T` and `C` are.
    _value: PhantomData<fn(&T, C)>,
}

impl<T, C> Clone for Producer<T, C> {
    fn clone(&self) -> Self {
        Producer {
            raw: self.raw.clone(),
            _value: PhantomData,
        }
    }
}

impl<T, C> fmt::Debug for Producer<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("value", &std::any::type_name::<T>())
            .field("codec", &std::any::type_name::<C>())
            .field("raw", &self.raw)
            .finish()
    }
}

impl<T, C: Encode<T>> Producer<T, C> {
    /// The bytes-level producer underneath, for native records and raw payloads.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # let producer: kafka_runtime::Producer<Order> = kafka_runtime::producer::FromRawProducer::from_raw(producer);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert_eq!(producer.raw().topic(), Some("orders"));
    /// producer.raw().produce("k", b"raw bytes".as_slice(), Headers::new()).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub fn raw(&self) -> &RawProducer {
        &self.raw
    }

    /// This producer with its own asynchronous-outcome callbacks.
    #[must_use]
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # let producer: kafka_runtime::Producer<Order> = kafka_runtime::producer::FromRawProducer::from_raw(producer);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use kafka_runtime::producer::AsyncCallbacks;
    /// let own = producer.with_callbacks(AsyncCallbacks::new().on_error(|err, rec| eprintln!("{}: {err}", rec.topic)));
    /// own.async_send_message("orders", "k", &Order { id: 1 }, Headers::new()).await.unwrap();
    /// own.raw().flush(Duration::from_secs(5)).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub fn with_callbacks(&self, callbacks: AsyncCallbacks) -> Self {
        Producer {
            raw: self.raw.with_callbacks(callbacks),
            _value: PhantomData,
        }
    }

    /// Encodes `value` and writes it to the target's `topic`; see
    /// [`RawProducer::produce`].
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # let producer: kafka_runtime::Producer<Order> = kafka_runtime::producer::FromRawProducer::from_raw(producer);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// producer.produce("order-1", &Order { id: 1 }, Headers::new()).await.unwrap(); // JSON value
    /// # });
    /// # }
    /// ```
    pub async fn produce(
        &self,
        key: impl Into<Key>,
        value: &T,
        headers: impl Into<Headers>,
    ) -> Result<(), ProduceError> {
        let topic = self.raw.configured_topic()?;
        let payload = encode::<T, C>(topic, value)?;
        self.raw.produce(key, payload, headers).await
    }

    /// Encodes `value`, writes it to `topic` and waits for the
    /// acknowledgement; see [`RawProducer::send_message`].
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # let producer: kafka_runtime::Producer<Order> = kafka_runtime::producer::FromRawProducer::from_raw(producer);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let at = producer.send_message("orders", "order-2", &Order { id: 2 }, Headers::new()).await.unwrap();
    /// assert!(at.offset >= 0);
    /// # });
    /// # }
    /// ```
    pub async fn send_message(
        &self,
        topic: &str,
        key: impl Into<Key>,
        value: &T,
        headers: impl Into<Headers>,
    ) -> Result<Delivered, ProduceError> {
        let payload = encode::<T, C>(topic, value)?;
        self.raw.send_message(topic, key, payload, headers).await
    }

    /// Encodes `value` and queues it for `topic`; the outcome goes to the
    /// callbacks. See [`RawProducer::async_send_message`].
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// use std::time::Duration;
    /// use kafka_runtime::producer::Headers;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// # broker.create_topic("orders", 2).unwrap();
    /// # let target = format!("kafka://{}?topic=orders", broker.bootstrap_servers());
    /// # let cfg = kafka_runtime::config::parse_producer_target("p", &target).unwrap();
    /// # let producer = kafka_runtime::producer::build_producer("p", &cfg, Some(Duration::from_secs(10))).unwrap();
    /// # let producer: kafka_runtime::Producer<Order> = kafka_runtime::producer::FromRawProducer::from_raw(producer);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// producer.async_send_message("orders", "order-3", &Order { id: 3 }, Headers::new()).await.unwrap();
    /// producer.raw().flush(Duration::from_secs(5)).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub async fn async_send_message(
        &self,
        topic: &str,
        key: impl Into<Key>,
        value: &T,
        headers: impl Into<Headers>,
    ) -> Result<(), ProduceError> {
        let payload = encode::<T, C>(topic, value)?;
        self.raw
            .async_send_message(topic, key, payload, headers)
            .await
    }
}

fn encode<'v, T, C: Encode<T>>(
    topic: &str,
    value: &'v T,
) -> Result<std::borrow::Cow<'v, [u8]>, ProduceError> {
    C::encode(value).map_err(|error| ProduceError::Serialization {
        topic: topic.to_owned(),
        reason: format!("{}: {error}", C::NAME),
    })
}

/// The field types a `#[kafka_producer]` struct can hold. Not meant to be
/// implemented by users.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a producer type",
    label = "a `#[kafka_producer]` field must be a producer",
    note = "use `Producer<T>` for serde values (JSON), `Producer<T, Protobuf>` for prost messages, `Producer<T, C>` for another codec, or `RawProducer` for native records"
)]
///
/// ```
/// use kafka_runtime::producer::FromRawProducer;
/// use kafka_runtime::{Producer, RawProducer};
/// fn field_type<T: FromRawProducer>() {}
/// field_type::<RawProducer>();
/// field_type::<Producer<String>>();
/// field_type::<Producer<bytes::Bytes, kafka_runtime::codec::Raw>>();
/// ```
pub trait FromRawProducer: Sized {
    /// Wraps the producer the runtime built for the field.
    #[doc(hidden)]
    fn from_raw(raw: RawProducer) -> Self;
}

impl FromRawProducer for RawProducer {
    fn from_raw(raw: RawProducer) -> Self {
        raw
    }
}

impl<T, C: Encode<T>> FromRawProducer for Producer<T, C> {
    fn from_raw(raw: RawProducer) -> Self {
        Producer {
            raw,
            _value: PhantomData,
        }
    }
}
