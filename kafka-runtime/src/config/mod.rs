//! The configuration language: `trpc_go.yaml` and the address/target syntax.
//!
//! A consumer service is a `server.service[]` entry with `protocol: kafka`; a
//! producer is a `client.service[]` entry whose `target` starts with
//! `kafka://`. Everything else in the file is left to whoever owns it.
//! `CONFIGURATION.md` at the workspace root is the full reference; the key
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
mod secret_like;
mod types;
mod validate;
mod values;
mod yaml;

pub(crate) use address::check_broker;
pub use address::{parse_consumer_address, parse_producer_target};
pub use error::ConfigError;
pub use mapping::Properties;
pub use registry::{register_consumer_addr_config, register_producer_addr_config};
pub use secret::Secret;
pub use types::{
    CommonConfig, ConsumerConfig, ProducerConfig, RetryBackoff, RetryPolicy, TlsConfig,
    DEFAULT_CLIENT_ID, DEFAULT_TRANSACTION_COMMIT_INTERVAL, DEFAULT_VERSION, KAFKA_SCHEME,
};
pub use values::{
    Compression, GroupProtocol, InitialOffset, IsolationLevel, NotAllowed, Partitioner,
    RequiredAcks, SaslMechanism, SecurityProtocol, Strategy,
};
pub use yaml::{CONFIG_ENV, DEFAULT_CONFIG_PATH};

use std::time::Duration;

/// The Kafka part of a loaded `trpc_go.yaml`: every consumer and producer
/// service, already parsed and validated.
///
/// ```
/// use kafka_runtime::config::Config;
///
/// let config = Config::from_yaml_str(r#"
/// server:
///   service:
///     - name: trpc.app.server.consumer
///       address: 127.0.0.1:9092?topics=orders&group=billing
///       protocol: kafka
///       timeout: 1000
///     - name: trpc.app.server.http      # not Kafka: ignored
///       protocol: http
/// client:
///   service:
///     - name: trpc.app.server.producer
///       target: kafka://127.0.0.1:9092?topic=orders
/// plugins:
///   database:
///     kafka:
///       max_request_size: 104857600
/// "#).unwrap();
/// assert_eq!(config.consumers.len(), 1);
/// let consumer = config.consumer("trpc.app.server.consumer").unwrap();
/// assert_eq!(consumer.timeout, Some(std::time::Duration::from_millis(1000)));
/// assert_eq!(config.producer("trpc.app.server.producer").unwrap().config.topic.as_deref(), Some("orders"));
/// assert_eq!(config.plugin.max_request_size, Some(104_857_600));
/// ```
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
///
/// ```
/// use kafka_runtime::config::Config;
///
/// let config = Config::from_yaml_str(
///     "plugins:\n  database:\n    kafka:\n      max_response_size: 2000000\n      rewrite_log: true\n",
/// ).unwrap();
/// assert_eq!(config.plugin.max_response_size, Some(2_000_000));
/// assert!(config.plugin.rewrite_log);
/// assert_eq!(config.plugin.max_request_size, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginConfig {
    /// `max_request_size` (sarama `MaxRequestSize`): producers'
    /// `maxMessageBytes` must not exceed it. 0 or absent: unset.
    pub max_request_size: Option<u32>,
    /// `max_response_size`: largest response (`receive.message.max.bytes`).
    /// 0 or absent: unset.
    pub max_response_size: Option<u32>,
    /// `rewrite_log` (the Go plugin's sarama logger switch): accepted for
    /// compatibility, with no effect: librdkafka's log lines always go to
    /// `tracing` (target `librdkafka`), where the subscriber filters them.
    pub rewrite_log: bool,
}

/// One consumer service: a `server.service[]` entry with `protocol: kafka`.
///
/// ```
/// use kafka_runtime::config::Config;
///
/// let config = Config::from_yaml_str(
///     "server:\n  service:\n    - name: c\n      address: 127.0.0.1:9092?topics=t&group=g\n      protocol: kafka\n",
/// ).unwrap();
/// let service = &config.consumers[0];
/// assert_eq!((service.name.as_str(), service.timeout), ("c", None));
/// assert_eq!(service.config.group, "g");
/// ```
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
///
/// ```
/// use kafka_runtime::config::Config;
///
/// let config = Config::from_yaml_str(
///     "client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n      timeout: 800\n",
/// ).unwrap();
/// let service = &config.producers[0];
/// assert_eq!(service.timeout, Some(std::time::Duration::from_millis(800)));
/// assert_eq!(service.config.topic.as_deref(), Some("t"));
/// ```
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
    ///
    /// ```
    /// let config = kafka_runtime::config::Config::from_yaml_str(
    ///     "server:\n  service:\n    - name: c\n      address: 127.0.0.1:9092?topics=t&group=g\n      protocol: kafka\nclient:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n",
    /// ).unwrap();
    /// assert_eq!(config.consumer("c").unwrap().config.topics, ["t"]);
    /// assert!(config.consumer("p").is_none()); // a producer
    /// ```
    pub fn consumer(&self, name: &str) -> Option<&ConsumerService> {
        self.consumers.iter().find(|s| s.name == name)
    }

    /// The producer service called `name`.
    ///
    /// ```
    /// let config = kafka_runtime::config::Config::from_yaml_str(
    ///     "server:\n  service:\n    - name: c\n      address: 127.0.0.1:9092?topics=t&group=g\n      protocol: kafka\nclient:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n",
    /// ).unwrap();
    /// assert_eq!(config.producer("p").unwrap().config.topic.as_deref(), Some("t"));
    /// assert!(config.producer("missing").is_none());
    /// ```
    pub fn producer(&self, name: &str) -> Option<&ProducerService> {
        self.producers.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests;
