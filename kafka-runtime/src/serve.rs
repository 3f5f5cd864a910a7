//! `serve()`: load the configuration, wire handlers to services, run every
//! consumer service until shutdown.

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::control::{Hooks, PartitionsEvent, ServiceControl};
use crate::handler::Registration;
use crate::readiness::Readiness;
use crate::{consumer, Error, RuntimeHandle};

mod probes;
mod wiring;

pub use wiring::Wiring;

/// The default time in-flight handlers get to finish after a shutdown signal.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kafka_runtime::DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs(30));
/// let serve = kafka_runtime::serve().shutdown_timeout(Duration::from_secs(5)); // shorter
/// # drop(serve);
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs every Kafka consumer service of the configuration with the
/// `#[kafka_consumer]` handlers linked into this binary.
///
/// The configuration is `trpc_go.yaml` found as [`Config::load`] says
/// (`KAFKA_RS_CONFIG`, else `./trpc_go.yaml`) unless `.config(...)`,
/// `.config_path(...)` or `.config_yaml(...)` gives another. Startup order:
/// load and validate the configuration, resolve `discover=` service names
/// ([`crate::discovery`]), match handlers to services (every mismatch is an
/// [`Error::Wiring`] before anything connects), check each consumer's
/// credentials and TLS settings with one connection (a refusal is an
/// [`Error::Security`], see [`crate::security`]), start the producers
/// ([`RuntimeHandle`]), then one consumer-group member per service.
/// On shutdown (SIGINT/SIGTERM by default) consumers stop fetching, in-flight
/// handlers get `shutdown_timeout` to finish, handled offsets are committed,
/// the members leave their groups, and producers are flushed last.
///
/// Await it (it implements [`IntoFuture`]); it returns only on shutdown or a
/// fatal error. Configure it before awaiting (compiled only: it would
/// serve until SIGINT/SIGTERM; the crate-level quick start runs one to
/// completion):
///
/// ```no_run
/// # async fn run() -> Result<(), kafka_runtime::Error> {
/// kafka_runtime::serve()
///     .config_path("trpc_go.yaml")
///     .shutdown_timeout(std::time::Duration::from_secs(10))
///     .await
/// # }
/// ```
///
/// Registrations are collected with `inventory`: a crate whose handlers are
/// never referenced may not be linked at all. If handlers live in a separate
/// library crate, reference it (`use my_handlers as _;`); `serve()` reports a
/// Kafka service without a handler as a wiring error rather than idling.
pub fn serve() -> Serve {
    Serve {
        source: Source::Default,
        shutdown: None,
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        only: None,
        hooks: Hooks::default(),
        control: ServiceControl::default(),
        readiness: Readiness::default(),
        #[cfg(feature = "readiness-http")]
        readiness_endpoint: None,
    }
}

enum Source {
    /// `KAFKA_RS_CONFIG`, else `./trpc_go.yaml`.
    Default,
    Config(Box<Config>),
    Path(PathBuf),
    Yaml(String),
}

/// The builder [`serve()`] returns; `.await` it to run.
///
/// Every setting, then `.await` (which blocks until shutdown, so this
/// example is only compiled):
///
/// ```no_run
/// use std::time::Duration;
/// # #[tokio::main] async fn main() -> Result<(), kafka_runtime::Error> {
/// let serve = kafka_runtime::serve()
///     .config_path("conf/trpc_go.yaml")           // or .config(..) / .config_yaml(..)
///     .only_services(["trpc.app.server.consumer"])
///     .shutdown_timeout(Duration::from_secs(10))
///     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
///     .on_partitions_assigned(|ev| println!("{} got {:?}", ev.service, ev.partitions))
///     .on_partitions_revoked(|ev| println!("{} lost {:?}", ev.service, ev.partitions));
/// let control = serve.control();
/// # drop(control);
/// serve.await
/// # }
/// ```
#[must_use = "serve() does nothing until it is awaited"]
pub struct Serve {
    source: Source,
    shutdown: Option<ShutdownSignal>,
    shutdown_timeout: Duration,
    only: Option<Vec<String>>,
    hooks: Hooks,
    control: ServiceControl,
    readiness: Readiness,
    #[cfg(feature = "readiness-http")]
    readiness_endpoint: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("only", &self.only)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// Uses an already loaded (and possibly adjusted) configuration instead
    /// of `trpc_go.yaml`.
    ///
    /// ```
    /// use kafka_runtime::config::Config;
    /// let config = Config::from_yaml_str("server:\n  service: []\n").unwrap();
    /// let serve = kafka_runtime::serve().config(config);
    /// # drop(serve);
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.source = Source::Config(Box::new(config));
        self
    }

    /// Reads the configuration from `path` instead of `KAFKA_RS_CONFIG` /
    /// `./trpc_go.yaml`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let err = kafka_runtime::serve().config_path("/nonexistent/trpc_go.yaml").await.unwrap_err();
    /// assert!(err.to_string().contains("not found"), "{err}");
    /// # }
    /// ```
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Source::Path(path.into());
        self
    }

    /// Parses the configuration from YAML text.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let yaml = "server:\n  service:\n    - name: c\n      address: 127.0.0.1:9092?topics=t\n      protocol: kafka\n";
    /// let err = kafka_runtime::serve().config_yaml(yaml).await.unwrap_err();
    /// assert!(err.to_string().contains("group"), "{err}"); // a consumer needs a group
    /// # }
    /// ```
    pub fn config_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.source = Source::Yaml(yaml.into());
        self
    }

    /// Stops on `signal` instead of SIGINT/SIGTERM.
    ///
    /// ```
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let serve = kafka_runtime::serve().with_graceful_shutdown(async { let _ = stopped.await; });
    /// // ... later, from anywhere: `stop.send(())` makes serve() drain, commit and return.
    /// # drop((serve, stop));
    /// ```
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long in-flight handlers may take to finish after the shutdown
    /// signal (default [`DEFAULT_SHUTDOWN_TIMEOUT`]); a handler still running
    /// then is dropped and its message stays uncommitted.
    ///
    /// ```
    /// let serve = kafka_runtime::serve().shutdown_timeout(std::time::Duration::from_secs(5));
    /// # drop(serve);
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Runs only the named Kafka services of the configuration.
    ///
    /// Handlers bound (by `service = "..."`) to services outside this set are
    /// ignored instead of being reported as wiring errors; every other wiring
    /// check still applies to the selected services. Meant for running part
    /// of a larger binary, and for test binaries that hold handlers for many
    /// tests. A name that is not a Kafka service of the configuration is an
    /// error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let yaml = "server:\n  service:\n    - name: c\n      address: 127.0.0.1:9092?topics=t&group=g\n      protocol: kafka\n";
    /// let err = kafka_runtime::serve().config_yaml(yaml).only_services(["nope"]).await.unwrap_err();
    /// assert!(err.to_string().contains("nope"), "{err}");
    /// # }
    /// ```
    pub fn only_services<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Calls `hook` each time a service's group member is assigned
    /// partitions (after librdkafka took them, before their first message
    /// is handled), with the service name and the partitions.
    ///
    /// Hooks run on the service's poll thread inside the rebalance: keep
    /// them short (hand work to a channel or task); a panic is logged and
    /// ignored. Several hooks run in registration order.
    ///
    /// (Compiled only: `serve()` runs until SIGINT/SIGTERM.)
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), kafka_runtime::Error> {
    /// kafka_runtime::serve()
    ///     .on_partitions_assigned(|ev| println!("{} got {:?}", ev.service, ev.partitions))
    ///     .on_partitions_revoked(|ev| println!("{} lost {:?}", ev.service, ev.partitions))
    ///     .await
    /// # }
    /// ```
    pub fn on_partitions_assigned<F>(mut self, hook: F) -> Self
    where
        F: Fn(&PartitionsEvent) + Send + Sync + 'static,
    {
        self.hooks.assigned.push(Arc::new(hook));
        self
    }

    /// Calls `hook` each time partitions are taken from a service's group
    /// member, after their in-flight handlers finished and their handled
    /// offsets were committed (still before the member gives them up).
    /// Runs like [`on_partitions_assigned`](Self::on_partitions_assigned).
    ///
    /// ```
    /// let serve = kafka_runtime::serve()
    ///     .on_partitions_revoked(|ev| println!("{} gives up {:?} (handled offsets committed)", ev.service, ev.partitions));
    /// # drop(serve);
    /// ```
    pub fn on_partitions_revoked<F>(mut self, hook: F) -> Self
    where
        F: Fn(&PartitionsEvent) + Send + Sync + 'static,
    {
        self.hooks.revoked.push(Arc::new(hook));
        self
    }

    /// A handle to pause and resume this `serve()`'s services from user
    /// code, once they run. (Compiled only: `serve()` runs until
    /// SIGINT/SIGTERM; `tests/observability_control.rs` pauses and resumes
    /// a running service.)
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let serve = kafka_runtime::serve();
    /// let control = serve.control();
    /// tokio::spawn(async move {
    ///     // ... when a downstream system is down:
    ///     let _ = control.pause("trpc.app.server.consumer");
    /// });
    /// serve.await?;
    /// # Ok(()) }
    /// ```
    pub fn control(&self) -> ServiceControl {
        self.control.clone()
    }

    /// A handle that says whether this `serve()` is ready: every service's
    /// member joined its group and every producer reached a broker (see
    /// [`crate::readiness`]). For orchestrators' readiness probes; with
    /// feature `readiness-http`, `Serve::readiness_endpoint` serves it over
    /// HTTP.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), kafka_runtime::Error> {
    /// let serve = kafka_runtime::serve();
    /// let readiness = serve.readiness();
    /// tokio::spawn(async move {
    ///     readiness.ready().await;
    ///     println!("{}", readiness.report());
    /// });
    /// serve.await
    /// # }
    /// ```
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Serves `GET /ready` on `addr` while `serve()` runs: 200 when
    /// [ready](Self::readiness), 503 when not, with the
    /// [report](crate::readiness::ReadinessReport) as text (feature
    /// `readiness-http`). An address that cannot be bound stops `serve()`
    /// with [`Error::ReadinessEndpoint`] before any service starts.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), kafka_runtime::Error> {
    /// kafka_runtime::serve()
    ///     .readiness_endpoint("0.0.0.0:8081".parse().unwrap()) // readinessProbe: httpGet /ready on 8081
    ///     .await
    /// # }
    /// ```
    #[cfg(feature = "readiness-http")]
    pub fn readiness_endpoint(mut self, addr: std::net::SocketAddr) -> Self {
        self.readiness_endpoint = Some(addr);
        self
    }

    async fn run(self) -> Result<(), Error> {
        let config = match self.source {
            Source::Config(c) => *c,
            Source::Default => Config::load()?,
            Source::Path(path) => Config::from_path(path)?,
            Source::Yaml(text) => Config::from_yaml_str(&text)?,
        };
        // `discover=` service names become brokers before anything connects.
        let config = config.resolve_discovery_async().await?;
        let registrations: Vec<&'static Registration> = Registration::all().collect();
        let wiring = Wiring::resolve(&config, &registrations, self.only.as_deref())?;
        // Wrong credentials or TLS settings stop startup with a clear error
        // before any member joins its group.
        crate::security::check_services(
            wiring
                .pairs
                .iter()
                .map(|(service, _)| (service.name.clone(), service.config.client_config()))
                .collect(),
            crate::security::STARTUP_PROBE_DEADLINE,
        )
        .await?;
        #[cfg(feature = "readiness-http")]
        let _endpoint = match self.readiness_endpoint {
            Some(addr) => Some(
                self.readiness
                    .serve_http(addr)
                    .await
                    .map_err(|source| Error::ReadinessEndpoint { addr, source })?,
            ),
            None => None,
        };
        let config = Arc::new(config);
        let runtime = RuntimeHandle::start(config.clone()).await?;
        let probes = runtime.broker_probes();
        let mut service_names = Vec::with_capacity(wiring.pairs.len());
        for (service, _) in &wiring.pairs {
            service_names.push(service.name.clone());
            if service.config.retry_topics.is_some() {
                service_names.push(crate::readiness::retry_member_label(&service.name));
            }
        }
        let producer_names: Vec<String> = probes.iter().map(|p| p.label().to_owned()).collect();
        self.readiness.starting(&service_names, &producer_names);
        let stop_probes = CancellationToken::new();
        let _stop_probes = stop_probes.clone().drop_guard();
        probes::spawn(probes, &self.readiness, &stop_probes);

        let mut handlers = Vec::with_capacity(wiring.pairs.len());
        for (service, registration) in &wiring.pairs {
            handlers.push((service.clone(), (registration.factory)(&runtime)?));
        }

        let stop = CancellationToken::new();
        let mut running = Vec::new();
        for (service, handler) in handlers {
            let controls = consumer::Controls {
                hooks: self.hooks.clone(),
                paused: self.control.register(&service.name),
                readiness: self.readiness.service(&service.name),
            };
            match consumer::start(
                &service,
                handler,
                controls,
                stop.child_token(),
                self.shutdown_timeout,
            ) {
                Ok(r) => running.push(r),
                Err(e) => {
                    self.readiness.stopping("a service could not start");
                    stop.cancel();
                    let _ = wait_all(running).await;
                    let _ = runtime.shutdown(self.shutdown_timeout).await;
                    return Err(e);
                }
            }
        }
        tracing::info!(
            services = ?running.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            "kafka consumers running"
        );
        self.readiness.running();

        let signal = self.shutdown.unwrap_or_else(os_signal);
        // A service that ends on its own (fatal client error) ends them all.
        let early = tokio::select! {
            () = signal => {
                tracing::info!("shutdown requested");
                None
            }
            ended = first_to_end(&mut running) => Some(ended),
        };
        match &early {
            None => self.readiness.stopping("shutdown requested"),
            Some((service, _)) => self
                .readiness
                .stopping(&format!("service `{service}` ended")),
        }
        stop.cancel();
        let mut result = wait_all(running).await;
        if let Some((service, ended)) = early {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                // The poll thread panicked: an engine bug. Stop the rest
                // cleanly, then let the panic surface.
                Err(panic) => {
                    tracing::error!(service, "consumer thread panicked; stopping every service");
                    let _ = runtime.shutdown(self.shutdown_timeout).await;
                    std::panic::resume_unwind(panic);
                }
            }
        }
        runtime.shutdown(self.shutdown_timeout).await?;
        result
    }
}

/// Resolves when the first service ends (never, without services), removing
/// it from `running`.
async fn first_to_end(running: &mut Vec<consumer::RunningService>) -> (String, consumer::Ended) {
    if running.is_empty() {
        return std::future::pending().await;
    }
    let (ended, index, _) =
        futures::future::select_all(running.iter_mut().map(|r| &mut r.done)).await;
    let service = running.remove(index).name;
    // A dropped sender cannot happen (the thread always sends), but if it
    // did the service is gone all the same.
    (service, ended.unwrap_or(Ok(Ok(()))))
}

async fn wait_all(running: Vec<consumer::RunningService>) -> Result<(), Error> {
    let mut result = Ok(());
    for r in running {
        match r.done.await {
            Ok(Ok(Err(e))) if result.is_ok() => result = Err(e),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            _ => {}
        }
    }
    result
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
///
/// The handlers are installed when this is called, not when the future is
/// first polled, so a signal arriving during startup is not lost (and does
/// not kill the process with the default action).
#[cfg(unix)]
fn os_signal() -> ShutdownSignal {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind: SignalKind, name: &'static str| {
        let registered = signal(kind);
        async move {
            match registered {
                Ok(mut s) => {
                    s.recv().await;
                    tracing::info!(signal = name, "shutdown signal received");
                }
                Err(e) => {
                    tracing::error!(signal = name, error = %e, "cannot listen for the signal");
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let terminate = listen(SignalKind::terminate(), "SIGTERM");
    Box::pin(async move {
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    })
}

/// Ctrl-C where there are no Unix signals.
#[cfg(not(unix))]
fn os_signal() -> ShutdownSignal {
    Box::pin(async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    })
}

impl IntoFuture for Serve {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    /// Sends `signal` to this very process with the system's `kill`.
    fn kill(signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &std::process::id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success());
    }

    // One test for both signals: handlers are process-wide.
    #[tokio::test]
    async fn sigterm_and_sigint_end_the_default_shutdown_signal() {
        for signal in ["-TERM", "-INT"] {
            let shutdown = super::os_signal();
            kill(signal);
            tokio::time::timeout(Duration::from_secs(10), shutdown)
                .await
                .unwrap_or_else(|_| panic!("{signal} observed"));
        }
    }
}
