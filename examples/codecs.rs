//! Payload codecs: Protobuf (prost) through `Producer<Order, Protobuf>` and
//! `#[kafka_consumer(codec = protobuf)]`; `codec = raw` and JSON (the
//! default) work the same way. A record that does not decode is not retried:
//! it goes to the dead-letter topic, read here by a second handler.
//!
//! ```text
//! cargo run --example codecs                      # embedded broker
//! KAFKA_RS_TEST_BOOTSTRAP=127.0.0.1:9092 cargo run --example codecs
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::codec::Protobuf;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{
    deadletter, kafka_consumer, kafka_producer, Context, HandlerError, Inject, Message, Producer,
    RuntimeHandle,
};

/// A Protobuf message; with prost-build it comes from a `.proto` file.
#[derive(Clone, PartialEq, prost::Message)]
struct Order {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(string, tag = "2")]
    item: String,
}

#[kafka_producer(service = "trpc.app.client.orders")]
struct Orders(Producer<Order, Protobuf>);

static ORDERS: AtomicUsize = AtomicUsize::new(0);
static DEAD_LETTERS: AtomicUsize = AtomicUsize::new(0);

#[kafka_consumer(service = "trpc.app.server.codecs", codec = protobuf)]
async fn handle(ctx: Context, order: Order) -> Result<(), HandlerError> {
    println!(
        "order {} ({}) at offset {}",
        order.id,
        order.item,
        ctx.raw().offset
    );
    ORDERS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[kafka_consumer(service = "trpc.app.server.codecs_dlt")]
async fn dead_letter(msg: Message) -> Result<(), HandlerError> {
    let header = |name| {
        msg.header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    println!(
        "dead letter: offset {} of {}: {} ({})",
        header(deadletter::OFFSET_HEADER),
        header(deadletter::TOPIC_HEADER),
        header(deadletter::REASON_HEADER),
        header(deadletter::ERROR_HEADER)
    );
    DEAD_LETTERS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _broker = kafka_rs::broker_for_example(
        &[("example_orders", 1), ("example_orders.dlt", 1)],
        "KAFKA_BOOTSTRAP",
    )
    .await?;
    let config = Arc::new(Config::from_yaml_str(include_str!("codecs.yaml"))?);
    let runtime = RuntimeHandle::start(config.clone()).await?;
    let Orders(orders) = Orders::inject(&runtime)?;
    for id in 1..=2 {
        let order = Order {
            id,
            item: format!("book {id}"),
        };
        orders
            .produce(format!("order-{id}"), &order, Headers::new())
            .await?;
    }
    // Not Protobuf: it goes to the dead-letter topic.
    runtime
        .producer("trpc.app.client.orders")?
        .send_message(
            "example_orders",
            "order-x",
            b"\xff\xff".as_slice(),
            Headers::new(),
        )
        .await?;
    orders
        .produce(
            "order-3",
            &Order {
                id: 3,
                item: "book 3".into(),
            },
            Headers::new(),
        )
        .await?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = || ORDERS.load(Ordering::SeqCst) >= 3 && DEAD_LETTERS.load(Ordering::SeqCst) >= 1;
    kafka_runtime::serve()
        .config((*config).clone())
        .with_graceful_shutdown(async move {
            while !done() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await?;
    let (handled, dead) = (
        ORDERS.load(Ordering::SeqCst),
        DEAD_LETTERS.load(Ordering::SeqCst),
    );
    if (handled, dead) != (3, 1) {
        return Err(format!("{handled} orders and {dead} dead letters, expected 3 and 1").into());
    }
    println!("3 orders handled, 1 undecodable record dead-lettered; shut down cleanly");
    Ok(())
}
