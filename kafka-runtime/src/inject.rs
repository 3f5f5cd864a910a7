//! What a handler can ask for besides its message: producers, and structs of
//! producers, built once by the runtime from the configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::producer::{ProducerSet, ProducerSource, RawProducer};
use crate::Error;

/// The running runtime as injection sees it: the configuration and every
/// producer built from it. Cheap to clone.
///
/// `serve()` starts and shuts it down around the consumers; a producer-only
/// program does it itself:
///
/// ```
/// # #[cfg(feature = "testing")] {
/// use std::sync::Arc;
/// use kafka_runtime::config::Config;
/// use kafka_runtime::RuntimeHandle;
/// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
/// // In a service: `RuntimeHandle::load()` reads ./trpc_go.yaml.
/// let config = Config::from_yaml_str(&format!(
///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
///     broker.bootstrap_servers()
/// )).unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let runtime = RuntimeHandle::start(Arc::new(config)).await.unwrap();
/// let orders = runtime.producer("trpc.app.server.producer").unwrap();
/// orders.produce("key", "value", kafka_runtime::producer::Headers::new()).await.unwrap();
/// runtime.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
/// # });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    producers: ProducerSet,
}

impl RuntimeHandle {
    /// Builds every registered producer for `config` (one librdkafka producer
    /// per distinct target) and returns the handle that hands them out.
    /// Fails, naming the declaration, when a producer names a service that is
    /// not configured or has an invalid target. Before that it resolves
    /// `discover=` service names ([`crate::discovery`]) and checks each
    /// `client.service[]` producer's credentials and TLS settings with one
    /// connection: a refusal is an [`Error::Security`].
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kafka_runtime::config::Config;
    /// use kafka_runtime::RuntimeHandle;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let yaml = format!(
    ///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
    ///     broker.bootstrap_servers()
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml).unwrap())).await.unwrap();
    /// let orders = runtime.producer("trpc.app.server.producer").unwrap();
    /// orders.produce("k", "v", kafka_runtime::producer::Headers::new()).await.unwrap();
    /// runtime.shutdown(Duration::from_secs(5)).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub async fn start(config: Arc<Config>) -> Result<Self, Error> {
        // `discover=` service names become brokers, and wrong credentials or
        // TLS settings fail here instead of at the first send.
        let config = if config.needs_discovery() {
            Arc::new(Config::clone(&config).resolve_discovery_async().await?)
        } else {
            config
        };
        // With KAFKA_RS_ASYNCAPI set: the application's AsyncAPI document.
        crate::asyncapi::write_if_asked(&config)?;
        crate::security::check_services(
            config
                .producers
                .iter()
                .map(|p| (p.name.clone(), p.config.client_config()))
                .collect(),
            crate::security::STARTUP_PROBE_DEADLINE,
        )
        .await?;
        let producers = ProducerSet::start(Arc::clone(&config))?;
        Ok(RuntimeHandle {
            inner: Arc::new(Inner { config, producers }),
        })
    }

    /// Loads the configuration ([`Config::load`]: the file named by
    /// `KAFKA_RS_CONFIG`, else `./trpc_go.yaml`) and starts on it: the
    /// one-call start of a producer-only program.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // Reads $KAFKA_RS_CONFIG, else ./trpc_go.yaml; there is none here:
    /// let err = kafka_runtime::RuntimeHandle::load().await.unwrap_err();
    /// assert!(err.to_string().contains("not found"), "{err}");
    /// # }
    /// ```
    pub async fn load() -> Result<Self, Error> {
        Self::start(Arc::new(Config::load()?)).await
    }

    /// The configuration the runtime runs with.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kafka_runtime::config::Config;
    /// use kafka_runtime::RuntimeHandle;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let yaml = format!(
    ///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
    ///     broker.bootstrap_servers()
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml).unwrap())).await.unwrap();
    /// assert!(runtime.config().producer("trpc.app.server.producer").is_some());
    /// # });
    /// # }
    /// ```
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Builds a value that implements [`Inject`] (a `#[kafka_producer]` struct).
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kafka_runtime::config::Config;
    /// use kafka_runtime::RuntimeHandle;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let yaml = format!(
    ///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
    ///     broker.bootstrap_servers()
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml).unwrap())).await.unwrap();
    /// use kafka_runtime::{kafka_producer, Producer};
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u32 }
    /// #[kafka_producer(service = "trpc.app.server.producer")]
    /// struct Orders(Producer<Order>);
    ///
    /// let Orders(orders) = runtime.get::<Orders>().unwrap();
    /// orders.produce("1", &Order { id: 1 }, kafka_runtime::producer::Headers::new()).await.unwrap();
    /// # });
    /// # }
    /// ```
    pub fn get<T: Inject>(&self) -> Result<T, Error> {
        T::inject(self)
    }

    /// The producer of the `client.service[]` entry `service` (the seed's
    /// `NewClientProxy(name)`), built on first use.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kafka_runtime::config::Config;
    /// use kafka_runtime::RuntimeHandle;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let yaml = format!(
    ///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
    ///     broker.bootstrap_servers()
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml).unwrap())).await.unwrap();
    /// let producer = runtime.producer("trpc.app.server.producer").unwrap();
    /// assert_eq!(producer.topic(), Some("orders"));
    /// assert!(runtime.producer("trpc.not.configured").is_err());
    /// # });
    /// # }
    /// ```
    pub fn producer(&self, service: &str) -> Result<RawProducer, Error> {
        self.inner
            .producers
            .service(service, "`RuntimeHandle::producer`")
    }

    /// The producer a `#[kafka_producer]` declaration refers to. Not public API.
    #[doc(hidden)]
    pub fn __producer(
        &self,
        source: ProducerSource,
        declared_by: &str,
    ) -> Result<RawProducer, Error> {
        self.inner.producers.get(source, declared_by)
    }

    /// How many librdkafka producers the runtime runs (bindings with equal
    /// settings share one). Not public API: for tests.
    #[doc(hidden)]
    pub fn __client_count(&self) -> usize {
        self.inner.producers.client_count()
    }

    /// One broker probe per producer client, for readiness.
    pub(crate) fn broker_probes(&self) -> Vec<crate::producer::BrokerProbe> {
        self.inner.producers.probes()
    }

    /// Flushes every producer, waiting at most `deadline`: every record
    /// queued before the call is acknowledged (or has failed) and every
    /// asynchronous callback has run when this returns `Ok`.
    ///
    /// Call it before exiting: a producer dropped without it discards the
    /// records still queued (librdkafka purges them on drop). When the
    /// deadline passes first, the error says how many records were in flight.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kafka_runtime::config::Config;
    /// use kafka_runtime::RuntimeHandle;
    /// # let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let yaml = format!(
    ///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders\n",
    ///     broker.bootstrap_servers()
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml).unwrap())).await.unwrap();
    /// let producer = runtime.producer("trpc.app.server.producer").unwrap();
    /// producer.async_send_message("orders", "k", "v", kafka_runtime::producer::Headers::new()).await.unwrap();
    /// runtime.shutdown(Duration::from_secs(5)).await.unwrap(); // delivered, callbacks run
    /// # });
    /// # }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) -> Result<(), Error> {
        self.inner.producers.flush(deadline).await
    }
}

/// A value the runtime can build for a handler parameter or a user's struct:
/// implemented by the types `#[kafka_producer]` generates.
///
/// ```
/// use kafka_runtime::{kafka_consumer, kafka_producer, HandlerError, Inject, RawProducer};
///
/// #[kafka_producer(target = "kafka://127.0.0.1:9092?topic=audit")]
/// struct Audit(RawProducer);
///
/// // An `Inject` parameter, built once at startup and cloned per call:
/// #[kafka_consumer(service = "trpc.doc.inject")]
/// async fn handle(line: String, audit: Audit) -> Result<(), HandlerError> {
///     audit.0.produce(None::<&str>, line, kafka_runtime::producer::Headers::new()).await?;
///     Ok(())
/// }
///
/// fn assert_inject<T: Inject>() {}
/// assert_inject::<Audit>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected by the runtime",
    label = "not built by the runtime",
    note = "injectable types are `#[kafka_producer]` structs; inside a `#[kafka_producer]` struct, mark a producer field with `#[producer(service = \"...\")]` or `#[producer(target = \"kafka://...\")]`"
)]
pub trait Inject: Clone + Send + Sync + 'static {
    /// Builds the value from the running runtime.
    fn inject(runtime: &RuntimeHandle) -> Result<Self, Error>;
}
