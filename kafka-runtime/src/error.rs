//! The error `serve()` and the runtime's setup functions return.

use crate::config::ConfigError;

/// Why the runtime could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read, or a value in it is invalid.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// A service cannot connect securely: the brokers refused its SASL
    /// credentials or mechanism, or the TLS handshake failed.
    #[error("service `{service}` cannot connect to its brokers: {source}")]
    Security {
        /// The service whose connection was refused.
        service: String,
        /// What the broker or the TLS layer said, secrets redacted.
        #[source]
        source: crate::security::ProbeError,
    },
    /// The registered handlers and producers do not match the configuration
    /// (a service without a handler, a handler without a service, ...).
    #[error("wiring error: {0}")]
    Wiring(String),
    /// librdkafka refused to create a client or a fatal client error occurred.
    #[error("kafka error in service `{service}`: {source}")]
    Kafka {
        /// The service whose client failed.
        service: String,
        /// The underlying client error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A producer could not finish its work (shutdown's flush deadline passed).
    #[error("producer error: {0}")]
    Produce(#[from] crate::producer::ProduceError),
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
