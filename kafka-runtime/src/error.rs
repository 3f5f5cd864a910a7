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
    /// A consumer group refused this member's partition assignment protocol
    /// for longer than its session timeout: the group's members use another
    /// strategy, for example the tRPC-Go plugin's default `sticky`, which no
    /// librdkafka assignor speaks (see MIGRATING.md).
    #[error(transparent)]
    GroupProtocol(Box<GroupProtocolConflict>),
    /// A producer could not finish its work (shutdown's flush deadline passed).
    #[error("producer error: {0}")]
    Produce(#[from] crate::producer::ProduceError),
    /// The readiness endpoint ([`crate::Serve::readiness_endpoint`]) could
    /// not listen on its address.
    #[cfg(feature = "readiness-http")]
    #[error("the readiness endpoint cannot listen on {addr}: {source}")]
    ReadinessEndpoint {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why it could not be bound.
        #[source]
        source: std::io::Error,
    },
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

/// The details of [`Error::GroupProtocol`]: which group refused which
/// protocol, and the recipe.
#[derive(Debug, thiserror::Error)]
#[error(
    "service `{service}`: consumer group `{group}` refused this member for {waited:.1?}: \
     the group's members use the partition assignment protocol {}, this member offers \
     `{offered}` (strategy={strategy}), and a group needs one protocol all its members offer. \
     kafka-rs's strategy=sticky is librdkafka's `cooperative-sticky`; the tRPC-Go plugin's \
     (sarama's) `sticky` is an eager protocol no librdkafka assignor speaks, so the two never \
     share a group. Either stop every plugin member of `{group}` before kafka-rs members \
     start (stop-and-swap), or first give every member of both services the same \
     strategy=range or strategy=roundrobin; see MIGRATING.md",
    group_protocol.as_deref().map_or_else(|| "another one (the group could not be described)".to_owned(), |p| format!("`{p}`"))
    )]
#[non_exhaustive]
pub struct GroupProtocolConflict {
    /// The service whose member gave up.
    pub service: String,
    /// The consumer group.
    pub group: String,
    /// The protocol the group's members agreed on, when it could be read.
    pub group_protocol: Option<String>,
    /// This member's `strategy` key.
    pub strategy: String,
    /// The librdkafka assignor it offered.
    pub offered: String,
    /// How long the group refused it.
    pub waited: std::time::Duration,
}
