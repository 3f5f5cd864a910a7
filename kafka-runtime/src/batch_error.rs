//! Per-record outcomes of a batch handler.

use std::fmt;

use crate::HandlerError;

/// Which records of a batch failed, for a batch handler that handles its
/// records one by one: only those are retried (`maxRetry`, in a smaller
/// batch of their own), sent on to the retry topics or dead-lettered; the
/// others are done and committed with the batch.
///
/// A batch handler returns `Result<(), BatchError>` (or converts it into a
/// [`HandlerError`] with `?` / `.into()`); one returning
/// `Result<(), HandlerError>` keeps failing and retrying its whole batch.
/// Positions are those of the `Vec` the handler was called with.
///
/// ```
/// use kafka_runtime::{kafka_consumer, BatchError, HandlerError, Message};
///
/// #[kafka_consumer(service = "trpc.app.server.batch", batch)]
/// async fn handle(msgs: Vec<Message>) -> Result<(), BatchError> {
///     let mut failed = BatchError::new();
///     for (i, msg) in msgs.iter().enumerate() {
///         if msg.payload_bytes().is_empty() {
///             failed.fail(i, HandlerError::msg("empty order"));
///         }
///     }
///     failed.into_result()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let msgs = vec![Message::new("t", 0, 0).with_payload("a"), Message::new("t", 0, 1)];
/// let err = handle(msgs).await.unwrap_err();
/// assert_eq!(err.failed().collect::<Vec<_>>(), [1]);
/// # }
/// ```
#[derive(Default)]
pub struct BatchError {
    failed: Vec<(usize, HandlerError)>,
}

impl BatchError {
    /// No record failed (yet).
    ///
    /// ```
    /// assert!(kafka_runtime::BatchError::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the batch's record at `index` failed with `error`.
    ///
    /// ```
    /// let mut failed = kafka_runtime::BatchError::new();
    /// failed.fail(3, kafka_runtime::HandlerError::msg("bad"));
    /// assert_eq!(failed.len(), 1);
    /// ```
    pub fn fail(&mut self, index: usize, error: impl Into<HandlerError>) {
        self.failed.push((index, error.into()));
    }

    /// [`BatchError::fail`], builder style.
    ///
    /// ```
    /// use kafka_runtime::{BatchError, HandlerError};
    /// let failed = BatchError::new().with(0, HandlerError::msg("a")).with(2, HandlerError::msg("b"));
    /// assert_eq!(failed.failed().collect::<Vec<_>>(), [0, 2]);
    /// ```
    #[must_use]
    pub fn with(mut self, index: usize, error: impl Into<HandlerError>) -> Self {
        self.fail(index, error);
        self
    }

    /// Whether no record failed.
    ///
    /// ```
    /// assert!(kafka_runtime::BatchError::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.failed.is_empty()
    }

    /// How many records failed.
    ///
    /// ```
    /// assert_eq!(kafka_runtime::BatchError::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.failed.len()
    }

    /// The positions of the failed records, in the order they were reported.
    ///
    /// ```
    /// use kafka_runtime::{BatchError, HandlerError};
    /// let failed = BatchError::new().with(5, HandlerError::msg("x"));
    /// assert_eq!(failed.failed().collect::<Vec<_>>(), [5]);
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = usize> + '_ {
        self.failed.iter().map(|(i, _)| *i)
    }

    /// `Ok` when no record failed, else `Err(self)`: a batch handler's
    /// last line.
    ///
    /// ```
    /// use kafka_runtime::{BatchError, HandlerError};
    /// assert!(BatchError::new().into_result().is_ok());
    /// assert!(BatchError::new().with(1, HandlerError::msg("x")).into_result().is_err());
    /// ```
    pub fn into_result(self) -> Result<(), BatchError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Debug for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.failed.iter().map(|(i, e)| (i, e.to_string())))
            .finish()
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::handler::fmt_failed(&self.failed, f)
    }
}

impl From<BatchError> for HandlerError {
    fn from(failed: BatchError) -> Self {
        HandlerError::partial(failed.failed)
    }
}
