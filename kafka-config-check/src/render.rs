//! The two output formats of a [`Report`].

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::report::{Report, ServiceReport};

/// A value as text: strings unquoted, lists comma-separated, null as `-`.
fn plain(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Human-readable text, one block per service.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{}: valid ({}, {})",
        report.path,
        plural(report.count("consumer"), "consumer service"),
        plural(report.count("producer"), "producer service"),
    );
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "\nplugins.database.kafka");
    for (key, value) in &report.plugin {
        let _ = writeln!(out, "  {key}: {}", plain(value));
    }
    for service in &report.services {
        let _ = writeln!(out, "\n{} `{}`", service.kind, service.name);
        let _ = writeln!(out, "  framework settings:");
        for (key, value) in &service.settings {
            let _ = writeln!(out, "    {key}: {}", plain(value));
        }
        let _ = writeln!(out, "  librdkafka properties:");
        for (key, value) in &service.properties {
            let _ = writeln!(out, "    {key}={value}");
        }
    }
    out
}

fn object(pairs: &[(&'static str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn service(service: &ServiceReport) -> Value {
    let properties: Map<String, Value> = service
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "name": service.name,
        "settings": object(&service.settings),
        "librdkafka": properties,
    })
}

/// One JSON document: `{"path", "valid", "plugin", "consumers", "producers", "notes"}`.
pub fn json(report: &Report) -> String {
    let of_kind = |kind: &str| -> Vec<Value> {
        report
            .services
            .iter()
            .filter(|s| s.kind == kind)
            .map(service)
            .collect()
    };
    let doc = serde_json::json!({
        "path": report.path,
        "valid": true,
        "plugin": object(&report.plugin),
        "consumers": of_kind("consumer"),
        "producers": of_kind("producer"),
        "notes": report.notes,
    });
    // A tree of plain JSON values always serialises.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
