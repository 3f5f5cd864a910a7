//! The configuration language: `trpc_go.yaml` and the address/target syntax.
//!
//! A consumer service is a `server.service[]` entry with `protocol: kafka`; a
//! producer is a `client.service[]` entry whose `target` starts with
//! `kafka://`. Everything else in the file is left to whoever owns it.
//!
//! ```text
//! server:
//!   service:
//!     - name: trpc.app.server.consumer
//!       address: 127.0.0.1:9092?topics=orders&group=billing
//!       protocol: kafka
//!       timeout: 1000
//! client:
//!   service:
//!     - name: trpc.app.server.producer
//!       target: kafka://127.0.0.1:9092?topic=orders&compression=zstd
//!       timeout: 800
//! ```

mod error;
mod secret;
mod types;
mod values;

pub use error::ConfigError;
pub use secret::Secret;
pub use types::{
    CommonConfig, ConsumerConfig, ProducerConfig, RetryPolicy, DEFAULT_CLIENT_ID, DEFAULT_VERSION,
};
pub use values::{
    Compression, InitialOffset, IsolationLevel, NotAllowed, Partitioner, RequiredAcks,
    SaslMechanism, SecurityProtocol, Strategy,
};

use std::time::Duration;

/// The Kafka part of a loaded `trpc_go.yaml`: every consumer and producer
/// service, already parsed and validated.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `server.service[]` entries with `protocol: kafka`, in file order.
    pub consumers: Vec<ConsumerService>,
    /// `client.service[]` entries with a `kafka://` target, in file order.
    pub producers: Vec<ProducerService>,
}

/// One consumer service: a `server.service[]` entry with `protocol: kafka`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsumerService {
    /// `name`: what `#[kafka_consumer(service = "...")]` refers to.
    pub name: String,
    /// `timeout` (ms): the handler's deadline; `None` when absent or 0.
    pub timeout: Option<Duration>,
    /// The parsed `address`.
    pub config: ConsumerConfig,
}

/// One producer service: a `client.service[]` entry with a `kafka://` target.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProducerService {
    /// `name`: what `#[kafka_producer(service = "...")]` refers to.
    pub name: String,
    /// `timeout` (ms): the per-request deadline; `None` when absent or 0.
    pub timeout: Option<Duration>,
    /// The parsed `target`.
    pub config: ProducerConfig,
}

impl Config {
    /// The consumer service called `name`.
    pub fn consumer(&self, name: &str) -> Option<&ConsumerService> {
        self.consumers.iter().find(|s| s.name == name)
    }

    /// The producer service called `name`.
    pub fn producer(&self, name: &str) -> Option<&ProducerService> {
        self.producers.iter().find(|s| s.name == name)
    }
}
