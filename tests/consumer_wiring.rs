//! serve() refuses to start on every handler/config mismatch, with a message
//! naming the service and what to write instead. Wiring is checked before
//! anything connects, so these need no broker.

mod consumer_support;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Error, HandlerError, Message};

#[kafka_consumer(service = "wiring.dup")]
async fn dup_a(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "wiring.dup")]
async fn dup_b(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "wiring.batch", batch)]
async fn batch_handler(_msgs: Vec<Message>) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "wiring.single")]
async fn single_handler(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

const NOWHERE: &str = "127.0.0.1:1";

async fn wiring_error(services: &[Service], only: Option<&[&str]>) -> String {
    let mut serve = kafka_runtime::serve()
        .config(config(NOWHERE, services))
        .with_graceful_shutdown(std::future::pending());
    if let Some(only) = only {
        serve = serve.only_services(only.iter().copied());
    }
    let result = tokio::time::timeout(WAIT, serve)
        .await
        .expect("a wiring error is immediate");
    match result {
        Err(Error::Wiring(message)) => message,
        other => panic!("expected a wiring error, got {other:?}"),
    }
}

#[tokio::test]
async fn two_handlers_for_one_service() {
    let msg = wiring_error(&[Service::new("wiring.dup", "t")], Some(&["wiring.dup"])).await;
    assert!(msg.contains("`wiring.dup` has 2 handlers"), "{msg}");
    assert!(msg.contains("dup_a") && msg.contains("dup_b"), "{msg}");
}

#[tokio::test]
async fn a_batch_handler_on_a_service_without_batch() {
    let msg = wiring_error(
        &[Service::new("wiring.batch", "t")],
        Some(&["wiring.batch"]),
    )
    .await;
    assert!(msg.contains("batch handler"), "{msg}");
    assert!(msg.contains("has no `batch`"), "{msg}");
    assert!(msg.contains("add `batch=N`"), "{msg}");
}

#[tokio::test]
async fn a_single_handler_on_a_service_with_batch() {
    let msg = wiring_error(
        &[Service::new("wiring.single", "t").key("batch", 5)],
        Some(&["wiring.single"]),
    )
    .await;
    assert!(msg.contains("sets `batch=5`"), "{msg}");
    assert!(msg.contains("takes one message"), "{msg}");
}

#[tokio::test]
async fn a_service_without_a_handler() {
    let msg = wiring_error(&[Service::new("wiring.none", "t")], Some(&["wiring.none"])).await;
    assert!(msg.contains("`wiring.none` has no handler"), "{msg}");
    assert!(
        msg.contains("#[kafka_consumer(service = \"wiring.none\")]"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_handler_for_a_missing_service() {
    // Without only_services every registered handler must find its service.
    let msg = wiring_error(
        &[
            Service::new("wiring.single", "t"),
            Service::new("wiring.batch", "t").key("batch", 2),
            Service::new("wiring.dupe", "t"),
        ],
        None,
    )
    .await;
    assert!(
        msg.contains("bound to service `wiring.dup`, which is not a Kafka service"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `wiring.dupe`?"), "{msg}");
}

#[tokio::test]
async fn only_services_must_name_configured_services() {
    let msg = wiring_error(
        &[Service::new("wiring.single", "t")],
        Some(&["wiring.nope"]),
    )
    .await;
    assert!(
        msg.contains("`wiring.nope`, which is not a Kafka service"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_bad_address_stops_serve_with_a_config_error() {
    let yaml = "server:\n  service:\n    - name: wiring.single\n      address: 127.0.0.1:1?topics=t&group=g&maxRetri=2\n      protocol: kafka\n";
    let result = tokio::time::timeout(
        WAIT,
        kafka_runtime::serve()
            .config_yaml(yaml)
            .only_services(["wiring.single"])
            .with_graceful_shutdown(std::future::pending()),
    )
    .await
    .expect("a config error is immediate");
    match result {
        Err(Error::Config(e)) => assert!(e.to_string().contains("maxRetri"), "{e}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_config_file_is_a_config_error() {
    let result = kafka_runtime::serve()
        .config_path("/nonexistent/trpc_go.yaml")
        .with_graceful_shutdown(std::future::pending())
        .await;
    match result {
        Err(Error::Config(e)) => assert!(e.to_string().contains("not found"), "{e}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
