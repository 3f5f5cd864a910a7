//! What user code can do to running services: be told about rebalances
//! (partition hooks) and pause/resume a service's consumption.

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use rdkafka::TopicPartitionList;
use tokio::sync::watch;

/// Partitions that moved to or away from a service's group member, as the
/// rebalance hooks of [`Serve`](crate::Serve) see them.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let assigned = Arc::new(Mutex::new(Vec::new()));
/// let seen = Arc::clone(&assigned);
/// let serve = kafka_runtime::serve().on_partitions_assigned(move |ev| {
///     seen.lock().unwrap().extend(ev.partitions.iter().map(|(t, p)| (ev.service.clone(), t.clone(), *p)));
/// });
/// # drop(serve);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionsEvent {
    /// The `server.service[]` name of the consumer.
    pub service: String,
    /// The (topic, partition) pairs, in librdkafka's order. With the
    /// `sticky` (cooperative) strategy only the partitions that move.
    pub partitions: Vec<(String, i32)>,
}

impl PartitionsEvent {
    fn new(service: &str, tpl: &TopicPartitionList) -> Self {
        PartitionsEvent {
            service: service.to_owned(),
            partitions: tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect(),
        }
    }
}

/// A rebalance hook.
pub(crate) type Hook = Arc<dyn Fn(&PartitionsEvent) + Send + Sync>;

/// The hooks registered on `serve()`, shared by every service.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) assigned: Vec<Hook>,
    pub(crate) revoked: Vec<Hook>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("assigned", &self.assigned.len())
            .field("revoked", &self.revoked.len())
            .finish()
    }
}

impl Hooks {
    /// Calls the assigned hooks; empty assignments (cooperative rebalances
    /// report them) are not announced.
    pub(crate) fn assigned(&self, service: &str, tpl: &TopicPartitionList) {
        fire(&self.assigned, service, tpl);
    }

    /// Calls the revoked hooks; empty revocations are not announced.
    pub(crate) fn revoked(&self, service: &str, tpl: &TopicPartitionList) {
        fire(&self.revoked, service, tpl);
    }
}

fn fire(hooks: &[Hook], service: &str, tpl: &TopicPartitionList) {
    if hooks.is_empty() || tpl.count() == 0 {
        return;
    }
    let event = PartitionsEvent::new(service, tpl);
    for hook in hooks {
        // Hooks run on the poll thread inside librdkafka's rebalance
        // callback: a panicking hook must not take the group member down.
        if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&event))).is_err() {
            tracing::error!(service, "a rebalance hook panicked; ignored");
        }
    }
}

/// Pauses and resumes the consumption of services of one `serve()`; get it
/// from [`Serve::control`](crate::Serve::control) before awaiting `serve()`.
/// Cheap to clone; usable from any thread.
///
/// Pausing stops handing messages to handlers: an attempt already running
/// finishes, the service's partitions stop fetching, and messages already
/// fetched wait (uncommitted) in the service's queues. Resuming continues
/// exactly where it stopped, so nothing is lost or skipped. The state
/// belongs to the service, not to its partitions: partitions assigned by a
/// rebalance while paused stay paused, and revoked partitions leave
/// unhandled messages uncommitted for their next owner.
///
/// ```
/// let serve = kafka_runtime::serve();
/// let control = serve.control();
/// // Before `serve` runs (or for a name it does not run), nothing is known:
/// assert_eq!(control.is_paused("trpc.app.server.consumer"), None);
/// let err = control.pause("trpc.app.server.consumer").unwrap_err();
/// assert_eq!(err.service, "trpc.app.server.consumer");
/// ```
#[derive(Clone, Default)]
pub struct ServiceControl {
    services: Arc<Mutex<HashMap<String, watch::Sender<bool>>>>,
}

impl fmt::Debug for ServiceControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let services = self.lock();
        let mut names: Vec<(&String, bool)> =
            services.iter().map(|(k, v)| (k, *v.borrow())).collect();
        names.sort();
        f.debug_struct("ServiceControl")
            .field("services (paused)", &names)
            .finish()
    }
}

/// [`ServiceControl`] was asked about a service the `serve()` it belongs to
/// does not run (not started yet, or not a Kafka service of the
/// configuration).
///
/// ```
/// let control = kafka_runtime::serve().control();
/// let err = control.resume("nope").unwrap_err();
/// assert_eq!(err.service, "nope");
/// assert!(err.running.is_empty());
/// assert!(err.to_string().starts_with("`nope` is not a running Kafka service"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{service}` is not a running Kafka service of this serve(); running: [{}]",
    running.join(", ")
)]
pub struct UnknownService {
    /// The name asked for.
    pub service: String,
    /// The services that are running.
    pub running: Vec<String>,
}

impl ServiceControl {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.services.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `service` controllable; its engine watches the receiver.
    pub(crate) fn register(&self, service: &str) -> watch::Receiver<bool> {
        self.lock()
            .entry(service.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe()
    }

    fn set(&self, service: &str, paused: bool) -> Result<(), UnknownService> {
        let services = self.lock();
        match services.get(service) {
            Some(tx) => {
                tx.send_replace(paused);
                Ok(())
            }
            None => {
                let mut running: Vec<String> = services.keys().cloned().collect();
                running.sort();
                Err(UnknownService {
                    service: service.to_owned(),
                    running,
                })
            }
        }
    }

    /// Pauses `service`: no handler starts on its messages until
    /// [`resume`](Self::resume). Pausing a paused service does nothing.
    ///
    /// ```
    /// let serve = kafka_runtime::serve();
    /// let control = serve.control();
    /// // Once `serve` runs the service, this stops its handlers until `resume`;
    /// // before, the service is unknown:
    /// assert!(control.pause("trpc.app.server.consumer").is_err());
    /// ```
    pub fn pause(&self, service: &str) -> Result<(), UnknownService> {
        self.set(service, true)
    }

    /// Resumes `service` where it stopped.
    ///
    /// ```
    /// let control = kafka_runtime::serve().control();
    /// let err = control.resume("trpc.app.server.consumer").unwrap_err();
    /// assert_eq!(err.service, "trpc.app.server.consumer");
    /// ```
    pub fn resume(&self, service: &str) -> Result<(), UnknownService> {
        self.set(service, false)
    }

    /// Whether `service` is paused (`None` if it is not running).
    ///
    /// ```
    /// let control = kafka_runtime::serve().control();
    /// assert_eq!(control.is_paused("trpc.app.server.consumer"), None); // not running
    /// ```
    pub fn is_paused(&self, service: &str) -> Option<bool> {
        self.lock().get(service).map(|tx| *tx.borrow())
    }
}
