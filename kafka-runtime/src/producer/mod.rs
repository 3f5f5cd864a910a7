//! Producers: the seed's client API (`Produce`, `SendMessage`,
//! `AsyncSendMessage`, `SendSaramaMessage`) as typed, injectable values.
//!
//! Declare producers with `#[kafka_producer]`; the runtime builds them at
//! startup ([`crate::RuntimeHandle::start`]) from `client.service[]` entries
//! or inline `kafka://` targets, sharing one librdkafka producer between
//! bindings with identical settings, and flushes them on shutdown.
//!
//! | target key | effect |
//! |---|---|
//! | `topic` | where `produce` writes |
//! | `partitioner` | `random` (librdkafka `random`), `hash` (librdkafka `fnv1a_random`, the same partition as sarama's hash partitioner: see [`sarama_hash_partition`]), `roundrobin` (done by the runtime, per topic) |
//! | `async=1` | `produce` returns once the record is queued; the outcome goes to the [`AsyncCallbacks`] |
//! | `trpcMeta=true` | the current [`crate::Metadata`] is appended to the headers |
//! | service `timeout` | per-request deadline: librdkafka's `message.timeout.ms`, reported as [`ProduceError::Timeout`] |
//!
//! A standalone doctest (the runtime checks every producer declared in the
//! binary at startup, so it must not share one with other examples), on the
//! embedded broker (feature `testing`):
//!
#![cfg_attr(feature = "testing", doc = "```standalone_crate")]
#![cfg_attr(not(feature = "testing"), doc = "```ignore")]
//! use std::sync::Arc;
//! use kafka_runtime::config::Config;
//! use kafka_runtime::producer::Headers;
//! use kafka_runtime::{kafka_producer, Producer, RawProducer, RuntimeHandle};
//!
//! #[derive(serde::Serialize)]
//! struct Order { id: u64 }
//!
//! // One producer from `client.service[]`, typed: values go out as JSON.
//! #[kafka_producer(service = "trpc.app.server.producer")]
//! struct Orders(Producer<Order>);
//!
//! // Several producers in one struct, built in one call. A field may also
//! // name an inline target: `#[producer(target = "kafka://host:9092?topic=audit")]`.
//! #[kafka_producer]
//! struct Outbox {
//!     #[producer(service = "trpc.app.server.producer")]
//!     orders: Producer<Order>,
//!     #[producer(service = "trpc.app.server.audit")]
//!     audit: RawProducer,
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let broker = kafka_runtime::testing::EmbeddedBroker::start()?;
//! # let b = broker.bootstrap_servers();
//! let yaml = format!("
//! client:
//!   service:
//!     - name: trpc.app.server.producer
//!       target: kafka://{b}?topic=orders
//!     - name: trpc.app.server.audit
//!       target: kafka://{b}?topic=audit&compression=none
//! ");
//! // A service would call `RuntimeHandle::load()` (./trpc_go.yaml); serve() does it itself.
//! let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml)?)).await?;
//! let Orders(orders) = runtime.get()?;
//! orders.produce("order-0", &Order { id: 0 }, Headers::new()).await?;
//! let outbox: Outbox = runtime.get()?;
//! outbox.orders.produce("order-1", &Order { id: 1 }, Headers::new()).await?;
//! let at = outbox.audit.send_message("audit", "k", "v", Headers::new()).await?;
//! println!("audit record at {}:{}", at.partition, at.offset);
//! runtime.shutdown(std::time::Duration::from_secs(5)).await?; // flushes
//! # Ok(()) }
//! ```
//!
//! Design notes:
//! - Clients are shared by *librdkafka properties*, not by service name: two
//!   services with the same target share a connection pool and a send
//!   queue, and a service's `timeout` (which becomes `message.timeout.ms`) is
//!   part of the key so every record's deadline is enforced by librdkafka.
//! - `hash` is librdkafka's `fnv1a_random`, whose FNV-1a takes the absolute
//!   value of the signed hash before the modulo; `|h| mod n == |h mod n|`,
//!   so it picks sarama's partition for every key (tested on the broker
//!   against [`sarama_hash_partition`]).
//! - A record for a missing topic waits in librdkafka until it times out;
//!   on a timeout the runtime checks the topic's metadata and reports
//!   [`ProduceError::UnknownTopic`] when it does not exist. Timeouts while
//!   librdkafka reports every broker down become
//!   [`ProduceError::BrokerUnreachable`].
//! - Asynchronous outcomes are awaited on tracked tasks, so shutdown waits
//!   for their callbacks after librdkafka's flush.

mod binding;
mod callbacks;
mod client;
mod deliveries;
mod error;
mod partition;
mod props;
mod raw;
mod record;
mod registry;
mod serving;
mod transactional;
mod typed;

pub use callbacks::{set_async_callbacks, AsyncCallbacks, ErrorCallback, SuccessCallback};
pub use error::ProduceError;
pub use partition::{fnv1a_32, sarama_hash_partition};
pub use raw::RawProducer;
pub use record::{Delivered, Headers, Key, SentRecord};
pub use registry::{build_producer, ProducerRegistration, ProducerSource};
pub use typed::{FromRawProducer, Producer};

pub(crate) use registry::{BrokerProbe, ProducerSet};
pub(crate) use transactional::{scope as transaction_scope, TransactionalProducer};
