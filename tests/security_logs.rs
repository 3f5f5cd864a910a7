//! Passwords never reach the logs: every log line of a failing and of a
//! succeeding authenticated run (the runtime's `tracing` events, librdkafka's
//! own log lines with `debug=all`, routed through the `log` crate into the
//! same subscriber), and the logged error of `serve()` refusing a misspelt
//! secret key (`pasword=`, `tlsKeyPasword=`), is captured and searched for
//! the password.

mod secure_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_rs::{unique_name, wait_until};
use kafka_runtime::config::{parse_consumer_address, parse_producer_target};
use kafka_runtime::rdkafka::consumer::{Consumer, StreamConsumer};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::security::probe_authentication_async;
use secure_support::{consumer_address, create_topic, encode, producer_target, round_trip, Sasl};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures everything at every level; `log` records (librdkafka's lines
/// through rdkafka's default context) are bridged into the same subscriber.
fn capture() -> Buffer {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    buffer
}

#[tokio::test]
async fn passwords_are_absent_from_all_logs() {
    let logs = capture();
    let broker = Sasl::from_env();
    let wrong = format!("{}-wrong", broker.password);
    let debug = "&netDailTimeout=5000";

    // A failing run: wrong password, through the probe and through real
    // clients whose librdkafka logs everything (`debug=all`).
    let topic = unique_name("logs");
    let failing = format!(
        "mechanism=SCRAM-SHA-512&user={}&password={}{debug}",
        broker.user_512,
        encode(&wrong)
    );
    let failing_producer =
        parse_producer_target("p", &producer_target(&broker.bootstrap, &topic, &failing)).unwrap();
    let failing_consumer =
        parse_consumer_address("c", &consumer_address(&broker.bootstrap, &topic, &failing))
            .unwrap();
    tracing::info!(config = ?failing_producer, "failing producer config");
    tracing::info!(config = ?failing_consumer, "failing consumer config");
    let mut client = failing_producer.client_config();
    client.set("debug", "all");
    let err = probe_authentication_async(client.clone(), Duration::from_secs(10))
        .await
        .expect_err("wrong password");
    tracing::error!("probe failed: {err}");
    let producer: FutureProducer = client.create().unwrap();
    let send = producer.send(
        FutureRecord::to(&topic).key("k").payload("v"),
        Duration::from_secs(2),
    );
    let _ = tokio::time::timeout(Duration::from_secs(3), send).await;
    let mut client = failing_consumer.client_config();
    client.set("debug", "all");
    let consumer: StreamConsumer = client.create().unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await;
    assert!(
        wait_until(Duration::from_secs(10), || logs.text().contains("SASL")).await,
        "librdkafka's SASL log lines were not captured"
    );
    drop(consumer);
    drop(producer);

    // A succeeding run, also with librdkafka debug logging.
    let good = format!(
        "mechanism=SCRAM-SHA-256&user={}&password={}",
        broker.user_256,
        encode(&broker.password)
    );
    let topic = unique_name("logs-ok");
    let target = producer_target(&broker.bootstrap, &topic, &good);
    let mut debug_client = parse_producer_target("p", &target).unwrap().client_config();
    debug_client.set("debug", "all");
    create_topic(&debug_client, &topic).await;
    let debug_producer: FutureProducer = debug_client.create().unwrap();
    debug_producer
        .send(
            FutureRecord::to(&topic).key("k").payload("v"),
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("send: {e}"));
    let topic2 = unique_name("logs-ok");
    round_trip(
        &consumer_address(&broker.bootstrap, &topic2, &good),
        &producer_target(&broker.bootstrap, &topic2, &good),
        &topic2,
    )
    .await;

    // A misspelt secret key: serve() refuses the unknown key; its error, as
    // an application would log it, must not carry the value.
    for misspelt in ["pasword", "tlsKeyPasword"] {
        let address = consumer_address(
            &broker.bootstrap,
            &unique_name("logs-misspelt"),
            &format!(
                "mechanism=SCRAM-SHA-256&user={}&{misspelt}={}",
                broker.user_256,
                encode(&broker.password)
            ),
        );
        let yaml = format!(
            "server:\n  service:\n    - name: secure.logs.misspelt\n      address: \"{address}\"\n      protocol: kafka\n"
        );
        let err = kafka_runtime::serve()
            .config_yaml(yaml)
            .await
            .expect_err("an unknown key stops serve()");
        tracing::error!("serve() failed: {err}; {err:?}");
        assert!(
            err.to_string().contains(&format!("`{misspelt}=***`")),
            "{err}"
        );
    }

    let text = logs.text();
    assert!(
        text.contains("librdkafka"),
        "librdkafka's own log lines were not captured"
    );
    assert!(text.contains("SCRAM-SHA-256") && text.contains("SCRAM-SHA-512"));
    assert!(text.lines().count() > 100, "too few log lines captured");
    for (what, secret) in [("password", &broker.password), ("wrong password", &wrong)] {
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            panic!("the {what} appears in the logs: {line}");
        }
    }
    eprintln!(
        "searched {} captured log lines ({} bytes)",
        text.lines().count(),
        text.len()
    );
}
