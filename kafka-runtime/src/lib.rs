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
mod control;
pub mod deadletter;
pub mod discovery;
mod error;
pub mod handler;
mod inject;
mod logging;
mod message;
mod metadata;
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
pub mod producer;
pub mod security;
mod serve;
#[cfg(feature = "testing")]
pub mod testing;
mod tracecontext;

pub use error::{Error, Result};
pub use inject::{Inject, RuntimeHandle};
pub use metadata::Metadata;
pub use producer::{ProduceError, Producer, RawProducer};

pub use context::{Context, RawContext};
pub use control::{PartitionsEvent, ServiceControl, UnknownService};
pub use handler::{HandlerError, HandlerResult};
pub use message::Message;
pub use serve::{serve, Serve, DEFAULT_SHUTDOWN_TIMEOUT};
pub use tracecontext::{TraceParent, TRACEPARENT_HEADER};

/// Marks an async fn as the handler of a Kafka consumer service
/// (a `server.service[]` entry with `protocol: kafka`).
///
/// ```no_run
/// use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};
///
/// #[kafka_consumer(service = "trpc.app.server.consumer")]
/// async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> {
///     println!("{} at {}/{}", ctx.service(), msg.partition, msg.offset);
///     Ok(())
/// }
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: u64 }
///
/// // `batch` requires `batch=N` in the service's address.
/// #[kafka_consumer(service = "trpc.app.server.batch", batch)]
/// async fn handle_batch(orders: Vec<Order>) -> Result<(), HandlerError> {
///     Ok(())
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), kafka_runtime::Error> {
///     kafka_runtime::serve().await
/// }
/// ```
///
/// Arguments: `service = "..."` binds the handler to one service; without it
/// the handler serves every Kafka service of the configuration (seed Q1).
/// `batch` makes it a batch handler.
///
/// Parameters, in any order: an optional [`Context`]; the message, as
/// [`Message`] (the whole record), `Bytes`/`Vec<u8>` (the value), `String`
/// (the value as UTF-8) or any `serde::Deserialize` type (the value as JSON),
/// and for a batch handler a `Vec` of one of those; then any number of
/// [`Inject`] values (producers, structs of producers), built once at startup
/// and cloned per call.
///
/// The handler returns `Result<(), E>` with `E` converting into
/// [`HandlerError`] (any `std::error::Error` does). `Ok` stores the offset;
/// `Err`, a panic or running past the service's `timeout` is a failed attempt,
/// retried after `retryInterval` as `maxRetry` says (0: for ever; negative:
/// never; N: at most N+1 runs), after which the record is logged, committed
/// and skipped. [`HandlerError::continue_without_commit`] goes on without
/// storing the offset.
///
/// A record whose value does not decode into the parameter type is logged
/// (service, topic, partition, offset and the decode error) and skipped with
/// its offset committed: decoding is deterministic, so retrying cannot help,
/// and blocking the partition on it would stop everything behind it. In a
/// typed batch, the records that do not decode are dropped from the batch
/// the same way.
pub use kafka_macros::kafka_consumer;
/// Declares a producer (or a struct of producers) built from the
/// configuration: `#[kafka_producer(service = "...")]` or
/// `#[kafka_producer(target = "kafka://...")]` on a one-field tuple struct,
/// or `#[kafka_producer]` on a struct whose fields carry
/// `#[producer(service = "...")]` / `#[producer(target = "...")]`. See
/// [`producer`] for the client API and an example.
pub use kafka_macros::kafka_producer;

/// The `rdkafka` crate this runtime is built on, for native records and
/// settings the address language does not cover.
pub use rdkafka;

/// Not public API: paths the macros' generated code refers to.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{
        assert_send, decode, into_handler_result, Handler, HandlerFuture, Registration,
    };
    pub use crate::inject::{Inject, RuntimeHandle};
    pub use crate::producer::{FromRawProducer, ProducerRegistration, ProducerSource};
    pub use crate::{Context, Error, HandlerError, Message};
    pub use inventory;
    pub use std::sync::Arc;
}
