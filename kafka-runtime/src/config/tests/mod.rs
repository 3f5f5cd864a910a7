//! Tests of the configuration language as a whole: every key of both seed
//! tables and the extras, the YAML loader on the seed's snippets, secrets,
//! and the reference document.

mod docs;
mod keys;
mod librdkafka;
mod parser;
mod secrets;
mod yaml;

use super::{parse_consumer_address, parse_producer_target, ConsumerConfig, ProducerConfig};

const SERVICE: &str = "svc";

/// A consumer address with `topics=t&group=g` (minus the keys in `extra`)
/// followed by `extra`.
fn consumer_address(extra: &str) -> String {
    let mut pairs: Vec<String> = Vec::new();
    for (key, value) in [("topics", "t"), ("group", "g")] {
        let overridden = extra.split('&').any(|p| p.split('=').next() == Some(key));
        if !overridden {
            pairs.push(format!("{key}={value}"));
        }
    }
    if !extra.is_empty() {
        pairs.push(extra.to_owned());
    }
    format!("127.0.0.1:9092?{}", pairs.join("&"))
}

fn producer_target(extra: &str) -> String {
    if extra.is_empty() {
        "kafka://127.0.0.1:9092?topic=t".to_owned()
    } else if extra.starts_with("topic=") {
        format!("kafka://127.0.0.1:9092?{extra}")
    } else {
        format!("kafka://127.0.0.1:9092?topic=t&{extra}")
    }
}

fn consumer(extra: &str) -> Result<ConsumerConfig, String> {
    parse_consumer_address(SERVICE, &consumer_address(extra)).map_err(|e| e.to_string())
}

fn producer(extra: &str) -> Result<ProducerConfig, String> {
    parse_producer_target(SERVICE, &producer_target(extra)).map_err(|e| e.to_string())
}
