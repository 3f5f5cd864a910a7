//! The address/target parser: `host:port[,host:port...]?key=value&...`.
//!
//! The query is decoded like Go's `url.ParseQuery` (percent-decoding, `+` is
//! a space, `;` is refused), then every key is checked against the key table
//! ([`super::keys`]) of its side. Errors name the service, the key, the value
//! (a password as `***`) and what is allowed; the raw address is never
//! echoed because it may hold a password.

use std::time::Duration;

use super::error::ConfigError;
use super::keys::{self, KeySpec, Side, Value};
use super::registry;
use super::secret::Secret;
use super::secret_like;
use super::types::{CommonConfig, ConsumerConfig, ProducerConfig, RetryPolicy, KAFKA_SCHEME};
use super::values::{GroupProtocol, IsolationLevel};

/// Parses a consumer address (`server.service[].address`) for `service`.
///
/// A config registered for this exact address with
/// [`super::register_consumer_addr_config`] is returned instead (validated).
///
/// ```
/// use kafka_runtime::config::parse_consumer_address;
///
/// let cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=a,b&group=billing&batch=10").unwrap();
/// assert_eq!(cfg.topics, ["a", "b"]);
/// assert_eq!(cfg.batch, Some(10));
/// assert_eq!(cfg.fetch_max, 1_048_576); // the plugin's default
///
/// let err = parse_consumer_address("svc", "127.0.0.1:9092?topics=a&group=g&fetchMax=12x").unwrap_err();
/// assert_eq!(err.key.as_deref(), Some("fetchMax"));
/// ```
pub fn parse_consumer_address(service: &str, address: &str) -> Result<ConsumerConfig, ConfigError> {
    if let Some(cfg) = registry::consumer(address) {
        cfg.validate(service)?;
        return Ok(cfg);
    }
    if address.starts_with(KAFKA_SCHEME) {
        return Err(ConfigError::new(
            Some(service),
            "a consumer address has no `kafka://` prefix (only client targets do): write `host:port[,host:port...]?topics=...&group=...`",
        ));
    }
    let parsed = split(service, address, Side::Consumer)?;
    let mut cfg = ConsumerConfig::default();
    for (spec, value) in &parsed.values {
        if !apply_common(&mut cfg.common, spec, value.clone())
            && !apply_consumer(&mut cfg, spec, value.clone())
        {
            return Err(unwired(service, spec));
        }
    }
    cfg.common.brokers = parsed.brokers();
    let given = |key: &str| parsed.values.iter().any(|(spec, _)| spec.name == key);
    if cfg.transactional_id.is_some() && !given("isolationLevel") {
        // A transactional service reads committed records only, as Kafka
        // Streams does under exactly-once.
        cfg.isolation_level = IsolationLevel::ReadCommitted;
    }
    if cfg.group_protocol == GroupProtocol::Consumer {
        for key in ["groupSessionTimeout"] {
            if given(key) {
                return Err(ConfigError::for_key(
                    service,
                    key,
                    None,
                    "not allowed with `groupProtocol=consumer`: KIP-848 moves the session and \
                     heartbeat timing to the broker (group.consumer.session.timeout.ms and \
                     group.consumer.heartbeat.interval.ms); remove the key, or use \
                     `groupProtocol=classic`",
                ));
            }
        }
    }
    cfg.validate(service)?;
    Ok(cfg)
}

/// Parses a producer target (`client.service[].target`), with or without the
/// `kafka://` prefix, for `service`.
///
/// A config registered for this target with
/// [`super::register_producer_addr_config`] is returned instead (validated).
///
/// ```
/// use kafka_runtime::config::{parse_producer_target, Partitioner};
///
/// let cfg = parse_producer_target("svc", "kafka://127.0.0.1:9092?topic=orders&partitioner=hash").unwrap();
/// assert_eq!(cfg.topic.as_deref(), Some("orders"));
/// assert_eq!(cfg.partitioner, Partitioner::Hash);
/// assert_eq!(cfg.max_retry, 3); // the plugin's default
/// ```
pub fn parse_producer_target(service: &str, target: &str) -> Result<ProducerConfig, ConfigError> {
    if let Some(cfg) = registry::producer(target) {
        cfg.validate(service)?;
        return Ok(cfg);
    }
    let address = target.strip_prefix(KAFKA_SCHEME).unwrap_or(target);
    let parsed = split(service, address, Side::Producer)?;
    let mut cfg = ProducerConfig::default();
    for (spec, value) in &parsed.values {
        if !apply_common(&mut cfg.common, spec, value.clone())
            && !apply_producer(&mut cfg, spec, value.clone())
        {
            return Err(unwired(service, spec));
        }
    }
    cfg.common.brokers = parsed.brokers();
    cfg.validate(service)?;
    Ok(cfg)
}

/// An address cut into its broker part and its checked, typed values.
struct Parsed<'a> {
    host_part: &'a str,
    values: Vec<(&'static KeySpec, Value)>,
}

impl Parsed<'_> {
    /// The broker list (or, with `discover`, the service name) as written;
    /// `validate` checks it, so registered configs get the same checks.
    fn brokers(&self) -> Vec<String> {
        if self.host_part.trim().is_empty() {
            return Vec::new();
        }
        self.host_part
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect()
    }
}

/// Checks one `host:port` (IPv6 hosts in brackets).
pub(crate) fn check_broker(service: &str, broker: &str) -> Result<(), ConfigError> {
    let fail = |why: &str| {
        ConfigError::new(
            Some(service),
            format!("broker `{broker}`: {why}; each broker is `host:port` with a non-empty host and a port in 1..=65535, brokers separated by commas"),
        )
    };
    if broker.is_empty() {
        return Err(ConfigError::new(
            Some(service),
            "empty broker in the broker list; each broker is `host:port` with a non-empty host and a port in 1..=65535, brokers separated by commas",
        ));
    }
    if broker.contains('@') {
        // Never echo it: `user:password@host` would print the password.
        return Err(ConfigError::new(
            Some(service),
            "a broker contains `@`: credentials do not belong in the broker list; use the `mechanism`, `user` and `password` keys",
        ));
    }
    if broker.contains(['=', '&']) {
        // Query text before the `?` (`h:1&password=x?...`): not echoed either.
        return Err(ConfigError::new(
            Some(service),
            "a broker contains `=` or `&`: `key=value` pairs go after the `?` (`host:port[,host:port...]?key=value&...`); the broker is not shown because it may hold a password",
        ));
    }
    if broker.contains("://") {
        return Err(fail("a broker has no scheme"));
    }
    let Some((host, port)) = broker.rsplit_once(':') else {
        return Err(fail("missing `:port`"));
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|ip| !ip.is_empty())
    } else {
        !host.is_empty() && !host.contains(':')
    };
    if !host_ok
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@')
    {
        return Err(fail("bad host"));
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        // Not echoed: text after a colon may be a password (`user:password`).
        return Err(ConfigError::new(
            Some(service),
            format!("broker with host `{host}`: the port is not a number; each broker is `host:port` with a non-empty host and a port in 1..=65535, brokers separated by commas"),
        ));
    }
    match port.parse::<u32>() {
        Ok(p) if (1..=65_535).contains(&p) => Ok(()),
        _ => Err(fail("bad port")),
    }
}

/// Splits at `?`, decodes the query and checks every key and value.
fn split<'a>(service: &str, address: &'a str, side: Side) -> Result<Parsed<'a>, ConfigError> {
    let register_fn = match side {
        Side::Producer => "register_producer_addr_config",
        _ => "register_consumer_addr_config",
    };
    let Some((host_part, query)) = address.split_once('?') else {
        let example = match side {
            Side::Producer => "kafka://127.0.0.1:9092?topic=orders",
            _ => "127.0.0.1:9092?topics=orders&group=billing",
        };
        return Err(ConfigError::new(
            Some(service),
            format!(
                "the address has no `?`: write `host:port[,host:port...]?key=value&...` (e.g. `{example}`); \
                 for an address configured in code (like `fake_address`), call kafka_runtime::config::{register_fn} with that exact string before loading"
            ),
        ));
    };
    let pairs = decode_query(service, query)?;
    let mut values: Vec<(&'static KeySpec, Value)> = Vec::new();
    for (key, raw) in pairs {
        let spec = find_key(service, &key, &raw, side)?;
        if values.iter().any(|(seen, _)| seen.name == spec.name) {
            return Err(ConfigError::for_key(
                service,
                &key,
                Some(spec.shown(&raw)),
                format!(
                    "`{}` is given more than once; each key may appear once",
                    spec.name
                ),
            ));
        }
        if raw.is_empty() {
            return Err(ConfigError::for_key(
                service,
                &key,
                Some(""),
                format!("empty value; allowed: {}", spec.kind.allowed()),
            ));
        }
        if raw.contains('\0') {
            // librdkafka takes C strings: a decoded `%00` cannot reach it.
            let escaped = raw.replace('\0', "%00");
            return Err(ConfigError::for_key(
                service,
                &key,
                Some(spec.shown(&escaped)),
                format!(
                    "contains a NUL character (`%00`), which the Kafka client cannot take; allowed: {}",
                    spec.kind.allowed()
                ),
            ));
        }
        let value = spec.kind.parse(&raw).map_err(|reason| {
            ConfigError::for_key(service, &key, Some(spec.shown(&raw)), reason)
        })?;
        values.push((spec, value));
    }
    Ok(Parsed { host_part, values })
}

/// The spec for `key`, or an error saying which side it belongs to or what
/// was probably meant.
fn find_key(
    service: &str,
    key: &str,
    raw: &str,
    side: Side,
) -> Result<&'static KeySpec, ConfigError> {
    if let Some(spec) = keys::lookup(key, side) {
        return Ok(spec);
    }
    let (side_name, other_name) = match side {
        Side::Producer => ("producer", "consumer"),
        _ => ("consumer", "producer"),
    };
    let suggestion = keys::suggest(key, side);
    let shown = if secret_like::may_hold_secret_value(key) {
        Secret::REDACTED
    } else {
        raw
    };
    if key.is_empty() {
        return Err(ConfigError::new(
            Some(service),
            "a query pair has an empty key (`=value`); write `key=value`",
        ));
    }
    if let Some(other) = keys::lookup_other_side(key, side) {
        let hint = suggestion
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(ConfigError::for_key(
            service,
            key,
            Some(shown),
            format!(
                "`{}` is a {other_name} key, not allowed in a {side_name} address{hint}",
                other.name
            ),
        ));
    }
    let hint = suggestion
        .map(|s| format!(", did you mean `{s}`?"))
        .unwrap_or_else(|| ";".to_owned());
    // `password:hunter2` or `passwordhunter2` is one unknown key holding the
    // password: only a key with no room for a value is safe to echo.
    let key_shown = if secret_like::may_carry_secret_itself(key) {
        Secret::REDACTED
    } else {
        key
    };
    Err(ConfigError::for_key(
        service,
        key_shown,
        Some(shown),
        format!(
            "unknown key `{key_shown}`{}{hint} allowed {side_name} keys: {}",
            if key_shown == key {
                ""
            } else {
                " (not shown: it may contain the password)"
            },
            keys::allowed_names(side).join(", ")
        ),
    ))
}

/// Go `url.ParseQuery` semantics: `&`-separated pairs, empty pairs skipped,
/// `;` refused, malformed `%` escapes refused, percent- and `+`-decoding.
fn decode_query(service: &str, query: &str) -> Result<Vec<(String, String)>, ConfigError> {
    if query.contains(';') {
        return Err(ConfigError::new(
            Some(service),
            "the query contains `;`: separate key=value pairs with `&` (Go's url.ParseQuery refuses `;` too)",
        ));
    }
    for pair in query.split('&') {
        let bytes = pair.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let ok = bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit();
                if !ok {
                    let key = pair.split('=').next().unwrap_or_default();
                    let key_shown = if secret_like::may_hold_secret_value(key) {
                        Secret::REDACTED
                    } else {
                        key
                    };
                    return Err(ConfigError::new(
                        Some(service),
                        format!("bad percent-escape in the query pair of key `{key_shown}`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"),
                    ));
                }
                i += 3;
            } else {
                i += 1;
            }
        }
    }
    Ok(form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

fn unwired(service: &str, spec: &KeySpec) -> ConfigError {
    ConfigError::for_key(
        service,
        spec.name,
        None,
        "internal error: this key is in the key table but the parser does not store it (please report)",
    )
}

fn millis(n: i64) -> Duration {
    Duration::from_millis(u64::try_from(n).unwrap_or(0))
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Zero means "leave librdkafka's default" for the sarama flush knobs.
fn nonzero_u32(n: i64) -> Option<u32> {
    (n != 0).then(|| to_u32(n))
}

/// Stores a shared key; `false` when `spec` is not a shared key.
fn apply_common(common: &mut CommonConfig, spec: &KeySpec, value: Value) -> bool {
    if spec.side != Side::Both {
        return false;
    }
    match (spec.name, value) {
        ("clientid", Value::Text(v)) => common.client_id = Some(v),
        ("version", Value::Text(v)) => common.version = v,
        ("compression", Value::Text(v)) => match v.parse() {
            Ok(c) => common.compression = c,
            Err(_) => return false,
        },
        ("mechanism", Value::Text(v)) => match v.parse() {
            Ok(m) => common.mechanism = Some(m),
            Err(_) => return false,
        },
        ("user", Value::Text(v)) => common.user = Some(v),
        ("password", Value::Text(v)) => common.password = Some(Secret::new(v)),
        ("protocol", Value::Text(v)) => match v.parse() {
            Ok(p) => common.security_protocol = Some(p),
            Err(_) => return false,
        },
        ("tlsCaFile", Value::Text(v)) => common.tls.ca_file = Some(v.into()),
        ("tlsCertFile", Value::Text(v)) => common.tls.cert_file = Some(v.into()),
        ("tlsKeyFile", Value::Text(v)) => common.tls.key_file = Some(v.into()),
        ("tlsKeyPassword", Value::Text(v)) => common.tls.key_password = Some(Secret::new(v)),
        ("tlsInsecureSkipVerify", Value::Bool(v)) => common.tls.insecure_skip_verify = v,
        ("trpcMeta", Value::Bool(v)) => common.trpc_meta = v,
        ("discover", Value::Text(v)) => common.discover = Some(v),
        ("namespace", Value::Text(v)) => common.namespace = Some(v),
        ("netMaxOpenRequests", Value::Int(n)) => common.net_max_open_requests = to_u32(n),
        ("netDailTimeout", Value::Int(n)) => common.net_dial_timeout = millis(n),
        ("netReadTimeout", Value::Int(n)) => common.net_read_timeout = millis(n),
        ("netWriteTimeout", Value::Int(n)) => common.net_write_timeout = millis(n),
        ("metadataRetryMax", Value::Int(n)) => common.metadata_retry_max = Some(to_u32(n)),
        ("metadataRetryBackoff", Value::Int(n)) => common.metadata_retry_backoff = Some(millis(n)),
        ("metadataRefreshFrequency", Value::Int(n)) => {
            common.metadata_refresh_frequency =
                Some(Duration::from_secs(u64::try_from(n).unwrap_or(0)))
        }
        ("metadataFull", Value::Bool(v)) => common.metadata_full = Some(v),
        ("metadataAllowAutoTopicCreation", Value::Bool(v)) => {
            common.metadata_allow_auto_topic_creation = Some(v)
        }
        _ => return false,
    }
    true
}

/// Stores a consumer key; `false` when `spec` is not one.
fn apply_consumer(cfg: &mut ConsumerConfig, spec: &KeySpec, value: Value) -> bool {
    if spec.side != Side::Consumer {
        return false;
    }
    match (spec.name, value) {
        ("topics", Value::Names(v)) => cfg.topics = v,
        ("group", Value::Text(v)) => cfg.group = v,
        ("strategy", Value::Text(v)) => match v.parse() {
            Ok(s) => cfg.strategy = s,
            Err(_) => return false,
        },
        ("fetchDefault", Value::Int(n)) => cfg.fetch_default = to_u32(n),
        ("fetchMax", Value::Int(n)) => cfg.fetch_max = to_u32(n),
        ("batch", Value::Int(n)) => cfg.batch = Some(to_u32(n)),
        ("batchFlush", Value::Int(n)) => cfg.batch_flush = millis(n),
        ("keyOrderedConcurrency", Value::Int(n)) => cfg.key_ordered_concurrency = to_u32(n),
        ("initial", Value::Text(v)) => match v.parse() {
            Ok(i) => cfg.initial = i,
            Err(_) => return false,
        },
        ("maxWaitTime", Value::Int(n)) => cfg.max_wait_time = millis(n),
        ("maxProcessingTime", Value::Int(n)) => cfg.max_processing_time = millis(n),
        ("groupSessionTimeout", Value::Int(n)) => cfg.group_session_timeout = millis(n),
        ("groupRebalanceTimeout", Value::Int(n)) => cfg.group_rebalance_timeout = millis(n),
        ("groupRebalanceRetryMax", Value::Int(n)) => {
            cfg.group_rebalance_retry_max = Some(to_u32(n))
        }
        ("isolationLevel", Value::Text(v)) => match v.parse() {
            Ok(i) => cfg.isolation_level = i,
            Err(_) => return false,
        },
        ("limiterRate", Value::Rate(r)) => cfg.limiter_rate = Some(r),
        ("limiterBurst", Value::Int(n)) => cfg.limiter_burst = Some(to_u32(n)),
        ("maxRetry", Value::Int(n)) => cfg.retry = RetryPolicy::from_max_retry(n),
        ("retryInterval", Value::Int(n)) => cfg.retry_interval = millis(n),
        ("retryBackoff", Value::Text(v)) => match v.parse() {
            Ok(b) => cfg.retry_backoff = b,
            Err(_) => return false,
        },
        ("retryMaxInterval", Value::Int(n)) => cfg.retry_max_interval = Some(millis(n)),
        ("retryJitter", Value::Int(n)) => cfg.retry_jitter = to_u32(n),
        ("retryTopics", Value::Int(n)) => cfg.retry_topics = Some(to_u32(n)),
        ("deadLetterTopic", Value::Text(v)) => cfg.dead_letter_topic = Some(v),
        ("groupInstanceId", Value::Text(v)) => cfg.group_instance_id = Some(v),
        ("groupProtocol", Value::Text(v)) => match v.parse() {
            Ok(p) => cfg.group_protocol = p,
            Err(_) => return false,
        },
        ("transactionalId", Value::Text(v)) => cfg.transactional_id = Some(v),
        ("transactionCommitInterval", Value::Int(n)) => cfg.transaction_commit_interval = millis(n),
        _ => return false,
    }
    true
}

/// Stores a producer key; `false` when `spec` is not one.
fn apply_producer(cfg: &mut ProducerConfig, spec: &KeySpec, value: Value) -> bool {
    if spec.side != Side::Producer {
        return false;
    }
    match (spec.name, value) {
        ("topic", Value::Text(v)) => cfg.topic = Some(v),
        ("partitioner", Value::Text(v)) => match v.parse() {
            Ok(p) => cfg.partitioner = p,
            Err(_) => return false,
        },
        ("maxMessageBytes", Value::Int(n)) => cfg.max_message_bytes = to_u32(n),
        ("requiredAcks", Value::Text(v)) => match v.parse() {
            Ok(a) => cfg.required_acks = a,
            Err(_) => return false,
        },
        ("idempotent", Value::Bool(v)) => cfg.idempotent = v,
        ("async", Value::Bool(v)) => cfg.async_produce = v,
        ("flushMessages", Value::Int(n)) => cfg.flush_messages = nonzero_u32(n),
        ("flushMaxMessages", Value::Int(n)) => cfg.flush_max_messages = nonzero_u32(n),
        ("flushBytes", Value::Int(n)) => cfg.flush_bytes = nonzero_u32(n),
        ("flushFrequency", Value::Int(n)) => cfg.flush_frequency = (n != 0).then(|| millis(n)),
        ("maxRetry", Value::Int(n)) => cfg.max_retry = to_u32(n),
        ("retryInterval", Value::Int(n)) => cfg.retry_interval = millis(n),
        _ => return false,
    }
    true
}
