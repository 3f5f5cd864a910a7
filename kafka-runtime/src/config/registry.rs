//! Programmatic address overrides: the seed's `RegisterAddrConfig` (Q11).
//!
//! A YAML address or target equal to a registered string gets the
//! registered config instead of being parsed. Register before loading the
//! configuration; the registry is process-wide.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use super::types::{ConsumerConfig, ProducerConfig, KAFKA_SCHEME};

static CONSUMERS: LazyLock<RwLock<HashMap<String, ConsumerConfig>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
static PRODUCERS: LazyLock<RwLock<HashMap<String, ProducerConfig>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Uses `cfg` for every consumer service whose `address` is exactly
/// `address` (e.g. `fake_address`). Call it before loading the configuration;
/// the config is still validated when a service uses it.
///
/// ```
/// use kafka_runtime::config::{register_consumer_addr_config, Config, ConsumerConfig};
///
/// let mut cfg = ConsumerConfig::default(); // the seed's GetDefaultConfig()
/// cfg.common.brokers = vec!["127.0.0.1:9092".into()];
/// cfg.topics = vec!["test_topic".into()];
/// cfg.group = "billing".into();
/// register_consumer_addr_config("fake_address", cfg); // RegisterAddrConfig
///
/// let config = Config::from_yaml_str(
///     "server:\n  service:\n    - name: svc\n      address: fake_address\n      protocol: kafka\n",
/// ).unwrap();
/// assert_eq!(config.consumer("svc").unwrap().config.group, "billing");
/// ```
pub fn register_consumer_addr_config(address: &str, cfg: ConsumerConfig) {
    // A poisoned lock only means another registration panicked; the map is intact.
    CONSUMERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address.to_owned(), cfg);
}

/// Uses `cfg` for every producer service whose `target` is `address`, with
/// or without the `kafka://` prefix. Call it before loading the
/// configuration; the config is still validated when a service uses it.
///
/// ```
/// use kafka_runtime::config::{register_producer_addr_config, Config, ProducerConfig};
///
/// let mut cfg = ProducerConfig::default();
/// cfg.common.brokers = vec!["127.0.0.1:9092".into()];
/// cfg.topic = Some("orders".into());
/// register_producer_addr_config("fake_target", cfg);
///
/// let config = Config::from_yaml_str(
///     "client:\n  service:\n    - name: p\n      target: kafka://fake_target\n",
/// ).unwrap();
/// assert_eq!(config.producer("p").unwrap().config.topic.as_deref(), Some("orders"));
/// ```
pub fn register_producer_addr_config(address: &str, cfg: ProducerConfig) {
    PRODUCERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(strip_scheme(address).to_owned(), cfg);
}

fn strip_scheme(target: &str) -> &str {
    target.strip_prefix(KAFKA_SCHEME).unwrap_or(target)
}

/// The config registered for a consumer address.
pub(crate) fn consumer(address: &str) -> Option<ConsumerConfig> {
    CONSUMERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(address)
        .cloned()
}

/// The config registered for a producer target.
pub(crate) fn producer(target: &str) -> Option<ProducerConfig> {
    PRODUCERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(strip_scheme(target))
        .cloned()
}
