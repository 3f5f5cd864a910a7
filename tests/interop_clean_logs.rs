//! Log hygiene on Apache Kafka 4.1.1: a clean start, normal operation
//! (awaited and asynchronous produces, a consumer group handling every
//! record) and a graceful stop log no WARN and no ERROR. Every log line is
//! captured: the runtime's `tracing` events, librdkafka's lines (routed into
//! `tracing`) and the `log` records of the `rdkafka` crate (bridged into the
//! same subscriber), at INFO and above.

mod interop_support;

use std::future::IntoFuture;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, HandlerError, Message, RuntimeHandle};

const RECORDS: usize = 1_000;
static HANDLED: AtomicUsize = AtomicUsize::new(0);

#[kafka_consumer(service = "interop.logs.consumer")]
async fn handle(_msg: Message) -> Result<(), HandlerError> {
    HANDLED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clean_run_logs_no_warning_and_no_error() {
    let logs = Buffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    // The `log` bridge is in place: rdkafka's own records arrive.
    log::info!(target: "rdkafka::consumer::base_consumer", "log bridge check");

    let bootstrap = Kafka::V4.bootstrap();
    let dir = scratch("logs");
    let topic = unique_name("logs");
    create_topic(&bootstrap, &topic, 8).await;
    let group = unique_name("logs-g");
    let consumer_yaml = write_yaml(
        &dir,
        &[(
            "interop.logs.consumer",
            format!("{bootstrap}?topics={topic}&group={group}&initial=oldest"),
        )],
        &[],
    );
    let producer_yaml = write_yaml(
        &dir,
        &[],
        &[
            (
                "interop.logs.producer",
                format!("kafka://{bootstrap}?topic={topic}"),
            ),
            (
                "interop.logs.async",
                format!("kafka://{bootstrap}?topic={topic}&async=1"),
            ),
        ],
    );

    let stop = tokio_util_stop();
    let serving = tokio::spawn(
        kafka_runtime::serve()
            .config(Config::from_path(&consumer_yaml).unwrap())
            .with_graceful_shutdown(stop.1)
            .into_future(),
    );
    let producers = RuntimeHandle::start(Arc::new(Config::from_path(&producer_yaml).unwrap()))
        .await
        .expect("producers start");
    let awaited = producers.producer("interop.logs.producer").unwrap();
    let queued = producers.producer("interop.logs.async").unwrap();
    for i in 0..RECORDS / 2 {
        awaited
            .produce(format!("k{i}"), b"awaited", Headers::new())
            .await
            .unwrap();
        queued
            .produce(format!("q{i}"), b"queued", Headers::new())
            .await
            .unwrap();
    }
    producers.shutdown(Duration::from_secs(10)).await.unwrap();
    wait_for(
        "every record to be handled",
        Duration::from_secs(60),
        || HANDLED.load(Ordering::SeqCst) >= RECORDS,
    )
    .await;
    let _ = stop.0.send(());
    serving.await.unwrap().expect("serve() ends cleanly");

    let text = logs.text();
    assert!(
        text.contains("log bridge check"),
        "the log bridge captured nothing"
    );
    assert!(
        text.contains("kafka consumers running"),
        "the runtime's INFO lines were not captured"
    );
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    report(&format!(
        "log hygiene on Kafka 4.1.1: {} log lines at INFO and above from start, {RECORDS} records produced (half awaited, half async=1) and handled, and a graceful stop; {} WARN or ERROR",
        text.lines().count(),
        bad.len()
    ));
    assert!(bad.is_empty(), "a clean run logged:\n{}", bad.join("\n"));
}

/// A one-shot stop signal for `with_graceful_shutdown`.
fn tokio_util_stop() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}
