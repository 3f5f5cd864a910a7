//! The consumer engine: one consumer-group member per Kafka service.
//!
//! # The pipeline
//!
//! A record goes through six stages, one file each, in this order; each
//! file depends only on the ones after it and on `shared.rs` (the service,
//! the claim, the unit of work, the outcome):
//!
//! 1. **Poll and dispatch** (`poll.rs`): a thread per service polls the
//!    librdkafka consumer in bursts and splits each burst into runs of one
//!    partition's records. A run is handled on the poll thread itself when
//!    the partition's task is idle and handlers are cheap (`governor.rs`
//!    decides), else handed to the partition's task in one message. The
//!    partition table (`table.rs`) is shared with the rebalance callback
//!    (`rebalance.rs`, run inside a poll); no user code runs under its lock.
//! 2. **Per-partition handling** (`partition.rs`): a tokio task per assigned
//!    partition handles, in offset order, what the poll thread handed it:
//!    single records, complete batches (collected by the one batch
//!    collector, `batch.rs`, on the poll thread: `batch=N` records or
//!    `batchFlush` after the first), handlings the poll thread started and
//!    whose handler waits, or with `keyOrderedConcurrency=N` records by key
//!    (`ordered.rs`).
//! 3. **Attempt and retry** (`attempt.rs`, policy in `retry.rs`): one
//!    handling (a message or a batch) under `maxRetry`, `retryInterval` and
//!    `timeout`, in its `kafka_handle` span, panics caught. The poll thread
//!    starts a handling with [`attempt::begin`] (one poll); what does not
//!    end there continues as a boxed continuation on the partition's task.
//! 4. **Dead letter** ([`crate::deadletter::give_up`]): what the policy
//!    gives up on is written to the next retry topic (`retryTopics`, whose
//!    records a second member of the service handles once due:
//!    [`crate::retrytopic`]), to `deadLetterTopic`, or logged and skipped.
//! 5. **Offset store** (`offsets.rs`): every path completes offsets in one
//!    contiguous-prefix tracker and stores the prefix once per chunk (at
//!    most 64 records), before another thread takes the partition over.
//! 6. **Commit** (`commit.rs`): librdkafka commits stored offsets every
//!    `auto.commit.interval.ms`; the engine commits synchronously on
//!    revocation (after the revoked partitions' tasks finished) and on
//!    shutdown, then closes the consumer.
//!
//! # Threads and ownership
//!
//! A partition is handled by one thread at a time: the poll thread while
//! its task has nothing queued or running ([`table::Queued`]), else the
//! task; each stores its offsets before the other may take over, so stored
//! offsets only grow. A run handed to a task is one channel message and
//! one wake-up, whatever its length. The attempt stage never calls back
//! into the stages before it: a handling started on the poll thread becomes
//! a [`shared::Continuation`] that the task awaits like any other work.
//!
//! # Lag
//!
//! The consumer lag gauges come from librdkafka's statistics (the context's
//! callback, `rebalance.rs`), except for paused partitions, which fetch
//! nothing and whose statistics would freeze: `lag.rs` asks for their high
//! watermark instead.
//!
//! # Stopping
//!
//! On shutdown the poll thread stops polling, stops every task (each
//! finishes its handling in flight, at most `shutdown_timeout`, and stores
//! its offsets), commits synchronously, then drops the consumer on the same
//! thread, which leaves the group ([`commit::leave_group`]). A consumer
//! error that ends the member (`poll.rs`, `ends_the_member`), or a group
//! that keeps refusing the member's assignment protocol (`protocol.rs`),
//! takes the same path and `serve()` returns it.

mod attempt;
mod batch;
mod commit;
mod governor;
mod group;
mod lag;
mod limiter;
mod offsets;
mod ordered;
mod partition;
mod poll;
mod protocol;
mod rebalance;
mod retry;
mod shared;
mod table;
mod transaction;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::Consumer;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{ConsumerConfig, ConsumerService};
use crate::control::Hooks;
use crate::deadletter::GiveUp;
use crate::handler::Handler;
use crate::producer::TransactionalProducer;
use crate::readiness::ServiceReadiness;
use crate::retrytopic::RetryTopics;
use crate::Error;
use poll::{EngineConsumer, Poller};
use rebalance::EngineContext;
use retry::Policy;
use shared::Service;
use transaction::Transaction;

/// librdkafka's `fetch.queue.backoff.ms` unless the configuration sets it
/// (`librdkafka_overrides`): how long fetching a partition is postponed once
/// its prefetch queue is over its thresholds. librdkafka's 1 s default put a
/// one-second stall into every consumer that fell behind its prefetch even
/// briefly (kafka-bench: 240,000 records drained in 1.4 s instead of 0.4 s);
/// sarama, the seed's client, has no such pause.
pub(crate) const FETCH_QUEUE_BACKOFF: Duration = Duration::from_millis(10);

/// librdkafka's `queued.max.messages.kbytes` unless the configuration sets
/// it: the most a service prefetches, in KiB (librdkafka may overshoot it
/// by one fetch per partition). librdkafka's 64 MiB let a backlog sit in
/// the consumer's memory whenever the handlers were a little slower than
/// the fetcher (kafka-bench, draining 1 GiB: 99 MiB peak RSS against a raw
/// loop's 15 MiB; with 4 MiB, 21 MiB against 17 MiB).
pub(crate) const QUEUED_MAX_KBYTES: u32 = 4 << 10;

/// How a service's poll thread ended: normally, with a fatal error, or with
/// a panic (a bug in the engine), whose payload `serve()` re-raises.
pub(crate) type Ended = std::thread::Result<Result<(), Error>>;

/// A running service; `done` resolves when its poll thread has finished.
pub(crate) struct RunningService {
    pub(crate) name: String,
    pub(crate) done: oneshot::Receiver<Ended>,
}

/// What user code attached to a service: rebalance hooks and the pause
/// switch of [`crate::ServiceControl`].
pub(crate) struct Controls {
    pub(crate) hooks: Hooks,
    pub(crate) paused: watch::Receiver<bool>,
    /// Where the member reports joining and leaving its group.
    pub(crate) readiness: ServiceReadiness,
}

/// Creates the service's consumer, subscribes it and starts its poll thread
/// (and, with `retryTopics`, a second member consuming the retry topics:
/// see [`crate::retrytopic`]). `shutdown` stops it; it then gives in-flight
/// handlers `shutdown_timeout`.
pub(crate) fn start(
    service: &ConsumerService,
    handler: Handler,
    controls: Controls,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
) -> Result<RunningService, Error> {
    let config = &service.config;
    let kafka_err = |source| Error::Kafka {
        service: service.name.clone(),
        source,
    };
    let give_up = Arc::new(GiveUp::create(config).map_err(kafka_err)?);
    let member = |config, handler, controls, stop, due_gate| Member {
        service,
        config,
        handler,
        controls,
        give_up: give_up.clone(),
        due_gate,
        stop,
        shutdown_timeout,
    };
    let member = constrain(member);
    let Some(retry_topics) = give_up.retry_topics().map(RetryTopics::all) else {
        let done = member(config, handler, controls, shutdown, false).start()?;
        return Ok(RunningService {
            name: service.name.clone(),
            done,
        });
    };
    check_retry_topics_exist(service, &retry_topics)?;
    let mut retry_config = config.clone();
    retry_config.topics = retry_topics;
    retry_config.group = format!("{}-retry", config.group);
    // Either member ending ends both, as one service.
    let both = shutdown.child_token();
    let retry_controls = Controls {
        hooks: controls.hooks.clone(),
        paused: controls.paused.clone(),
        // The retry member is in a group of its own: the service is ready
        // once both members joined theirs.
        readiness: controls.readiness.retry_member(),
    };
    let main = member(config, handler.clone(), controls, both.clone(), false).start()?;
    let retry = match member(&retry_config, handler, retry_controls, both.clone(), true).start() {
        Ok(retry) => retry,
        Err(e) => {
            // The main member stops on its own and ends its thread.
            both.cancel();
            return Err(e);
        }
    };
    let (done_tx, done) = oneshot::channel();
    tokio::spawn(async move {
        let _ = done_tx.send(first_then_other(main, retry, both).await);
    });
    Ok(RunningService {
        name: service.name.clone(),
        done,
    })
}

/// Ties the lifetime of a member builder's configuration to the member's.
fn constrain<'a, F>(f: F) -> F
where
    F: Fn(&'a ConsumerConfig, Handler, Controls, CancellationToken, bool) -> Member<'a>,
{
    f
}

/// One consumer-group member of a service: the service's own, or the one
/// of its retry topics.
struct Member<'a> {
    service: &'a ConsumerService,
    config: &'a ConsumerConfig,
    handler: Handler,
    controls: Controls,
    give_up: Arc<GiveUp>,
    due_gate: bool,
    stop: CancellationToken,
    shutdown_timeout: Duration,
}

impl Member<'_> {
    /// Creates the member's consumer, subscribes it and starts its poll
    /// thread; the receiver resolves when the thread has finished.
    fn start(self) -> Result<oneshot::Receiver<Ended>, Error> {
        let Member {
            service,
            config,
            handler,
            controls,
            give_up,
            due_gate,
            stop,
            shutdown_timeout,
        } = self;
        let kafka_err = |source| Error::Kafka {
            service: service.name.clone(),
            source,
        };
        let name: Arc<str> = Arc::from(service.name.as_str());
        // Config validation refuses `transactionalId` with `retryTopics`,
        // so only a service's own member is ever transactional.
        let transaction = match &config.transactional_id {
            None => None,
            Some(id) => {
                let producer =
                    TransactionalProducer::create(&service.name, config, id).map_err(kafka_err)?;
                Some(Arc::new(Transaction::new(
                    name.clone(),
                    Arc::new(producer),
                    config.transaction_commit_interval,
                    config.retry_interval,
                )))
            }
        };
        let context = EngineContext::new(
            name.clone(),
            // A revocation must finish within the group's rebalance timeout
            // (also librdkafka's `max.poll.interval.ms` here, and the callback
            // blocks polling), or the coordinator evicts this member anyway;
            // keep a margin for the commit that follows.
            config.group_rebalance_timeout.mul_f64(0.75),
            controls.hooks,
            controls.paused.clone(),
            controls.readiness,
            transaction.clone(),
        );
        let mut client_config = config.client_config();
        if client_config.get("statistics.interval.ms").is_none() {
            // Statistics feed the consumer lag gauges (crate::metrics).
            let interval = crate::metrics::DEFAULT_STATISTICS_INTERVAL.as_millis();
            client_config.set("statistics.interval.ms", interval.to_string());
        }
        for (key, value) in engine_defaults() {
            if client_config.get(key).is_none() {
                client_config.set(key, value);
            }
        }
        crate::logging::configure(&mut client_config);
        let consumer =
            EngineConsumer::from_config_and_context(&client_config, context).map_err(kafka_err)?;
        for topic in &config.topics {
            crate::metrics::register_consumer(&service.name, topic);
        }
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kafka_err)?;

        let batch = match (&handler, config.batch) {
            (Handler::Batch(_), Some(n)) => Some((n.max(1) as usize, config.batch_flush)),
            (Handler::Batch(_), None) => Some((1, config.batch_flush)),
            (Handler::Single(_), _) => None,
        };
        let engine_service = Arc::new(Service {
            name,
            group: Arc::from(config.group.as_str()),
            handler,
            policy: Policy::of(config, service.timeout),
            batch,
            trpc_meta: config.common.trpc_meta,
            limiter: limiter::Limiter::new(config.limiter_rate, config.limiter_burst),
            key_ordered_concurrency: config.key_ordered_concurrency.max(1) as usize,
            paused: controls.paused,
            give_up,
            due_gate,
            transaction,
        });
        let (done_tx, done) = oneshot::channel();
        let protocol = protocol::ProtocolConflict::new(&service.name, config);
        let thread_name = if due_gate {
            format!("kafka-consumer-{}-retry", service.name)
        } else {
            format!("kafka-consumer-{}", service.name)
        };
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                // Handlers started on this thread find the runtime as they
                // would on a task: spawn, timers, I/O.
                let handle = consumer.context().runtime.clone();
                let _entered = handle.enter();
                let consumer = Arc::new(consumer);
                consumer.context().paused_lag.attach(&consumer);
                let poller = Poller::new(consumer, engine_service, protocol);
                let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    poller.run(&stop, shutdown_timeout)
                }));
                commit::leave_group(poller.consumer, &poller.service.name, shutdown_timeout);
                let _ = done_tx.send(ended);
            })
            .map_err(|e| Error::Wiring(format!("could not start a consumer thread: {e}")))?;
        Ok(done)
    }
}

/// How a service of two members ended: when the first ends (an error, or
/// shutdown), the other is stopped too; a panic, else an error, of either
/// is the service's.
async fn first_then_other(
    mut main: oneshot::Receiver<Ended>,
    mut retry: oneshot::Receiver<Ended>,
    both: CancellationToken,
) -> Ended {
    // A dropped sender cannot happen (the thread always sends), but if it
    // did, the member is gone all the same.
    let ended = |r: Result<Ended, oneshot::error::RecvError>| r.unwrap_or(Ok(Ok(())));
    let (first, other) = tokio::select! {
        first = &mut main => (ended(first), retry),
        first = &mut retry => (ended(first), main),
    };
    both.cancel();
    let second = ended(other.await);
    match (first, second) {
        (Err(panic), _) | (_, Err(panic)) => Err(panic),
        (Ok(Err(e)), _) | (_, Ok(Err(e))) => Ok(Err(e)),
        _ => Ok(Ok(())),
    }
}

/// Startup fails naming the retry topics that do not exist: a copy written
/// to a missing topic would wait for it for ever (or, where brokers create
/// topics on first use, land in a topic of their default size).
fn check_retry_topics_exist(service: &ConsumerService, topics: &[String]) -> Result<(), Error> {
    let mut client_config = service.config.client_config();
    // Asking must not create them.
    client_config.set("allow.auto.create.topics", "false");
    crate::logging::configure(&mut client_config);
    let probe: rdkafka::consumer::BaseConsumer = match client_config.create() {
        Ok(probe) => probe,
        Err(error) => {
            return Err(Error::Kafka {
                service: service.name.clone(),
                source: error,
            })
        }
    };
    let mut missing = Vec::new();
    for topic in topics {
        match probe.fetch_metadata(Some(topic), RETRY_TOPIC_CHECK_TIMEOUT) {
            Ok(metadata) => {
                let exists = metadata.topics().iter().any(|t| {
                    t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                });
                if !exists {
                    missing.push(topic.as_str());
                }
            }
            Err(error) => {
                // Unreachable brokers are the security check's and
                // librdkafka's to report; the member's subscription says
                // so again if a topic is missing.
                tracing::warn!(service = &*service.name, topic, %error, "could not check that a retry topic exists");
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let levels = service.config.retry_topics.unwrap_or_default();
    Err(Error::Config(crate::config::ConfigError::for_key(
        &service.name,
        "retryTopics",
        Some(&levels.to_string()),
        format!(
            "the retry topics {} do not exist; create them before starting the service, \
             each with as many partitions as the topic it retries (kafka-rs does not create \
             topics)",
            missing
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )))
}

/// How long the startup check of the retry topics waits for metadata.
const RETRY_TOPIC_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The librdkafka properties the engine sets unless the configuration
/// does: [`FETCH_QUEUE_BACKOFF`] and [`QUEUED_MAX_KBYTES`].
pub(crate) fn engine_defaults() -> [(&'static str, String); 2] {
    [
        (
            "fetch.queue.backoff.ms",
            FETCH_QUEUE_BACKOFF.as_millis().to_string(),
        ),
        ("queued.max.messages.kbytes", QUEUED_MAX_KBYTES.to_string()),
    ]
}
