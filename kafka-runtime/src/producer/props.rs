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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(client_id: &str) -> ProducerConfig {
        let mut config = ProducerConfig::default();
        config.common.brokers = vec!["127.0.0.1:9092".to_owned()];
        config.common.client_id = Some(client_id.to_owned());
        config
    }

    #[test]
    fn timeout_becomes_the_delivery_timeout() {
        let cc = binding_properties(&config("a"), Some(Duration::from_millis(800)));
        assert_eq!(cc.get("message.timeout.ms"), Some("800"));
        assert_eq!(cc.get("client.id"), Some("a"));
        let cc = binding_properties(&config("a"), None);
        assert_eq!(cc.get("message.timeout.ms"), None);
        // clientid left out: the seed's `trpcgo`.
        let cc = binding_properties(&ProducerConfig::default(), None);
        assert_eq!(cc.get("client.id"), Some("trpcgo"));
    }

    #[test]
    fn equal_settings_share_a_client_and_different_ones_do_not() {
        let key = |c: &ProducerConfig, t| sharing_key(&binding_properties(c, t));
        let mut other_topic = config("a");
        other_topic.topic = Some("elsewhere".to_owned());
        // The topic is not a client property: both bindings share a client.
        assert_eq!(key(&config("a"), None), key(&other_topic, None));
        assert_ne!(key(&config("a"), None), key(&config("b"), None));
        assert_ne!(
            key(&config("a"), None),
            key(&config("a"), Some(Duration::from_secs(1)))
        );
    }
}
