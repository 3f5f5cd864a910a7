//! The OpenTelemetry bridge (feature `opentelemetry`).
//!
//! Without it, the runtime forwards a record's `traceparent` unchanged (see
//! [`crate::TraceParent`]). With it, and a `tracing-opentelemetry` layer in
//! the application's subscriber, the runtime takes part in the trace:
//!
//! - each `kafka_handle` span (one per handled message or batch) becomes a
//!   child of the remote span named by the record's `traceparent`, so the
//!   consumer's work shows up under the producer's trace;
//! - a producer writes the context of the span it is called in as the
//!   record's `traceparent` (unless the record carries one already), so a
//!   trace started by the application, or continued by a handler, crosses
//!   Kafka with the right parent.
//!
//! Without such a layer (or outside any span), both steps fall back to the
//! plain forwarding above.
//!
//! Setting it up is the application's business (which exporter, which
//! sampler); the runtime only needs the layer in the global subscriber:
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! // In production: an OTLP exporter (opentelemetry-otlp) on the provider.
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("billing"));
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::set_global_default(subscriber).unwrap();
//! // ... then `kafka_runtime::serve().await` as usual.
//! ```

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TraceParent;

/// Makes `span` (not yet entered) a child of the remote span `tp` names.
pub(crate) fn set_remote_parent(span: &tracing::Span, tp: TraceParent) {
    let remote = SpanContext::new(
        TraceId::from_bytes(tp.trace_id),
        SpanId::from_bytes(tp.parent_id),
        TraceFlags::new(tp.flags),
        true,
        TraceState::default(),
    );
    let parent = opentelemetry::Context::new().with_remote_span_context(remote);
    // An error only means there is no OpenTelemetry layer (or the span is
    // disabled): the span then simply has no OpenTelemetry parent.
    let _ = span.set_parent(parent);
}

/// The OpenTelemetry context of the current `tracing` span, when there is a
/// layer and a valid context.
pub(crate) fn current() -> Option<TraceParent> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    Some(TraceParent {
        trace_id: sc.trace_id().to_bytes(),
        parent_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}
