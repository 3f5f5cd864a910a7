//! The librdkafka settings of one consumer service.
//!
//! Temporary: the configuration module will own this mapping as
//! `ConsumerConfig::client_config()`; until it lands the engine builds the
//! few properties it depends on here.

use rdkafka::ClientConfig;

use crate::config::ConsumerConfig;

/// librdkafka properties for `config`.
///
/// The engine's at-least-once guarantee rests on two of them: offsets are
/// stored by the engine only after a handler succeeded
/// (`enable.auto.offset.store=false`), and librdkafka commits what is stored
/// every `commit_interval` (`enable.auto.commit=true`), as sarama's
/// `MarkMessage` + auto-commit did in the seed.
pub(crate) fn client_config(config: &ConsumerConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", config.common.brokers.join(","))
        .set("group.id", &config.group)
        .set("client.id", config.effective_client_id())
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.commit.interval.ms",
            config.commit_interval.as_millis().to_string(),
        )
        .set("auto.offset.reset", config.initial.rdkafka_value())
        .set(
            "partition.assignment.strategy",
            config.strategy.rdkafka_value(),
        )
        .set(
            "session.timeout.ms",
            config.group_session_timeout.as_millis().to_string(),
        )
        .set(
            "fetch.wait.max.ms",
            config.max_wait_time.as_millis().to_string(),
        )
        .set("isolation.level", config.isolation_level.rdkafka_value());
    for (key, value) in &config.common.librdkafka_overrides {
        cc.set(key, value);
    }
    cc
}
