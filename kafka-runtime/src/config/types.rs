//! The typed configuration of one consumer service and one producer target.
//!
//! These structs are what the rest of the runtime uses: the address parser
//! fills them, [`crate::config::register_consumer_addr_config`] lets code
//! supply them directly (the seed's `RegisterAddrConfig`), and the mapping
//! layer turns them into librdkafka properties. Field names follow the seed's
//! address keys; every default is the tRPC-Go plugin's.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The scheme a producer target starts with.
///
/// ```
/// use kafka_runtime::config::KAFKA_SCHEME;
/// assert!("kafka://127.0.0.1:9092?topic=orders".starts_with(KAFKA_SCHEME));
/// ```
pub const KAFKA_SCHEME: &str = "kafka://";

use super::secret::Secret;
use super::values::{
    Compression, GroupProtocol, InitialOffset, IsolationLevel, Partitioner, RequiredAcks,
    SaslMechanism, SecurityProtocol, Strategy,
};

/// How often a transactional service commits its transaction unless
/// `transactionCommitInterval` says otherwise: Kafka Streams' commit interval
/// under exactly-once, short because read-committed consumers of the
/// service's output see its records only once their transaction commits.
///
/// ```
/// use kafka_runtime::config::{parse_consumer_address, DEFAULT_TRANSACTION_COMMIT_INTERVAL};
/// let cfg = parse_consumer_address("svc", "h:9092?topics=t&group=g&transactionalId=etl-1").unwrap();
/// assert_eq!(cfg.transaction_commit_interval, DEFAULT_TRANSACTION_COMMIT_INTERVAL);
/// assert_eq!(DEFAULT_TRANSACTION_COMMIT_INTERVAL.as_millis(), 100);
/// ```
pub const DEFAULT_TRANSACTION_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// The client id the tRPC-Go plugin uses when `clientid` is not set.
///
/// ```
/// use kafka_runtime::config::{parse_producer_target, DEFAULT_CLIENT_ID};
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?topic=t").unwrap();
/// assert_eq!(cfg.effective_client_id(), DEFAULT_CLIENT_ID);
/// ```
pub const DEFAULT_CLIENT_ID: &str = "trpcgo";

/// The Kafka protocol version the tRPC-Go plugin assumes when `version` is not set.
///
/// ```
/// use kafka_runtime::config::{parse_producer_target, DEFAULT_VERSION};
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?topic=t").unwrap();
/// assert_eq!(cfg.common.version, DEFAULT_VERSION);
/// ```
pub const DEFAULT_VERSION: &str = "1.1.1";

/// Settings both sides share: brokers, identity, security, network and metadata.
///
/// ```
/// use kafka_runtime::config::{parse_consumer_address, Compression};
///
/// let mut cfg = parse_consumer_address("svc", "a:9092,b:9092?topics=t&group=g&compression=zstd").unwrap();
/// assert_eq!(cfg.common.brokers, ["a:9092", "b:9092"]);
/// assert_eq!(cfg.common.compression, Compression::Zstd);
/// // A librdkafka property the address language does not have, set last:
/// cfg.common.librdkafka_overrides.insert("statistics.interval.ms".into(), "1000".into());
/// assert_eq!(cfg.librdkafka_properties().get("statistics.interval.ms"), Some("1000"));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct CommonConfig {
    /// Bootstrap brokers, `host:port` each (the part of the address before `?`).
    pub brokers: Vec<String>,
    /// `clientid`: the Kafka client id. `None` means the default: `trpcgo` for
    /// producers, the group name for consumers.
    pub client_id: Option<String>,
    /// `version`: the broker protocol version (`1.1.1`, `0.10.2.0`, ...).
    pub version: String,
    /// `compression`: codec for produced batches.
    pub compression: Compression,
    /// `mechanism`: SASL mechanism; `None` disables SASL.
    pub mechanism: Option<SaslMechanism>,
    /// `user`: SASL user name.
    pub user: Option<String>,
    /// `password`: SASL password, redacted in every `Debug` and error.
    pub password: Option<Secret>,
    /// `protocol`: security protocol; `None` picks `SASL_PLAINTEXT` when a
    /// mechanism is set and `PLAINTEXT` otherwise.
    pub security_protocol: Option<SecurityProtocol>,
    /// `tlsCaFile`, `tlsCertFile`, `tlsKeyFile`, `tlsKeyPassword`,
    /// `tlsInsecureSkipVerify`: TLS towards the brokers.
    pub tls: TlsConfig,
    /// `trpcMeta`: carry tRPC metadata in record headers.
    pub trpc_meta: bool,
    /// `discover`: name of the discovery resolver that turns the address's
    /// host part into a broker list.
    pub discover: Option<String>,
    /// `namespace`: discovery namespace, required with `discover`.
    pub namespace: Option<String>,
    /// `netMaxOpenRequests`: in-flight requests per broker connection.
    pub net_max_open_requests: u32,
    /// `netDailTimeout` (sic, the seed's spelling; `netDialTimeout` also accepted).
    pub net_dial_timeout: Duration,
    /// `netReadTimeout`: socket read deadline.
    pub net_read_timeout: Duration,
    /// `netWriteTimeout`: socket write deadline.
    pub net_write_timeout: Duration,
    /// `metadataRetryMax`: sarama's metadata retry budget (`None`: the
    /// tRPC-Go default, 1; librdkafka has no twin).
    pub metadata_retry_max: Option<u32>,
    /// `metadataRetryBackoff`: wait between metadata retries (`None`: the
    /// tRPC-Go default, 1000 ms).
    pub metadata_retry_backoff: Option<Duration>,
    /// `metadataRefreshFrequency` (seconds in the address): periodic metadata
    /// refresh; `None`: the tRPC-Go default, 120 s; zero disables it.
    pub metadata_refresh_frequency: Option<Duration>,
    /// `metadataFull`: refresh metadata for all topics, not only the used
    /// ones (`None`: the tRPC-Go default, false).
    pub metadata_full: Option<bool>,
    /// `metadataAllowAutoTopicCreation`: let metadata requests create topics
    /// (`None`: the tRPC-Go default, true).
    pub metadata_allow_auto_topic_creation: Option<bool>,
    /// `plugins.database.kafka.max_request_size` (sarama `MaxRequestSize`):
    /// caps a producer's `maxMessageBytes`; no effect on consumers.
    pub max_request_size: Option<u32>,
    /// `plugins.database.kafka.max_response_size`: largest response accepted
    /// (`receive.message.max.bytes`).
    pub max_response_size: Option<u32>,
    /// Raw librdkafka properties applied last, for code that needs a knob the
    /// address language does not have. Not reachable from an address string.
    pub librdkafka_overrides: BTreeMap<String, String>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            brokers: Vec::new(),
            client_id: None,
            version: DEFAULT_VERSION.to_owned(),
            compression: Compression::Gzip,
            mechanism: None,
            user: None,
            password: None,
            security_protocol: None,
            tls: TlsConfig::default(),
            trpc_meta: false,
            discover: None,
            namespace: None,
            net_max_open_requests: 5,
            net_dial_timeout: Duration::from_millis(30_000),
            net_read_timeout: Duration::from_millis(30_000),
            net_write_timeout: Duration::from_millis(30_000),
            metadata_retry_max: None,
            metadata_retry_backoff: None,
            metadata_refresh_frequency: None,
            metadata_full: None,
            metadata_allow_auto_topic_creation: None,
            max_request_size: None,
            max_response_size: None,
            librdkafka_overrides: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for CommonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written by hand so that no future field can print a secret by accident:
        // the password is a `Secret` and overrides are shown by key only.
        f.debug_struct("CommonConfig")
            .field("brokers", &self.brokers)
            .field("client_id", &self.client_id)
            .field("version", &self.version)
            .field("compression", &self.compression)
            .field("mechanism", &self.mechanism)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("security_protocol", &self.security_protocol)
            .field("tls", &self.tls)
            .field("trpc_meta", &self.trpc_meta)
            .field("discover", &self.discover)
            .field("namespace", &self.namespace)
            .field("net_max_open_requests", &self.net_max_open_requests)
            .field("net_dial_timeout", &self.net_dial_timeout)
            .field("net_read_timeout", &self.net_read_timeout)
            .field("net_write_timeout", &self.net_write_timeout)
            .field("metadata_retry_max", &self.metadata_retry_max)
            .field("metadata_retry_backoff", &self.metadata_retry_backoff)
            .field(
                "metadata_refresh_frequency",
                &self.metadata_refresh_frequency,
            )
            .field("metadata_full", &self.metadata_full)
            .field(
                "metadata_allow_auto_topic_creation",
                &self.metadata_allow_auto_topic_creation,
            )
            .field("max_request_size", &self.max_request_size)
            .field("max_response_size", &self.max_response_size)
            .field(
                "librdkafka_overrides",
                &self.librdkafka_overrides.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// TLS settings. Any of them turns TLS on (`protocol` defaults to `SSL`, or
/// `SASL_SSL` with a SASL mechanism). Paths are relative to the working
/// directory, as librdkafka reads them.
///
/// ```
/// use kafka_runtime::config::parse_producer_target;
///
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9093?topic=t&tlsInsecureSkipVerify=true").unwrap();
/// assert!(cfg.common.tls.is_set());
/// assert!(cfg.common.tls.insecure_skip_verify);
/// assert_eq!(cfg.librdkafka_properties().get("security.protocol"), Some("ssl"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `tlsCaFile`: PEM file (or directory) of the CAs that sign the brokers'
    /// certificates; `None` trusts the system's CAs.
    pub ca_file: Option<PathBuf>,
    /// `tlsCertFile`: PEM client certificate for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// `tlsKeyFile`: PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// `tlsKeyPassword`: password of an encrypted key, redacted everywhere.
    pub key_password: Option<Secret>,
    /// `tlsInsecureSkipVerify`: accept any broker certificate (tests only).
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// Whether any TLS key is set, which turns TLS on.
    ///
    /// ```
    /// use kafka_runtime::config::TlsConfig;
    /// assert!(!TlsConfig::default().is_set());
    /// let cfg = kafka_runtime::config::parse_producer_target("p", "kafka://h:9093?topic=t&tlsInsecureSkipVerify=true").unwrap();
    /// assert!(cfg.common.tls.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.key_password.is_some()
            || self.insecure_skip_verify
    }
}

/// How many times a failing handler runs (`maxRetry` on a consumer address).
///
/// ```
/// use kafka_runtime::config::RetryPolicy;
///
/// assert_eq!(RetryPolicy::from_max_retry(0), RetryPolicy::Forever);
/// assert_eq!(RetryPolicy::from_max_retry(-1), RetryPolicy::Never);
/// let twice = RetryPolicy::from_max_retry(2); // at most 3 runs
/// assert!(twice.allows_another_attempt(2));
/// assert!(!twice.allows_another_attempt(3));
/// assert!(!RetryPolicy::Never.allows_another_attempt(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// `maxRetry=0` (the default): retry for ever, until the handler succeeds.
    Forever,
    /// `maxRetry<0`: never retry; a failed message is committed and skipped.
    Never,
    /// `maxRetry=N>0`: run at most `N + 1` times, then commit and skip.
    Limited(u32),
}

impl RetryPolicy {
    /// The policy a `maxRetry` value selects, with the seed's meaning of 0 and negatives.
    ///
    /// ```
    /// use kafka_runtime::config::RetryPolicy;
    /// assert_eq!(RetryPolicy::from_max_retry(3), RetryPolicy::Limited(3));
    /// assert_eq!(RetryPolicy::from_max_retry(-5), RetryPolicy::Never);
    /// ```
    pub fn from_max_retry(max_retry: i64) -> Self {
        match max_retry {
            0 => RetryPolicy::Forever,
            n if n < 0 => RetryPolicy::Never,
            n => RetryPolicy::Limited(u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }

    /// Whether a handler that has already run `attempts` times may run again.
    ///
    /// ```
    /// use kafka_runtime::config::RetryPolicy;
    /// assert!(RetryPolicy::Forever.allows_another_attempt(1_000));
    /// assert!(RetryPolicy::Limited(1).allows_another_attempt(1)); // 2 runs in all
    /// assert!(!RetryPolicy::Limited(1).allows_another_attempt(2));
    /// ```
    pub fn allows_another_attempt(self, attempts: u32) -> bool {
        match self {
            RetryPolicy::Forever => true,
            RetryPolicy::Never => false,
            RetryPolicy::Limited(max_retry) => attempts <= max_retry,
        }
    }
}

/// How the wait between a failed handler's runs grows (`retryBackoff`).
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::{parse_consumer_address, RetryBackoff};
///
/// assert_eq!("exponential".parse(), Ok(RetryBackoff::Exponential));
/// assert!("linear".parse::<RetryBackoff>().is_err());
/// let cfg = parse_consumer_address("svc", "h:9092?topics=t&group=g&retryBackoff=exponential&retryInterval=100").unwrap();
/// assert_eq!(cfg.retry_backoff, RetryBackoff::Exponential);
/// assert_eq!(cfg.effective_retry_max_interval(), Duration::from_secs(60)); // the default cap
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RetryBackoff {
    /// `fixed` (the default, the Go plugin's behaviour): every wait is
    /// `retryInterval`.
    #[default]
    Fixed,
    /// `exponential`: `retryInterval`, then twice that, four times...,
    /// never more than `retryMaxInterval`.
    Exponential,
}

impl RetryBackoff {
    /// Every allowed value, as written in an address.
    ///
    /// ```
    /// assert_eq!(kafka_runtime::config::RetryBackoff::ALLOWED, ["fixed", "exponential"]);
    /// ```
    pub const ALLOWED: &'static [&'static str] = &["fixed", "exponential"];

    /// The value as written in an address.
    ///
    /// ```
    /// assert_eq!(kafka_runtime::config::RetryBackoff::Exponential.as_str(), "exponential");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RetryBackoff::Fixed => "fixed",
            RetryBackoff::Exponential => "exponential",
        }
    }
}

impl std::str::FromStr for RetryBackoff {
    type Err = super::NotAllowed;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "fixed" => Ok(RetryBackoff::Fixed),
            "exponential" => Ok(RetryBackoff::Exponential),
            _ => Err(super::NotAllowed {
                allowed: Self::ALLOWED,
            }),
        }
    }
}

impl fmt::Display for RetryBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `retryMaxInterval` when the address does not set it.
pub(crate) const DEFAULT_RETRY_MAX_INTERVAL: Duration = Duration::from_secs(60);

/// Everything one consumer service (`server.service[]` entry) needs.
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::{parse_consumer_address, ConsumerConfig, RetryPolicy};
///
/// let cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=t&group=billing&maxRetry=2").unwrap();
/// assert_eq!(cfg.retry, RetryPolicy::Limited(2));
/// assert_eq!(cfg.retry_interval, Duration::from_millis(3000)); // the plugin's default
/// assert_eq!(cfg.effective_client_id(), "billing"); // the group, as the plugin does
/// cfg.validate("svc").unwrap();
///
/// // Built in code (the seed's GetDefaultConfig()), then checked like a parsed one:
/// let mut own = ConsumerConfig::default();
/// own.common.brokers = vec!["127.0.0.1:9092".into()];
/// assert!(own.validate("svc").is_err()); // topics and group are required
/// own.topics = vec!["t".into()];
/// own.group = "g".into();
/// own.validate("svc").unwrap();
/// assert_eq!(own.client_config().get("group.id"), Some("g"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Settings shared with producers.
    pub common: CommonConfig,
    /// `topics`: topics to subscribe to (comma-separated in the address).
    pub topics: Vec<String>,
    /// `group`: the consumer group id. Required.
    pub group: String,
    /// `strategy`: partition assignment strategy.
    pub strategy: Strategy,
    /// `fetchDefault`: bytes fetched per partition per request.
    pub fetch_default: u32,
    /// `fetchMax`: most bytes one fetch request returns.
    pub fetch_max: u32,
    /// `batch`: messages per batch; `None` means single-message handling.
    pub batch: Option<u32>,
    /// `batchFlush`: a partial batch is handed over after this long.
    pub batch_flush: Duration,
    /// `keyOrderedConcurrency`: handlers running at once within one
    /// partition (1..=1024). 1, the default, handles a partition strictly
    /// one message at a time; above 1, records with the same key still run
    /// one at a time in offset order and only a contiguous prefix of handled
    /// offsets is committed. Single-message handlers only.
    pub key_ordered_concurrency: u32,
    /// `initial`: where a new group starts reading.
    pub initial: InitialOffset,
    /// `maxWaitTime`: how long the broker may hold a fetch waiting for data.
    pub max_wait_time: Duration,
    /// `maxRetry`: handler retry policy.
    pub retry: RetryPolicy,
    /// `retryInterval`: wait before running a failed handler again (the
    /// first wait with `retryBackoff=exponential`).
    pub retry_interval: Duration,
    /// `retryBackoff`: how the wait grows from one retry to the next.
    pub retry_backoff: RetryBackoff,
    /// `retryMaxInterval`: the longest wait with `retryBackoff=exponential`
    /// (`None`: 60 s).
    pub retry_max_interval: Option<Duration>,
    /// `retryJitter`: each wait is drawn between `(100 - retryJitter)`% and
    /// 100% of its scheduled length (0, the default, keeps it exact).
    pub retry_jitter: u32,
    /// `retryTopics=N`: a record the handler gives up on goes to
    /// `TOPIC-retry-1`, ... `TOPIC-retry-N` (see [`crate::retrytopic`])
    /// before the dead-letter topic; `None`: retries block the partition.
    pub retry_topics: Option<u32>,
    /// `maxProcessingTime`: sarama's per-message processing budget.
    pub max_processing_time: Duration,
    /// `groupSessionTimeout`: consumer group session timeout.
    pub group_session_timeout: Duration,
    /// `groupRebalanceTimeout`: how long a rebalance may take.
    pub group_rebalance_timeout: Duration,
    /// `groupRebalanceRetryMax`: sarama's rebalance retry budget (`None`: the
    /// tRPC-Go default, 4; librdkafka has no twin).
    pub group_rebalance_retry_max: Option<u32>,
    /// `isolationLevel`: whether to read uncommitted transactional records.
    pub isolation_level: IsolationLevel,
    /// `limiterRate`: messages per second the handler may receive (token bucket).
    pub limiter_rate: Option<f64>,
    /// `limiterBurst`: token bucket size; defaults to 1 when a rate is set.
    pub limiter_burst: Option<u32>,
    /// How often stored offsets are committed (the seed commits every 3 s).
    pub commit_interval: Duration,
    /// `deadLetterTopic`: where records the handler gave up on are sent
    /// (see [`crate::deadletter`]); `None` skips them with an error log.
    pub dead_letter_topic: Option<String>,
    /// `groupInstanceId`: static group membership (librdkafka
    /// `group.instance.id`); `None` is dynamic membership.
    pub group_instance_id: Option<String>,
    /// `groupProtocol`: the classic group protocol or KIP-848's.
    pub group_protocol: GroupProtocol,
    /// `transactionalId`: makes the service transactional (exactly once);
    /// the `transactional.id` of its transactional producer.
    pub transactional_id: Option<String>,
    /// `transactionCommitInterval`: how often a transactional service
    /// commits its transaction.
    pub transaction_commit_interval: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            topics: Vec::new(),
            group: String::new(),
            strategy: Strategy::Sticky,
            fetch_default: 524_288,
            fetch_max: 1_048_576,
            batch: None,
            batch_flush: Duration::from_millis(2_000),
            key_ordered_concurrency: 1,
            initial: InitialOffset::Newest,
            max_wait_time: Duration::from_millis(1_000),
            retry: RetryPolicy::Forever,
            retry_interval: Duration::from_millis(3_000),
            retry_backoff: RetryBackoff::Fixed,
            retry_max_interval: None,
            retry_jitter: 0,
            retry_topics: None,
            max_processing_time: Duration::from_millis(100),
            group_session_timeout: Duration::from_millis(10_000),
            group_rebalance_timeout: Duration::from_millis(60_000),
            group_rebalance_retry_max: None,
            isolation_level: IsolationLevel::ReadUncommitted,
            limiter_rate: None,
            limiter_burst: None,
            commit_interval: Duration::from_millis(3_000),
            dead_letter_topic: None,
            group_instance_id: None,
            group_protocol: GroupProtocol::Classic,
            transactional_id: None,
            transaction_commit_interval: DEFAULT_TRANSACTION_COMMIT_INTERVAL,
        }
    }
}

impl ConsumerConfig {
    /// The client id in effect: `clientid`, or the group name when unset or
    /// left at `trpcgo` (the Go plugin treats its default as "use the group").
    ///
    /// ```
    /// use kafka_runtime::config::parse_consumer_address;
    /// let by_group = parse_consumer_address("svc", "h:9092?topics=t&group=billing&clientid=trpcgo").unwrap();
    /// assert_eq!(by_group.effective_client_id(), "billing");
    /// let own = parse_consumer_address("svc", "h:9092?topics=t&group=billing&clientid=app").unwrap();
    /// assert_eq!(own.effective_client_id(), "app");
    /// ```
    pub fn effective_client_id(&self) -> &str {
        match self.common.client_id.as_deref() {
            Some(id) if id != DEFAULT_CLIENT_ID => id,
            _ => &self.group,
        }
    }

    /// The longest wait of `retryBackoff=exponential`: `retryMaxInterval`,
    /// else 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kafka_runtime::config::parse_consumer_address;
    /// let cfg = parse_consumer_address("svc", "h:9092?topics=t&group=g&retryBackoff=exponential&retryMaxInterval=5000").unwrap();
    /// assert_eq!(cfg.effective_retry_max_interval(), Duration::from_secs(5));
    /// ```
    pub fn effective_retry_max_interval(&self) -> Duration {
        self.retry_max_interval
            .unwrap_or(DEFAULT_RETRY_MAX_INTERVAL)
    }
}

/// Everything one producer target (`client.service[]` entry) needs.
///
/// ```
/// use kafka_runtime::config::{parse_producer_target, ProducerConfig};
///
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?topic=t&requiredAcks=1&clientid=app").unwrap();
/// assert_eq!(cfg.effective_client_id(), "app");
/// assert_eq!(cfg.librdkafka_properties().get("acks"), Some("1"));
/// cfg.validate("p").unwrap();
///
/// let mut own = ProducerConfig::default();
/// own.common.brokers = vec!["127.0.0.1:9092".into()];
/// own.idempotent = true;
/// own.max_retry = 0;
/// let err = own.validate("p").unwrap_err(); // idempotence needs retries
/// assert!(err.to_string().contains("maxRetry"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Settings shared with consumers.
    pub common: CommonConfig,
    /// `topic`: the topic `produce` writes to.
    pub topic: Option<String>,
    /// `partitioner`: how a record's partition is chosen.
    pub partitioner: Partitioner,
    /// `maxMessageBytes`: largest record accepted.
    pub max_message_bytes: u32,
    /// `requiredAcks`: acknowledgements the leader waits for.
    pub required_acks: RequiredAcks,
    /// `maxRetry`: delivery retries (must be >= 0).
    pub max_retry: u32,
    /// `retryInterval`: wait between delivery retries.
    pub retry_interval: Duration,
    /// `idempotent`: enable the idempotent producer.
    pub idempotent: bool,
    /// `async=1`: `produce` returns once the record is queued.
    pub async_produce: bool,
    /// `flushMessages`: records that trigger a send (sarama `Flush.Messages`).
    pub flush_messages: Option<u32>,
    /// `flushMaxMessages`: most records in one request (sarama `Flush.MaxMessages`).
    pub flush_max_messages: Option<u32>,
    /// `flushBytes`: bytes that trigger a send (sarama `Flush.Bytes`).
    pub flush_bytes: Option<u32>,
    /// `flushFrequency`: longest a record waits to be batched (sarama
    /// `Flush.Frequency`); `None` or zero: sent at once (`linger.ms=0`).
    pub flush_frequency: Option<Duration>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            topic: None,
            partitioner: Partitioner::Random,
            max_message_bytes: 131_072,
            required_acks: RequiredAcks::All,
            max_retry: 3,
            retry_interval: Duration::from_millis(100),
            idempotent: false,
            async_produce: false,
            flush_messages: None,
            flush_max_messages: None,
            flush_bytes: None,
            flush_frequency: None,
        }
    }
}

impl ProducerConfig {
    /// The client id in effect: `clientid`, or `trpcgo` when unset.
    ///
    /// ```
    /// use kafka_runtime::config::parse_producer_target;
    /// assert_eq!(parse_producer_target("p", "kafka://h:9092?topic=t").unwrap().effective_client_id(), "trpcgo");
    /// assert_eq!(parse_producer_target("p", "kafka://h:9092?topic=t&clientid=app").unwrap().effective_client_id(), "app");
    /// ```
    pub fn effective_client_id(&self) -> &str {
        self.common
            .client_id
            .as_deref()
            .unwrap_or(DEFAULT_CLIENT_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policy_follows_the_seed() {
        assert_eq!(RetryPolicy::from_max_retry(0), RetryPolicy::Forever);
        assert_eq!(RetryPolicy::from_max_retry(-1), RetryPolicy::Never);
        assert_eq!(RetryPolicy::from_max_retry(2), RetryPolicy::Limited(2));
        // maxRetry=2 runs the handler at most 3 times.
        let limited = RetryPolicy::Limited(2);
        assert!(limited.allows_another_attempt(1));
        assert!(limited.allows_another_attempt(2));
        assert!(!limited.allows_another_attempt(3));
        assert!(!RetryPolicy::Never.allows_another_attempt(1));
        assert!(RetryPolicy::Forever.allows_another_attempt(u32::MAX));
    }
}
