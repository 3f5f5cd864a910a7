//! Handlers: what `#[kafka_consumer]` registers and what the engine calls.
//!
//! The macro turns a user's `async fn` into a [`Registration`] submitted to
//! `inventory`. At startup `serve()` matches registrations to the
//! configuration's Kafka services and asks each registration's factory for a
//! [`Handler`]: a type-erased closure that decodes the payload and runs the
//! user's function. Everything the macro can resolve at compile time (service
//! name, batch or single, parameter decoding) is baked into that closure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::{Context, Error, Message, RuntimeHandle};

/// What a handler returns on failure.
///
/// Any error type converts into it with `?` (it is anyhow-like); the engine
/// then retries as `maxRetry`/`retryInterval` say.
/// [`HandlerError::continue_without_commit`] is the seed's
/// `ContinueWithoutCommitError`: go on with the next message without
/// storing this one's offset.
///
/// ```
/// use kafka_runtime::{HandlerError, Message};
///
/// async fn handle(msg: Message) -> Result<(), HandlerError> {
///     let text = std::str::from_utf8(&msg.payload_bytes())?.to_owned(); // `?` converts
///     if text.is_empty() {
///         // Skip it without committing its offset.
///         return Err(HandlerError::continue_without_commit());
///     }
///     if text == "bad" {
///         return Err(HandlerError::msg("bad record")); // retried as `maxRetry` says
///     }
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let skip = handle(Message::new("t", 0, 0).with_payload("")).await.unwrap_err();
/// assert!(skip.is_continue_without_commit());
/// let failed = handle(Message::new("t", 0, 1).with_payload("bad")).await.unwrap_err();
/// assert_eq!(failed.to_string(), "bad record");
/// assert!(handle(Message::new("t", 0, 2).with_payload("ok")).await.is_ok());
/// # }
/// ```
pub struct HandlerError {
    kind: ErrorKind,
}

pub(crate) enum ErrorKind {
    Failed(Box<dyn std::error::Error + Send + Sync + 'static>),
    ContinueWithoutCommit,
    /// The payload did not decode. Decoding is deterministic, so retrying
    /// cannot help: the engine gives up on the record at once.
    Undecodable(String),
    /// Some records of a batch failed ([`crate::BatchError`]): their
    /// positions in the batch the handler was called with, and why.
    Partial(Vec<(usize, HandlerError)>),
}

impl HandlerError {
    /// A failure described by a message.
    ///
    /// ```
    /// let err = kafka_runtime::HandlerError::msg(format!("order {} rejected", 7));
    /// assert_eq!(err.to_string(), "order 7 rejected");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError {
            kind: ErrorKind::Failed(message.to_string().into()),
        }
    }

    /// A failure wrapping any boxable error, e.g. an `anyhow::Error`
    /// (which is not a `std::error::Error` itself, so `?` cannot convert it).
    ///
    /// ```
    /// let io = std::io::Error::other("disk full");
    /// let err = kafka_runtime::HandlerError::new(io);
    /// assert_eq!(err.to_string(), "disk full");
    /// ```
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        HandlerError {
            kind: ErrorKind::Failed(error.into()),
        }
    }

    /// Go on with the next message, but do not store this message's offset
    /// (the seed's `ContinueWithoutCommitError`). A later message's success
    /// still stores its own, later offset, as with sarama's `MarkMessage`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use kafka_runtime::{HandlerError, Message};
    /// async fn handle(msg: Message) -> Result<(), HandlerError> {
    ///     if msg.key.is_none() {
    ///         return Err(HandlerError::continue_without_commit());
    ///     }
    ///     Ok(())
    /// }
    /// assert!(handle(Message::new("t", 0, 0)).await.unwrap_err().is_continue_without_commit());
    /// # }
    /// ```
    pub fn continue_without_commit() -> Self {
        HandlerError {
            kind: ErrorKind::ContinueWithoutCommit,
        }
    }

    /// Whether this is [`HandlerError::continue_without_commit`].
    ///
    /// ```
    /// use kafka_runtime::HandlerError;
    /// assert!(HandlerError::continue_without_commit().is_continue_without_commit());
    /// assert!(!HandlerError::msg("failed").is_continue_without_commit());
    /// ```
    pub fn is_continue_without_commit(&self) -> bool {
        matches!(self.kind, ErrorKind::ContinueWithoutCommit)
    }

    pub(crate) fn undecodable(reason: String) -> Self {
        HandlerError {
            kind: ErrorKind::Undecodable(reason),
        }
    }

    pub(crate) fn partial(failed: Vec<(usize, HandlerError)>) -> Self {
        HandlerError {
            kind: ErrorKind::Partial(failed),
        }
    }

    /// For a batch handler's error built from a [`crate::BatchError`]: the
    /// positions of the records that failed, in order; `None` for an error
    /// of the whole batch.
    ///
    /// ```
    /// use kafka_runtime::{BatchError, HandlerError};
    /// let err: HandlerError = BatchError::new().with(4, HandlerError::msg("bad")).into();
    /// assert_eq!(err.failed_records(), Some(vec![4]));
    /// assert_eq!(HandlerError::msg("all of it").failed_records(), None);
    /// ```
    pub fn failed_records(&self) -> Option<Vec<usize>> {
        match &self.kind {
            ErrorKind::Partial(failed) => Some(failed.iter().map(|(i, _)| *i).collect()),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn into_kind(self) -> ErrorKind {
        self.kind
    }

    pub(crate) fn from_kind(kind: ErrorKind) -> Self {
        HandlerError { kind }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Failed(e) => write!(f, "{e}"),
            ErrorKind::ContinueWithoutCommit => f.write_str("continue without commit"),
            ErrorKind::Undecodable(e) => write!(f, "payload does not decode: {e}"),
            ErrorKind::Partial(failed) => fmt_failed(failed, f),
        }
    }
}

/// "N records of the batch failed: #i: error; ..." (the first three).
pub(crate) fn fmt_failed(
    failed: &[(usize, HandlerError)],
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(f, "{} records of the batch failed", failed.len())?;
    for (i, (index, error)) in failed.iter().enumerate().take(3) {
        let sep = if i == 0 { ": " } else { "; " };
        write!(f, "{sep}#{index}: {error}")?;
    }
    if failed.len() > 3 {
        f.write_str("; ...")?;
    }
    Ok(())
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        HandlerError {
            kind: ErrorKind::Failed(Box::new(error)),
        }
    }
}

/// What a handler returns.
///
/// ```
/// use kafka_runtime::{HandlerResult, Message};
/// async fn handle(_msg: Message) -> HandlerResult { Ok(()) }
/// ```
pub type HandlerResult = Result<(), HandlerError>;

/// The boxed future a type-erased handler returns.
///
/// ```
/// use kafka_runtime::handler::HandlerFuture;
/// let fut: HandlerFuture = Box::pin(async { Ok(()) });
/// # drop(fut);
/// ```
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'static>>;

/// A single-message handler, type-erased.
///
/// ```
/// use std::sync::Arc;
/// use kafka_runtime::handler::{Handler, SingleFn};
/// let f: SingleFn = Arc::new(|_ctx, _msg| Box::pin(async { Ok(()) }));
/// assert_eq!(format!("{:?}", Handler::Single(f)), "Handler::Single");
/// ```
pub type SingleFn = Arc<dyn Fn(Context, Message) -> HandlerFuture + Send + Sync>;

/// A batch handler, type-erased.
///
/// ```
/// use std::sync::Arc;
/// use kafka_runtime::handler::{BatchFn, Handler};
/// let f: BatchFn = Arc::new(|_ctx, msgs| Box::pin(async move { assert!(msgs.len() <= 10); Ok(()) }));
/// assert_eq!(format!("{:?}", Handler::Batch(f)), "Handler::Batch");
/// ```
pub type BatchFn = Arc<dyn Fn(Context, Vec<Message>) -> HandlerFuture + Send + Sync>;

/// A ready-to-call handler, built once per service at startup.
///
/// ```
/// use std::sync::Arc;
/// use kafka_runtime::handler::Handler;
/// use kafka_runtime::{Context, Message, RawContext};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let handler = Handler::Single(Arc::new(|_ctx, msg: Message| {
///     Box::pin(async move { assert_eq!(msg.offset, 3); Ok(()) })
/// }));
/// if let Handler::Single(f) = handler {
///     let ctx = Context::for_test("svc", RawContext::for_test("t", 0, 3));
///     f(ctx, Message::new("t", 0, 3)).await.unwrap();
/// }
/// # }
/// ```
#[derive(Clone)]
pub enum Handler {
    /// Called with one message.
    Single(SingleFn),
    /// Called with a batch of messages of one partition.
    Batch(BatchFn),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Handler::Single(_) => "Handler::Single",
            Handler::Batch(_) => "Handler::Batch",
        })
    }
}

/// One `#[kafka_consumer]` function, as registered at compile time.
///
/// ```
/// use kafka_runtime::handler::Registration;
/// // Every handler linked into this binary (`serve()` checks them against the configuration):
/// for registration in Registration::all() {
///     println!("{} serves {:?} (batch: {})", registration.name, registration.service, registration.batch);
/// }
/// ```
#[derive(Debug)]
pub struct Registration {
    /// `service = "..."`; `None` serves every Kafka service (seed Q1).
    pub service: Option<&'static str>,
    /// Whether it takes a batch.
    pub batch: bool,
    /// The function's path, for error messages.
    pub name: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Builds the callable handler (injecting extra parameters).
    pub factory: fn(&RuntimeHandle) -> Result<Handler, Error>,
}

impl Registration {
    /// Used by the macro's generated code.
    ///
    /// ```
    /// use kafka_runtime::handler::{Handler, Registration};
    /// fn factory(_: &kafka_runtime::RuntimeHandle) -> Result<Handler, kafka_runtime::Error> {
    ///     Ok(Handler::Single(std::sync::Arc::new(|_ctx, _msg| Box::pin(async { Ok(()) }))))
    /// }
    /// let registration = Registration::new(Some("svc"), false, "handle", file!(), line!(), factory);
    /// assert_eq!(registration.service, Some("svc"));
    /// ```
    pub const fn new(
        service: Option<&'static str>,
        batch: bool,
        name: &'static str,
        file: &'static str,
        line: u32,
        factory: fn(&RuntimeHandle) -> Result<Handler, Error>,
    ) -> Self {
        Registration {
            service,
            batch,
            name,
            file,
            line,
            factory,
        }
    }

    /// Every registration linked into this binary.
    ///
    /// ```
    /// let names: Vec<&str> = kafka_runtime::handler::Registration::all().map(|r| r.name).collect();
    /// println!("handlers linked in: {names:?}");
    /// ```
    pub fn all() -> impl Iterator<Item = &'static Registration> {
        inventory::iter::<Registration>.into_iter()
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "`{}` ({}:{}, {})",
            self.name,
            self.file,
            self.line,
            if self.batch { "batch" } else { "single" }
        )
    }
}

inventory::collect!(Registration);

/// Payload decoders the macro picks by the parameter's type.
pub mod decode {
    use super::*;

    /// The whole record.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// let msg = decode::message(Message::new("t", 0, 1)).unwrap();
    /// assert_eq!(msg.offset, 1);
    /// ```
    pub fn message(msg: Message) -> Result<Message, HandlerError> {
        Ok(msg)
    }

    /// The value as `Bytes`.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// assert_eq!(decode::bytes(Message::new("t", 0, 0).with_payload("v")).unwrap(), "v");
    /// ```
    pub fn bytes(msg: Message) -> Result<Bytes, HandlerError> {
        Ok(msg.payload_bytes())
    }

    /// The value as `Vec<u8>`.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// assert_eq!(decode::vec(Message::new("t", 0, 0).with_payload("v")).unwrap(), b"v");
    /// ```
    pub fn vec(msg: Message) -> Result<Vec<u8>, HandlerError> {
        Ok(msg.payload_bytes().to_vec())
    }

    /// The value as a UTF-8 `String`.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// assert_eq!(decode::string(Message::new("t", 0, 0).with_payload("v")).unwrap(), "v");
    /// assert!(decode::string(Message::new("t", 0, 0).with_payload(vec![0xff])).is_err());
    /// ```
    pub fn string(msg: Message) -> Result<String, HandlerError> {
        String::from_utf8(msg.payload_bytes().to_vec())
            .map_err(|e| HandlerError::undecodable(format!("not UTF-8: {e}")))
    }

    /// The value as JSON.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u32 }
    /// let order: Order = decode::json(Message::new("t", 0, 0).with_payload(r#"{"id":7}"#)).unwrap();
    /// assert_eq!(order.id, 7);
    /// assert!(decode::json::<Order>(Message::new("t", 0, 1).with_payload("nope")).is_err());
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(msg: Message) -> Result<T, HandlerError> {
        let payload = msg.payload_bytes();
        serde_json::from_slice(&payload).map_err(|e| {
            HandlerError::undecodable(format!("JSON into `{}`: {e}", std::any::type_name::<T>()))
        })
    }

    /// The value through the codec `C` (`#[kafka_consumer(codec = ...)]`).
    ///
    /// ```
    /// use kafka_runtime::codec::Json;
    /// use kafka_runtime::{handler::decode, Message};
    /// let n: u32 = decode::with::<Json, u32>(Message::new("t", 0, 0).with_payload("7")).unwrap();
    /// assert_eq!(n, 7);
    /// let err = decode::with::<Json, u32>(Message::new("t", 0, 1).with_payload("x")).unwrap_err();
    /// assert!(err.to_string().starts_with("payload does not decode: JSON into `u32`"), "{err}");
    /// ```
    pub fn with<C: crate::codec::Decode<T>, T>(msg: Message) -> Result<T, HandlerError> {
        C::decode(msg.payload_bytes()).map_err(|e| {
            HandlerError::undecodable(format!(
                "{} into `{}`: {e}",
                C::NAME,
                std::any::type_name::<T>()
            ))
        })
    }

    /// Decodes each message of a typed batch; what did not decode is left
    /// out of the values and reported by [`Decoded::outcome`] as failed
    /// records of the batch, so that they follow the dead-letter policy
    /// while the rest is handled.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// let msgs = vec![Message::new("t", 0, 0).with_payload("a"), Message::new("t", 0, 1).with_payload(vec![0xff])];
    /// let (texts, decoded) = decode::typed_batch(msgs, decode::string);
    /// assert_eq!(texts, ["a"]);
    /// let err = decoded.outcome(Ok(())).unwrap_err(); // the handler succeeded on "a"
    /// assert_eq!(err.failed_records(), Some(vec![1])); // the record that did not decode
    /// ```
    pub fn typed_batch<T>(
        msgs: Vec<Message>,
        decode: fn(Message) -> Result<T, HandlerError>,
    ) -> (Vec<T>, Decoded) {
        let mut values = Vec::with_capacity(msgs.len());
        let mut decoded = Decoded::default();
        for (position, m) in msgs.into_iter().enumerate() {
            match decode(m) {
                Ok(v) => {
                    values.push(v);
                    decoded.positions.push(position);
                }
                Err(e) => decoded.undecodable.push((position, e)),
            }
        }
        (values, decoded)
    }

    /// Where the values of a typed batch came from, and what did not decode.
    #[derive(Debug, Default)]
    pub struct Decoded {
        /// The position in the batch of each decoded value.
        positions: Vec<usize>,
        undecodable: Vec<(usize, HandlerError)>,
    }

    impl Decoded {
        /// Whether nothing decoded (the handler is not called).
        ///
        /// ```
        /// use kafka_runtime::{handler::decode, Message};
        /// let (_, decoded) = decode::typed_batch(vec![Message::new("t", 0, 0).with_payload(vec![0xff])], decode::string);
        /// assert!(decoded.nothing_decoded());
        /// ```
        pub fn nothing_decoded(&self) -> bool {
            self.positions.is_empty()
        }

        /// The handler's result on the decoded values, as the batch's:
        /// failed records of the values are named by their position in the
        /// batch, and the records that did not decode are failed records.
        ///
        /// ```
        /// use kafka_runtime::{handler::decode, BatchError, HandlerError, Message};
        /// let msgs = (0..3).map(|i| Message::new("t", 0, i).with_payload(if i == 0 { "x" } else { "1" })).collect();
        /// let (values, decoded) = decode::typed_batch(msgs, decode::json::<u32>);
        /// assert_eq!(values, [1, 1]);
        /// // The handler failed its second value: the batch's third record.
        /// let err = decoded.outcome(Err(BatchError::new().with(1, HandlerError::msg("no")).into())).unwrap_err();
        /// assert_eq!(err.failed_records(), Some(vec![0, 2]));
        /// ```
        pub fn outcome(self, result: HandlerResult) -> HandlerResult {
            let Decoded {
                positions,
                mut undecodable,
            } = self;
            let error = match result {
                Ok(()) if undecodable.is_empty() => return Ok(()),
                Ok(()) => return Err(HandlerError::partial(undecodable)),
                Err(e) => e,
            };
            match error.into_kind() {
                ErrorKind::Partial(failed) => {
                    for (i, e) in failed {
                        match positions.get(i) {
                            Some(&position) => undecodable.push((position, e)),
                            None => tracing::error!(
                                index = i,
                                values = positions.len(),
                                error = %e,
                                "a batch handler reported a failed record past the end of its batch; ignored"
                            ),
                        }
                    }
                    undecodable.sort_by_key(|(position, _)| *position);
                    Err(HandlerError::partial(undecodable))
                }
                kind if undecodable.is_empty() => Err(HandlerError { kind }),
                ErrorKind::ContinueWithoutCommit => Err(HandlerError::continue_without_commit()),
                // The whole batch failed: each decoded record with that error.
                kind => {
                    let text = HandlerError { kind }.to_string();
                    undecodable.extend(
                        positions
                            .into_iter()
                            .map(|position| (position, HandlerError::msg(&text))),
                    );
                    undecodable.sort_by_key(|(position, _)| *position);
                    Err(HandlerError::partial(undecodable))
                }
            }
        }
    }

    /// Decodes each message of a batch, logging and dropping the ones that do
    /// not decode (they are committed with the batch: retrying cannot fix them).
    /// `#[kafka_consumer]` uses [`typed_batch`] instead, which reports them
    /// as failed records so that they reach the dead-letter topic.
    ///
    /// ```
    /// use kafka_runtime::{handler::decode, Message};
    /// let msgs = vec![Message::new("t", 0, 0).with_payload("a"), Message::new("t", 0, 1).with_payload(vec![0xff])];
    /// let texts = decode::batch(msgs, decode::string);
    /// assert_eq!(texts, ["a"]); // the undecodable one is logged and dropped
    /// ```
    pub fn batch<T>(msgs: Vec<Message>, decode: fn(Message) -> Result<T, HandlerError>) -> Vec<T> {
        msgs.into_iter()
            .filter_map(|m| {
                // Kept for the log: a reference count, as the name is shared.
                let (topic, partition, offset) = (m.topic.clone(), m.partition, m.offset);
                match decode(m) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        tracing::error!(
                            topic = &*topic, partition, offset, error = %e,
                            "skipping a record of the batch whose payload does not decode"
                        );
                        None
                    }
                }
            })
            .collect()
    }
}

/// Requires a handler's future to be `Send` (used by the macro's generated
/// code, so the error names the handler).
#[doc(hidden)]
pub fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

/// What a handler's `Result` turns into: any error converts to
/// [`HandlerError`] (used by the macro's generated code).
#[doc(hidden)]
pub fn into_handler_result<E: Into<HandlerError>>(result: Result<(), E>) -> HandlerResult {
    result.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_and_keep_their_message() {
        fn fails() -> HandlerResult {
            let n: u32 = "x".parse()?;
            let _ = n;
            Ok(())
        }
        let e = fails().unwrap_err();
        assert!(e.to_string().contains("invalid digit"), "{e}");
        assert!(!e.is_continue_without_commit());
        let boxed: Box<dyn std::error::Error + Send + Sync> = "boxed".into();
        assert_eq!(HandlerError::new(boxed).to_string(), "boxed");
        assert!(HandlerError::continue_without_commit().is_continue_without_commit());
    }

    #[test]
    fn decoders_pick_the_payload_apart() {
        let msg = Message::new("t", 0, 7).with_payload(&b"{\"a\":1}"[..]);
        #[derive(Debug, serde::Deserialize)]
        struct A {
            a: u8,
        }
        assert_eq!(decode::json::<A>(msg.clone()).map(|v| v.a).ok(), Some(1));
        assert_eq!(
            decode::string(msg.clone()).ok().as_deref(),
            Some("{\"a\":1}")
        );
        let bad = Message::new("t", 0, 8).with_payload(&b"\xff"[..]);
        let err = decode::json::<A>(bad.clone()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Undecodable(_)), "{err}");
        assert!(decode::string(bad.clone()).is_err());
        let kept = decode::batch(vec![msg, bad], decode::json::<A>);
        assert_eq!(kept.len(), 1);
    }
}
