//! A handler without `service` serves every Kafka service (seed Q1).

mod consumer_support;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

static SEEN: Seen = Seen::new();

#[kafka_consumer]
async fn everything(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    // Record which service delivered it in place of the payload.
    SEEN.push(&msg.topic, msg.partition, msg.offset, ctx.service());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_handler_serves_every_service() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let (topic_a, topic_b) = (unique_name("all-a"), unique_name("all-b"));
    broker.create_topic(&topic_a, 1).await.unwrap();
    broker.create_topic(&topic_b, 1).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[
            Service::new("trpc.anyname.will.works", &topic_a),
            Service::new("trpc.another.name", &topic_b),
        ],
    );
    let running = start(config, &["trpc.anyname.will.works", "trpc.another.name"]);
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic_a, Some(0), "k", "a").await;
    produce(&producer, &topic_b, Some(0), "k", "b").await;
    eventually("both services handled their record", || {
        SEEN.count(&topic_a) == 1 && SEEN.count(&topic_b) == 1
    })
    .await;
    running.stop().await.unwrap();
    assert_eq!(SEEN.payloads(&topic_a), ["trpc.anyname.will.works"]);
    assert_eq!(SEEN.payloads(&topic_b), ["trpc.another.name"]);
}
