//! What a handler may know about where its message came from.

use std::sync::Arc;
use std::time::Duration;

use crate::Metadata;

/// The handler's view of the consumer that delivered its message(s): service,
/// raw group/claim information and, with `trpcMeta=true`, tRPC metadata.
///
/// Read-only by construction (the seed's `GetRawSaramaContext` warned that
/// its write methods were undefined behaviour; here there are none).
///
/// ```
/// use kafka_runtime::{Context, RawContext};
///
/// // As a handler unit test builds one; in `serve()` the engine does.
/// let ctx = Context::for_test("trpc.app.server.consumer", RawContext::for_test("orders", 2, 41));
/// assert_eq!(ctx.service(), "trpc.app.server.consumer");
/// assert_eq!((&*ctx.raw().topic, ctx.raw().partition, ctx.raw().offset), ("orders", 2, 41));
/// assert!(ctx.metadata().is_empty()); // filled from headers with `trpcMeta=true`
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) service: Arc<str>,
    pub(crate) raw: RawContext,
    pub(crate) metadata: Metadata,
    pub(crate) attempt: u32,
    pub(crate) next_retry_delay: Option<Duration>,
}

impl Context {
    /// The name of the `server.service[]` entry being served.
    ///
    /// ```
    /// use kafka_runtime::{Context, RawContext};
    /// let ctx = Context::for_test("trpc.app.server.consumer", RawContext::for_test("orders", 0, 1));
    /// assert_eq!(ctx.service(), "trpc.app.server.consumer");
    /// ```
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Raw consumer information (the seed's `RawSaramaContext`).
    ///
    /// ```
    /// use kafka_runtime::{Context, RawContext};
    /// let ctx = Context::for_test("svc", RawContext::for_test("orders", 3, 99));
    /// let raw = ctx.raw();
    /// assert_eq!((raw.partition, raw.offset, raw.initial_offset), (3, 99, 99));
    /// ```
    pub fn raw(&self) -> &RawContext {
        &self.raw
    }

    /// tRPC metadata read from the record headers (`trpcMeta=true`); empty
    /// otherwise. For a batch, the metadata of the batch's first record.
    ///
    /// ```
    /// use kafka_runtime::{Context, RawContext};
    /// let ctx = Context::for_test("svc", RawContext::for_test("orders", 0, 0));
    /// assert!(ctx.metadata().get("tenant").is_none());
    /// ```
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Which run of the handler on this message (or batch) this is: 1 for
    /// the first, 2 for the first retry... With `retryTopics`, runs on
    /// every topic count (a record's first run in `TOPIC-retry-1` after one
    /// run in `TOPIC` is attempt 2).
    ///
    /// ```
    /// use kafka_runtime::{Context, RawContext};
    /// let ctx = Context::for_test("svc", RawContext::for_test("orders", 0, 0));
    /// assert_eq!(ctx.attempt(), 1);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How long the engine waits before running the handler again if this
    /// run fails: `retryInterval`, growing with `retryBackoff=exponential`
    /// and drawn within `retryJitter`, or the wait before the next retry
    /// topic's run. `None` when a failure now gives up (`maxRetry`
    /// exhausted and no retry topic follows: the record is dead-lettered or
    /// skipped).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kafka_runtime::{Context, RawContext};
    /// let ctx = Context::for_test("svc", RawContext::for_test("orders", 0, 0))
    ///     .with_attempt(3, Some(Duration::from_millis(400)));
    /// assert_eq!((ctx.attempt(), ctx.next_retry_delay()), (3, Some(Duration::from_millis(400))));
    /// ```
    pub fn next_retry_delay(&self) -> Option<Duration> {
        self.next_retry_delay
    }

    /// This context as the engine builds it for run `attempt` whose failure
    /// is followed by `next_retry_delay`, for handler unit tests.
    ///
    /// ```
    /// use kafka_runtime::{Context, RawContext};
    /// let last = Context::for_test("svc", RawContext::for_test("orders", 0, 0)).with_attempt(4, None);
    /// assert_eq!(last.next_retry_delay(), None); // a failure now gives up
    /// ```
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32, next_retry_delay: Option<Duration>) -> Self {
        self.attempt = attempt;
        self.next_retry_delay = next_retry_delay;
        self
    }

    /// A context for handler unit tests, outside any consumer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use kafka_runtime::{Context, HandlerError, Message, RawContext};
    ///
    /// async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    ///     assert_eq!(ctx.raw().offset, msg.offset);
    ///     Ok(())
    /// }
    /// let ctx = Context::for_test("svc", RawContext::for_test("orders", 0, 5));
    /// handle(ctx, Message::new("orders", 0, 5)).await.unwrap();
    /// # }
    /// ```
    pub fn for_test(service: &str, raw: RawContext) -> Self {
        Context {
            service: Arc::from(service),
            raw,
            metadata: Metadata::new(),
            attempt: 1,
            next_retry_delay: None,
        }
    }
}

/// Read-only facts about the consumer group session and partition claim
/// (the seed's `RawSaramaContext`: `Session` and `Claim`).
///
/// `member_id` and `generation_id` are read from librdkafka's group
/// metadata when the member starts serving the partition, so they describe
/// the generation that handed it the claim.
///
/// `assignment` is this member's own count of (non-empty) partition
/// assignments: it moves exactly when a rebalance hands it partitions.
///
/// ```
/// use kafka_runtime::RawContext;
///
/// let raw = RawContext::for_test("orders", 0, 7);
/// // The seed's `rawContext.Claim.InitialOffset()`:
/// assert_eq!(raw.initial_offset, 7);
/// assert_eq!(raw.last_offset, raw.offset);
/// assert_eq!(raw.member_id, None); // set inside a consumer group
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawContext {
    /// Topic of the (first) message. Names are shared (`Arc<str>`) by every
    /// message of a claim: a context costs reference counts, not copies.
    pub topic: Arc<str>,
    /// Partition of the (first) message.
    pub partition: i32,
    /// Offset of the (first) message.
    pub offset: i64,
    /// Offset of the (last) message; equal to `offset` for a single message.
    pub last_offset: i64,
    /// The consumer group id.
    pub group: Arc<str>,
    /// The group member id the coordinator assigned; `None` outside a group
    /// (for example in [`RawContext::for_test`]).
    pub member_id: Option<Arc<str>>,
    /// The group generation id of the claim; `None` outside a group.
    pub generation_id: Option<i32>,
    /// How many assignments this member has received so far (1 after the
    /// first rebalance); a local stand-in for the generation.
    pub assignment: u64,
    /// The first offset this member received for the partition in the
    /// current assignment (sarama's `Claim.InitialOffset`).
    pub initial_offset: i64,
}

impl RawContext {
    /// Raw context for a hand-made message, for handler unit tests.
    ///
    /// ```
    /// use kafka_runtime::RawContext;
    /// let raw = RawContext::for_test("orders", 1, 10);
    /// assert_eq!((&*raw.topic, raw.partition, raw.offset, raw.last_offset), ("orders", 1, 10, 10));
    /// ```
    pub fn for_test(topic: &str, partition: i32, offset: i64) -> Self {
        RawContext {
            topic: Arc::from(topic),
            partition,
            offset,
            last_offset: offset,
            group: Arc::from(""),
            member_id: None,
            generation_id: None,
            assignment: 0,
            initial_offset: offset,
        }
    }
}
