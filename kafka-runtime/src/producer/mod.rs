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

mod callbacks;
mod client;
mod error;
mod partition;
mod props;
mod raw;
mod record;
mod registry;
mod typed;

pub use callbacks::{set_async_callbacks, AsyncCallbacks, ErrorCallback, SuccessCallback};
pub use error::ProduceError;
pub use partition::{fnv1a_32, sarama_hash_partition};
pub use raw::RawProducer;
pub use record::{Delivered, Headers, Key, SentRecord};
pub use registry::{build_producer, ProducerRegistration, ProducerSource};
pub use typed::{FromRawProducer, Producer};

pub(crate) use registry::ProducerSet;
