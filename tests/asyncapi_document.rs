//! The AsyncAPI document of an application, as the macros register its
//! handlers and producers: every payload type on its channel, with the JSON
//! Schema of the types that derive one, and nothing for unrelated services.
//! No broker: the document is written before the runtime connects.

use kafka_runtime::asyncapi::{document, Info};
use kafka_runtime::config::Config;
use kafka_runtime::{kafka_consumer, kafka_producer, Context, HandlerError, Producer, RawProducer};
use serde_json::{json, Value};

/// An order, as the orders topic carries it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Order {
    id: u64,
    lines: Vec<Line>,
}

/// One line of an order.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Line {
    sku: String,
    quantity: u32,
}

/// A serde type without a schema: named in the document, no payload schema.
#[derive(serde::Serialize, serde::Deserialize)]
struct Refund {
    order: u64,
}

#[kafka_consumer(service = "svc.orders")]
async fn on_order(_ctx: Context, _order: Order) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "svc.refunds", batch)]
async fn on_refunds(_ctx: Context, _refunds: Vec<Refund>) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "svc.audit")]
async fn on_audit(_ctx: Context, _text: String) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_producer(service = "svc.invoices")]
struct Invoices(Producer<Order>);

#[kafka_producer(service = "svc.raw")]
struct Raw(RawProducer);

const YAML: &str = "
server:
  service:
    - name: svc.orders
      address: 127.0.0.1:9092?topics=orders&group=billing
      protocol: kafka
    - name: svc.refunds
      address: 127.0.0.1:9092?topics=refunds&group=billing&batch=10
      protocol: kafka
    - name: svc.audit
      address: 127.0.0.1:9093?topics=audit&group=audit&mechanism=PLAIN&user=auditor&password=s3cr3t-value
      protocol: kafka
client:
  service:
    - name: svc.invoices
      target: kafka://127.0.0.1:9092?topic=invoices
    - name: svc.raw
      target: kafka://127.0.0.1:9092?topic=orders
";

fn the_document() -> Value {
    let config = Config::from_yaml_str(YAML).expect("the test configuration");
    document(&config, &Info::new("billing", "1.0.0"))
}

/// The messages an operation refers to, as `contentType` of the component.
fn operation_messages(doc: &Value, operation: &str) -> Vec<Value> {
    doc["operations"][operation]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("operation {operation} has messages: {doc:#}"))
        .iter()
        .map(|reference| {
            let path = reference["$ref"].as_str().expect("a $ref");
            let id = path.rsplit('/').next().unwrap();
            doc["components"]["messages"][id].clone()
        })
        .collect()
}

#[test]
fn handlers_payload_types_and_schemas_are_in_the_document() {
    let doc = the_document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(
        doc["info"],
        json!({
            "title": "billing",
            "version": "1.0.0",
            "description": "Kafka channels of a kafka-rs application (trpc_go.yaml services), written by kafka-rs.",
        })
    );

    let orders = operation_messages(&doc, "svc_orders_receive_orders");
    assert_eq!(orders.len(), 1, "{doc:#}");
    assert_eq!(orders[0]["contentType"], "application/json");
    assert_eq!(orders[0]["title"], "asyncapi_document::Order");
    assert_eq!(
        orders[0]["payload"],
        json!({ "$ref": "#/components/schemas/Order" })
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Order"]["type"], "object");
    assert_eq!(
        schemas["Order"]["description"],
        "An order, as the orders topic carries it."
    );
    assert_eq!(schemas["Order"]["required"], json!(["id", "lines"]));
    assert_eq!(
        schemas["Order"]["properties"]["lines"]["items"],
        json!({ "$ref": "#/components/schemas/Line" })
    );
    assert_eq!(schemas["Line"]["required"], json!(["sku", "quantity"]));

    let summary = doc["operations"]["svc_orders_receive_orders"]["summary"]
        .as_str()
        .unwrap();
    assert_eq!(
        summary,
        "consumer service `svc.orders`, group `billing`, handler `asyncapi_document::on_order`"
    );

    // A batch handler: the element type, named without a schema.
    let refunds = operation_messages(&doc, "svc_refunds_receive_refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["title"], "asyncapi_document::Refund");
    assert_eq!(refunds[0]["contentType"], "application/json");
    assert!(refunds[0].get("payload").is_none(), "{:#}", refunds[0]);
    assert!(doc["operations"]["svc_refunds_receive_refunds"]["summary"]
        .as_str()
        .unwrap()
        .ends_with("(in batches)"));

    let audit = operation_messages(&doc, "svc_audit_receive_audit");
    assert_eq!(audit[0]["contentType"], "text/plain");
    assert_eq!(audit[0]["payload"]["type"], "string");
}

#[test]
fn producers_payload_types_share_the_channels() {
    let doc = the_document();
    let invoices = operation_messages(&doc, "svc_invoices_send");
    assert_eq!(invoices.len(), 1);
    // As it serializes: the same Order schema as the handler's.
    assert_eq!(
        invoices[0]["payload"],
        json!({ "$ref": "#/components/schemas/Order" })
    );
    assert_eq!(
        doc["operations"]["svc_invoices_send"]["summary"],
        "producer `svc.invoices`, declared by Invoices"
    );

    // The raw producer writes to `orders`: the channel carries both the
    // handler's Order and the producer's bytes.
    let raw = operation_messages(&doc, "svc_raw_send");
    assert_eq!(raw[0]["contentType"], "application/octet-stream");
    assert_eq!(raw[0]["payload"]["format"], "binary");
    let mut on_orders: Vec<&str> = doc["channels"]["orders"]["messages"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    on_orders.sort_unstable();
    assert_eq!(on_orders, ["Order", "bytes"]);

    let mut channels: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["audit", "invoices", "orders", "refunds"]);
}

#[test]
fn credentials_never_appear_but_the_scheme_does() {
    let doc = the_document();
    let text = doc.to_string();
    assert!(!text.contains("s3cr3t-value"), "{doc:#}");
    assert!(!text.contains("auditor"), "{doc:#}");
    let audit_server = doc["channels"]["audit"]["servers"][0]["$ref"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(doc["servers"][&audit_server]["host"], "127.0.0.1:9093");
    assert_eq!(
        doc["servers"][&audit_server]["security"],
        json!([{ "$ref": "#/components/securitySchemes/plain" }])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["plain"]["type"],
        "plain"
    );
}

/// Keeps the producers' declarations used.
#[allow(dead_code)]
fn _declared(invoices: Invoices, raw: Raw) {
    let _ = (invoices.0, raw.0);
}
