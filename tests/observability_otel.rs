//! Real OpenTelemetry spans across Kafka (feature `opentelemetry`): a trace
//! started by the application crosses a produce, a relaying handler and a
//! second consumer, each `kafka_handle` span the child of the span that
//! produced its record, as an in-memory OpenTelemetry exporter records them.

mod consumer_support;

use std::sync::{Mutex, OnceLock};

use consumer_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Message, RawProducer};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// The exporter behind the process-wide subscriber (installed once).
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    let (exporter, _provider) = EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("kafka-rs-test"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("the only global subscriber of this test binary");
        (exporter, provider)
    });
    exporter
}

#[kafka_producer(service = "otel.out")]
struct Out(RawProducer);

/// Relays each record to the producer's topic, adding no headers itself.
#[kafka_consumer(service = "otel.relay")]
async fn relay(payload: String, out: Out) -> Result<(), HandlerError> {
    let topic = out.0.topic().unwrap_or_default().to_owned();
    out.0
        .send_message(&topic, "k", payload.as_bytes(), Headers::new())
        .await?;
    Ok(())
}

/// `traceparent` headers the sink received.
static SUNK: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "otel.sink")]
async fn sink(msg: Message) -> Result<(), HandlerError> {
    let header = msg
        .header("traceparent")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    SUNK.lock().unwrap().push(header);
    Ok(())
}

fn out_producer(bootstrap: &str, topic: &str) -> Config {
    Config::from_yaml_str(&format!(
        "client:\n  service:\n    - name: otel.out\n      target: kafka://{bootstrap}?topic={topic}\n"
    ))
    .unwrap()
}

/// The finished `kafka_handle` span of `service`.
fn handle_span(spans: &[SpanData], service: &str) -> Option<SpanData> {
    spans
        .iter()
        .find(|s| {
            s.name == "kafka_handle"
                && s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "service" && kv.value == Value::from(service.to_owned())
                })
        })
        .cloned()
}

fn traceparent(trace: TraceId, span: SpanId) -> String {
    format!("00-{trace}-{span}-01")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trace_crosses_kafka_as_parent_and_child_spans() {
    let exporter = exporter();
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let (input, output) = (unique_name("otel-in"), unique_name("otel-out"));
    for topic in [&input, &output] {
        broker.create_topic(topic, 1).await.unwrap();
    }
    let mut config = config(
        &bootstrap,
        &[
            Service::new("otel.relay", &input),
            Service::new("otel.sink", &output),
        ],
    );
    config.producers = out_producer(&bootstrap, &output).producers;
    let running = start(config, &["otel.relay", "otel.sink"]);

    // The application's own span, around a produce to the relay's input.
    let runtime =
        kafka_runtime::RuntimeHandle::start(std::sync::Arc::new(out_producer(&bootstrap, &output)))
            .await
            .unwrap();
    let producer = runtime.producer("otel.out").unwrap();
    let checkout = tracing::info_span!("checkout");
    async {
        producer
            .send_message(&input, "k", "order-1", Headers::new())
            .await
            .unwrap();
    }
    .instrument(checkout)
    .await;
    runtime
        .shutdown(std::time::Duration::from_secs(10))
        .await
        .unwrap();

    eventually("the sink's record and all three spans", || {
        let spans = exporter.get_finished_spans().unwrap();
        SUNK.lock().unwrap().len() == 1
            && spans.iter().any(|s| s.name == "checkout")
            && handle_span(&spans, "otel.relay").is_some()
            && handle_span(&spans, "otel.sink").is_some()
    })
    .await;
    running.stop().await.unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let root = spans.iter().find(|s| s.name == "checkout").unwrap();
    let relayed = handle_span(&spans, "otel.relay").unwrap();
    let sunk = handle_span(&spans, "otel.sink").unwrap();
    let trace = root.span_context.trace_id();
    assert_eq!(root.parent_span_id, SpanId::INVALID, "checkout is a root");
    // The relay's span: same trace, child of the application's span.
    assert_eq!(relayed.span_context.trace_id(), trace);
    assert_eq!(relayed.parent_span_id, root.span_context.span_id());
    assert!(relayed.parent_span_is_remote, "its parent came over Kafka");
    // The sink's span: same trace, child of the relay's span.
    assert_eq!(sunk.span_context.trace_id(), trace);
    assert_eq!(sunk.parent_span_id, relayed.span_context.span_id());
    assert!(sunk.parent_span_is_remote);
    // And the header the relay wrote names the relay's span as the parent.
    assert_eq!(
        SUNK.lock().unwrap().as_slice(),
        [traceparent(trace, relayed.span_context.span_id())]
    );
}
