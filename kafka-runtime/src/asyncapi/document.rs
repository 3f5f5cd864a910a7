//! Building the AsyncAPI 3.0 document: servers, channels, operations and
//! messages of a configuration and of the handlers and producers linked
//! into the binary.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{ConsumedPayload, Info, Payload, ProducedPayload};
use crate::config::{CommonConfig, Config, Properties};
use crate::producer::{ProducerRegistration, ProducerSource};

/// The version of the Kafka bindings written.
const BINDING_VERSION: &str = "0.5.0";

/// The AsyncAPI 3.0 document of `config`, with the payload types of the
/// handlers and producers linked into this binary (see the
/// [module docs](super)).
///
/// ```
/// let config = kafka_runtime::config::Config::from_yaml_str(
///     "server:\n  service:\n    - name: s\n      address: 127.0.0.1:9092?topics=a.b&group=g&mechanism=SCRAM-SHA-512&user=u&password=secret\n      protocol: kafka\n",
/// ).unwrap();
/// let doc = kafka_runtime::asyncapi::document(&config, &kafka_runtime::asyncapi::Info::new("app", "1"));
/// assert_eq!(doc["servers"]["kafka_1"]["host"], "127.0.0.1:9092");
/// assert_eq!(doc["channels"]["a_b"]["address"], "a.b");
/// assert_eq!(doc["components"]["securitySchemes"]["scramSha512"]["type"], "scramSha512");
/// assert!(!doc.to_string().contains("secret"));
/// ```
pub fn document(config: &Config, info: &Info) -> Value {
    let mut doc = Builder::default();
    let consumed: Vec<&ConsumedPayload> = inventory::iter::<ConsumedPayload>.into_iter().collect();
    let produced: Vec<&ProducedPayload> = inventory::iter::<ProducedPayload>.into_iter().collect();
    for service in &config.consumers {
        let cfg = &service.config;
        let server = doc.server(&cfg.common, &cfg.librdkafka_properties());
        let specific: Vec<&&ConsumedPayload> = consumed
            .iter()
            .filter(|c| c.service == Some(service.name.as_str()))
            .collect();
        let handlers: Vec<&&ConsumedPayload> = if specific.is_empty() {
            consumed.iter().filter(|c| c.service.is_none()).collect()
        } else {
            specific
        };
        let payloads: Vec<(Payload, Option<&str>)> = if handlers.is_empty() {
            vec![(unspecified(), None)]
        } else {
            handlers
                .iter()
                .map(|h| ((h.describe)(), Some(h.handler)))
                .collect()
        };
        for topic in &cfg.topics {
            let channel = doc.channel(&server, topic);
            let messages: Vec<String> = payloads
                .iter()
                .map(|(payload, _)| doc.message(&channel, payload))
                .collect();
            let handler = payloads.iter().find_map(|(_, h)| *h);
            let mut summary = format!("consumer service `{}`, group `{}`", service.name, cfg.group);
            if let Some(handler) = handler {
                summary.push_str(&format!(", handler `{handler}`"));
            }
            if handlers.iter().any(|h| h.batch) {
                summary.push_str(" (in batches)");
            }
            let bindings = json!({ "kafka": {
                "groupId": { "type": "string", "enum": [cfg.group] },
                "clientId": { "type": "string", "enum": [cfg.effective_client_id()] },
                "bindingVersion": BINDING_VERSION,
            }});
            doc.operation(
                &format!("{}_receive_{}", id(&service.name), id(topic)),
                "receive",
                &channel,
                &messages,
                summary,
                bindings,
            );
        }
    }
    let mut producers: Vec<(String, crate::config::ProducerConfig)> = config
        .producers
        .iter()
        .map(|p| (p.name.clone(), p.config.clone()))
        .collect();
    for registration in inventory::iter::<ProducerRegistration> {
        if let ProducerSource::Target(target) = registration.source {
            let label = format!("inline target of {}", registration.declared_by);
            if let Ok(cfg) = crate::config::parse_producer_target(&label, target) {
                producers.push((registration.declared_by.to_owned(), cfg));
            }
        }
    }
    for (name, cfg) in &producers {
        let Some(topic) = &cfg.topic else {
            // Without `topic` a producer writes where each call says.
            continue;
        };
        let server = doc.server(&cfg.common, &cfg.librdkafka_properties());
        let channel = doc.channel(&server, topic);
        let declared: Vec<&&ProducedPayload> = produced
            .iter()
            .filter(|p| match p.source {
                ProducerSource::Service(service) => service == name,
                ProducerSource::Target(_) => p.declared_by == name,
            })
            .collect();
        let payloads: Vec<Payload> = if declared.is_empty() {
            vec![unspecified()]
        } else {
            declared.iter().map(|p| (p.describe)()).collect()
        };
        let messages: Vec<String> = payloads
            .iter()
            .map(|payload| doc.message(&channel, payload))
            .collect();
        let mut summary = format!("producer `{name}`");
        let by: Vec<&str> = declared.iter().map(|p| p.declared_by).collect();
        if !by.is_empty() {
            summary.push_str(&format!(", declared by {}", by.join(", ")));
        }
        let bindings = json!({ "kafka": {
            "clientId": { "type": "string", "enum": [cfg.effective_client_id()] },
            "bindingVersion": BINDING_VERSION,
        }});
        doc.operation(
            &format!("{}_send", id(name)),
            "send",
            &channel,
            &messages,
            summary,
            bindings,
        );
    }
    doc.finish(info)
}

/// A payload the configuration alone does not tell.
fn unspecified() -> Payload {
    Payload::unknown("unspecified")
}

/// An identifier AsyncAPI accepts as a map key (`[A-Za-z0-9_-]+`).
fn id(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() {
        "_".to_owned()
    } else {
        id
    }
}

/// The last path segment of a Rust type name, generics kept.
fn short_name(type_name: &str) -> &str {
    let base = type_name.split('<').next().unwrap_or(type_name);
    let start = base.rfind("::").map_or(0, |i| i + 2);
    &type_name[start..]
}

#[derive(Default)]
struct Builder {
    /// Server id by (brokers, protocol, schemes).
    servers: BTreeMap<String, String>,
    server_objects: Map<String, Value>,
    /// Channel id by (server id, topic).
    channels: BTreeMap<(String, String), String>,
    channel_objects: Map<String, Value>,
    /// Message id by (type name, content type, schema).
    messages: BTreeMap<String, String>,
    message_objects: Map<String, Value>,
    schemas: Map<String, Value>,
    security: Map<String, Value>,
    operations: Map<String, Value>,
}

/// A name not yet in `taken`: `base`, else `base_2`, `base_3`...
fn unique(base: String, taken: &Map<String, Value>) -> String {
    if !taken.contains_key(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.contains_key(candidate))
        .unwrap_or(base)
}

impl Builder {
    /// The server of a cluster, added on first use.
    fn server(&mut self, common: &CommonConfig, props: &Properties) -> String {
        let protocol = props.get("security.protocol").unwrap_or("plaintext");
        let tls = protocol.ends_with("ssl");
        let mut schemes = Vec::new();
        if let Some(mechanism) = props.get("sasl.mechanisms") {
            schemes.push(match mechanism {
                "SCRAM-SHA-256" => "scramSha256",
                "SCRAM-SHA-512" => "scramSha512",
                _ => "plain",
            });
        }
        if props.get("ssl.certificate.location").is_some() {
            schemes.push("X509");
        }
        let key = format!(
            "{}|{protocol}|{}",
            common.brokers.join(","),
            schemes.join(",")
        );
        if let Some(server) = self.servers.get(&key) {
            return server.clone();
        }
        let server = format!("kafka_{}", self.servers.len() + 1);
        let host = common.brokers.first().cloned().unwrap_or_default();
        let description = match (&common.discover, &common.namespace) {
            (Some(resolver), Some(namespace)) => format!(
                "brokers of `{host}`, found through the discovery resolver `{resolver}` in namespace `{namespace}`"
            ),
            _ => format!("bootstrap brokers: {}", common.brokers.join(", ")),
        };
        let mut object = json!({
            "host": host,
            "protocol": if tls { "kafka-secure" } else { "kafka" },
            "description": description,
        });
        if !schemes.is_empty() {
            let refs: Vec<Value> = schemes
                .iter()
                .map(|s| json!({ "$ref": format!("#/components/securitySchemes/{s}") }))
                .collect();
            object["security"] = Value::Array(refs);
            for scheme in schemes {
                let what = match scheme {
                    "X509" => "mutual TLS: the client presents a certificate",
                    "plain" => "SASL/PLAIN user name and password",
                    _ => "SASL/SCRAM user name and password",
                };
                self.security.insert(
                    scheme.to_owned(),
                    json!({ "type": scheme, "description": what }),
                );
            }
        }
        self.server_objects.insert(server.clone(), object);
        self.servers.insert(key, server.clone());
        server
    }

    /// The channel of `topic` on `server`, added on first use.
    fn channel(&mut self, server: &str, topic: &str) -> String {
        let key = (server.to_owned(), topic.to_owned());
        if let Some(channel) = self.channels.get(&key) {
            return channel.clone();
        }
        let channel = unique(id(topic), &self.channel_objects);
        self.channel_objects.insert(
            channel.clone(),
            json!({
                "address": topic,
                "title": topic,
                "servers": [{ "$ref": format!("#/servers/{server}") }],
                "messages": {},
                "bindings": { "kafka": { "topic": topic, "bindingVersion": BINDING_VERSION } },
            }),
        );
        self.channels.insert(key, channel.clone());
        channel
    }

    /// The message of `payload`, added to the components on first use and
    /// to `channel`'s messages; its id.
    fn message(&mut self, channel: &str, payload: &Payload) -> String {
        let key = format!(
            "{}|{}|{}",
            payload.type_name,
            payload.content_type,
            payload
                .schema
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default()
        );
        let message = match self.messages.get(&key) {
            Some(message) => message.clone(),
            None => {
                let name = short_name(&payload.type_name);
                let message = unique(id(name), &self.message_objects);
                let mut object = json!({
                    "name": name,
                    "title": payload.type_name,
                    "contentType": payload.content_type,
                });
                match &payload.schema {
                    Some(schema) => object["payload"] = schema.clone(),
                    None => {
                        object["description"] = Value::String(
                            if payload.type_name == "unspecified" {
                                "the payload type is not known from the configuration alone; the application's own document (KAFKA_RS_ASYNCAPI) names it".to_owned()
                            } else {
                                format!(
                                "`{}`; its schema is written when the type derives schemars::JsonSchema and kafka-runtime has feature `schemars`",
                                payload.type_name
                            )
                            },
                        )
                    }
                }
                for (name, schema) in &payload.definitions {
                    self.schemas
                        .entry(name.clone())
                        .or_insert_with(|| schema.clone());
                }
                self.message_objects.insert(message.clone(), object);
                self.messages.insert(key, message.clone());
                message
            }
        };
        if let Some(messages) = self.channel_objects[channel]
            .get_mut("messages")
            .and_then(Value::as_object_mut)
        {
            messages.insert(
                message.clone(),
                json!({ "$ref": format!("#/components/messages/{message}") }),
            );
        }
        message
    }

    fn operation(
        &mut self,
        name: &str,
        action: &str,
        channel: &str,
        messages: &[String],
        summary: String,
        bindings: Value,
    ) {
        let operation = unique(id(name), &self.operations);
        let mut refs: Vec<Value> = Vec::new();
        for message in messages {
            let reference = json!({ "$ref": format!("#/channels/{channel}/messages/{message}") });
            if !refs.contains(&reference) {
                refs.push(reference);
            }
        }
        self.operations.insert(
            operation,
            json!({
                "action": action,
                "channel": { "$ref": format!("#/channels/{channel}") },
                "summary": summary,
                "messages": refs,
                "bindings": bindings,
            }),
        );
    }

    fn finish(self, info: &Info) -> Value {
        let mut components = Map::new();
        if !self.message_objects.is_empty() {
            components.insert("messages".into(), Value::Object(self.message_objects));
        }
        if !self.schemas.is_empty() {
            components.insert("schemas".into(), Value::Object(self.schemas));
        }
        if !self.security.is_empty() {
            components.insert("securitySchemes".into(), Value::Object(self.security));
        }
        let mut doc = json!({
            "asyncapi": "3.0.0",
            "info": {
                "title": info.title,
                "version": info.version,
                "description": "Kafka channels of a kafka-rs application (trpc_go.yaml services), written by kafka-rs.",
            },
            "defaultContentType": "application/json",
        });
        if !self.server_objects.is_empty() {
            doc["servers"] = Value::Object(self.server_objects);
        }
        if !self.channel_objects.is_empty() {
            doc["channels"] = Value::Object(self.channel_objects);
        }
        if !self.operations.is_empty() {
            doc["operations"] = Value::Object(self.operations);
        }
        if !components.is_empty() {
            doc["components"] = Value::Object(components);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_what_asyncapi_accepts() {
        assert_eq!(id("trpc.app.server-1"), "trpc_app_server-1");
        assert_eq!(id(""), "_");
        assert_eq!(short_name("app::orders::Order"), "Order");
        assert_eq!(short_name("alloc::vec::Vec<app::Line>"), "Vec<app::Line>");
        assert_eq!(id(short_name("alloc::vec::Vec<u8>")), "Vec_u8_");
    }

    #[test]
    fn one_channel_per_topic_and_cluster_one_operation_per_service_and_topic() {
        let config = Config::from_yaml_str(
            "server:\n  service:\n    - name: a\n      address: h:1?topics=t,u&group=g\n      protocol: kafka\n    - name: b\n      address: other:1?topics=t&group=g2&tlsInsecureSkipVerify=true\n      protocol: kafka\nclient:\n  service:\n    - name: p\n      target: kafka://h:1?topic=t\n    - name: q\n      target: kafka://h:1?clientid=q\n",
        )
        .unwrap();
        let doc = document(&config, &Info::new("t", "1"));
        let channels = doc["channels"].as_object().unwrap();
        assert_eq!(channels.len(), 3, "{channels:?}");
        assert_eq!(
            doc["channels"]["t_2"]["servers"][0]["$ref"],
            "#/servers/kafka_2"
        );
        assert_eq!(doc["servers"]["kafka_2"]["protocol"], "kafka-secure");
        let operations = doc["operations"].as_object().unwrap();
        let names: Vec<&str> = operations.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["a_receive_t", "a_receive_u", "b_receive_t", "p_send"]
        );
        assert_eq!(
            doc["operations"]["p_send"]["channel"]["$ref"],
            "#/channels/t"
        );
        let message = &doc["operations"]["p_send"]["messages"][0]["$ref"];
        assert_eq!(message, "#/channels/t/messages/unspecified");
    }
}
