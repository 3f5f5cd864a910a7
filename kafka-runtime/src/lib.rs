//! # kafka-runtime
//!
//! The runtime of kafka-rs, a Rust successor to the tRPC-Go Kafka plugin: the
//! same `trpc_go.yaml` configuration language and consumer/producer semantics,
//! as a declarative framework on librdkafka (`rdkafka`) and tokio.
//!
//! Users depend on this crate only; it re-exports the `#[kafka_consumer]` and
//! `#[kafka_producer]` macros.
#![deny(missing_docs)]

pub mod config;
mod error;
mod inject;
mod metadata;
pub mod producer;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub use inject::{Inject, RuntimeHandle};
pub use metadata::Metadata;
pub use producer::{ProduceError, Producer, RawProducer};

pub use kafka_macros::kafka_producer;

/// The `rdkafka` crate this runtime is built on, for native records and
/// settings the address language does not cover.
pub use rdkafka;

/// Not public API: paths the macros' generated code refers to.
#[doc(hidden)]
pub mod __private {
    pub use crate::producer::{FromRawProducer, ProducerRegistration, ProducerSource};
    pub use inventory;
}
