//! librdkafka's own log lines, routed into `tracing` (this replaces the
//! seed's `rewrite_log`).
//!
//! Every client context of the runtime (the consumer engine's, the
//! producers') implements `ClientContext::log` by calling [`forward`], so
//! librdkafka's lines land in the application's subscriber under the target
//! [`TARGET`], tagged with the service they belong to.

use rdkafka::config::RDKafkaLogLevel;

/// The `tracing` target of librdkafka's log lines: filter them with e.g.
/// `RUST_LOG=librdkafka=debug`.
pub(crate) const TARGET: &str = "librdkafka";

/// Emits one librdkafka log line as a `tracing` event of the matching level.
///
/// `service` names the client the line belongs to (librdkafka's own line
/// only carries its internal handle name); `facility` is librdkafka's
/// subsystem tag (`FETCH`, `REBALANCE`, ...).
pub(crate) fn forward(service: &str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    // tracing levels are compile-time constants per call site, hence one
    // macro call per level.
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: TARGET, service, facility, "{message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: TARGET, service, facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: TARGET, service, facility, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: TARGET, service, facility, "{message}"),
    }
}

/// Makes a client hand librdkafka's lines to its context's `log` callback
/// at the most detailed level the installed `tracing` subscriber wants for
/// [`TARGET`] (decided when the client is created, as `rdkafka` itself does
/// for the `log` crate). Without this, `rdkafka` asks the `log` crate, which
/// a tracing-only application leaves at "off", and only errors come through.
pub(crate) fn configure(config: &mut rdkafka::ClientConfig) {
    use tracing::Level;
    let level = if tracing::enabled!(target: TARGET, Level::DEBUG) {
        RDKafkaLogLevel::Debug
    } else if tracing::enabled!(target: TARGET, Level::INFO) {
        RDKafkaLogLevel::Info
    } else if tracing::enabled!(target: TARGET, Level::WARN) {
        RDKafkaLogLevel::Warning
    } else {
        RDKafkaLogLevel::Error
    };
    config.set_log_level(level);
}
