//! Two Kafka services with different handlers in one process (the seed's
//! `consumer_with_mulit_service`), wired without `only_services`.

mod consumer_support;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError};

static ONE: Seen = Seen::new();
static TWO: Seen = Seen::new();

#[kafka_consumer(service = "multi.one")]
async fn one(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    ONE.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "multi.two")]
async fn two(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    TWO.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_service_runs_its_own_handler() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let (topic_one, topic_two) = (unique_name("multi-one"), unique_name("multi-two"));
    broker.create_topic(&topic_one, 1).await.unwrap();
    broker.create_topic(&topic_two, 1).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[
            Service::new("multi.one", &topic_one),
            Service::new("multi.two", &topic_two),
        ],
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(
        kafka_runtime::serve()
            .config(config)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .into_future(),
    );
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic_one, Some(0), "k", "for one").await;
    produce(&producer, &topic_two, Some(0), "k", "for two").await;
    eventually("both services handled their record", || {
        ONE.count(&topic_one) == 1 && TWO.count(&topic_two) == 1
    })
    .await;
    let _ = tx.send(());
    serve.await.unwrap().unwrap();
    assert_eq!(ONE.count(&topic_two), 0);
    assert_eq!(TWO.count(&topic_one), 0);
}

use std::future::IntoFuture;
