//! The runtime refuses to start when a declared producer cannot be built,
//! naming the declaration and what is wrong. (A binary of its own: every
//! producer registered in a binary is built at startup.)

use std::sync::Arc;

use kafka_runtime::config::Config;
use kafka_runtime::{kafka_producer, Inject, RawProducer, RuntimeHandle};

#[kafka_producer(service = "trpc.test.not.configured")]
#[allow(dead_code)]
struct Missing(RawProducer);

#[kafka_producer(target = "kafka://?topic=orders")]
#[allow(dead_code)]
struct NoBroker(RawProducer);

#[tokio::test]
async fn unknown_service_and_bad_target_stop_startup() {
    let err = RuntimeHandle::start(Arc::new(Config::default()))
        .await
        .unwrap_err()
        .to_string();
    eprintln!("{err}");
    assert!(err.contains("trpc.test.not.configured"), "{err}");
    assert!(
        err.contains("Missing (tests/producer_startup_errors.rs:"),
        "{err}"
    );
    assert!(err.contains("producer_startup_errors.rs"), "{err}");
    assert!(
        err.contains("NoBroker (tests/producer_startup_errors.rs:"),
        "{err}"
    );
    assert!(err.contains("no brokers"), "{err}");
    // Both problems are reported at once.
    let _: fn(&RuntimeHandle) -> Result<Missing, _> = Missing::inject;
    let _: fn(&RuntimeHandle) -> Result<NoBroker, _> = NoBroker::inject;
}
