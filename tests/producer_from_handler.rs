//! A consumer handler receives a producer struct as a parameter (built once
//! by the runtime) and relays typed values; with `trpcMeta=true` on both
//! sides, the consumed record's headers reach the produced record through the
//! handler's metadata, without user code passing them along.

mod producer_support;

use std::future::IntoFuture;
use std::time::Duration;

use kafka_runtime::producer::{build_producer, Headers};
use kafka_runtime::rdkafka::message::Message;
use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Producer};
use producer_support::{headers_of, Fixture};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
}

#[kafka_producer(service = "trpc.test.relay.out")]
struct Relay(Producer<Order>);

#[kafka_consumer(service = "trpc.test.relay.in")]
async fn relay(order: Order, out: Relay) -> Result<(), HandlerError> {
    let relayed = Order {
        id: order.id + 1000,
        item: order.item,
    };
    out.0
        .produce(relayed.id.to_string(), &relayed, Headers::new())
        .await?;
    Ok(())
}

#[tokio::test]
async fn handlers_produce_through_injected_producers_with_their_metadata() {
    let input = Fixture::new("producer-relay-in", 1).await;
    let output_topic = kafka_rs::unique_name("producer-relay-out");
    input.broker.create_topic(&output_topic, 1).await.unwrap();
    let bootstrap = input.broker.bootstrap();
    let group = kafka_rs::unique_name("producer-relay-group");
    let yaml = format!(
        r#"
server:
  service:
    - name: trpc.test.relay.in
      address: {bootstrap}?topics={in_topic}&group={group}&initial=oldest&trpcMeta=true
      protocol: kafka
      timeout: 5000
client:
  service:
    - name: trpc.test.relay.out
      target: kafka://{bootstrap}?topic={output_topic}&compression=none&trpcMeta=true
      timeout: 5000
"#,
        in_topic = input.topic
    );

    let source = build_producer("source", &input.plain_config(), None).unwrap();
    let order = Order {
        id: 7,
        item: "book".into(),
    };
    source
        .send_message(
            &input.topic,
            "7",
            serde_json::to_vec(&order).unwrap(),
            Headers::from([("tenant", "acme")]),
        )
        .await
        .unwrap();

    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        kafka_runtime::serve()
            .config_yaml(yaml)
            .shutdown_timeout(Duration::from_secs(10))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let output = Fixture {
        broker: input.broker,
        topic: output_topic,
    };
    let relayed = output.read_at(0, 0).await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    assert_eq!(relayed.key(), Some(&b"1007"[..]));
    let value: Order = serde_json::from_slice(relayed.payload().unwrap()).unwrap();
    assert_eq!(
        value,
        Order {
            id: 1007,
            item: "book".into()
        }
    );
    assert!(
        headers_of(&relayed).contains(&("tenant".to_owned(), b"acme".to_vec())),
        "{:?}",
        headers_of(&relayed)
    );
}
