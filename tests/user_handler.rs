//! How to test your own handlers with nothing installed: a template to copy.
//!
//! It uses `kafka-runtime` alone (no helper of this repository), with the
//! `testing` feature in your `[dev-dependencies]`:
//!
//! ```toml
//! [dev-dependencies]
//! kafka-runtime = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! Two levels:
//! - a unit test calls the handler `fn` directly (the macro keeps it), with
//!   a hand-made [`Context`] and value;
//! - an end-to-end test starts an [`EmbeddedBroker`] (librdkafka's mock
//!   cluster, in process), writes records with a producer, runs `serve()` on
//!   a `trpc_go.yaml` text that points at the broker, and stops it once the
//!   handler saw them.
//!
//! Every end-to-end test starts its own broker, so topic and group names
//! cannot collide between tests.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::testing::EmbeddedBroker;
use kafka_runtime::{
    kafka_consumer, kafka_producer, Context, HandlerError, Producer, RawContext, RuntimeHandle,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    amount: u32,
}

/// What the handler did, as `(topic, order id)`: the observable effect the
/// tests check. A real handler would write to a database or a producer.
static BILLED: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

fn billed() -> Vec<(String, u32)> {
    BILLED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The handler under test: bills an order, refuses one without an amount.
#[kafka_consumer(service = "trpc.shop.billing")]
async fn bill(ctx: Context, order: Order) -> Result<(), HandlerError> {
    if order.amount == 0 {
        return Err(HandlerError::msg(format!(
            "order {} has no amount",
            order.id
        )));
    }
    BILLED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((ctx.raw().topic.to_string(), order.id));
    Ok(())
}

/// The producer the end-to-end test writes orders with.
#[kafka_producer(service = "trpc.shop.orders.producer")]
struct Orders(Producer<Order>);

#[tokio::test]
async fn bill_refuses_an_order_without_amount() {
    let ctx = Context::for_test("trpc.shop.billing", RawContext::for_test("unit", 0, 7));
    let err = bill(ctx, Order { id: 1, amount: 0 }).await.unwrap_err();
    assert_eq!(err.to_string(), "order 1 has no amount");

    let ctx = Context::for_test("trpc.shop.billing", RawContext::for_test("unit", 0, 8));
    bill(ctx, Order { id: 2, amount: 5 }).await.unwrap();
    assert!(billed().contains(&("unit".to_owned(), 2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn bill_handles_orders_from_the_broker() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic("shop.orders", 2)?;
    let bootstrap = broker.bootstrap_servers();
    // `maxRetry=-1`: a refused order is logged and skipped, not retried.
    let config = Config::from_yaml_str(&format!(
        r#"
server:
  service:
    - name: trpc.shop.billing
      address: {bootstrap}?topics=shop.orders&group=billing&initial=oldest&maxRetry=-1
      protocol: kafka
      timeout: 1000
client:
  service:
    - name: trpc.shop.orders.producer
      target: kafka://{bootstrap}?topic=shop.orders&partitioner=hash
      timeout: 5000
"#
    ))?;

    // Write the orders first (a producer-only runtime), then serve.
    let producers = RuntimeHandle::start(Arc::new(config.clone())).await?;
    let Orders(orders) = producers.get::<Orders>()?;
    for (id, amount) in [(100, 30), (101, 0), (102, 12), (103, 7)] {
        let order = Order { id, amount };
        orders
            .produce(id.to_string(), &order, Headers::new())
            .await?;
    }
    producers.shutdown(Duration::from_secs(5)).await?;

    let from_broker = |id| ("shop.orders".to_owned(), id);
    kafka_runtime::serve()
        .config(config)
        .with_graceful_shutdown(until(Duration::from_secs(30), move || {
            let billed = billed();
            [100, 102, 103]
                .iter()
                .all(|id| billed.contains(&from_broker(*id)))
        }))
        .await?;

    let billed = billed();
    for id in [100, 102, 103] {
        assert!(
            billed.contains(&from_broker(id)),
            "order {id} not billed: {billed:?}"
        );
    }
    assert!(
        !billed.contains(&from_broker(101)),
        "the order without amount was billed"
    );
    Ok(())
}

/// Resolves once `done()` holds, or after `deadline` so a broken handler
/// fails the test (by its assertions) instead of hanging it.
async fn until(deadline: Duration, done: impl Fn() -> bool) {
    let end = Instant::now() + deadline;
    while !done() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
