//! librdkafka properties of one producer binding: the target's own
//! (`ProducerConfig::client_config`) plus what only a binding knows, its
//! per-request timeout.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::config::ProducerConfig;

/// The full properties of a binding: the target's, plus the per-request
/// `timeout` as librdkafka's delivery timeout so that a late record fails
/// inside the client (and is reported as a timeout) instead of lingering.
pub(crate) fn binding_properties(
    config: &ProducerConfig,
    timeout: Option<Duration>,
) -> ClientConfig {
    let mut cc = config.client_config();
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
