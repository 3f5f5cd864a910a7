//! AsyncAPI 3.0 documents of an application's Kafka channels.
//!
//! [`document`] describes a configuration's services: a server per cluster
//! (its bootstrap brokers, `kafka` or `kafka-secure`, its SASL or mutual-TLS
//! scheme), a channel per topic, a `receive` operation per consumer
//! service and topic (with the group in its Kafka binding), a `send`
//! operation per producer with a `topic`. Inside an application it also
//! knows the handlers and producers linked into the binary
//! (`#[kafka_consumer]`, `#[kafka_producer]`): their payload types become the
//! channels' messages, with the type's JSON Schema where the type derives
//! `schemars::JsonSchema` and kafka-runtime has feature `schemars` (the
//! schemas go to `components.schemas`); otherwise the message names the type
//! and its content type. Secrets never appear (not even user names).
//!
//! Two ways to get one: `kafka-config-check --asyncapi trpc_go.yaml`
//! (from the configuration alone: no payload types), or from the application
//! itself, with every payload type: set `KAFKA_RS_ASYNCAPI=path.json` and
//! start it (`serve()` or [`RuntimeHandle::start`](crate::RuntimeHandle::start)
//! writes the document there before connecting), or call [`document`].
//!
//! ```
//! use kafka_runtime::asyncapi::{document, Info};
//! use kafka_runtime::config::Config;
//!
//! let config = Config::from_yaml_str("
//! server:
//!   service:
//!     - name: trpc.app.server.orders
//!       address: 127.0.0.1:9092?topics=orders&group=billing
//!       protocol: kafka
//! client:
//!   service:
//!     - name: trpc.app.server.invoices
//!       target: kafka://127.0.0.1:9092?topic=invoices
//! ").unwrap();
//! let doc = document(&config, &Info::new("billing", "1.4.0"));
//! assert_eq!(doc["asyncapi"], "3.0.0");
//! assert_eq!(doc["channels"]["orders"]["address"], "orders");
//! let receive = &doc["operations"]["trpc_app_server_orders_receive_orders"];
//! assert_eq!(receive["action"], "receive");
//! assert_eq!(receive["bindings"]["kafka"]["groupId"]["enum"][0], "billing");
//! assert_eq!(doc["operations"]["trpc_app_server_invoices_send"]["action"], "send");
//! ```

mod document;
#[doc(hidden)]
pub mod probe;

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::config::{Config, ConfigError};
use crate::producer::ProducerSource;

pub use document::document;

/// The environment variable that makes an application write its AsyncAPI
/// document: its path (`-` is standard output), read when the runtime
/// starts ([`crate::RuntimeHandle::start`], which `serve()` calls).
pub const ASYNCAPI_ENV: &str = "KAFKA_RS_ASYNCAPI";

/// `info` of the document: the application's title and version.
///
/// ```
/// let info = kafka_runtime::asyncapi::Info::new("billing", "1.4.0");
/// assert_eq!((info.title.as_str(), info.version.as_str()), ("billing", "1.4.0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// The application's name.
    pub title: String,
    /// The version of its API.
    pub version: String,
}

impl Info {
    /// An `info` with this title and version.
    ///
    /// ```
    /// let info = kafka_runtime::asyncapi::Info::new("billing", "2");
    /// assert_eq!(info.version, "2");
    /// ```
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Info {
            title: title.into(),
            version: version.into(),
        }
    }
}

/// What a channel carries: a payload type, how it is encoded, and its JSON
/// Schema when the type provides one.
///
/// ```
/// let bytes = kafka_runtime::asyncapi::Payload::bytes();
/// assert_eq!(bytes.content_type, "application/octet-stream");
/// assert!(bytes.schema.is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Payload {
    /// The Rust type (or `bytes`, `text`).
    pub type_name: String,
    /// The message's content type.
    pub content_type: &'static str,
    /// Its schema (an AsyncAPI Schema Object, possibly a `$ref` into
    /// `#/components/schemas/`), when known.
    pub schema: Option<Value>,
    /// The schemas `schema` refers to, by name.
    pub definitions: Map<String, Value>,
}

impl Payload {
    /// Raw bytes (`Message`, `Bytes`, `Vec<u8>`, `RawProducer`).
    ///
    /// ```
    /// assert_eq!(kafka_runtime::asyncapi::Payload::bytes().type_name, "bytes");
    /// ```
    pub fn bytes() -> Self {
        Payload {
            type_name: "bytes".to_owned(),
            content_type: "application/octet-stream",
            schema: Some(serde_json::json!({
                "type": "string",
                "format": "binary",
                "description": "the record's value as raw bytes"
            })),
            definitions: Map::new(),
        }
    }

    /// UTF-8 text (`String`).
    ///
    /// ```
    /// assert_eq!(kafka_runtime::asyncapi::Payload::text().content_type, "text/plain");
    /// ```
    pub fn text() -> Self {
        Payload {
            type_name: "text".to_owned(),
            content_type: "text/plain",
            schema: Some(serde_json::json!({
                "type": "string",
                "description": "the record's value as UTF-8 text"
            })),
            definitions: Map::new(),
        }
    }

    /// A serde type sent as JSON, known by name only.
    ///
    /// ```
    /// let p = kafka_runtime::asyncapi::Payload::json_named("app::Order");
    /// assert_eq!((p.content_type, p.schema), ("application/json", None));
    /// ```
    pub fn json_named(type_name: &str) -> Self {
        Payload {
            type_name: type_name.to_owned(),
            content_type: "application/json",
            schema: None,
            definitions: Map::new(),
        }
    }

    /// A type that a codec other than JSON carries (`codec = protobuf`,
    /// `raw`, or the application's own), known by name and content type.
    ///
    /// ```
    /// let p = kafka_runtime::asyncapi::Payload::encoded("app::Order", "application/x-protobuf");
    /// assert_eq!((p.content_type, p.schema), ("application/x-protobuf", None));
    /// ```
    pub fn encoded(type_name: &str, content_type: &'static str) -> Self {
        Payload {
            type_name: type_name.to_owned(),
            content_type,
            schema: None,
            definitions: Map::new(),
        }
    }

    /// A type the runtime does not know how a producer encodes.
    pub(crate) fn unknown(type_name: &str) -> Self {
        Payload {
            type_name: type_name.to_owned(),
            content_type: "application/octet-stream",
            schema: None,
            definitions: Map::new(),
        }
    }

    /// A serde type with its JSON Schema (draft-07, the AsyncAPI Schema
    /// Object's base), its definitions under `#/components/schemas/`: as
    /// the type serializes (`serialize`, producers) or deserializes.
    #[cfg(feature = "schemars")]
    pub(crate) fn json_with_schema<T: schemars::JsonSchema>(serialize: bool) -> Self {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
        let settings = if serialize {
            settings.for_serialize()
        } else {
            settings.for_deserialize()
        };
        let mut generator = settings.into_generator();
        let schema = generator.subschema_for::<T>();
        Payload {
            type_name: std::any::type_name::<T>().to_owned(),
            content_type: "application/json",
            schema: Some(schema.to_value()),
            definitions: generator.take_definitions(true),
        }
    }
}

/// The payload type of a `#[kafka_consumer]` handler. Generated code
/// submits these; the document reads them.
#[derive(Debug)]
pub struct ConsumedPayload {
    /// The handler's `service = "..."`; `None` serves every Kafka service.
    pub service: Option<&'static str>,
    /// The handler's path.
    pub handler: &'static str,
    /// Whether it takes a batch.
    pub batch: bool,
    /// Describes the payload type.
    pub describe: fn() -> Payload,
}

impl ConsumedPayload {
    /// A registration; `const` so generated code can submit it statically.
    ///
    /// ```
    /// use kafka_runtime::asyncapi::{ConsumedPayload, Payload};
    /// let r = ConsumedPayload::new(Some("svc"), "app::handle", false, Payload::text);
    /// assert_eq!((r.describe)().type_name, "text");
    /// ```
    pub const fn new(
        service: Option<&'static str>,
        handler: &'static str,
        batch: bool,
        describe: fn() -> Payload,
    ) -> Self {
        ConsumedPayload {
            service,
            handler,
            batch,
            describe,
        }
    }
}

inventory::collect!(ConsumedPayload);

/// The payload type of one `#[kafka_producer]` producer. Generated code
/// submits these; the document reads them.
#[derive(Debug)]
pub struct ProducedPayload {
    /// Where the producer's settings come from.
    pub source: ProducerSource,
    /// The declaring type (and field).
    pub declared_by: &'static str,
    /// Describes the payload type.
    pub describe: fn() -> Payload,
}

impl ProducedPayload {
    /// A registration; `const` so generated code can submit it statically.
    ///
    /// ```
    /// use kafka_runtime::asyncapi::{Payload, ProducedPayload};
    /// use kafka_runtime::producer::ProducerSource;
    /// let r = ProducedPayload::new(ProducerSource::Service("p"), "Orders", Payload::bytes);
    /// assert_eq!(r.declared_by, "Orders");
    /// ```
    pub const fn new(
        source: ProducerSource,
        declared_by: &'static str,
        describe: fn() -> Payload,
    ) -> Self {
        ProducedPayload {
            source,
            declared_by,
            describe,
        }
    }
}

inventory::collect!(ProducedPayload);

/// Writes the document of `config` where [`ASYNCAPI_ENV`] says, if it is
/// set: the runtime calls this when it starts.
pub(crate) fn write_if_asked(config: &Config) -> Result<(), ConfigError> {
    let Some(path) = std::env::var_os(ASYNCAPI_ENV).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let title = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "kafka-rs application".to_owned());
    let version =
        std::env::var("KAFKA_RS_ASYNCAPI_VERSION").unwrap_or_else(|_| "unversioned".to_owned());
    let doc = document(config, &Info::new(title, version));
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    let path = PathBuf::from(path);
    let written = if path.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().lock().write_all(text.as_bytes())
    } else {
        std::fs::write(&path, text)
    };
    written.map_err(|e| {
        ConfigError::new(
            None,
            format!(
                "{ASYNCAPI_ENV}={}: cannot write the AsyncAPI document: {e}",
                path.display()
            ),
        )
    })?;
    tracing::info!(path = %path.display(), "AsyncAPI document written");
    Ok(())
}
