//! Producers declared with `#[kafka_producer]`, collected through `inventory`
//! and built once at startup: one librdkafka producer per distinct set of
//! client properties, shared by every binding that has them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::binding::Binding;
use super::client::SharedClient;
use super::props;
use super::raw::RawProducer;
use crate::config::{Config, ConfigError, ProducerConfig};
use crate::Error;

/// Where a declared producer's settings come from.
///
/// ```
/// use kafka_runtime::producer::ProducerSource;
/// // What `#[kafka_producer(service = ..)]` and `(target = ..)` record:
/// let by_service = ProducerSource::Service("trpc.app.server.producer");
/// let inline = ProducerSource::Target("kafka://127.0.0.1:9092?topic=audit");
/// assert_ne!(by_service, inline);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProducerSource {
    /// A `client.service[]` entry of the configuration, by name.
    Service(&'static str),
    /// An inline `kafka://...` target (the seed's `client.WithTarget`).
    Target(&'static str),
}

/// One producer declared with `#[kafka_producer]`. Generated code submits
/// these; the runtime builds each at startup and refuses to start when one
/// cannot be built.
///
/// ```
/// use kafka_runtime::producer::{ProducerRegistration, ProducerSource};
/// let registration = ProducerRegistration::new(ProducerSource::Service("svc"), "Orders", file!(), line!());
/// assert_eq!(registration.declared_by, "Orders");
/// ```
#[derive(Debug)]
pub struct ProducerRegistration {
    /// Where its settings come from.
    pub source: ProducerSource,
    /// The declaring type (and field), for error messages.
    pub declared_by: &'static str,
    /// The source file of the declaration.
    pub file: &'static str,
    /// The line of the declaration.
    pub line: u32,
}

impl ProducerRegistration {
    /// A registration; `const` so generated code can submit it statically.
    ///
    /// ```
    /// use kafka_runtime::producer::{ProducerRegistration, ProducerSource};
    /// let r = ProducerRegistration::new(ProducerSource::Target("kafka://h:9092?topic=t"), "Audit", file!(), line!());
    /// assert_eq!(r.source, ProducerSource::Target("kafka://h:9092?topic=t"));
    /// ```
    pub const fn new(
        source: ProducerSource,
        declared_by: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        ProducerRegistration {
            source,
            declared_by,
            file,
            line,
        }
    }

    fn site(&self) -> String {
        format!("{} ({}:{})", self.declared_by, self.file, self.line)
    }
}

inventory::collect!(ProducerRegistration);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SourceKey {
    Service(String),
    Target(String),
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Arc<SharedClient>>,
    bindings: HashMap<SourceKey, RawProducer>,
}

/// Every producer of a running runtime.
pub(crate) struct ProducerSet {
    config: Arc<Config>,
    state: Mutex<State>,
}

impl fmt::Debug for ProducerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let labels: Vec<_> = state.clients.values().map(|c| c.label.clone()).collect();
        f.debug_struct("ProducerSet")
            .field("clients", &labels)
            .finish()
    }
}

impl ProducerSet {
    /// Builds every registered producer. All failures are reported together.
    pub(crate) fn start(config: Arc<Config>) -> Result<Self, Error> {
        let set = ProducerSet {
            config,
            state: Mutex::new(State::default()),
        };
        let mut errors = Vec::new();
        for registration in inventory::iter::<ProducerRegistration> {
            if let Err(error) = set.get(registration.source, &registration.site()) {
                errors.push(error);
            }
        }
        match errors.len() {
            0 => Ok(set),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Wiring(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }
    }

    /// The producer for `source`, built on first use. `declared_by` names the
    /// code that asked, for the error message.
    pub(crate) fn get(
        &self,
        source: ProducerSource,
        declared_by: &str,
    ) -> Result<RawProducer, Error> {
        match source {
            ProducerSource::Service(name) => self.service(name, declared_by),
            ProducerSource::Target(target) => self.target(target, declared_by),
        }
    }

    /// The producer of the `client.service[]` entry `name`.
    pub(crate) fn service(&self, name: &str, declared_by: &str) -> Result<RawProducer, Error> {
        let key = SourceKey::Service(name.to_owned());
        if let Some(found) = self.lookup(&key) {
            return Ok(found);
        }
        let Some(service) = self.config.producer(name) else {
            let known: Vec<_> = self
                .config
                .producers
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            let known = if known.is_empty() {
                "there is none".to_owned()
            } else {
                format!("configured: {}", known.join(", "))
            };
            return Err(ConfigError {
                service: Some(name.to_owned()),
                key: None,
                value: None,
                reason: format!(
                    "producer {declared_by} uses this producer service, but client.service[] has no entry with this name and a kafka:// target ({known})"
                ),
            }
            .into());
        };
        self.bind(key, name.to_owned(), &service.config, service.timeout)
    }

    fn target(&self, target: &str, declared_by: &str) -> Result<RawProducer, Error> {
        let key = SourceKey::Target(target.to_owned());
        if let Some(found) = self.lookup(&key) {
            return Ok(found);
        }
        let label = format!("inline target of {declared_by}");
        let mut config = crate::config::parse_producer_target(&label, target)?;
        config.common.resolve_discovery(&label)?;
        self.bind(key, label, &config, None)
    }

    fn lookup(&self, key: &SourceKey) -> Option<RawProducer> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bindings
            .get(key)
            .cloned()
    }

    fn bind(
        &self,
        key: SourceKey,
        label: String,
        config: &ProducerConfig,
        timeout: Option<Duration>,
    ) -> Result<RawProducer, Error> {
        let properties = props::binding_properties(config, timeout);
        let sharing = props::sharing_key(&properties);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let client = match state.clients.get(&sharing) {
            Some(client) => Arc::clone(client),
            None => {
                let client =
                    SharedClient::create(label.clone(), &properties).map_err(|source| {
                        Error::Kafka {
                            service: label.clone(),
                            source,
                        }
                    })?;
                let client = Arc::new(client);
                state.clients.insert(sharing, Arc::clone(&client));
                client
            }
        };
        let producer = RawProducer::from_binding(Binding::new(label, client, config, timeout));
        state.bindings.insert(key, producer.clone());
        Ok(producer)
    }

    /// One broker probe per librdkafka client, for readiness.
    pub(crate) fn probes(&self) -> Vec<BrokerProbe> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut probes: Vec<BrokerProbe> =
            state.clients.values().cloned().map(BrokerProbe).collect();
        probes.sort_by(|a, b| a.0.label.cmp(&b.0.label));
        probes
    }

    pub(crate) fn client_count(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clients
            .len()
    }

    /// Flushes every client, all within `deadline`.
    pub(crate) async fn flush(&self, deadline: Duration) -> Result<(), Error> {
        let until = Instant::now() + deadline;
        let clients: Vec<_> = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clients
            .values()
            .cloned()
            .collect();
        let results = futures::future::join_all(clients.iter().map(|c| c.flush(until))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), |error| Err(error.into()))
    }
}

/// Asks a broker for metadata through one producer client: readiness
/// counts a producer as ready once this succeeded.
pub(crate) struct BrokerProbe(Arc<SharedClient>);

impl BrokerProbe {
    /// The client's label (its service name or declaring type).
    pub(crate) fn label(&self) -> &str {
        &self.0.label
    }

    /// Whether a broker answers a metadata request within `timeout`.
    /// Blocks: call it from a blocking thread.
    pub(crate) fn reach(&self, timeout: Duration) -> Result<(), rdkafka::error::KafkaError> {
        self.0.reach_a_broker(timeout)
    }
}

/// Builds a stand-alone producer for `config` outside any runtime, e.g. for
/// scripts and tests; `label` names it in errors. Prefer `#[kafka_producer]`
/// in services, which shares clients and flushes them on shutdown.
///
/// ```
/// use std::time::Duration;
/// use kafka_runtime::config::parse_producer_target;
/// use kafka_runtime::producer::build_producer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cfg = parse_producer_target("script", "kafka://127.0.0.1:9092?topic=orders&async=1").unwrap();
/// let producer = build_producer("script", &cfg, Some(Duration::from_secs(1))).unwrap();
/// assert_eq!(producer.topic(), Some("orders"));
/// assert_eq!(producer.timeout(), Some(Duration::from_secs(1)));
/// assert!(producer.is_async());
/// # }
/// ```
pub fn build_producer(
    label: &str,
    config: &ProducerConfig,
    timeout: Option<Duration>,
) -> Result<RawProducer, Error> {
    let properties = props::binding_properties(config, timeout);
    let client =
        SharedClient::create(label.to_owned(), &properties).map_err(|source| Error::Kafka {
            service: label.to_owned(),
            source,
        })?;
    Ok(RawProducer::from_binding(Binding::new(
        label.to_owned(),
        Arc::new(client),
        config,
        timeout,
    )))
}
