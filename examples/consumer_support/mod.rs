//! What the consumer examples share: an embedded broker with a topic and a
//! few records, the example's YAML pointed at that broker, and a shutdown
//! signal that fires once the expected records were handled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::testing::EmbeddedBroker;

/// Records the handlers have handled.
pub static HANDLED: AtomicUsize = AtomicUsize::new(0);

/// How long an example waits for its records before giving up.
const DEADLINE: Duration = Duration::from_secs(60);

/// With `KAFKA_RS_EXAMPLE_CONFIG` set: serves that `trpc_go.yaml` until
/// SIGINT/SIGTERM, as the real service would (`serve()` alone), and returns
/// how that ended; `None` without it.
pub async fn serve_external() -> Option<Result<(), Box<dyn std::error::Error>>> {
    let path = std::env::var_os("KAFKA_RS_EXAMPLE_CONFIG")?;
    Some(
        kafka_runtime::serve()
            .config_path(path)
            .await
            .map_err(Into::into),
    )
}

/// Starts an embedded broker, creates `topic` and writes `payloads` to it.
pub async fn broker_with_records(
    topic: &str,
    payloads: &[String],
) -> Result<EmbeddedBroker, Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start()?;
    broker.create_topic(topic, 2)?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .create()?;
    for (i, payload) in payloads.iter().enumerate() {
        let key = format!("key-{i}");
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)?;
    }
    Ok(broker)
}

/// Loads the example's YAML and points every consumer service at `bootstrap`
/// (the programmatic override of an address; the seed's `RegisterAddrConfig`).
pub fn config(yaml_file: &str, bootstrap: &str) -> Result<Config, Box<dyn std::error::Error>> {
    let path = format!("{}/examples/{yaml_file}", env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::from_path(&path)?;
    for service in &mut config.consumers {
        service.config.common.brokers = vec![bootstrap.to_owned()];
    }
    Ok(config)
}

/// Resolves once `expected` records were handled (or after the deadline, so
/// a broken example ends instead of hanging; `main` then reports it).
pub async fn handled(expected: usize) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while HANDLED.load(Ordering::SeqCst) < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ok when `expected` records were handled.
pub fn check(expected: usize) -> Result<(), Box<dyn std::error::Error>> {
    let got = HANDLED.load(Ordering::SeqCst);
    if got >= expected {
        println!("handled {got} records; shut down cleanly");
        Ok(())
    } else {
        Err(format!("only {got} of {expected} records handled within {DEADLINE:?}").into())
    }
}
