//! Outcome callbacks of asynchronous sends (seed Q10: `AsyncProducerSuccCallback`
//! and `AsyncProducerErrorCallback`), settable globally and per producer.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::error::ProduceError;
use super::record::{Delivered, SentRecord};

/// Called once with a record that an asynchronous send delivered.
///
/// ```
/// use std::sync::Arc;
/// use kafka_runtime::producer::SuccessCallback;
/// let cb: SuccessCallback = Arc::new(|record, at| println!("{} at {}", record.topic, at.offset));
/// # drop(cb);
/// ```
pub type SuccessCallback = Arc<dyn Fn(&SentRecord, Delivered) + Send + Sync>;

/// Called once with a record that an asynchronous send could not deliver.
///
/// ```
/// use std::sync::Arc;
/// use kafka_runtime::producer::ErrorCallback;
/// let cb: ErrorCallback = Arc::new(|err, record| eprintln!("{}: {err}", record.topic));
/// # drop(cb);
/// ```
pub type ErrorCallback = Arc<dyn Fn(&ProduceError, &SentRecord) + Send + Sync>;

/// The callbacks that receive the outcome of `async_send_message` and of
/// `produce` on an `async=1` target. Each fires exactly once per record.
///
/// They run where the producer client's delivery reports are served: its
/// own thread (inside the runtime of the first asynchronous send, so tokio
/// calls work), or, while a task sends asynchronously at a high rate, that
/// task between its sends (every 1,024 sends, as a hand-written librdkafka
/// loop serves its reports). Keep them short and never block on a future
/// in them: a slow callback delays the reports of the records after it and
/// the task that serves it. A panicking callback is logged.
///
/// A producer's own callbacks ([`crate::producer::RawProducer::with_callbacks`])
/// take precedence, slot by slot, over the global ones
/// ([`set_async_callbacks`]); without either, failures are logged at error
/// level and successes are silent, as in the seed.
///
/// ```
/// use kafka_runtime::producer::{set_async_callbacks, AsyncCallbacks};
///
/// // The seed's `kafka.AsyncProducerErrorCallback = func(...)`, process-wide:
/// set_async_callbacks(AsyncCallbacks::new().on_error(|err, record| {
///     eprintln!("lost a record for {}: {err}", record.topic);
/// }));
/// // A producer's own (`producer.with_callbacks(..)`) win over the global ones.
/// let own = AsyncCallbacks::new().on_success(|record, at| {
///     println!("{} -> {}@{}", record.topic, at.partition, at.offset);
/// });
/// println!("{own:?}");
/// ```
#[derive(Clone, Default)]
pub struct AsyncCallbacks {
    on_success: Option<SuccessCallback>,
    on_error: Option<ErrorCallback>,
}

impl AsyncCallbacks {
    /// No callbacks: the defaults (log failures) apply.
    ///
    /// ```
    /// let callbacks = kafka_runtime::producer::AsyncCallbacks::new(); // failures logged, successes silent
    /// # drop(callbacks);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the success callback.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// let delivered = Arc::new(AtomicU64::new(0));
    /// let counter = Arc::clone(&delivered);
    /// let callbacks = kafka_runtime::producer::AsyncCallbacks::new()
    ///     .on_success(move |_record, _at| { counter.fetch_add(1, Ordering::Relaxed); });
    /// # drop(callbacks);
    /// ```
    pub fn on_success(
        mut self,
        callback: impl Fn(&SentRecord, Delivered) + Send + Sync + 'static,
    ) -> Self {
        self.on_success = Some(Arc::new(callback));
        self
    }

    /// Sets the error callback.
    ///
    /// ```
    /// let callbacks = kafka_runtime::producer::AsyncCallbacks::new()
    ///     .on_error(|err, record| eprintln!("{} not delivered: {err}", record.topic));
    /// # drop(callbacks);
    /// ```
    pub fn on_error(
        mut self,
        callback: impl Fn(&ProduceError, &SentRecord) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(callback));
        self
    }
}

impl fmt::Debug for AsyncCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncCallbacks")
            .field("on_success", &self.on_success.is_some())
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

static GLOBAL: RwLock<Option<AsyncCallbacks>> = RwLock::new(None);

/// Whether [`GLOBAL`] has a success callback: read per delivered record,
/// without the lock.
static GLOBAL_SUCCESS: AtomicBool = AtomicBool::new(false);

/// Whether a delivered record of a producer with `own` callbacks goes to
/// a success callback (when not, there is nothing to report).
pub(crate) fn has_success_callback(own: Option<&AsyncCallbacks>) -> bool {
    own.is_some_and(|c| c.on_success.is_some()) || GLOBAL_SUCCESS.load(Ordering::Acquire)
}

/// Replaces the process-wide callbacks for asynchronous sends (the seed's
/// assignment to `kafka.AsyncProducerSuccCallback` / `AsyncProducerErrorCallback`).
/// Producers with their own callbacks keep them.
///
/// ```
/// use kafka_runtime::producer::{set_async_callbacks, AsyncCallbacks};
/// set_async_callbacks(
///     AsyncCallbacks::new()
///         .on_success(|record, at| println!("{} -> {}@{}", record.topic, at.partition, at.offset))
///         .on_error(|err, record| eprintln!("lost a record for {}: {err}", record.topic)),
/// );
/// ```
pub fn set_async_callbacks(callbacks: AsyncCallbacks) {
    let success = callbacks.on_success.is_some();
    *GLOBAL.write().unwrap_or_else(PoisonError::into_inner) = Some(callbacks);
    GLOBAL_SUCCESS.store(success, Ordering::Release);
}

/// One slot of the global callbacks, without cloning the others.
fn global_slot<T>(slot: impl FnOnce(&AsyncCallbacks) -> Option<T>) -> Option<T> {
    GLOBAL
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(slot)
}

/// Reports one asynchronous outcome to the producer's callback, else the
/// global one, else the default. `record` builds what a callback receives,
/// only when there is one (the default needs only the topic).
pub(crate) fn report(
    own: Option<&AsyncCallbacks>,
    topic: &str,
    record: impl FnOnce() -> SentRecord,
    outcome: Result<Delivered, ProduceError>,
) {
    match outcome {
        Ok(delivered) => {
            let callback = match own.and_then(|c| c.on_success.as_ref()) {
                Some(own) => Some(Arc::clone(own)),
                None => global_slot(|c| c.on_success.clone()),
            };
            if let Some(callback) = callback {
                callback(&record(), delivered);
            }
        }
        Err(error) => {
            let callback = match own.and_then(|c| c.on_error.as_ref()) {
                Some(own) => Some(Arc::clone(own)),
                None => global_slot(|c| c.on_error.clone()),
            };
            match callback {
                Some(callback) => callback(&error, &record()),
                None => tracing::error!(
                    topic = %topic,
                    error = %error,
                    "asynchronous send failed"
                ),
            }
        }
    }
}
