//! The one place where address keys become librdkafka properties.
//!
//! # Key -> property
//!
//! | key | side | librdkafka property |
//! |---|---|---|
//! | broker list (before `?`) | both | `bootstrap.servers` (comma-joined) |
//! | `clientid` | both | `client.id` (consumer default: the group; producer default: `trpcgo`) |
//! | `version` | both | nothing from 0.10.0 on (librdkafka asks each broker for its versions); below 0.10.0 `broker.version.fallback` = version and `api.version.request=false` |
//! | `compression` | producer | `compression.type` (ignored on consumers, as in sarama) |
//! | `mechanism` / `user` / `password` | both | `sasl.mechanisms` / `sasl.username` / `sasl.password` |
//! | `protocol` | both | `security.protocol` (default `sasl_plaintext` with a mechanism, `plaintext` without; `sasl_ssl` / `ssl` when a `tls*` key is set) |
//! | `tlsCaFile` / `tlsCertFile` / `tlsKeyFile` / `tlsKeyPassword` | both | `ssl.ca.location` / `ssl.certificate.location` / `ssl.key.location` / `ssl.key.password` |
//! | `tlsInsecureSkipVerify=true` | both | `enable.ssl.certificate.verification=false`, `ssl.endpoint.identification.algorithm=none` |
//! | `netMaxOpenRequests` | both | `max.in.flight.requests.per.connection` |
//! | `netDailTimeout` (`netDialTimeout`) | both | `socket.connection.setup.timeout.ms` |
//! | `netReadTimeout`, `netWriteTimeout` | both | `socket.timeout.ms` = the larger of the two |
//! | `metadataRetryBackoff` | both | `topic.metadata.refresh.fast.interval.ms` (default 1000 ms, the Go plugin's; on producers at most `retryInterval`, librdkafka's cap) |
//! | `metadataRefreshFrequency` (s) | both | `topic.metadata.refresh.interval.ms` = s x 1000 (0 -> -1; default 120 s, the Go plugin's) |
//! | `metadataFull` | both | `topic.metadata.refresh.sparse` = !metadataFull (only when set) |
//! | `metadataAllowAutoTopicCreation` | both | `allow.auto.create.topics` (default true, the Go plugin's) |
//! | `max_request_size` (plugin) | producer | upper bound of `maxMessageBytes` (checked; consumers send only small requests, so it has no effect there) |
//! | `max_response_size` (plugin) | both | `receive.message.max.bytes` |
//! | `group` | consumer | `group.id` |
//! | `strategy` | consumer | `partition.assignment.strategy` (`sticky` -> `cooperative-sticky`) |
//! | `fetchDefault` | consumer | `max.partition.fetch.bytes` |
//! | `fetchMax` | consumer | `fetch.max.bytes` (and `message.max.bytes` = fetchMax when fetchMax < 1000000, since librdkafka requires fetch.max.bytes >= message.max.bytes and a consumer's own requests are small) |
//! | `initial` | consumer | `auto.offset.reset` (`newest` -> `latest`, `oldest` -> `earliest`) |
//! | `maxWaitTime` | consumer | `fetch.wait.max.ms` |
//! | `groupSessionTimeout` | consumer | `session.timeout.ms`, and `heartbeat.interval.ms` = min(3000, session / 3) |
//! | `groupRebalanceTimeout` | consumer | `max.poll.interval.ms`, which librdkafka sends as the JoinGroup rebalance timeout |
//! | `isolationLevel` | consumer | `isolation.level` |
//! | `groupInstanceId` | consumer | `group.instance.id` |
//! | `groupProtocol` | consumer | `group.protocol`; with `consumer`: `group.remote.assignor` (`sticky` -> `uniform`, `range` -> `range`) instead of `partition.assignment.strategy`, and no `session.timeout.ms` / `heartbeat.interval.ms` (the broker's) |
//! | `transactionalId` | consumer | `transactional.id` of the service's transactional producer; the consumer gets `enable.auto.commit=false` |
//! | (commit interval, 3 s) | consumer | `enable.auto.commit=true`, `enable.auto.offset.store=false`, `auto.commit.interval.ms` (transactional services: offsets commit with the transaction) |
//! | `partitioner` | producer | `partitioner`: `random` -> `random`, `hash` -> `fnv1a_random` (sarama's FNV-1a, absolute value, modulo; nil keys random) |
//! | `maxMessageBytes` | producer | `message.max.bytes` |
//! | `requiredAcks` | producer | `acks` (`-1` -> `all`) |
//! | `idempotent` | producer | `enable.idempotence` |
//! | `maxRetry` | producer | `retries` |
//! | `retryInterval` | producer | `retry.backoff.ms` and `retry.backoff.max.ms` (a fixed backoff, as sarama's) |
//! | `flushMessages`, `flushMaxMessages` | producer | `batch.num.messages` = the smaller of the ones set |
//! | `flushBytes` | producer | `batch.size` |
//! | `flushFrequency` | producer | `linger.ms`; when 0 (the default): `linger.ms=0` (sent at once, as sarama does) unless the target has `async=1`, which keeps librdkafka's 5 ms batching |
//!
//! Consumers commit offsets the way the seed does, at least once: librdkafka
//! commits in the background every `auto.commit.interval.ms` (3 s), but only
//! offsets the runtime stored after a handler returned `Ok`
//! (`enable.auto.offset.store=false`), so nothing unhandled is committed.
//!
//! # sarama knobs without a librdkafka twin
//!
//! | key | how it is covered |
//! |---|---|
//! | `partitioner=roundrobin` | the runtime picks partitions in turn (librdkafka `partitioner=random` is set but never consulted) |
//! | `limiterRate`, `limiterBurst` | a token bucket in the runtime, before the handler |
//! | `batch`, `batchFlush` | batching in the runtime |
//! | `maxRetry`, `retryInterval` (consumer) | the runtime's retry loop |
//! | `maxProcessingTime` | the consumer's bounded prefetch: a partition whose handler is behind is paused instead of stalling the others |
//! | `groupRebalanceRetryMax` | none needed: librdkafka rejoins until it succeeds or the consumer closes |
//! | `metadataRetryMax` | none needed: librdkafka retries metadata requests until they succeed |
//! | `async`, `trpcMeta`, `topic`, `topics` | the runtime (produce path, headers, subscription) |
//! | `discover`, `namespace` | the runtime resolves the service name into `bootstrap.servers` before the client is built |
//! | `rewrite_log` (plugin) | the runtime's choice of where librdkafka logs go |
//!
//! Raw `librdkafka_overrides` of a [`CommonConfig`] are applied last.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::secret::Secret;
use super::types::{CommonConfig, ConsumerConfig, ProducerConfig, TlsConfig};
use super::validate::DEFAULT_MESSAGE_MAX_BYTES;
use super::values::{GroupProtocol, SecurityProtocol};
use super::Partitioner;

/// The tRPC-Go plugin's metadata refresh period (seconds) when the address
/// sets none (`GetDefaultConfig` in v1.2.0: 120 s, sarama's own is 10 min).
const GO_METADATA_REFRESH_SECS: u64 = 120;
/// The tRPC-Go plugin's `metadataRetryBackoff` default (1000 ms).
const GO_METADATA_RETRY_BACKOFF: Duration = Duration::from_millis(1_000);
/// The first Kafka version whose brokers answer ApiVersionsRequest; older
/// ones need `broker.version.fallback`.
const API_VERSIONS_SINCE: [u32; 3] = [0, 10, 0];
/// The tRPC-Go plugin's `metadataAllowAutoTopicCreation` default.
const GO_ALLOW_AUTO_TOPIC_CREATION: bool = true;
/// librdkafka's (and sarama's) heartbeat interval, lowered for short sessions.
const HEARTBEAT_MS: u128 = 3_000;

/// librdkafka properties, ordered by name. `Debug` and `Display` print every
/// secret (`sasl.password`, `*password*`, `*secret*`, key material) as `***`.
///
/// ```
/// use kafka_runtime::config::{parse_consumer_address, Properties};
///
/// let cfg = parse_consumer_address(
///     "svc",
///     "127.0.0.1:9092?topics=t&group=g&mechanism=SCRAM-SHA-512&user=u&password=hunter2",
/// ).unwrap();
/// let props: Properties = cfg.librdkafka_properties();
/// assert_eq!(props.get("group.id"), Some("g"));
/// assert_eq!(props.get("sasl.password"), Some("hunter2")); // for code
/// assert!(Properties::is_secret("sasl.password"));
/// assert!(!format!("{props} {props:?}").contains("hunter2")); // never in logs
/// let client = props.to_client_config(); // an rdkafka::ClientConfig
/// assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:9092"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// An empty set.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// assert!(Properties::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// let mut props = Properties::new();
    /// props.set("linger.ms", "5");
    /// props.set("linger.ms", "10");
    /// assert_eq!(props.get("linger.ms"), Some("10"));
    /// ```
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The value of `key`, if set (secrets included: this is for code, not logs).
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// let mut props = Properties::new();
    /// props.set("acks", "all");
    /// assert_eq!(props.get("acks"), Some("all"));
    /// assert_eq!(props.get("retries"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Every `(key, value)` in key order, secrets included.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// let mut props = Properties::new();
    /// props.set("b", "2");
    /// props.set("a", "1");
    /// let keys: Vec<&str> = props.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a", "b"]); // key order
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many properties are set.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// let mut props = Properties::new();
    /// props.set("acks", "all");
    /// assert_eq!(props.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no property is set.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// assert!(Properties::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the value of `key` must never be shown.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// assert!(Properties::is_secret("sasl.password"));
    /// assert!(Properties::is_secret("ssl.key.password"));
    /// assert!(!Properties::is_secret("sasl.username"));
    /// ```
    pub fn is_secret(key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        key.contains("password")
            || key.contains("secret")
            || key == "ssl.key.pem"
            || key == "ssl_key"
            || key == "sasl.oauthbearer.config"
            || key.starts_with("ssl.keystore")
    }

    /// The value as it may be shown.
    fn shown<'a>(key: &str, value: &'a str) -> &'a str {
        if Self::is_secret(key) {
            Secret::REDACTED
        } else {
            value
        }
    }

    /// A `rdkafka` client config holding these properties.
    ///
    /// ```
    /// use kafka_runtime::config::Properties;
    /// let mut props = Properties::new();
    /// props.set("bootstrap.servers", "127.0.0.1:9092");
    /// let client = props.to_client_config();
    /// assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:9092"));
    /// ```
    pub fn to_client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in self.iter() {
            config.set(key, value);
        }
        config
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, Self::shown(k, v))))
            .finish()
    }
}

impl fmt::Display for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in self.iter() {
            writeln!(f, "{key}={}", Self::shown(key, value))?;
        }
        Ok(())
    }
}

fn ms(d: std::time::Duration) -> String {
    d.as_millis().to_string()
}

/// Properties both sides share.
fn common_properties(common: &CommonConfig, client_id: &str, props: &mut Properties) {
    props.set("bootstrap.servers", common.brokers.join(","));
    props.set("client.id", client_id);
    // librdkafka asks brokers for their protocol versions; a fallback would
    // only apply where that request fails (brokers before 0.10.0), and
    // setting it anyway makes librdkafka warn that it is deprecated.
    if before_api_versions(&common.version) {
        props.set("api.version.request", "false");
        props.set("broker.version.fallback", common.version.as_str());
    }
    props.set(
        "max.in.flight.requests.per.connection",
        common.net_max_open_requests.to_string(),
    );
    props.set(
        "socket.connection.setup.timeout.ms",
        ms(common.net_dial_timeout),
    );
    props.set(
        "socket.timeout.ms",
        ms(common.net_read_timeout.max(common.net_write_timeout)),
    );
    let refresh = common
        .metadata_refresh_frequency
        .map_or(GO_METADATA_REFRESH_SECS, |d| d.as_secs());
    let refresh_ms = if refresh == 0 {
        "-1".to_owned()
    } else {
        (refresh * 1_000).to_string()
    };
    props.set("topic.metadata.refresh.interval.ms", refresh_ms);
    props.set(
        "topic.metadata.refresh.fast.interval.ms",
        ms(common
            .metadata_retry_backoff
            .unwrap_or(GO_METADATA_RETRY_BACKOFF)),
    );
    if let Some(full) = common.metadata_full {
        props.set("topic.metadata.refresh.sparse", (!full).to_string());
    }
    props.set(
        "allow.auto.create.topics",
        common
            .metadata_allow_auto_topic_creation
            .unwrap_or(GO_ALLOW_AUTO_TOPIC_CREATION)
            .to_string(),
    );
    if let Some(size) = common.max_response_size {
        props.set("receive.message.max.bytes", size.to_string());
    }
    let protocol = common.security_protocol.unwrap_or(
        match (common.mechanism.is_some(), common.tls.is_set()) {
            (true, true) => SecurityProtocol::SaslSsl,
            (true, false) => SecurityProtocol::SaslPlaintext,
            (false, true) => SecurityProtocol::Ssl,
            (false, false) => SecurityProtocol::Plaintext,
        },
    );
    props.set("security.protocol", protocol.rdkafka_value());
    tls_properties(&common.tls, props);
    if let Some(mechanism) = common.mechanism {
        props.set("sasl.mechanisms", mechanism.rdkafka_value());
    }
    if let Some(user) = &common.user {
        props.set("sasl.username", user.as_str());
    }
    if let Some(password) = &common.password {
        props.set("sasl.password", password.expose());
    }
}

/// Whether `version` (a checked `0.a.b.c` or `a.b.c[.d]`) is older than the
/// first version that answers ApiVersionsRequest.
fn before_api_versions(version: &str) -> bool {
    let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.len() >= 3 && parts[..3] < API_VERSIONS_SINCE[..]
}

/// TLS keys; librdkafka reads the files itself when the client is created.
fn tls_properties(tls: &TlsConfig, props: &mut Properties) {
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    if let Some(ca) = &tls.ca_file {
        props.set("ssl.ca.location", path(ca));
    }
    if let Some(cert) = &tls.cert_file {
        props.set("ssl.certificate.location", path(cert));
    }
    if let Some(key) = &tls.key_file {
        props.set("ssl.key.location", path(key));
    }
    if let Some(password) = &tls.key_password {
        props.set("ssl.key.password", password.expose());
    }
    if tls.insecure_skip_verify {
        props.set("enable.ssl.certificate.verification", "false");
        props.set("ssl.endpoint.identification.algorithm", "none");
    }
}

fn apply_overrides(common: &CommonConfig, props: &mut Properties) {
    for (key, value) in &common.librdkafka_overrides {
        props.set(key.as_str(), value.as_str());
    }
}

impl ConsumerConfig {
    /// The librdkafka properties of this consumer (see [`super::mapping`]).
    ///
    /// ```
    /// use kafka_runtime::config::parse_consumer_address;
    /// let cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=t&group=g&fetchMax=2000000&strategy=range").unwrap();
    /// let props = cfg.librdkafka_properties();
    /// assert_eq!(props.get("fetch.max.bytes"), Some("2000000"));
    /// assert_eq!(props.get("partition.assignment.strategy"), Some("range"));
    /// ```
    pub fn librdkafka_properties(&self) -> Properties {
        let mut props = Properties::new();
        common_properties(&self.common, self.effective_client_id(), &mut props);
        props.set("group.id", self.group.as_str());
        if let Some(instance) = &self.group_instance_id {
            props.set("group.instance.id", instance.as_str());
        }
        let classic = self.group_protocol == GroupProtocol::Classic;
        if classic {
            props.set(
                "partition.assignment.strategy",
                self.strategy.rdkafka_value(),
            );
        } else {
            // KIP-848: the broker assigns, times sessions and heartbeats.
            props.set("group.protocol", self.group_protocol.rdkafka_value());
            if let Some(assignor) = self.strategy.remote_assignor() {
                props.set("group.remote.assignor", assignor);
            }
        }
        props.set("max.partition.fetch.bytes", self.fetch_default.to_string());
        props.set("fetch.max.bytes", self.fetch_max.to_string());
        if self.fetch_max < DEFAULT_MESSAGE_MAX_BYTES {
            // librdkafka refuses fetch.max.bytes < message.max.bytes; a
            // consumer's own requests are tiny, so lowering it costs nothing.
            props.set("message.max.bytes", self.fetch_max.to_string());
        }
        props.set("auto.offset.reset", self.initial.rdkafka_value());
        props.set("fetch.wait.max.ms", ms(self.max_wait_time));
        if classic {
            props.set("session.timeout.ms", ms(self.group_session_timeout));
            let heartbeat = (self.group_session_timeout.as_millis() / 3).clamp(1, HEARTBEAT_MS);
            props.set("heartbeat.interval.ms", heartbeat.to_string());
        }
        props.set("max.poll.interval.ms", ms(self.group_rebalance_timeout));
        props.set("isolation.level", self.isolation_level.rdkafka_value());
        if self.transactional_id.is_some() {
            // Offsets commit with the transaction (send_offsets_to_transaction).
            props.set("enable.auto.commit", "false");
        } else {
            props.set("enable.auto.commit", "true");
            props.set("auto.commit.interval.ms", ms(self.commit_interval));
        }
        props.set("enable.auto.offset.store", "false");
        apply_overrides(&self.common, &mut props);
        props
    }

    /// A `rdkafka` client config for this consumer.
    ///
    /// ```
    /// use kafka_runtime::config::parse_consumer_address;
    /// use kafka_runtime::rdkafka::consumer::BaseConsumer;
    /// let cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=t&group=g").unwrap();
    /// let consumer: BaseConsumer = cfg.client_config().create().unwrap(); // a plain rdkafka consumer
    /// # drop(consumer);
    /// ```
    pub fn client_config(&self) -> ClientConfig {
        self.librdkafka_properties().to_client_config()
    }
}

impl ProducerConfig {
    /// The librdkafka properties of this producer (see [`super::mapping`]).
    ///
    /// ```
    /// use kafka_runtime::config::parse_producer_target;
    /// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?topic=t&compression=lz4&requiredAcks=-1").unwrap();
    /// let props = cfg.librdkafka_properties();
    /// assert_eq!(props.get("compression.type"), Some("lz4"));
    /// assert_eq!(props.get("acks"), Some("all"));
    /// ```
    pub fn librdkafka_properties(&self) -> Properties {
        let mut props = Properties::new();
        common_properties(&self.common, self.effective_client_id(), &mut props);
        props.set("compression.type", self.common.compression.rdkafka_value());
        props.set("message.max.bytes", self.max_message_bytes.to_string());
        props.set("acks", self.required_acks.rdkafka_value());
        props.set("enable.idempotence", self.idempotent.to_string());
        props.set("retries", self.max_retry.to_string());
        props.set("retry.backoff.ms", ms(self.retry_interval));
        props.set("retry.backoff.max.ms", ms(self.retry_interval));
        // librdkafka caps the metadata backoff at retry.backoff.max.ms (and
        // warns at every start when it is larger): cap it here instead.
        let metadata_backoff = self
            .common
            .metadata_retry_backoff
            .unwrap_or(GO_METADATA_RETRY_BACKOFF)
            .min(self.retry_interval);
        props.set(
            "topic.metadata.refresh.fast.interval.ms",
            ms(metadata_backoff),
        );
        let partitioner = match self.partitioner {
            // The runtime chooses round-robin partitions itself.
            Partitioner::RoundRobin => Partitioner::Random.rdkafka_value(),
            other => other.rdkafka_value(),
        };
        props.set("partitioner", partitioner);
        let batch_messages = match (self.flush_messages, self.flush_max_messages) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(n) = batch_messages {
            props.set("batch.num.messages", n.to_string());
        }
        if let Some(n) = self.flush_bytes {
            props.set("batch.size", n.to_string());
        }
        // sarama sends at once when Flush.Frequency is 0 (the plugin's
        // default): a caller awaiting each record would otherwise wait
        // librdkafka's own 5 ms linger every time. Asynchronous targets keep
        // that linger: nobody waits on one record there, and the batches it
        // fills are their throughput (kafka-bench: linger 0 cost them about
        // a fifth of their rate and half again the CPU per record).
        match (self.flush_frequency, self.async_produce) {
            (Some(d), _) => props.set("linger.ms", ms(d)),
            (None, false) => props.set("linger.ms", "0"),
            (None, true) => {}
        }
        apply_overrides(&self.common, &mut props);
        props
    }

    /// A `rdkafka` client config for this producer.
    ///
    /// ```
    /// use kafka_runtime::config::parse_producer_target;
    /// use kafka_runtime::rdkafka::producer::BaseProducer;
    /// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?topic=t").unwrap();
    /// let producer: BaseProducer = cfg.client_config().create().unwrap(); // a plain rdkafka producer
    /// # drop(producer);
    /// ```
    pub fn client_config(&self) -> ClientConfig {
        self.librdkafka_properties().to_client_config()
    }
}
