//! The configuration language: `trpc_go.yaml` and the address/target syntax.
//!
//! A consumer service is a `server.service[]` entry with `protocol: kafka`; a
//! producer is a `client.service[]` entry whose `target` starts with
//! `kafka://`. Everything else in the file is left to whoever owns it.
//! The README's Configuration section and `CONFIGURATION.md` at the
//! workspace root are the full reference; the key
//! table ([`keys::KEYS`]) and the property mapping ([`mapping`]) are its
//! sources.
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

mod address;
mod env;
mod error;
pub mod keys;
pub mod mapping;
mod registry;
mod secret;
mod types;
mod validate;
mod values;
mod yaml;

pub(crate) use address::check_broker;
pub use address::{parse_consumer_address, parse_producer_target, KAFKA_SCHEME};
pub use error::ConfigError;
pub use mapping::Properties;
pub use registry::{register_consumer_addr_config, register_producer_addr_config};
pub use secret::Secret;
pub use types::{
    CommonConfig, ConsumerConfig, ProducerConfig, RetryPolicy, TlsConfig, DEFAULT_CLIENT_ID,
    DEFAULT_VERSION,
};
pub use values::{
    Compression, InitialOffset, IsolationLevel, NotAllowed, Partitioner, RequiredAcks,
    SaslMechanism, SecurityProtocol, Strategy,
};
pub use yaml::{CONFIG_ENV, DEFAULT_CONFIG_PATH};

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
    /// `plugins.database.kafka`, already copied into every service's
    /// [`CommonConfig`] where it matters.
    pub plugin: PluginConfig,
}

/// `plugins.database.kafka`: settings for every Kafka service of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginConfig {
    /// `max_request_size` (sarama `MaxRequestSize`): producers'
    /// `maxMessageBytes` must not exceed it. 0 or absent: unset.
    pub max_request_size: Option<u32>,
    /// `max_response_size`: largest response (`receive.message.max.bytes`).
    /// 0 or absent: unset.
    pub max_response_size: Option<u32>,
    /// `rewrite_log`: route the Kafka client's logs into the application's
    /// log (the Go plugin's sarama logger switch).
    pub rewrite_log: bool,
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

#[cfg(test)]
mod tests;
