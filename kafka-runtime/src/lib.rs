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
mod consumer;
mod context;
mod error;
pub mod handler;
mod inject;
mod message;
mod metadata;
mod serve;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub use inject::{Inject, RuntimeHandle};
pub use metadata::Metadata;

pub use context::{Context, RawContext};
pub use handler::{HandlerError, HandlerResult};
pub use message::Message;
pub use serve::{serve, Serve, DEFAULT_SHUTDOWN_TIMEOUT};

/// Marks an async fn as the handler of a Kafka consumer service.
///
/// ```ignore
/// #[kafka_consumer(service = "trpc.app.server.consumer")]
/// async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> { Ok(()) }
/// ```
///
/// See the crate docs for the accepted signatures.
pub use kafka_macros::kafka_consumer;
/// Declares a producer (or a struct of producers) built from the configuration.
pub use kafka_macros::kafka_producer;

/// The `rdkafka` crate this runtime is built on, for native records and
/// settings the address language does not cover.
pub use rdkafka;

/// Not public API: paths the macros' generated code refers to.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{decode, into_handler_result, Handler, HandlerFuture, Registration};
    pub use crate::inject::{Inject, RuntimeHandle};
    pub use crate::{Context, Error, HandlerError, Message};
    pub use inventory;
    pub use std::sync::Arc;

    /// Builds a consumer service from typed parts (tests, until YAML loading lands).
    pub fn consumer_service(
        name: &str,
        timeout: Option<std::time::Duration>,
        config: crate::config::ConsumerConfig,
    ) -> crate::config::ConsumerService {
        crate::config::ConsumerService {
            name: name.to_owned(),
            timeout,
            config,
        }
    }
}
