//! The process-wide asynchronous callbacks (seed Q10), in a binary of their
//! own because they are global: each fires once per record, and a producer's
//! own callbacks take precedence.

mod producer_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_runtime::producer::{build_producer, set_async_callbacks, AsyncCallbacks, Headers};
use producer_support::Fixture;

#[tokio::test]
async fn global_callbacks_fire_once_per_record_unless_overridden() {
    let fx = Fixture::new("producer-global-cb", 1).await;
    let global_ok = Arc::new(AtomicUsize::new(0));
    let global_err = Arc::new(AtomicUsize::new(0));
    let (ok, err) = (Arc::clone(&global_ok), Arc::clone(&global_err));
    set_async_callbacks(
        AsyncCallbacks::new()
            .on_success(move |_, _| {
                ok.fetch_add(1, Ordering::SeqCst);
            })
            .on_error(move |_, _| {
                err.fetch_add(1, Ordering::SeqCst);
            }),
    );

    let mut config = fx.plain_config();
    config.max_message_bytes = 1_000;
    let producer = build_producer("test", &config, None).unwrap();
    for i in 0..7 {
        producer
            .async_send_message(&fx.topic, "k", format!("{i}"), Headers::new())
            .await
            .unwrap();
    }
    producer
        .async_send_message(&fx.topic, "k", "x".repeat(2_000), Headers::new())
        .await
        .unwrap();

    // A producer with its own success callback: its successes bypass the
    // global one, its errors (no own error callback) still reach it.
    let own_ok = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&own_ok);
    let own = producer.with_callbacks(AsyncCallbacks::new().on_success(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    for i in 0..3 {
        own.async_send_message(&fx.topic, "k", format!("own-{i}"), Headers::new())
            .await
            .unwrap();
    }
    own.async_send_message(&fx.topic, "k", "y".repeat(2_000), Headers::new())
        .await
        .unwrap();

    producer.flush(Duration::from_secs(30)).await.unwrap();
    own.flush(Duration::from_secs(30)).await.unwrap();
    assert_eq!(global_ok.load(Ordering::SeqCst), 7);
    assert_eq!(own_ok.load(Ordering::SeqCst), 3);
    assert_eq!(global_err.load(Ordering::SeqCst), 2);
}
