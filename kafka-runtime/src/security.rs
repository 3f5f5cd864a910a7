//! Fail fast on bad credentials or TLS settings.
//!
//! librdkafka treats a failed SASL authentication or TLS handshake like any
//! broken connection: it logs, reconnects and retries for ever, so a consumer
//! with a wrong password just sits there and a producer's first send times
//! out after minutes. [`probe_authentication`] connects once, with the same
//! connection settings, asks for metadata and returns as soon as the broker
//! answers, refuses the credentials, or fails the TLS handshake. The runtime
//! runs it for every consumer and producer before starting them.
//!
//! Nothing secret leaves this module: error texts and forwarded librdkafka
//! log lines have every configured secret replaced with `***`.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::{Properties, Secret};
use crate::Error;

/// How long [`probe_authentication`] waits for one metadata answer before
/// looking at what the connection reported.
const METADATA_SLICE: Duration = Duration::from_millis(100);
/// How long each round serves the client's events.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// Why a client could not connect securely.
///
/// ```
/// use kafka_runtime::security::ProbeError;
/// let err = ProbeError::Tls { detail: "certificate verify failed".into() };
/// assert!(err.is_security_error());
/// let slow = ProbeError::Unreachable { waited: std::time::Duration::from_secs(1), detail: None };
/// assert!(!slow.is_security_error());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeError {
    /// The broker refused the SASL credentials or the mechanism.
    Authentication {
        /// The SASL mechanism that was tried (`sasl.mechanisms`).
        mechanism: Option<String>,
        /// The user that was tried (`sasl.username`).
        user: Option<String>,
        /// librdkafka's description, secrets redacted.
        detail: String,
    },
    /// The TLS handshake failed (certificate not trusted, wrong key, a
    /// broker that does not speak TLS, ...).
    Tls {
        /// librdkafka's description, secrets redacted.
        detail: String,
    },
    /// No broker could be reached (every bootstrap broker refused or
    /// dropped the connection), or none answered within the deadline.
    Unreachable {
        /// How long the probe waited.
        waited: Duration,
        /// The last connection error librdkafka reported, if any.
        detail: Option<String>,
    },
    /// librdkafka refused to create the client.
    Client {
        /// The creation error, secrets redacted.
        detail: String,
    },
}

impl ProbeError {
    /// Whether the error is about credentials or TLS (the settings are
    /// wrong), as opposed to a broker that did not answer in time.
    ///
    /// ```
    /// use kafka_runtime::security::ProbeError;
    /// let auth = ProbeError::Authentication { mechanism: Some("SCRAM-SHA-512".into()), user: Some("app".into()), detail: "invalid proof".into() };
    /// assert!(auth.is_security_error());
    /// assert!(!ProbeError::Client { detail: "bad property".into() }.is_security_error());
    /// ```
    pub fn is_security_error(&self) -> bool {
        matches!(
            self,
            ProbeError::Authentication { .. } | ProbeError::Tls { .. }
        )
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Authentication {
                mechanism,
                user,
                detail,
            } => {
                f.write_str("authentication failed")?;
                if let Some(mechanism) = mechanism {
                    write!(f, " with mechanism {mechanism}")?;
                }
                if let Some(user) = user {
                    write!(f, " for user `{user}`")?;
                }
                write!(
                    f,
                    ": {detail} (check `mechanism`, `user` and `password`, and that the broker has this user for this mechanism)"
                )
            }
            ProbeError::Tls { detail } => write!(
                f,
                "TLS handshake failed: {detail} (check `tlsCaFile`, `tlsCertFile`, `tlsKeyFile`, `tlsKeyPassword`, and that the broker speaks TLS)"
            ),
            ProbeError::Unreachable { waited, detail } => {
                write!(f, "no broker answered (waited {} ms)", waited.as_millis())?;
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            ProbeError::Client { detail } => {
                write!(f, "could not create the Kafka client: {detail}")
            }
        }
    }
}

impl std::error::Error for ProbeError {}

/// Connects with the connection settings of `config` (brokers, client id,
/// security protocol, SASL, TLS, socket timeouts) and waits at most
/// `deadline` for the broker to answer a metadata request.
///
/// Returns as soon as the outcome is known: `Ok` once the broker answered,
/// [`ProbeError::Authentication`] or [`ProbeError::Tls`] at the first
/// refused handshake (typically within milliseconds), and
/// [`ProbeError::Unreachable`] once every bootstrap broker is down or
/// nothing answered in time (the runtime then goes on and lets librdkafka
/// keep reconnecting, as it would without the probe). Blocks the
/// calling thread; use [`probe_authentication_async`] from async code.
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::parse_producer_target;
/// use kafka_runtime::security::{probe_authentication, ProbeError};
///
/// // Nothing listens on port 1: every bootstrap broker is down.
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:1?topic=t").unwrap();
/// let err = probe_authentication(&cfg.client_config(), Duration::from_secs(5)).unwrap_err();
/// assert!(matches!(err, ProbeError::Unreachable { .. }), "{err}");
/// ```
pub fn probe_authentication(config: &ClientConfig, deadline: Duration) -> Result<(), ProbeError> {
    let secrets = secrets_of(config);
    let context = ProbeContext {
        secrets: secrets.clone(),
        seen: Arc::new(Mutex::new(Seen::default())),
    };
    let seen = Arc::clone(&context.seen);
    let mut probe_config = connection_settings(config);
    probe_config.set_log_level(config.log_level);
    let producer: BaseProducer<ProbeContext> =
        probe_config
            .create_with_context(context)
            .map_err(|e| ProbeError::Client {
                detail: scrub(&e.to_string(), &secrets),
            })?;

    let started = Instant::now();
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        let slice = left.min(METADATA_SLICE).max(Duration::from_millis(1));
        let answered = producer.client().fetch_metadata(None, slice).is_ok();
        // Error events (and, with rdkafka's `log.queue`, log lines) reach the
        // context only through polling; a timed poll drains the queue, a
        // zero one would serve a single event.
        producer.poll(POLL_SLICE);
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if answered {
            return Ok(());
        }
        if let Some(detail) = seen.authentication {
            return Err(ProbeError::Authentication {
                mechanism: config.get("sasl.mechanisms").map(str::to_owned),
                user: config.get("sasl.username").map(str::to_owned),
                detail,
            });
        }
        if let Some(detail) = seen.tls {
            return Err(ProbeError::Tls { detail });
        }
        if seen.all_brokers_down || started.elapsed() >= deadline {
            return Err(ProbeError::Unreachable {
                waited: started.elapsed(),
                detail: seen.other,
            });
        }
    }
}

/// [`probe_authentication`] on a blocking thread, for async callers.
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::parse_producer_target;
/// use kafka_runtime::security::probe_authentication_async;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:1?topic=t").unwrap();
/// let outcome = probe_authentication_async(cfg.client_config(), Duration::from_secs(5)).await;
/// assert!(!outcome.unwrap_err().is_security_error());
/// # }
/// ```
pub async fn probe_authentication_async(
    config: ClientConfig,
    deadline: Duration,
) -> Result<(), ProbeError> {
    tokio::task::spawn_blocking(move || probe_authentication(&config, deadline))
        .await
        .unwrap_or_else(|e| {
            Err(ProbeError::Client {
                detail: format!("the probe thread failed: {e}"),
            })
        })
}

/// How long the runtime's startup probe waits for a broker that accepts
/// connections but does not answer.
///
/// ```
/// assert_eq!(kafka_runtime::security::STARTUP_PROBE_DEADLINE.as_secs(), 10);
/// ```
pub const STARTUP_PROBE_DEADLINE: Duration = Duration::from_secs(10);

/// The runtime's startup check: probes every `(service, client config)`
/// concurrently and fails with [`Error::Security`] on the first refused
/// authentication or TLS handshake. A broker that cannot be reached is only
/// logged: librdkafka keeps reconnecting, as it would without the probe.
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::parse_producer_target;
/// use kafka_runtime::security::check_services;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // An unreachable broker is only logged: the check passes.
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:1?topic=t").unwrap();
/// check_services(vec![("p".into(), cfg.client_config())], Duration::from_secs(2)).await.unwrap();
/// # }
/// ```
pub async fn check_services(
    services: Vec<(String, ClientConfig)>,
    deadline: Duration,
) -> Result<(), Error> {
    let probes = services.into_iter().map(|(service, config)| async move {
        (service, probe_authentication_async(config, deadline).await)
    });
    let mut result = Ok(());
    for (service, outcome) in futures::future::join_all(probes).await {
        match outcome {
            Ok(()) => {}
            Err(source)
                if source.is_security_error() || matches!(source, ProbeError::Client { .. }) =>
            {
                tracing::error!(service = %service, error = %source, "kafka security check failed");
                if result.is_ok() {
                    result = Err(Error::Security { service, source });
                }
            }
            Err(unreachable) => {
                tracing::warn!(service = %service, error = %unreachable, "kafka brokers not reachable at startup; the client keeps retrying");
            }
        }
    }
    result
}

/// Property prefixes and names that shape a connection; the probe copies
/// only these so that consumer- or producer-only settings do not make
/// librdkafka warn about the wrong client type.
const CONNECTION_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "security.protocol",
    "broker.version.fallback",
    "api.version.request",
    "socket.",
    "sasl.",
    "ssl.",
    "ssl_",
    "enable.ssl.certificate.verification",
    "debug",
    "reconnect.backoff",
    "broker.address.family",
];

fn connection_settings(config: &ClientConfig) -> ClientConfig {
    let mut probe = ClientConfig::new();
    // `config_map()` masks secret values; `get` gives the real ones.
    for key in config.config_map().into_keys() {
        let wanted = CONNECTION_PROPERTIES
            .iter()
            .any(|p| key == *p || (p.ends_with(['.', '_']) && key.starts_with(p)));
        if let (true, Some(value)) = (wanted, config.get(key)) {
            probe.set(key, value);
        }
    }
    probe
}

/// The values of every secret property of `config`.
fn secrets_of(config: &ClientConfig) -> Vec<String> {
    config
        .config_map()
        .into_keys()
        .filter(|key| Properties::is_secret(key))
        .filter_map(|key| config.get(key))
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text` with every secret replaced by `***`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), Secret::REDACTED);
    }
    text
}

/// What kind of failure a client error is.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Authentication,
    Tls,
    Other,
}

/// librdkafka reports most handshake failures with their own codes, but a
/// TLS verification failure noticed while reading surfaces as a plain
/// transport failure whose text names OpenSSL; it is a TLS failure all the
/// same, and the next attempt would only come after a reconnect backoff.
fn classify(code: Option<RDKafkaErrorCode>, reason: &str) -> Failure {
    match code {
        Some(RDKafkaErrorCode::Authentication) => Failure::Authentication,
        Some(RDKafkaErrorCode::SSL) => Failure::Tls,
        _ if reason.contains("SSL routines") || reason.contains("SSL handshake failed") => {
            Failure::Tls
        }
        _ if reason.contains("SASL authentication error") => Failure::Authentication,
        _ => Failure::Other,
    }
}

/// What the connection reported so far.
#[derive(Debug, Clone, Default)]
struct Seen {
    authentication: Option<String>,
    tls: Option<String>,
    other: Option<String>,
    all_brokers_down: bool,
}

/// Records the first authentication and TLS failures and forwards
/// librdkafka's log lines to `tracing`, secrets scrubbed.
struct ProbeContext {
    secrets: Vec<String>,
    seen: Arc<Mutex<Seen>>,
}

impl ClientContext for ProbeContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let line = scrub(log_message, &self.secrets);
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{line}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{line}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility = fac, "{line}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility = fac, "{line}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let detail = scrub(reason, &self.secrets);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match classify(error.rdkafka_error_code(), reason) {
            Failure::Authentication => {
                seen.authentication.get_or_insert(detail);
            }
            Failure::Tls => {
                seen.tls.get_or_insert(detail);
            }
            Failure::Other => {
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
                    seen.all_brokers_down = true;
                } else {
                    seen.other = Some(detail);
                }
            }
        }
    }
}

impl ProducerContext for ProbeContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_secret() {
        let secrets = vec!["hunter2".to_owned(), "k3y-pass".to_owned()];
        assert_eq!(
            scrub("user alice password hunter2 key k3y-pass hunter2", &secrets),
            "user alice password *** key *** ***"
        );
    }

    #[test]
    fn transport_failures_from_openssl_are_tls_failures() {
        let transport = Some(RDKafkaErrorCode::BrokerTransportFailure);
        assert_eq!(
            classify(
                transport,
                "ssl://h:1/bootstrap: error:0A000086:SSL routines::certificate verify failed"
            ),
            Failure::Tls
        );
        assert_eq!(classify(transport, "Connection refused"), Failure::Other);
        assert_eq!(
            classify(Some(RDKafkaErrorCode::Authentication), "anything"),
            Failure::Authentication
        );
        assert_eq!(
            classify(Some(RDKafkaErrorCode::SSL), "anything"),
            Failure::Tls
        );
    }

    #[test]
    fn only_connection_settings_are_copied() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("group.id", "g")
            .set("sasl.password", "p")
            .set("ssl.ca.location", "/ca.pem")
            .set("socket.timeout.ms", "1000")
            .set("acks", "all");
        let copied = connection_settings(&config);
        let keys: Vec<&str> = copied.config_map().into_keys().collect();
        assert_eq!(
            keys,
            [
                "bootstrap.servers",
                "sasl.password",
                "socket.timeout.ms",
                "ssl.ca.location"
            ]
        );
        assert_eq!(copied.get("sasl.password"), Some("p"));
        assert_eq!(secrets_of(&config), ["p"]);
    }

    #[tokio::test]
    async fn the_startup_check_lets_unreachable_brokers_pass() {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1");
        check_services(vec![("svc".to_owned(), config)], Duration::from_secs(5))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_startup_check_fails_when_librdkafka_refuses_the_client() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("security.protocol", "ssl")
            .set("ssl.key.password", "k3y-secret")
            .set("ssl.certificate.location", "/nonexistent/cert.pem")
            .set("ssl.key.location", "/nonexistent/key.pem");
        let err = check_services(vec![("svc".to_owned(), config)], Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "service `svc` cannot connect to its brokers: could not create the Kafka client: "
            ),
            "{text}"
        );
        assert!(!text.contains("k3y-secret"), "{text}");
    }

    #[test]
    fn an_unreachable_broker_ends_the_probe_early() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1");
        let started = Instant::now();
        let err = probe_authentication(&config, Duration::from_secs(30)).unwrap_err();
        assert!(matches!(err, ProbeError::Unreachable { .. }), "{err:?}");
        assert!(!err.is_security_error());
        // Every broker down ends the probe long before the deadline.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let text = err.to_string();
        assert!(text.starts_with("no broker answered (waited "), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
    }
}
