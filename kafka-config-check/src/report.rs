//! What the check shows about one loaded file: a neutral model that both
//! output formats render, so text and JSON can never disagree.

use std::time::Duration;

use kafka_runtime::config::{
    Config, ConsumerService, PluginConfig, ProducerService, Properties, RetryPolicy, Secret,
};
use serde_json::{json, Value};

/// One consumer or producer service.
pub struct ServiceReport {
    /// `consumer` or `producer`.
    pub kind: &'static str,
    /// The service's `name:`.
    pub name: String,
    /// Framework-level settings (implemented by the runtime, not librdkafka),
    /// in a fixed order.
    pub settings: Vec<(&'static str, Value)>,
    /// Resolved librdkafka properties in key order, secrets already `***`.
    pub properties: Vec<(String, String)>,
}

/// The whole file.
pub struct Report {
    /// The file that was checked.
    pub path: String,
    /// `plugins.database.kafka`.
    pub plugin: Vec<(&'static str, Value)>,
    /// Consumers first, then producers, each in file order.
    pub services: Vec<ServiceReport>,
    /// Entries that look like Kafka services but are not (see `notes.rs`).
    pub notes: Vec<String>,
}

impl Report {
    /// Builds the report of a loaded (hence valid) configuration.
    pub fn new(path: String, config: &Config) -> Self {
        let services = config
            .consumers
            .iter()
            .map(consumer)
            .chain(config.producers.iter().map(producer))
            .collect();
        Report {
            path,
            plugin: plugin(&config.plugin),
            services,
            notes: Vec::new(),
        }
    }

    /// How many services of `kind` the file has.
    pub fn count(&self, kind: &str) -> usize {
        self.services.iter().filter(|s| s.kind == kind).count()
    }
}

fn millis(d: Duration) -> Value {
    json!(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn opt<T: Into<Value>>(value: Option<T>) -> Value {
    value.map_or(Value::Null, Into::into)
}

/// Properties with every secret replaced, so no renderer can leak one.
fn redacted(props: &Properties) -> Vec<(String, String)> {
    props
        .iter()
        .map(|(key, value)| {
            let shown = if Properties::is_secret(key) {
                Secret::REDACTED
            } else {
                value
            };
            (key.to_owned(), shown.to_owned())
        })
        .collect()
}

fn retry(policy: RetryPolicy) -> Value {
    match policy {
        RetryPolicy::Forever => json!("forever (maxRetry=0: until the handler succeeds)"),
        RetryPolicy::Never => json!("never (maxRetry<0: a failed message is skipped)"),
        RetryPolicy::Limited(n) => json!(format!(
            "at most {n} retries ({} attempts), then the message is skipped",
            u64::from(n) + 1
        )),
    }
}

fn consumer(service: &ConsumerService) -> ServiceReport {
    let cfg = &service.config;
    let settings = vec![
        ("handler_timeout_ms", opt(service.timeout.map(millis))),
        ("topics", json!(cfg.topics)),
        ("group", json!(cfg.group)),
        (
            "mode",
            json!(match cfg.batch {
                Some(n) => format!("batch of up to {n} messages"),
                None => "one message per call".to_owned(),
            }),
        ),
        ("batch", opt(cfg.batch)),
        ("batch_flush_ms", millis(cfg.batch_flush)),
        ("retry", retry(cfg.retry)),
        ("retry_interval_ms", millis(cfg.retry_interval)),
        ("limiter_rate_per_s", opt(cfg.limiter_rate)),
        (
            "limiter_burst",
            opt(cfg.limiter_burst.or(cfg.limiter_rate.map(|_| 1))),
        ),
        ("max_processing_time_ms", millis(cfg.max_processing_time)),
        ("commit_interval_ms", millis(cfg.commit_interval)),
        ("trpc_meta", json!(cfg.common.trpc_meta)),
        ("discover", opt(cfg.common.discover.clone())),
        ("namespace", opt(cfg.common.namespace.clone())),
    ];
    ServiceReport {
        kind: "consumer",
        name: service.name.clone(),
        settings,
        properties: redacted(&cfg.librdkafka_properties()),
    }
}

fn producer(service: &ProducerService) -> ServiceReport {
    let cfg = &service.config;
    let settings = vec![
        ("request_timeout_ms", opt(service.timeout.map(millis))),
        ("topic", opt(cfg.topic.clone())),
        ("async", json!(cfg.async_produce)),
        ("partitioner", json!(cfg.partitioner.as_str())),
        ("required_acks", json!(cfg.required_acks.as_str())),
        ("idempotent", json!(cfg.idempotent)),
        ("max_retry", json!(cfg.max_retry)),
        ("retry_interval_ms", millis(cfg.retry_interval)),
        ("compression", json!(cfg.common.compression.as_str())),
        ("trpc_meta", json!(cfg.common.trpc_meta)),
        ("discover", opt(cfg.common.discover.clone())),
        ("namespace", opt(cfg.common.namespace.clone())),
    ];
    ServiceReport {
        kind: "producer",
        name: service.name.clone(),
        settings,
        properties: redacted(&cfg.librdkafka_properties()),
    }
}

fn plugin(plugin: &PluginConfig) -> Vec<(&'static str, Value)> {
    vec![
        ("max_request_size", opt(plugin.max_request_size)),
        ("max_response_size", opt(plugin.max_response_size)),
        ("rewrite_log", json!(plugin.rewrite_log)),
    ]
}
