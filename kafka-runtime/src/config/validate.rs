//! Whole-config checks: ranges (shared with the key table), keys that need
//! each other, and librdkafka's cross-property constraints, turned into
//! errors that name the address keys instead of a librdkafka failure at
//! client creation.

use std::path::Path;
use std::time::Duration;

use super::address::check_broker;
use super::error::ConfigError;
use super::keys::{self, Side, MESSAGE_TIMEOUT_MS};
use super::types::{
    CommonConfig, ConsumerConfig, ProducerConfig, RetryBackoff, RetryPolicy, TlsConfig,
};
use super::values::{GroupProtocol, IsolationLevel, RequiredAcks, SecurityProtocol};

/// `plugins.database.kafka.max_request_size` range (sarama's is any positive
/// int32; below librdkafka's smallest `message.max.bytes` it would refuse
/// every producer).
pub(crate) const MAX_REQUEST_SIZE: (i64, i64) = (1_000, 2_147_483_647);
/// `plugins.database.kafka.max_response_size` range (librdkafka `receive.message.max.bytes`).
pub(crate) const MAX_RESPONSE_SIZE: (i64, i64) = (1_000, 2_147_483_647);
/// librdkafka's `message.max.bytes` default, which a consumer's `fetch.max.bytes` must reach.
pub(crate) const DEFAULT_MESSAGE_MAX_BYTES: u32 = 1_000_000;
/// librdkafka's `max.in.flight` ceiling for the idempotent producer.
const IDEMPOTENT_MAX_IN_FLIGHT: u32 = 5;

/// Range checks against the key table, so an address and a registered
/// config obey the same limits.
struct Checker<'a> {
    service: &'a str,
    side: Side,
}

impl Checker<'_> {
    fn int(&self, key: &str, n: i64) -> Result<(), ConfigError> {
        let Some(spec) = keys::lookup(key, self.side) else {
            return Err(ConfigError::for_key(
                self.service,
                key,
                None,
                "internal error: key missing from the key table (please report)",
            ));
        };
        spec.kind
            .check_int(n)
            .map_err(|reason| ConfigError::for_key(self.service, key, Some(&n.to_string()), reason))
    }

    fn millis(&self, key: &str, d: Duration) -> Result<(), ConfigError> {
        self.int(key, i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn fail(&self, key: &str, value: impl ToString, reason: impl Into<String>) -> ConfigError {
        ConfigError::for_key(self.service, key, Some(&value.to_string()), reason)
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn validate_common(common: &CommonConfig, check: &Checker<'_>) -> Result<(), ConfigError> {
    let service = check.service;
    // Brokers, or the discovery service name.
    match (&common.discover, &common.namespace) {
        (Some(_), None) => {
            return Err(ConfigError::for_key(
                service,
                "discover",
                common.discover.as_deref(),
                "`discover` requires `namespace` (e.g. `&namespace=Production`)",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::for_key(
                service,
                "namespace",
                common.namespace.as_deref(),
                "`namespace` requires `discover` (the name of the discovery resolver, e.g. `&discover=polaris`)",
            ))
        }
        _ => {}
    }
    if let Some(discover) = &common.discover {
        if discover.is_empty() {
            return Err(check.fail("discover", "", "empty value; allowed: any non-empty text"));
        }
        if common.namespace.as_deref() == Some("") {
            return Err(check.fail("namespace", "", "empty value; allowed: any non-empty text"));
        }
        if common.brokers.len() != 1 || common.brokers[0].is_empty() {
            return Err(ConfigError::new(
                Some(service),
                "with `discover`, the part before `?` is exactly one service name for the resolver (e.g. `my.kafka.service?discover=polaris&namespace=Production&...`)",
            ));
        }
    } else {
        if common.brokers.is_empty() {
            return Err(ConfigError::new(
                Some(service),
                "no brokers: the part before `?` is `host:port[,host:port...]` (e.g. `127.0.0.1:9092`)",
            ));
        }
        for broker in &common.brokers {
            check_broker(service, broker)?;
        }
    }

    for (key, value) in [("clientid", &common.client_id), ("user", &common.user)] {
        if value.as_deref() == Some("") {
            return Err(check.fail(key, "", "empty value; allowed: any non-empty text"));
        }
    }
    if common
        .password
        .as_ref()
        .is_some_and(|p| p.expose().is_empty())
    {
        return Err(check.fail("password", "", "empty value; allowed: any non-empty text"));
    }
    if !keys::is_kafka_version(&common.version) {
        let allowed = keys::lookup("version", check.side)
            .map(|s| s.kind.allowed())
            .unwrap_or_default();
        return Err(check.fail(
            "version",
            &common.version,
            format!("not a Kafka version; allowed: {allowed}"),
        ));
    }

    // SASL: mechanism, user and password come together.
    match (&common.mechanism, &common.user, &common.password) {
        (Some(_), Some(_), Some(_)) | (None, None, None) => {}
        (Some(m), _, _) => {
            return Err(check.fail(
                "mechanism",
                m,
                "`mechanism` requires both `user` and `password`",
            ))
        }
        (None, _, _) => {
            let key = if common.user.is_some() {
                "user"
            } else {
                "password"
            };
            let shown = if key == "user" {
                common.user.clone().unwrap_or_default()
            } else {
                super::Secret::REDACTED.to_owned()
            };
            return Err(check.fail(
                key,
                shown,
                format!(
                    "`{key}` requires `mechanism` (one of: {})",
                    super::SaslMechanism::ALLOWED.join(", ")
                ),
            ));
        }
    }
    if let Some(protocol) = common.security_protocol {
        let sasl = matches!(
            protocol,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        );
        if sasl && common.mechanism.is_none() {
            return Err(check.fail(
                "protocol",
                protocol,
                "a SASL protocol requires `mechanism`, `user` and `password`; without SASL use PLAINTEXT or SSL",
            ));
        }
        if !sasl && common.mechanism.is_some() {
            return Err(check.fail(
                "protocol",
                protocol,
                "`mechanism` needs a SASL protocol: SASL_PLAINTEXT or SASL_SSL",
            ));
        }
    }

    validate_tls(&common.tls, common.security_protocol, check)?;

    check.int(
        "netMaxOpenRequests",
        i64::from(common.net_max_open_requests),
    )?;
    check.millis("netDailTimeout", common.net_dial_timeout)?;
    check.millis("netReadTimeout", common.net_read_timeout)?;
    check.millis("netWriteTimeout", common.net_write_timeout)?;
    if let Some(n) = common.metadata_retry_max {
        check.int("metadataRetryMax", i64::from(n))?;
    }
    if let Some(d) = common.metadata_retry_backoff {
        check.millis("metadataRetryBackoff", d)?;
    }
    if let Some(d) = common.metadata_refresh_frequency {
        check.int(
            "metadataRefreshFrequency",
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        )?;
    }
    for (key, value, (min, max)) in [
        (
            "max_request_size",
            common.max_request_size,
            MAX_REQUEST_SIZE,
        ),
        (
            "max_response_size",
            common.max_response_size,
            MAX_RESPONSE_SIZE,
        ),
    ] {
        if let Some(v) = value {
            if i64::from(v) < min || i64::from(v) > max {
                return Err(ConfigError::for_key(
                    service,
                    &format!("plugins.database.kafka.{key}"),
                    Some(&v.to_string()),
                    format!("out of range; allowed: {min}..={max} (bytes)"),
                ));
            }
        }
    }
    Ok(())
}

/// TLS keys: a TLS protocol, certificate and key together, files that
/// librdkafka will be able to read (checked now so that a typo fails at
/// startup with the key's name, not deep inside the first connection).
fn validate_tls(
    tls: &TlsConfig,
    protocol: Option<SecurityProtocol>,
    check: &Checker<'_>,
) -> Result<(), ConfigError> {
    if !tls.is_set() {
        return Ok(());
    }
    let shown = |p: &Path| p.display().to_string();
    let first_key = [
        ("tlsCaFile", tls.ca_file.as_deref().map(shown)),
        ("tlsCertFile", tls.cert_file.as_deref().map(shown)),
        ("tlsKeyFile", tls.key_file.as_deref().map(shown)),
        (
            "tlsKeyPassword",
            tls.key_password
                .as_ref()
                .map(|_| super::Secret::REDACTED.to_owned()),
        ),
        (
            "tlsInsecureSkipVerify",
            tls.insecure_skip_verify.then(|| "true".to_owned()),
        ),
    ]
    .into_iter()
    .find_map(|(key, value)| value.map(|v| (key, v)));
    if let (Some(protocol), Some((key, value))) = (protocol, first_key) {
        if matches!(
            protocol,
            SecurityProtocol::Plaintext | SecurityProtocol::SaslPlaintext
        ) {
            return Err(check.fail(
                key,
                value,
                format!(
                    "TLS keys need `protocol=SSL` or `protocol=SASL_SSL` (or no `protocol`: it then defaults to one of them), not `protocol={protocol}`"
                ),
            ));
        }
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), None) => {
            return Err(check.fail(
                "tlsCertFile",
                cert.display(),
                "`tlsCertFile` requires `tlsKeyFile` (the certificate's private key)",
            ))
        }
        (None, Some(key)) => {
            return Err(check.fail(
                "tlsKeyFile",
                key.display(),
                "`tlsKeyFile` requires `tlsCertFile` (the client certificate it belongs to)",
            ))
        }
        _ => {}
    }
    if let Some(password) = &tls.key_password {
        if password.expose().is_empty() {
            return Err(check.fail(
                "tlsKeyPassword",
                "",
                "empty value; allowed: any non-empty text",
            ));
        }
        if tls.key_file.is_none() {
            return Err(check.fail(
                "tlsKeyPassword",
                super::Secret::REDACTED,
                "`tlsKeyPassword` requires `tlsKeyFile` (the encrypted key it unlocks)",
            ));
        }
    }
    for (key, path, directory_allowed) in [
        ("tlsCaFile", &tls.ca_file, true),
        ("tlsCertFile", &tls.cert_file, false),
        ("tlsKeyFile", &tls.key_file, false),
    ] {
        if let Some(path) = path {
            check_readable(path, directory_allowed)
                .map_err(|reason| check.fail(key, path.display(), reason))?;
        }
    }
    Ok(())
}

/// Whether librdkafka will be able to read `path`; the error is the reason.
fn check_readable(path: &Path, directory_allowed: bool) -> Result<(), String> {
    let what = if directory_allowed {
        "a readable PEM file (or a directory of them)"
    } else {
        "a readable PEM file"
    };
    let metadata = std::fs::metadata(path).map_err(|e| {
        format!("cannot read it ({e}); allowed: {what}, relative to the working directory")
    })?;
    if metadata.is_dir() {
        if !directory_allowed {
            return Err(format!("is a directory; allowed: {what}"));
        }
        return std::fs::read_dir(path)
            .map(|_| ())
            .map_err(|e| format!("cannot read the directory ({e}); allowed: {what}"));
    }
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| format!("cannot open it for reading ({e}); allowed: {what}"))
}

impl ConsumerConfig {
    /// Checks the whole config for `service`: every range of the key table,
    /// keys that need each other, and librdkafka's cross-property rules.
    ///
    /// ```
    /// use kafka_runtime::config::ConsumerConfig;
    /// let mut cfg = ConsumerConfig::default();
    /// cfg.common.brokers = vec!["127.0.0.1:9092".into()];
    /// cfg.topics = vec!["t".into()];
    /// cfg.group = "g".into();
    /// cfg.validate("svc").unwrap();
    /// cfg.group_session_timeout = cfg.group_rebalance_timeout * 2; // must not exceed the rebalance timeout
    /// assert!(cfg.validate("svc").is_err());
    /// ```
    pub fn validate(&self, service: &str) -> Result<(), ConfigError> {
        let check = Checker {
            service,
            side: Side::Consumer,
        };
        validate_common(&self.common, &check)?;

        if self.topics.is_empty() {
            return Err(ConfigError::for_key(
                service,
                "topics",
                None,
                "a consumer needs `topics` (comma-separated topic names, e.g. `?topics=orders,refunds&group=billing`)",
            ));
        }
        if self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(check.fail(
                "topics",
                self.topics.join(","),
                "empty topic name; allowed: a comma-separated list of non-empty names",
            ));
        }
        if self.group.is_empty() {
            return Err(ConfigError::for_key(
                service,
                "group",
                None,
                "a consumer needs `group` (the consumer group id, e.g. `&group=billing`)",
            ));
        }
        check.int("fetchDefault", i64::from(self.fetch_default))?;
        check.int("fetchMax", i64::from(self.fetch_max))?;
        if let Some(batch) = self.batch {
            check.int("batch", i64::from(batch))?;
        }
        check.millis("batchFlush", self.batch_flush)?;
        check.int(
            "keyOrderedConcurrency",
            i64::from(self.key_ordered_concurrency),
        )?;
        if let (Some(batch), n @ 2..) = (self.batch, self.key_ordered_concurrency) {
            return Err(check.fail(
                "keyOrderedConcurrency",
                n,
                format!(
                    "not allowed with `batch={batch}`: a batch handler gets a partition's \
                     messages in order, one batch at a time; remove `keyOrderedConcurrency` \
                     (or set it to 1), or remove `batch` and handle one message per call"
                ),
            ));
        }
        check.millis("maxWaitTime", self.max_wait_time)?;
        check.millis("maxProcessingTime", self.max_processing_time)?;
        check.millis("groupSessionTimeout", self.group_session_timeout)?;
        check.millis("groupRebalanceTimeout", self.group_rebalance_timeout)?;
        if let Some(n) = self.group_rebalance_retry_max {
            check.int("groupRebalanceRetryMax", i64::from(n))?;
        }
        if let RetryPolicy::Limited(n) = self.retry {
            check.int("maxRetry", i64::from(n))?;
        }
        check.millis("retryInterval", self.retry_interval)?;
        self.validate_backoff(&check)?;
        self.validate_retry_topics(&check)?;
        if let Some(topic) = &self.dead_letter_topic {
            if let Some(problem) = topic_name_problem(topic) {
                return Err(check.fail("deadLetterTopic", topic, problem));
            }
            if self.topics.contains(topic) {
                return Err(check.fail(
                    "deadLetterTopic",
                    topic,
                    "is one of the subscribed `topics`, so a failed record would come back to the \
                     handler that gave up on it; allowed: a topic this service does not consume, \
                     e.g. `<topic>.dlt`",
                ));
            }
        }
        if let Some(rate) = self.limiter_rate {
            if !rate.is_finite() || rate <= 0.0 {
                return Err(check.fail(
                    "limiterRate",
                    rate,
                    "out of range; allowed: a positive decimal number (events per second), e.g. 100 or 0.5",
                ));
            }
        }
        match (self.limiter_rate, self.limiter_burst) {
            (None, Some(burst)) => {
                return Err(check.fail(
                    "limiterBurst",
                    burst,
                    "`limiterBurst` requires `limiterRate` (messages per second)",
                ))
            }
            (Some(_), Some(burst)) => check.int("limiterBurst", i64::from(burst))?,
            _ => {}
        }
        self.validate_membership(&check)?;
        self.validate_transactions(&check)?;
        let commit_ms = ms(self.commit_interval);
        if !(1..=86_400_000).contains(&commit_ms) {
            return Err(check.fail(
                "commit_interval",
                format!("{commit_ms}ms"),
                "out of range; allowed: 1..=86400000 (milliseconds; librdkafka auto.commit.interval.ms, 0 would stop committing)",
            ));
        }

        if self.group_rebalance_timeout < self.group_session_timeout {
            return Err(check.fail(
                "groupRebalanceTimeout",
                ms(self.group_rebalance_timeout),
                format!(
                    "must be >= groupSessionTimeout ({}): librdkafka requires max.poll.interval.ms >= session.timeout.ms",
                    ms(self.group_session_timeout)
                ),
            ));
        }
        if let Some(response) = self.common.max_response_size {
            let needed = u64::from(self.fetch_max) + 512;
            if u64::from(response) < needed {
                return Err(ConfigError::for_key(
                    service,
                    "plugins.database.kafka.max_response_size",
                    Some(&response.to_string()),
                    format!(
                        "must be >= fetchMax + 512 ({needed}): librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl ConsumerConfig {
    /// `groupInstanceId` and `groupProtocol`, and what KIP-848 moves to the broker.
    fn validate_membership(&self, check: &Checker<'_>) -> Result<(), ConfigError> {
        if self.group_instance_id.as_deref() == Some("") {
            return Err(check.fail(
                "groupInstanceId",
                "",
                "empty value; allowed: any non-empty text, unique per running instance (e.g. `orders-${HOSTNAME}`)",
            ));
        }
        if self.group_protocol != GroupProtocol::Consumer {
            return Ok(());
        }
        if self.strategy.remote_assignor().is_none() {
            return Err(check.fail(
                "strategy",
                self.strategy,
                "not available with `groupProtocol=consumer`: the broker assigns partitions \
                 and has no round-robin assignor; allowed: sticky (the broker's `uniform`) or \
                 range, or `groupProtocol=classic`",
            ));
        }
        if self.group_session_timeout != ConsumerConfig::default().group_session_timeout {
            return Err(check.fail(
                "groupSessionTimeout",
                ms(self.group_session_timeout),
                "not allowed with `groupProtocol=consumer`: KIP-848 moves the session and \
                 heartbeat timing to the broker (group.consumer.session.timeout.ms); leave it \
                 at its default, or use `groupProtocol=classic`",
            ));
        }
        Ok(())
    }

    /// `transactionalId`, `transactionCommitInterval` and what they exclude.
    fn validate_transactions(&self, check: &Checker<'_>) -> Result<(), ConfigError> {
        check.millis(
            "transactionCommitInterval",
            self.transaction_commit_interval,
        )?;
        let Some(id) = &self.transactional_id else {
            let default = ConsumerConfig::default().transaction_commit_interval;
            if self.transaction_commit_interval != default {
                return Err(check.fail(
                    "transactionCommitInterval",
                    ms(self.transaction_commit_interval),
                    "`transactionCommitInterval` requires `transactionalId` (it is how often a transactional service commits)",
                ));
            }
            return Ok(());
        };
        if id.is_empty() {
            return Err(check.fail(
                "transactionalId",
                "",
                "empty value; allowed: any non-empty text, unique per running instance and stable across its restarts (e.g. `orders-etl-${HOSTNAME}`)",
            ));
        }
        if self.key_ordered_concurrency > 1 {
            return Err(check.fail(
                "keyOrderedConcurrency",
                self.key_ordered_concurrency,
                "not allowed with `transactionalId`: a transaction commits a partition's input \
                 offsets in order, so a transactional service handles a partition one record \
                 (or batch) at a time; remove `keyOrderedConcurrency` (or set it to 1)",
            ));
        }
        // A hop to a retry topic is a write of the give-up stage, outside
        // the transaction, and the retry topics are read by a second
        // group whose offsets no transaction of this service commits:
        // exactly once would not hold across a hop. Retries in place
        // (through the transaction's abort and rewind, with the backoff
        // keys) and the dead-letter topic are what a transactional service
        // has.
        if let Some(levels) = self.retry_topics {
            return Err(check.fail(
                "retryTopics",
                levels,
                "not allowed with `transactionalId`: a hop to a retry topic is written outside \
                 the transaction and read back by a second consumer group, so exactly once \
                 would not hold; a transactional service retries in place (`maxRetry`, \
                 `retryInterval`, `retryBackoff`, `retryMaxInterval`, `retryJitter`) and then \
                 gives up to `deadLetterTopic`; remove `retryTopics` or `transactionalId`",
            ));
        }
        if self.isolation_level == IsolationLevel::ReadUncommitted {
            return Err(check.fail(
                "isolationLevel",
                self.isolation_level,
                "not allowed with `transactionalId`: exactly once needs the input's aborted \
                 records left out; allowed: ReadCommitted (the default with transactionalId)",
            ));
        }
        Ok(())
    }

    /// `retryBackoff`, `retryMaxInterval` and `retryJitter`.
    fn validate_backoff(&self, check: &Checker<'_>) -> Result<(), ConfigError> {
        check.int("retryJitter", i64::from(self.retry_jitter))?;
        let Some(max) = self.retry_max_interval else {
            return Ok(());
        };
        check.millis("retryMaxInterval", max)?;
        if self.retry_backoff != RetryBackoff::Exponential {
            return Err(check.fail(
                "retryMaxInterval",
                ms(max),
                "only applies to `retryBackoff=exponential` (with `fixed` every wait is \
                 `retryInterval`): add `retryBackoff=exponential`, or remove `retryMaxInterval`",
            ));
        }
        if max < self.retry_interval {
            return Err(check.fail(
                "retryMaxInterval",
                ms(max),
                format!(
                    "must be >= retryInterval ({}): the first wait of the exponential \
                     schedule is retryInterval",
                    ms(self.retry_interval)
                ),
            ));
        }
        Ok(())
    }

    /// `retryTopics`: valid topic names that no other role of the service
    /// uses.
    fn validate_retry_topics(&self, check: &Checker<'_>) -> Result<(), ConfigError> {
        let Some(levels) = self.retry_topics else {
            return Ok(());
        };
        check.int("retryTopics", i64::from(levels))?;
        for topic in &self.topics {
            for level in 1..=levels {
                let retry = crate::retrytopic::topic_name(topic, level);
                if let Some(problem) = topic_name_problem(&retry) {
                    return Err(check.fail(
                        "retryTopics",
                        levels,
                        format!("the retry topic `{retry}` of `{topic}` is {problem}"),
                    ));
                }
                if self.topics.contains(&retry) {
                    return Err(check.fail(
                        "retryTopics",
                        levels,
                        format!(
                            "`{retry}` is both a subscribed topic and the retry topic of \
                             `{topic}`, so a record would be handled twice per hop; subscribe \
                             to `{topic}` only (the retry topics are consumed by the service \
                             itself)"
                        ),
                    ));
                }
                if self.dead_letter_topic.as_deref() == Some(retry.as_str()) {
                    return Err(check.fail(
                        "deadLetterTopic",
                        &retry,
                        format!(
                            "is the retry topic {level} of `{topic}` (`retryTopics={levels}`); \
                             allowed: a topic that is neither subscribed nor a retry topic, \
                             e.g. `{topic}.dlt`"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ProducerConfig {
    /// Checks the whole config for `service`: every range of the key table,
    /// keys that need each other, and librdkafka's cross-property rules.
    ///
    /// ```
    /// use kafka_runtime::config::ProducerConfig;
    /// let mut cfg = ProducerConfig::default();
    /// cfg.common.brokers = vec!["127.0.0.1:9092".into()];
    /// cfg.validate("p").unwrap();
    /// cfg.common.brokers.clear();
    /// assert!(cfg.validate("p").is_err()); // no broker
    /// ```
    pub fn validate(&self, service: &str) -> Result<(), ConfigError> {
        let check = Checker {
            service,
            side: Side::Producer,
        };
        validate_common(&self.common, &check)?;

        if self.topic.as_deref() == Some("") {
            return Err(check.fail("topic", "", "empty value; allowed: any non-empty text"));
        }
        check.int("maxMessageBytes", i64::from(self.max_message_bytes))?;
        check.int("maxRetry", i64::from(self.max_retry))?;
        check.millis("retryInterval", self.retry_interval)?;
        for (key, value) in [
            ("flushMessages", self.flush_messages),
            ("flushMaxMessages", self.flush_max_messages),
            ("flushBytes", self.flush_bytes),
        ] {
            if let Some(n) = value {
                check.int(key, i64::from(n))?;
            }
        }
        if let Some(d) = self.flush_frequency {
            if ms(d) >= MESSAGE_TIMEOUT_MS as u128 {
                return Err(check.fail(
                    "flushFrequency",
                    ms(d),
                    format!(
                        "out of range; allowed: 0..={} (milliseconds): librdkafka requires linger.ms < message.timeout.ms ({MESSAGE_TIMEOUT_MS})",
                        MESSAGE_TIMEOUT_MS - 1
                    ),
                ));
            }
        }
        if let (Some(messages), Some(max)) = (self.flush_messages, self.flush_max_messages) {
            if max < messages {
                return Err(check.fail(
                    "flushMaxMessages",
                    max,
                    format!("must be >= flushMessages ({messages}), as in sarama"),
                ));
            }
        }
        if self.idempotent {
            if self.required_acks != RequiredAcks::All {
                return Err(check.fail(
                    "requiredAcks",
                    self.required_acks,
                    "idempotent=true requires requiredAcks=-1: librdkafka requires acks=all with enable.idempotence",
                ));
            }
            if self.max_retry < 1 {
                return Err(check.fail(
                    "maxRetry",
                    self.max_retry,
                    "idempotent=true requires maxRetry >= 1: librdkafka requires retries >= 1 with enable.idempotence",
                ));
            }
            if self.common.net_max_open_requests > IDEMPOTENT_MAX_IN_FLIGHT {
                return Err(check.fail(
                    "netMaxOpenRequests",
                    self.common.net_max_open_requests,
                    "idempotent=true requires netMaxOpenRequests <= 5: librdkafka requires max.in.flight <= 5 with enable.idempotence",
                ));
            }
        }
        if let Some(request) = self.common.max_request_size {
            if self.max_message_bytes > request {
                return Err(check.fail(
                    "maxMessageBytes",
                    self.max_message_bytes,
                    format!("must be <= plugins.database.kafka.max_request_size ({request}): a request carries at least one record"),
                ));
            }
        }
        Ok(())
    }
}

/// Why `name` cannot be a Kafka topic, or `None` when it can: Kafka allows
/// 1 to 249 characters from `[a-zA-Z0-9._-]`, except `.` and `..`.
pub(crate) fn topic_name_problem(name: &str) -> Option<String> {
    const ALLOWED: &str =
        "allowed: 1 to 249 characters from a-z, A-Z, 0-9, `.`, `_`, `-` (not `.` or `..`)";
    if name.is_empty() || name.len() > 249 || name == "." || name == ".." {
        return Some(format!("not a valid Kafka topic name; {ALLOWED}"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "not a valid Kafka topic name (character {c:?}); {ALLOWED}"
        ));
    }
    None
}
