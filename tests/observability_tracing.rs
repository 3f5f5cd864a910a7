//! What a tracing subscriber sees: the per-message span with service, topic,
//! partition, offset and attempt (and the trace context of a `traceparent`
//! header), and librdkafka's own log lines routed into tracing.

mod consumer_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use consumer_support::*;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Message, RawProducer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

type Fields = BTreeMap<String, String>;

/// One event as the subscriber saw it, with the fields of the span it ran in.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    level: tracing::Level,
    fields: Fields,
    span: Option<(String, Fields)>,
}

/// A layer that keeps every span's fields and every event.
#[derive(Default, Clone)]
struct Capture {
    spans: Arc<Mutex<HashMap<u64, (String, Fields)>>>,
    events: Arc<Mutex<Vec<Seen>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let name = attrs.metadata().name().to_owned();
        self.spans
            .lock()
            .unwrap()
            .insert(id.into_u64(), (name, fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Collect(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let span = ctx
            .event_span(event)
            .and_then(|s| self.spans.lock().unwrap().get(&s.id().into_u64()).cloned());
        self.events.lock().unwrap().push(Seen {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
            span,
        });
    }
}

/// The process-wide capturing subscriber (one per test binary).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        capture
    })
}

impl Capture {
    fn events(&self) -> Vec<Seen> {
        self.events.lock().unwrap().clone()
    }

    /// The handler's "handling" events for `payload`.
    fn handled(&self, payload: &str) -> Vec<Seen> {
        self.events()
            .into_iter()
            .filter(|e| e.fields.get("payload").map(String::as_str) == Some(payload))
            .collect()
    }
}

/// Every `serve()` of this binary builds the registered `#[kafka_producer]`
/// (`obs.relay.out`), so every configuration needs its client service.
fn add_relay_producer(config: &mut kafka_runtime::config::Config, bootstrap: &str, topic: &str) {
    config.producers = kafka_runtime::config::Config::from_yaml_str(&format!(
        "client:\n  service:\n    - name: obs.relay.out\n      target: kafka://{bootstrap}?topic={topic}\n"
    ))
    .unwrap()
    .producers;
}

static FAILED_ONCE: AtomicBool = AtomicBool::new(false);

#[kafka_consumer(service = "obs.traced")]
async fn traced(payload: String) -> Result<(), HandlerError> {
    tracing::info!(payload = payload.as_str(), "handling");
    if payload == "retried" && !FAILED_ONCE.swap(true, Ordering::SeqCst) {
        return Err(HandlerError::msg("fails once"));
    }
    Ok(())
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handler_span_fields_trace_context_and_librdkafka_logs() {
    let capture = capture();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("obs-traced");
    broker.create_topic(&topic, 2).await.unwrap();
    let mut config = config(&broker.bootstrap(), &[Service::new("obs.traced", &topic)]);
    // librdkafka's consumer-group debug lines, to see them come through.
    config.consumers[0]
        .config
        .common
        .librdkafka_overrides
        .insert("debug".into(), "cgrp".into());
    add_relay_producer(&mut config, &broker.bootstrap(), &topic);
    let running = start(config, &["obs.traced"]);

    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(1), "k", "plain").await;
    produce(&producer, &topic, Some(1), "k", "retried").await;
    produce_with_headers(
        &producer,
        &topic,
        0,
        "traced",
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    eventually("every record handled (retried twice)", || {
        capture.handled("plain").len() == 1
            && capture.handled("retried").len() == 2
            && capture.handled("traced").len() == 1
    })
    .await;
    running.stop().await.unwrap();

    let span_of = |payload: &str, nth: usize| {
        let seen = &capture.handled(payload)[nth];
        let (name, fields) = seen.span.clone().expect("the handler runs inside a span");
        assert_eq!(name, "kafka_handle");
        fields
    };
    let plain = span_of("plain", 0);
    assert_eq!(plain["service"], "obs.traced");
    assert_eq!(plain["topic"], topic);
    assert_eq!(plain["partition"], "1");
    assert_eq!(plain["offset"], "0");
    assert_eq!(plain["attempt"], "1");
    assert!(!plain.contains_key("trace_id"), "{plain:?}");

    let first = span_of("retried", 0);
    let second = span_of("retried", 1);
    assert_eq!(first["offset"], "1");
    assert_eq!(first["attempt"], "1");
    assert_eq!(second["offset"], "1");
    assert_eq!(second["attempt"], "2");

    let traced = span_of("traced", 0);
    assert_eq!(traced["partition"], "0");
    assert_eq!(traced["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(traced["parent_span_id"], "00f067aa0ba902b7");

    // librdkafka's own lines arrive as tracing events of the service.
    let rdkafka_lines: Vec<Seen> = capture
        .events()
        .into_iter()
        .filter(|e| e.target == "librdkafka")
        .collect();
    assert!(
        rdkafka_lines
            .iter()
            .any(|e| e.level == tracing::Level::DEBUG
                && e.fields.get("service").map(String::as_str) == Some("obs.traced")
                && e.fields.contains_key("facility")
                && e.fields.get("message").is_some_and(|m| !m.is_empty())),
        "no librdkafka debug line for the service among {} librdkafka events",
        rdkafka_lines.len()
    );
}

#[kafka_producer(service = "obs.relay.out")]
struct RelayOut(RawProducer);

/// Relays each record to the producer's topic, adding no headers itself.
#[kafka_consumer(service = "obs.relay")]
async fn relay(payload: String, out: RelayOut) -> Result<(), HandlerError> {
    let topic = out.0.topic().unwrap_or_default().to_owned();
    out.0
        .send_message(&topic, "k", payload.as_bytes(), Headers::new())
        .await?;
    Ok(())
}

static SUNK: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "obs.relay.sink")]
async fn sink(msg: Message) -> Result<(), HandlerError> {
    let traceparent = msg
        .headers
        .iter()
        .find(|(k, _)| k == "traceparent")
        .and_then(|(_, v)| v.as_ref())
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let payload = String::from_utf8_lossy(&msg.payload_bytes()).into_owned();
    tracing::info!(payload = format!("sunk {payload}").as_str(), "sunk");
    SUNK.lock().unwrap().push((payload, traceparent));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_trace_context_crosses_a_relay_hop() {
    let capture = capture();
    let broker = TestBroker::start().await.unwrap();
    let (input, output) = (unique_name("obs-relay-in"), unique_name("obs-relay-out"));
    broker.create_topic(&input, 1).await.unwrap();
    broker.create_topic(&output, 1).await.unwrap();
    let bootstrap = broker.bootstrap();
    let mut config = config(
        &bootstrap,
        &[
            Service::new("obs.relay", &input),
            Service::new("obs.relay.sink", &output),
        ],
    );
    add_relay_producer(&mut config, &bootstrap, &output);
    let running = start(config, &["obs.relay", "obs.relay.sink"]);

    let producer = producer(&bootstrap);
    produce_with_headers(
        &producer,
        &input,
        0,
        "with-trace",
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    produce(&producer, &input, Some(0), "k", "without-trace").await;
    eventually("both records relayed and consumed", || {
        SUNK.lock().unwrap().len() == 2
    })
    .await;
    running.stop().await.unwrap();

    let mut sunk = SUNK.lock().unwrap().clone();
    sunk.sort();
    assert_eq!(
        sunk,
        vec![
            ("with-trace".to_owned(), Some(TRACEPARENT.to_owned())),
            ("without-trace".to_owned(), None),
        ]
    );
    // The second hop's handler span carries the original trace.
    let seen = capture.handled("sunk with-trace");
    let (_, fields) = seen[0].span.clone().expect("inside the handler span");
    assert_eq!(fields["service"], "obs.relay.sink");
    assert_eq!(fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}
