//! The error `serve()` and the runtime's setup functions return.

use crate::config::ConfigError;

/// Why the runtime could not start or had to stop.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let yaml = "server:\n  service:\n    - name: trpc.app.server.consumer\n      address: 127.0.0.1:9092?topics=t&group=g&fetchMax=12x\n      protocol: kafka\n";
/// let err = kafka_runtime::serve().config_yaml(yaml).await.unwrap_err();
/// match &err {
///     kafka_runtime::Error::Config(e) => assert_eq!(e.key.as_deref(), Some("fetchMax")),
///     other => panic!("unexpected: {other}"),
/// }
/// assert!(err.to_string().contains("`fetchMax=12x`: not a whole number"), "{err}");
/// # }
/// ```
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
///
/// ```
/// async fn run() -> kafka_runtime::Result<()> {
///     kafka_runtime::serve().config_yaml("server: [").await
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert!(matches!(run().await, Err(kafka_runtime::Error::Config(_))));
/// # }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
