//! W3C Trace Context (`traceparent`) carried in Kafka record headers.
//!
//! First step, without an OpenTelemetry dependency: the consumer engine
//! parses and validates the `traceparent` header of each record (the first
//! of a batch) and records its trace id and parent span id as the
//! `trace_id` and `parent_span_id` fields of the `kafka_handle` span, so the
//! handler's logs can be joined to the producer's trace. While the handler
//! runs, that context is [`TraceParent::current`], and the runtime's
//! producers add it to records sent from the handler that carry no
//! `traceparent` of their own: the trace continues across the next hop.
//! Having no span of its own in an OpenTelemetry sense, the runtime forwards
//! the context unchanged, as W3C asks of a system that does not participate
//! in the trace. With the `opentelemetry` feature and a
//! `tracing-opentelemetry` layer, it participates: see [`crate::otel`].

use std::fmt;

/// The record header that carries the trace context.
///
/// ```
/// use kafka_runtime::{Message, TraceParent, TRACEPARENT_HEADER};
/// let mut msg = Message::new("orders", 0, 1);
/// msg.headers.push((TRACEPARENT_HEADER.into(), Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into())));
/// let value = msg.header(TRACEPARENT_HEADER).unwrap();
/// let tp = TraceParent::parse(std::str::from_utf8(value).unwrap()).unwrap();
/// assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
/// ```
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A parsed W3C `traceparent` value (version `00` layout):
/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
///
/// ```
/// use kafka_runtime::TraceParent;
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let tp = TraceParent::parse(header).unwrap();
/// assert_eq!(tp.to_string(), header); // what a producer writes back
/// assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
/// assert!(TraceParent::current().is_none()); // only inside a handler
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The 16-byte trace id; never all zero.
    pub trace_id: [u8; 16],
    /// The 8-byte id of the producer-side span; never all zero.
    pub parent_id: [u8; 8],
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value; `None` when it is not valid W3C
    /// trace context (an invalid header is ignored, as the spec requires).
    ///
    /// ```
    /// use kafka_runtime::TraceParent;
    /// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert!(tp.sampled());
    /// assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
        let [version] = hex::<1>(version)?;
        // Version ff is forbidden; version 00 has exactly four fields, later
        // versions may append fields, which a 00 parser ignores.
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return None;
        }
        let trace_id = hex::<16>(trace)?;
        let parent_id = hex::<8>(parent)?;
        let [flags] = hex::<1>(flags)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The trace context of the message being handled, inside a handler (or
    /// anything it awaits); `None` elsewhere or when the record had no valid
    /// `traceparent` header.
    ///
    /// ```
    /// // Outside a handler there is no trace context:
    /// assert!(kafka_runtime::TraceParent::current().is_none());
    /// ```
    pub fn current() -> Option<TraceParent> {
        CURRENT.try_with(|tp| *tp).ok()
    }

    /// Whether the producer side sampled the trace.
    ///
    /// ```
    /// let tp = kafka_runtime::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert!(tp.sampled());
    /// let unsampled = kafka_runtime::TraceParent { flags: 0, ..tp };
    /// assert!(!unsampled.sampled());
    /// ```
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lowercase hex digits.
    ///
    /// ```
    /// let tp = kafka_runtime::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub fn trace_id_hex(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// The parent span id as 16 lowercase hex digits.
    ///
    /// ```
    /// let tp = kafka_runtime::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
    /// ```
    pub fn parent_id_hex(&self) -> String {
        to_hex(&self.parent_id)
    }
}

/// The header value (`00-...`), as a producer writes it.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.parent_id_hex(),
            self.flags
        )
    }
}

/// Exactly `2 * N` lowercase hex digits (W3C forbids upper case).
fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// Runs `fut` with `tp` as [`TraceParent::current`].
pub(crate) async fn scope<F: std::future::Future>(tp: TraceParent, fut: F) -> F::Output {
    CURRENT.scope(tp, fut).await
}

/// Adds the current trace context to outgoing `headers` unless they carry a
/// `traceparent` already (set by the user, or copied by `trpcMeta`).
pub(crate) fn inject(headers: &mut crate::producer::Headers) {
    let Some(tp) = outgoing() else {
        return;
    };
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(TRACEPARENT_HEADER))
    {
        return;
    }
    headers.push(TRACEPARENT_HEADER, tp.to_string());
}

/// The context a record produced here continues: the current
/// OpenTelemetry span's (feature `opentelemetry`), else the handled record's.
fn outgoing() -> Option<TraceParent> {
    #[cfg(feature = "opentelemetry")]
    if let Some(tp) = crate::otel::current() {
        return Some(tp);
    }
    TraceParent::current()
}

/// The trace context of a record, from its `traceparent` header.
pub(crate) fn of_message(msg: &crate::Message) -> Option<TraceParent> {
    msg.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(TRACEPARENT_HEADER))
        .and_then(|(_, v)| v.as_ref())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(TraceParent::parse)
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trips_and_rejects_malformed_values() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert_eq!(tp.to_string(), GOOD);
        assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may append fields.
        let future = format!("01{}-more", &GOOD[2..]);
        assert!(TraceParent::parse(&future).is_some());
    }
}
