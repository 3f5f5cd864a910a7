//! Producer structs injected from the YAML (`client.service[]`) and from
//! inline targets, shared clients, and flush on shutdown. One test: the
//! producers registered in this binary and the address registry are global.

mod producer_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::config::{register_producer_addr_config, Config};
use kafka_runtime::producer::{AsyncCallbacks, Headers};
use kafka_runtime::rdkafka::message::Message;
use kafka_runtime::{kafka_producer, Inject, Producer, RawProducer, RuntimeHandle};
use producer_support::{headers_of, Fixture};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
}

#[kafka_producer(service = "trpc.test.producer.orders")]
struct Orders(Producer<Order>);

/// The seed's Q11: an inline target whose settings are registered in code.
#[kafka_producer(target = "kafka://fake_inject_audit_address")]
#[derive(Clone)]
struct Audit(RawProducer);

#[kafka_producer]
struct Outbox {
    #[producer(service = "trpc.test.producer.orders")]
    orders: Producer<Order>,
    #[producer(service = "trpc.test.producer.orders.copy")]
    orders_copy: Producer<Order>,
    audit: Audit,
}

fn yaml(bootstrap: &str, topic: &str) -> String {
    format!(
        r#"
server:
  service:
    - name: trpc.test.not.kafka
      protocol: trpc
client:
  service:
    - name: trpc.test.producer.orders
      target: kafka://{bootstrap}?topic={topic}&compression=none&clientid=inject-test
      timeout: 5000
    - name: trpc.test.producer.orders.copy
      target: kafka://{bootstrap}?topic={topic}&compression=none&clientid=inject-test
      timeout: 5000
    - name: trpc.test.other.protocol
      target: ip://127.0.0.1:8000
"#
    )
}

#[tokio::test]
async fn structs_are_injected_from_yaml_and_inline_targets_and_flushed_on_shutdown() {
    let orders_fx = Fixture::new("producer-inject-orders", 2).await;
    let audit_topic = kafka_rs::unique_name("producer-inject-audit");
    orders_fx
        .broker
        .create_topic(&audit_topic, 1)
        .await
        .unwrap();
    let mut audit_config = orders_fx.plain_config();
    audit_config.topic = Some(audit_topic.clone());
    register_producer_addr_config("fake_inject_audit_address", audit_config);

    let config = Config::from_yaml_str(&yaml(&orders_fx.broker.bootstrap(), &orders_fx.topic))
        .expect("the YAML is valid");
    let runtime = RuntimeHandle::start(Arc::new(config)).await.unwrap();
    // Two services with identical targets share one librdkafka producer; the
    // inline target has other settings and gets its own.
    assert_eq!(runtime.__client_count(), 2);

    let outbox: Outbox = runtime.get().unwrap();
    let d = outbox
        .orders
        .send_message(&orders_fx.topic, "o-1", &Order { id: 1 }, Headers::new())
        .await
        .unwrap();
    let message = orders_fx.read_at(d.partition, d.offset).await;
    assert_eq!(
        serde_json::from_slice::<Order>(message.payload().unwrap()).unwrap(),
        Order { id: 1 }
    );

    let Orders(orders) = Orders::inject(&runtime).unwrap();
    orders
        .produce("o-2", &Order { id: 2 }, Headers::from([("via", "tuple")]))
        .await
        .unwrap();

    let audit = outbox.audit.0.clone();
    assert_eq!(audit.topic(), Some(audit_topic.as_str()));
    audit.produce("a", "audited", Headers::new()).await.unwrap();

    // Flush on shutdown: records queued asynchronously are all acknowledged,
    // and their callbacks have run, by the time shutdown returns.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&acknowledged);
    let copy = outbox
        .orders_copy
        .with_callbacks(AsyncCallbacks::new().on_success(move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
    for id in 100..300 {
        copy.async_send_message(&orders_fx.topic, "bulk", &Order { id }, Headers::new())
            .await
            .unwrap();
    }
    runtime.shutdown(Duration::from_secs(30)).await.unwrap();
    assert_eq!(acknowledged.load(Ordering::SeqCst), 200);

    let all = orders_fx.read_all(2, 202).await;
    let ids: std::collections::BTreeSet<u32> = all
        .iter()
        .map(|m| {
            serde_json::from_slice::<Order>(m.payload().unwrap())
                .unwrap()
                .id
        })
        .collect();
    assert_eq!(ids.len(), 202);
    assert!(all
        .iter()
        .any(|m| headers_of(m) == vec![("via".to_owned(), b"tuple".to_vec())]));

    let audit_fx = Fixture {
        broker: orders_fx.broker,
        topic: audit_topic,
    };
    let audited = audit_fx.read_at(0, 0).await;
    assert_eq!(audited.payload(), Some(&b"audited"[..]));
}
