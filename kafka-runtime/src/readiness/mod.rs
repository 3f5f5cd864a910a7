//! Readiness for orchestrators' probes: whether every consumer service of a
//! `serve()` has joined its group and every producer has reached a broker.
//!
//! Get the handle from [`Serve::readiness`](crate::Serve::readiness) before
//! awaiting `serve()`. It is not ready until `serve()` has started its
//! services, every service's member has joined its consumer group (an
//! assignment arrived, possibly empty, or the member holds a generation),
//! and every producer has answered a metadata request from a broker. It
//! turns not-ready again when a member loses its group (its assignment is
//! lost, the group refuses its assignment protocol, a fatal error ends it)
//! and when `serve()` stops. With feature `readiness-http`, `GET /ready` on
//! `Serve::readiness_endpoint` (or `Readiness::serve_http`) answers 200 or
//! 503 with the same report.
//!
//! ```
//! let serve = kafka_runtime::serve();
//! let readiness = serve.readiness();
//! // Before serve() runs its services nothing is ready:
//! assert!(!readiness.is_ready());
//! assert!(readiness.report().to_string().starts_with("not ready"));
//! # drop(serve);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

#[cfg(feature = "readiness-http")]
mod http;
#[cfg(feature = "readiness-http")]
pub use http::{ReadinessEndpoint, READY_PATH};

/// What one consumer service or producer is doing, as far as readiness goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentState {
    /// Not there yet; the text says what it waits for (joining its group,
    /// reaching a broker).
    Pending(String),
    /// Joined its group (a service) or reached a broker (a producer).
    Ready,
    /// Was or could be there, and is not: the text says why (the group
    /// refuses this member's assignment protocol, the assignment was lost).
    Failing(String),
    /// Stopped, with the reason.
    Stopped(String),
}

impl fmt::Display for ComponentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentState::Pending(what) => write!(f, "pending: {what}"),
            ComponentState::Ready => f.write_str("ready"),
            ComponentState::Failing(why) => write!(f, "failing: {why}"),
            ComponentState::Stopped(why) => write!(f, "stopped: {why}"),
        }
    }
}

/// A snapshot of a `serve()`'s readiness, as [`Readiness::report`] gives it
/// (and the HTTP endpoint prints it).
///
/// ```
/// let report = kafka_runtime::serve().readiness().report();
/// assert!(!report.ready);
/// assert!(report.services.is_empty() && report.producers.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadinessReport {
    /// Whether every service and producer is ready and `serve()` runs.
    pub ready: bool,
    /// What `serve()` as a whole is doing (starting, running, stopping).
    pub phase: String,
    /// Each consumer service, by name; a service with `retryTopics` also
    /// as `NAME (retry topics)`, the member consuming its retry topics.
    pub services: BTreeMap<String, ComponentState>,
    /// Each producer (its `client.service[]` name or declaring type), by name.
    pub producers: BTreeMap<String, ComponentState>,
}

impl fmt::Display for ReadinessReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ready { "ready" } else { "not ready" };
        writeln!(f, "{verdict} ({})", self.phase)?;
        for (name, state) in &self.services {
            writeln!(f, "service {name}: {state}")?;
        }
        for (name, state) in &self.producers {
            writeln!(f, "producer {name}: {state}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Stopping(String),
}

#[derive(Debug, Clone)]
struct State {
    phase: Phase,
    services: BTreeMap<String, ComponentState>,
    producers: BTreeMap<String, ComponentState>,
}

impl State {
    fn ready(&self) -> bool {
        self.phase == Phase::Running
            && self
                .services
                .values()
                .chain(self.producers.values())
                .all(|s| *s == ComponentState::Ready)
    }
}

/// Whether a `serve()` is ready to do its work; cheap to clone, usable from
/// any thread. See the [module docs](self).
///
/// ```no_run
/// # async fn run() -> Result<(), kafka_runtime::Error> {
/// let serve = kafka_runtime::serve();
/// let readiness = serve.readiness();
/// tokio::spawn(async move {
///     readiness.ready().await;
///     println!("every service joined its group");
///     readiness.not_ready().await;
///     println!("not ready any more:\n{}", readiness.report());
/// });
/// serve.await
/// # }
/// ```
#[derive(Clone)]
pub struct Readiness {
    state: Arc<watch::Sender<State>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            state: Arc::new(watch::Sender::new(State {
                phase: Phase::Starting,
                services: BTreeMap::new(),
                producers: BTreeMap::new(),
            })),
        }
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Readiness").field(&self.report()).finish()
    }
}

impl Readiness {
    /// Whether every service joined its group, every producer reached a
    /// broker, and `serve()` is running (not starting, not stopping).
    ///
    /// ```
    /// assert!(!kafka_runtime::serve().readiness().is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.state.borrow().ready()
    }

    /// The state of every service and producer.
    ///
    /// ```
    /// let report = kafka_runtime::serve().readiness().report();
    /// assert_eq!(report.phase, "serve() is starting");
    /// ```
    pub fn report(&self) -> ReadinessReport {
        let state = self.state.borrow();
        ReadinessReport {
            ready: state.ready(),
            phase: match &state.phase {
                Phase::Starting => "serve() is starting".to_owned(),
                Phase::Running => "serve() is running".to_owned(),
                Phase::Stopping(why) => format!("serve() is stopping: {why}"),
            },
            services: state.services.clone(),
            producers: state.producers.clone(),
        }
    }

    /// Waits until [`is_ready`](Self::is_ready) holds (at once if it does).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let readiness = kafka_runtime::serve().readiness();
    /// let waited = tokio::time::timeout(std::time::Duration::from_millis(10), readiness.ready()).await;
    /// assert!(waited.is_err(), "never ready before serve() runs");
    /// # }
    /// ```
    pub async fn ready(&self) {
        self.wait_for(true).await;
    }

    /// Waits until [`is_ready`](Self::is_ready) does not hold (at once if
    /// it does not).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// kafka_runtime::serve().readiness().not_ready().await; // not ready yet: returns at once
    /// # }
    /// ```
    pub async fn not_ready(&self) {
        self.wait_for(false).await;
    }

    async fn wait_for(&self, ready: bool) {
        let mut changes = self.state.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = changes.wait_for(|s| s.ready() == ready).await;
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        self.state.send_modify(change);
    }

    /// `serve()` checked its wiring: these services and producers exist,
    /// none ready yet.
    pub(crate) fn starting(&self, services: &[String], producers: &[String]) {
        self.update(|state| {
            state.services = services
                .iter()
                .map(|s| (s.clone(), pending_join()))
                .collect();
            state.producers = producers
                .iter()
                .map(|p| {
                    let waits = ComponentState::Pending("reaching a broker".to_owned());
                    (p.clone(), waits)
                })
                .collect();
        });
    }

    /// Every service and producer was started.
    pub(crate) fn running(&self) {
        self.update(|state| state.phase = Phase::Running);
    }

    /// `serve()` is stopping (shutdown signal, or a service ended).
    pub(crate) fn stopping(&self, why: &str) {
        let why = why.to_owned();
        self.update(|state| state.phase = Phase::Stopping(why));
    }

    /// The reporter of one consumer service.
    pub(crate) fn service(&self, name: &str) -> ServiceReadiness {
        ServiceReadiness {
            readiness: self.clone(),
            name: Arc::from(name),
        }
    }

    /// A producer reached a broker, or could not.
    pub(crate) fn producer(&self, name: &str, state: ComponentState) {
        self.update(|s| {
            if let Some(slot) = s.producers.get_mut(name) {
                *slot = state;
            }
        });
    }
}

/// How the readiness report names the consumer of a service's retry
/// topics: a member of its own group, which must join too.
pub(crate) fn retry_member_label(service: &str) -> String {
    format!("{service} (retry topics)")
}

fn pending_join() -> ComponentState {
    ComponentState::Pending("joining its consumer group".to_owned())
}

/// What a consumer service's engine reports about its group membership.
#[derive(Clone)]
pub(crate) struct ServiceReadiness {
    readiness: Readiness,
    name: Arc<str>,
}

impl ServiceReadiness {
    fn set(&self, state: ComponentState) {
        let name = &*self.name;
        self.readiness
            .state
            .send_if_modified(|s| match s.services.get_mut(name) {
                Some(slot) if *slot != state => {
                    *slot = state;
                    true
                }
                _ => false,
            });
    }

    /// The reporter of the service's second member, the consumer of its
    /// retry topics (`retryTopics`), listed as [`retry_member_label`].
    pub(crate) fn retry_member(&self) -> ServiceReadiness {
        ServiceReadiness {
            readiness: self.readiness.clone(),
            name: Arc::from(retry_member_label(&self.name)),
        }
    }

    /// Whether the member is known to be in its group.
    pub(crate) fn is_joined(&self) -> bool {
        self.readiness.state.borrow().services.get(&*self.name) == Some(&ComponentState::Ready)
    }

    /// The member joined its group (an assignment, possibly empty).
    pub(crate) fn joined(&self) {
        self.set(ComponentState::Ready);
    }

    /// The member is out of its group and rejoining (`why`).
    pub(crate) fn rejoining(&self, why: &str) {
        self.set(ComponentState::Failing(format!(
            "{why}; rejoining its consumer group"
        )));
    }

    /// The group refuses this member (`why`).
    pub(crate) fn refused(&self, why: &str) {
        self.set(ComponentState::Failing(why.to_owned()));
    }

    /// The member stopped (`why`).
    pub(crate) fn stopped(&self, why: &str) {
        self.set(ComponentState::Stopped(why.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_only_when_everything_is_and_serve_runs() {
        let readiness = Readiness::default();
        readiness.starting(&["a".into(), "b".into()], &["p".into()]);
        let (a, b) = (readiness.service("a"), readiness.service("b"));
        a.joined();
        b.joined();
        assert!(
            !readiness.is_ready(),
            "the producer has not reached a broker"
        );
        readiness.producer("p", ComponentState::Ready);
        assert!(!readiness.is_ready(), "serve() is still starting");
        readiness.running();
        assert!(readiness.is_ready());
        readiness.ready().await;

        b.refused("group g refuses this member's assignment protocol");
        assert!(!readiness.is_ready());
        readiness.not_ready().await;
        let report = readiness.report();
        assert_eq!(
            report.services["b"],
            ComponentState::Failing("group g refuses this member's assignment protocol".into())
        );
        assert!(
            report
                .to_string()
                .contains("service b: failing: group g refuses"),
            "{report}"
        );

        b.joined();
        assert!(readiness.is_ready());
        readiness.stopping("shutdown requested");
        assert!(!readiness.is_ready());
        assert!(readiness
            .report()
            .to_string()
            .starts_with("not ready (serve() is stopping: shutdown requested)"));
    }

    #[test]
    fn a_service_with_retry_topics_waits_for_both_members() {
        let readiness = Readiness::default();
        readiness.starting(&["s".into(), retry_member_label("s")], &[]);
        readiness.running();
        let main = readiness.service("s");
        main.joined();
        assert!(!readiness.is_ready(), "the retry member has not joined");
        let retry = main.retry_member();
        retry.joined();
        assert!(readiness.is_ready());
        retry.rejoining("session expired");
        assert!(!readiness.is_ready());
        assert!(
            readiness
                .report()
                .to_string()
                .contains("service s (retry topics): failing: session expired"),
            "{}",
            readiness.report()
        );
    }

    #[test]
    fn without_services_or_producers_running_is_ready() {
        let readiness = Readiness::default();
        readiness.starting(&[], &[]);
        assert!(!readiness.is_ready());
        readiness.running();
        assert!(readiness.is_ready());
    }
}
