//! librdkafka properties of one producer binding.
//!
//! Temporary: the configuration module's `ProducerConfig::client_config`
//! replaces `base_properties` once it lands; what stays here is what only a
//! producer binding knows (its per-request timeout).

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::config::{ConfigError, ProducerConfig};

/// The properties every client of `config` gets.
pub(crate) fn base_properties(config: &ProducerConfig) -> ClientConfig {
    let common = &config.common;
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", common.brokers.join(","))
        .set("client.id", config.effective_client_id())
        .set("compression.codec", common.compression.rdkafka_value())
        .set("acks", config.required_acks.rdkafka_value())
        .set("message.max.bytes", config.max_message_bytes.to_string())
        .set("message.send.max.retries", config.max_retry.to_string())
        .set(
            "retry.backoff.ms",
            config.retry_interval.as_millis().to_string(),
        )
        .set("enable.idempotence", config.idempotent.to_string())
        .set("partitioner", config.partitioner.rdkafka_value());
    if let Some(mechanism) = common.mechanism {
        cc.set("sasl.mechanism", mechanism.rdkafka_value());
        if let Some(user) = &common.user {
            cc.set("sasl.username", user);
        }
        if let Some(password) = &common.password {
            cc.set("sasl.password", password.expose());
        }
    }
    if let Some(protocol) = common.security_protocol {
        cc.set("security.protocol", protocol.rdkafka_value());
    } else if common.mechanism.is_some() {
        cc.set("security.protocol", "sasl_plaintext");
    }
    if let Some(allow) = common.metadata_allow_auto_topic_creation {
        cc.set("allow.auto.create.topics", allow.to_string());
    }
    for (key, value) in &common.librdkafka_overrides {
        cc.set(key, value);
    }
    cc
}

/// The full properties of a binding: the target's, plus the per-request
/// `timeout` as librdkafka's delivery timeout so that a late record fails
/// inside the client (and is reported as a timeout) instead of lingering.
pub(crate) fn binding_properties(
    config: &ProducerConfig,
    timeout: Option<Duration>,
) -> ClientConfig {
    let mut cc = base_properties(config);
    if let Some(timeout) = timeout {
        let millis = timeout.as_millis().max(1);
        // librdkafka requires message.timeout.ms > linger.ms.
        let linger = cc
            .get("linger.ms")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(5.0) as u128;
        cc.set("message.timeout.ms", millis.max(linger + 1).to_string());
    }
    cc
}

/// A key that is equal for two bindings exactly when they can share one
/// librdkafka producer: the same properties, secrets included. Never printed.
pub(crate) fn sharing_key(cc: &ClientConfig) -> String {
    cc.config_map()
        .iter()
        .map(|(k, v)| format!("{k}={v}\u{1}"))
        .collect()
}

/// Temporary parser of an inline `kafka://` target, replaced by the
/// configuration module's `parse_producer_target` once it lands.
pub(crate) fn parse_target(label: &str, target: &str) -> Result<ProducerConfig, ConfigError> {
    let error = |key: Option<&str>, value: Option<&str>, reason: String| ConfigError {
        service: Some(label.to_owned()),
        key: key.map(str::to_owned),
        value: value.map(str::to_owned),
        reason,
    };
    let Some(rest) = target.strip_prefix("kafka://") else {
        return Err(error(
            None,
            None,
            "a producer target must start with `kafka://`".to_owned(),
        ));
    };
    let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut config = ProducerConfig::default();
    config.common.brokers = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    if config.common.brokers.is_empty() {
        return Err(error(None, None, "the target names no broker".to_owned()));
    }
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let bad = |allowed: &str| error(Some(&key), Some(&value), format!("allowed: {allowed}"));
        let flag = || match value.as_ref() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(bad("true, false")),
        };
        match key.as_ref() {
            "topic" => config.topic = Some(value.to_string()),
            "clientid" => config.common.client_id = Some(value.to_string()),
            "compression" => {
                config.common.compression = value.parse().map_err(|e| bad(&format!("{e}")))?
            }
            "partitioner" => {
                config.partitioner = value.parse().map_err(|e| bad(&format!("{e}")))?
            }
            "requiredAcks" => {
                config.required_acks = value.parse().map_err(|e| bad(&format!("{e}")))?
            }
            "maxMessageBytes" => {
                config.max_message_bytes = value.parse().map_err(|_| bad("a byte count"))?
            }
            "maxRetry" => config.max_retry = value.parse().map_err(|_| bad("an integer >= 0"))?,
            "retryInterval" => {
                config.retry_interval =
                    Duration::from_millis(value.parse().map_err(|_| bad("milliseconds"))?)
            }
            "idempotent" => config.idempotent = flag()?,
            "async" => config.async_produce = flag()?,
            "trpcMeta" => config.common.trpc_meta = flag()?,
            "metadataAllowAutoTopicCreation" => {
                config.common.metadata_allow_auto_topic_creation = Some(flag()?)
            }
            _ => return Err(bad("a producer key of the seed's table")),
        }
    }
    Ok(config)
}
