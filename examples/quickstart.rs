//! Quick start: a consumer, a producer and `serve()`, configured by a
//! `trpc_go.yaml`, on a broker embedded in the process. Nothing to install:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! `place_order` consumes typed orders from `quickstart.orders` and forwards
//! an audit line through an injected producer to `quickstart.audit`, where
//! `audit` consumes it. `main` writes three orders with a producer-only
//! runtime, serves until the three audit lines were handled, and exits.
//! In a real service `main` is only `kafka_runtime::serve().await`: it reads
//! `./trpc_go.yaml` and stops on SIGINT/SIGTERM.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::testing::EmbeddedBroker;
use kafka_runtime::{
    kafka_consumer, kafka_producer, Context, HandlerError, Inject, Producer, RawProducer,
    RuntimeHandle,
};
use serde::{Deserialize, Serialize};

/// The `trpc_go.yaml` of this example: the tRPC-Go Kafka plugin's language.
/// `${KAFKA_BOOTSTRAP}` is expanded from the environment.
const TRPC_GO_YAML: &str = r#"
server:
  service:
    - name: trpc.quickstart.orders
      address: ${KAFKA_BOOTSTRAP}?topics=quickstart.orders&group=quickstart-orders&initial=oldest
      protocol: kafka
      timeout: 1000
    - name: trpc.quickstart.audit
      address: ${KAFKA_BOOTSTRAP}?topics=quickstart.audit&group=quickstart-audit&initial=oldest
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.quickstart.orders.producer
      target: kafka://${KAFKA_BOOTSTRAP}?topic=quickstart.orders&partitioner=hash&compression=zstd
      timeout: 1000
    - name: trpc.quickstart.audit.producer
      target: kafka://${KAFKA_BOOTSTRAP}?topic=quickstart.audit
      timeout: 1000
"#;

const ORDERS: usize = 3;
static AUDITED: AtomicUsize = AtomicUsize::new(0);

// `JsonSchema` gives the type its schema in the application's AsyncAPI
// document (`KAFKA_RS_ASYNCAPI=path.json`); its doc comment becomes the
// schema's description.
/// A typed payload: records are JSON, decoded before the handler runs.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
struct Order {
    id: u32,
    item: String,
    amount: u32,
}

/// Writes orders (a typed producer for a `client.service[]` entry).
#[kafka_producer(service = "trpc.quickstart.orders.producer")]
struct Orders(Producer<Order>);

/// Writes raw audit lines; injected into the order handler.
#[kafka_producer(service = "trpc.quickstart.audit.producer")]
struct Audit(RawProducer);

/// Only `Ok` commits the record; an `Err` is retried after `retryInterval`.
#[kafka_consumer(service = "trpc.quickstart.orders")]
async fn place_order(ctx: Context, order: Order, audit: Audit) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    println!(
        "order handler: {order:?} from {}/{}@{}",
        raw.topic, raw.partition, raw.offset
    );
    let line = format!(
        "order {} ({} x{}) placed",
        order.id, order.item, order.amount
    );
    audit
        .0
        .produce(format!("order-{}", order.id), line, Headers::new())
        .await?;
    Ok(())
}

#[kafka_consumer(service = "trpc.quickstart.audit")]
async fn audit(line: String) -> Result<(), HandlerError> {
    println!("audit handler: {line}");
    AUDITED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic("quickstart.orders", 3)?;
    broker.create_topic("quickstart.audit", 1)?;
    std::env::set_var("KAFKA_BOOTSTRAP", broker.bootstrap_servers());
    println!("embedded broker at {}", broker.bootstrap_servers());
    let config = Config::from_yaml_str(TRPC_GO_YAML)?;

    // A producer-only runtime, as a program that only writes would use.
    let producers = RuntimeHandle::start(Arc::new(config.clone())).await?;
    let Orders(orders) = Orders::inject(&producers)?;
    for id in 1..=ORDERS as u32 {
        let order = Order {
            id,
            item: format!("book-{id}"),
            amount: id * 10,
        };
        orders
            .produce(format!("order-{id}"), &order, Headers::new())
            .await?;
    }
    producers.shutdown(Duration::from_secs(5)).await?;

    // Serve every consumer until the audit lines came through.
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(all_audited(Duration::from_secs(60)))
        .await?;
    let audited = AUDITED.load(Ordering::SeqCst);
    if audited < ORDERS {
        return Err(format!("only {audited} of {ORDERS} orders were audited within 60 s").into());
    }
    println!("handled {ORDERS} orders and {audited} audit lines; shut down cleanly");
    Ok(())
}

/// Resolves once every order was audited, or at the deadline so a broken
/// quick start ends with an error instead of hanging.
async fn all_audited(deadline: Duration) {
    let deadline = tokio::time::Instant::now() + deadline;
    while AUDITED.load(Ordering::SeqCst) < ORDERS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
