//! # kafka-runtime
//!
//! The runtime of kafka-rs, a Rust successor to the tRPC-Go Kafka plugin: the
//! same `trpc_go.yaml` configuration language and consumer/producer semantics,
//! as a declarative framework on librdkafka (`rdkafka`) and tokio.
//!
//! Users depend on this crate only; it re-exports the `#[kafka_consumer]` and
//! `#[kafka_producer]` macros.
//!
//! # A tour
//!
//! ## Quick start
//!
//! A handler, a producer and [`serve()`], on a broker embedded in the
//! process (feature `testing`), runnable as is: the producer writes two
//! orders, the handler receives them, and `serve()` stops once it did.
//! (A standalone doctest: handlers and producers register at link time, so
//! it must not share a binary with other examples.)
//!
#![cfg_attr(feature = "testing", doc = "```standalone_crate")]
#![cfg_attr(not(feature = "testing"), doc = "```ignore")]
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use kafka_runtime::producer::Headers;
//! use kafka_runtime::testing::EmbeddedBroker;
//! use kafka_runtime::{kafka_consumer, kafka_producer, Context, HandlerError, Producer, RuntimeHandle};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Order { id: u32 }
//!
//! static HANDLED: AtomicUsize = AtomicUsize::new(0);
//!
//! #[kafka_consumer(service = "trpc.tour.orders")]
//! async fn handle(ctx: Context, order: Order) -> Result<(), HandlerError> {
//!     println!("order {} from {}", order.id, ctx.raw().topic);
//!     HANDLED.fetch_add(1, Ordering::SeqCst);
//!     Ok(())
//! }
//!
//! #[kafka_producer(service = "trpc.tour.producer")]
//! struct Orders(Producer<Order>);
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = EmbeddedBroker::start()?;
//! broker.create_topic("orders", 1)?;
//! let yaml = format!(r#"
//! server:
//!   service:
//!     - name: trpc.tour.orders
//!       address: {b}?topics=orders&group=tour&initial=oldest
//!       protocol: kafka
//! client:
//!   service:
//!     - name: trpc.tour.producer
//!       target: kafka://{b}?topic=orders
//! "#, b = broker.bootstrap_servers());
//! let config = kafka_runtime::config::Config::from_yaml_str(&yaml)?;
//!
//! let runtime = RuntimeHandle::start(config.clone().into()).await?;
//! let Orders(orders) = runtime.get::<Orders>()?;
//! for id in [1, 2] {
//!     orders.produce(id.to_string(), &Order { id }, Headers::new()).await?;
//! }
//! runtime.shutdown(Duration::from_secs(5)).await?;
//!
//! // A real service runs `kafka_runtime::serve().await` until SIGTERM.
//! kafka_runtime::serve()
//!     .config(config)
//!     .shutdown_timeout(Duration::from_secs(5))
//!     .with_graceful_shutdown(async {
//!         while HANDLED.load(Ordering::SeqCst) < 2 {
//!             tokio::time::sleep(Duration::from_millis(20)).await;
//!         }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! ## Consumers
//!
//! [`macro@kafka_consumer`] turns an `async fn` into the handler of a
//! `server.service[]` entry. It takes the record as a [`Message`], bytes, a
//! `String` or any `serde::Deserialize` type (JSON), optionally a
//! [`Context`] (service, [`RawContext`]: topic, partition, offsets, group
//! generation; [`Metadata`] with `trpcMeta=true`), and any number of
//! injected producers. `Ok` commits; `Err` ([`HandlerError`]), a panic or the
//! service's `timeout` retries after `retryInterval` as `maxRetry` says;
//! [`HandlerError::continue_without_commit`] goes on without committing.
//! A record given up on (retries exhausted, or a payload that does not
//! decode) is logged and skipped, or with `deadLetterTopic=NAME` written to
//! that topic first ([`deadletter`]). Each partition is handled in order,
//! partitions concurrently; with `keyOrderedConcurrency=N` up to N handlers
//! run at once within a partition, in order per key.
//!
//! ## Batches
//!
//! `#[kafka_consumer(service = "...", batch)]` with `batch=N` (and
//! optionally `batchFlush=ms`) in the address: the handler takes a `Vec` of
//! up to N records of one partition; `Ok` commits through the last one, `Err`
//! retries the whole batch.
//!
//! ## Producers
//!
//! [`macro@kafka_producer`] declares a producer from a `client.service[]`
//! entry or an inline `kafka://` target: [`Producer<T>`](Producer) for serde
//! values, [`RawProducer`] for bytes and native `rdkafka` records, or a struct
//! holding several. They offer the seed's calls: `produce`, `send_message`
//! (partition and offset back), `async_send_message` (outcome to
//! [`producer::AsyncCallbacks`]) and [`RawProducer::send_record`]. See
//! [`producer`].
//!
//! ## The serve builder
//!
//! [`serve()`] loads `trpc_go.yaml` (`KAFKA_RS_CONFIG`, else
//! `./trpc_go.yaml`), checks every handler and producer against it, runs one
//! consumer-group member per service, and on SIGINT/SIGTERM stops fetching,
//! lets in-flight handlers finish, commits and flushes. The [`Serve`] builder
//! takes another configuration source, a shutdown signal, a shutdown
//! timeout, a subset of services, rebalance hooks
//! ([`Serve::on_partitions_assigned`]) and a [`ServiceControl`] to pause
//! and resume services.
//!
//! ## Exactly once, static membership, KIP-848, readiness
//!
//! `transactionalId=ID` on a consumer address makes a consume-transform-
//! produce service exactly once: what the handler sends through its
//! producers and the input offsets commit in one Kafka transaction, every
//! `transactionCommitInterval`; a failed handler aborts the transaction and
//! the service rewinds to its last commit. `groupInstanceId=ID` is static
//! membership (a restart within the session keeps the partitions without a
//! rebalance), `groupProtocol=consumer` KIP-848's broker-driven group
//! protocol. [`Serve::readiness`] tells orchestrators when every member
//! joined its group and every producer reached a broker ([`readiness`];
//! `GET /ready` with feature `readiness-http`). [`asyncapi`] writes an
//! AsyncAPI 3.0 document of the application's channels, with its payload
//! types (`KAFKA_RS_ASYNCAPI=path.json`; schemas with feature `schemars`).
//! CONFIGURATION.md has the details of each.
//!
//! ## How handlers run
//!
//! Each service has a thread polling its librdkafka consumer and a tokio task
//! per assigned partition; a partition's records are handled one at a time,
//! in offset order (or `batch=N` at a time, or with `keyOrderedConcurrency=N`
//! up to N at once, one per key). The poll thread takes records in bursts
//! and looks at them partition by partition. When a partition's task has
//! nothing queued or running, the poll thread runs the handlers itself, up
//! to each handler's first `.await` that has to wait: a handler that
//! finishes there (a cheap one) costs no hand-off to another thread, and one
//! that waits continues on the partition's task, before anything polled
//! after it. Otherwise the records go to the task, a whole burst's worth
//! in one hand-off. A batch service collects each partition's batch on the
//! poll thread until it holds `batch=N` records or `batchFlush` has passed
//! since its first record. Handlers that burn more than about 10 us of CPU
//! per record before their first wait are sent to the partition tasks
//! instead (measured per service over 20 ms windows, re-checked every
//! second), so that they run in parallel across partitions. Either way a
//! handler runs inside the tokio runtime (`tokio::spawn`, timers and I/O
//! work), never while the engine holds a lock, and, as in any async code,
//! long blocking work belongs in `tokio::task::spawn_blocking`.
//!
//! Offsets are stored after handling, for the contiguous prefix of handled
//! records only, and per chunk: at most 64 records of a partition (or one
//! batch) are handled and not yet stored at any moment. librdkafka commits
//! what is stored every 3 s (`auto.commit.interval.ms`), and the engine
//! commits synchronously when partitions are revoked and at shutdown, after
//! their handlers finished. Delivery is at least once: after a crash, the
//! records handled since the last commit are delivered again, which is at
//! most those of the last commit interval (plus the commit's round trip)
//! and 64 per partition, or one batch (`CONFIGURATION.md`, "Redelivery
//! after a crash").
//!
//! ## RuntimeHandle
//!
//! [`RuntimeHandle`] is the runtime without consumers: it builds the
//! producers of a configuration and hands them out
//! ([`RuntimeHandle::get`], [`RuntimeHandle::producer`]). A program that only
//! produces uses it directly and calls [`RuntimeHandle::shutdown`] to flush;
//! `serve()` runs one itself.
//!
//! ## Configuration
//!
//! [`config`] is the tRPC-Go plugin's configuration language: the YAML
//! loader ([`config::Config`]), the address parser, the key table
//! ([`config::keys::KEYS`], source of CONFIGURATION.md's reference), the mapping
//! to librdkafka properties, and overrides in code
//! ([`config::register_consumer_addr_config`], the seed's
//! `RegisterAddrConfig`). [`discovery`] resolves `discover=` service names.
//!
//! ## Errors
//!
//! Startup and fatal failures are an [`Error`]: configuration
//! ([`config::ConfigError`] names the service, key, value and what is
//! allowed), security (wrong credentials, TLS), wiring (handlers and
//! services that do not match), Kafka clients, producer flush. Handlers
//! return [`HandlerError`]; producers [`ProduceError`]. Secrets never appear
//! in any of them.
//!
//! ## Testing with the embedded broker
//!
//! With the feature `testing`, `testing::EmbeddedBroker` starts
//! librdkafka's mock cluster in the process: real Kafka protocol over
//! loopback, consumer groups included, nothing to install. Point a YAML at
//! its `bootstrap_servers()` and run `serve()` with a shutdown signal, as in
//! the quick start above; handlers are plain `async fn`s, callable directly
//! with [`Context::for_test`]. The repository's `tests/user_handler.rs` is a
//! template to copy.
//!
//! ## Observability
//!
//! Logs go through `tracing`, librdkafka's own lines included (target
//! `librdkafka`); each handled message or batch runs in a `kafka_handle`
//! span with service, topic, partition, offset and attempt, joined to the
//! producer's trace through the W3C `traceparent` header ([`TraceParent`]).
//! With feature `opentelemetry` and a `tracing-opentelemetry` layer, those
//! spans are real OpenTelemetry children of the producer's span (see the
//! `otel` module). [`metrics`] lists the counters, histograms and gauges
//! recorded through the `metrics` facade; feature `prometheus` serves them
//! (`metrics::install_prometheus`).
#![deny(missing_docs)]

pub mod asyncapi;
mod batch_error;
pub mod codec;
pub mod config;
mod consumer;
mod context;
mod control;
pub mod deadletter;
pub mod discovery;
mod error;
mod forward;
pub mod handler;
mod inject;
mod logging;
mod message;
mod metadata;
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
pub mod producer;
pub mod readiness;
pub mod retrytopic;
pub mod security;
mod serve;
#[cfg(feature = "testing")]
pub mod testing;
mod tracecontext;

pub use error::{Error, GroupProtocolConflict, Result};
pub use inject::{Inject, RuntimeHandle};
pub use metadata::Metadata;
pub use producer::{ProduceError, Producer, RawProducer};
pub use readiness::Readiness;

pub use batch_error::BatchError;
pub use context::{Context, RawContext};
pub use control::{PartitionsEvent, ServiceControl, UnknownService};
pub use handler::{HandlerError, HandlerResult};
pub use message::Message;
pub use serve::{serve, Serve, DEFAULT_SHUTDOWN_TIMEOUT};
pub use tracecontext::{TraceParent, TRACEPARENT_HEADER};

/// Marks an async fn as the handler of a Kafka consumer service
/// (a `server.service[]` entry with `protocol: kafka`).
///
/// Compiled only, as `main` serves until SIGINT/SIGTERM; the crate-level
/// quick start runs a handler to completion on the embedded broker.
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
/// [`producer`] for the client API and a round trip on the embedded broker.
///
/// ```
/// use kafka_runtime::{kafka_producer, Inject, Producer, RawProducer};
///
/// #[derive(serde::Serialize)]
/// struct Order { id: u64 }
///
/// #[kafka_producer(service = "trpc.app.server.producer")]
/// struct Orders(Producer<Order>);
///
/// #[kafka_producer(target = "kafka://127.0.0.1:9092?topic=audit")]
/// struct Audit(RawProducer);
///
/// #[kafka_producer]
/// struct Outbox {
///     #[producer(service = "trpc.app.server.producer")]
///     orders: Producer<Order>,
///     #[producer(target = "kafka://127.0.0.1:9092?topic=audit")]
///     audit: RawProducer,
/// }
///
/// // Each is built by the runtime (`RuntimeHandle::get`, or as a handler parameter):
/// fn injectable<T: Inject>() {}
/// injectable::<Orders>();
/// injectable::<Audit>();
/// injectable::<Outbox>();
/// ```
pub use kafka_macros::kafka_producer;

/// The `schemars` crate whose `JsonSchema` derive gives payload types their
/// schema in the AsyncAPI document ([`asyncapi`]; feature `schemars`).
#[cfg(feature = "schemars")]
pub use schemars;

/// The `rdkafka` crate this runtime is built on, for native records and
/// settings the address language does not cover.
///
/// ```
/// use kafka_runtime::rdkafka::producer::FutureRecord;
/// let record = FutureRecord::to("orders").key("k").payload("v").partition(0);
/// assert_eq!(record.topic, "orders");
/// ```
pub use rdkafka;

/// Not public API: paths the macros' generated code refers to.
#[doc(hidden)]
pub mod __private {
    pub use crate::asyncapi::probe::{
        Consumed, Produced, ViaAny, ViaKnown, ViaSchema, OCTET_STREAM, PROTOBUF,
    };
    pub use crate::asyncapi::{ConsumedPayload, Payload, ProducedPayload};
    pub use crate::codec::{Json, Protobuf, Raw};
    pub use crate::handler::{
        assert_send, decode, into_handler_result, Handler, HandlerFuture, Registration,
    };
    pub use crate::inject::{Inject, RuntimeHandle};
    pub use crate::producer::{FromRawProducer, ProducerRegistration, ProducerSource};
    pub use crate::{Context, Error, HandlerError, Message};
    pub use inventory;
    pub use std::sync::Arc;
}
