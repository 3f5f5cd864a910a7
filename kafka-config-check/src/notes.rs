//! Near misses the loader rightly ignores but a person probably did not mean:
//! an entry that looks like a Kafka service yet is not one is silently left
//! out of the configuration, which the check should say out loud.

use kafka_runtime::config::KAFKA_SCHEME;
use serde_yaml::Value;

/// One note per near miss, in file order. A file that is not valid YAML has
/// none (the loader's error says why it is invalid).
pub fn near_misses(text: &str) -> Vec<String> {
    let Ok(root) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for (index, entry) in entries(&root, "server").iter().enumerate() {
        let protocol = field(entry, "protocol");
        if let Some(protocol) = protocol.filter(|p| p != "kafka" && p.eq_ignore_ascii_case("kafka"))
        {
            notes.push(format!(
                "server.service[{index}]{} has `protocol: {protocol}`: only `kafka` (lower case) makes it a Kafka consumer, so it was not checked",
                named(entry)
            ));
        }
    }
    for (index, entry) in entries(&root, "client").iter().enumerate() {
        let Some(target) = field(entry, "target") else {
            continue;
        };
        let prefix = target.get(..KAFKA_SCHEME.len());
        if prefix.is_some_and(|p| p != KAFKA_SCHEME && p.eq_ignore_ascii_case(KAFKA_SCHEME)) {
            notes.push(format!(
                "client.service[{index}]{} has a target starting with `{}`: only `{KAFKA_SCHEME}` (lower case) makes it a Kafka producer, so it was not checked",
                named(entry),
                prefix.unwrap_or_default()
            ));
        }
    }
    notes
}

fn entries(root: &Value, section: &str) -> Vec<Value> {
    match root.get(section).and_then(|s| s.get("service")) {
        Some(Value::Sequence(list)) => list.clone(),
        _ => Vec::new(),
    }
}

fn field(entry: &Value, key: &str) -> Option<String> {
    entry.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn named(entry: &Value) -> String {
    field(entry, "name").map_or_else(String::new, |n| format!(" (`{n}`)"))
}
