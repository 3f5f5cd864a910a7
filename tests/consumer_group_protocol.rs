//! Which consumer group protocol the tests' members speak, told apart by
//! what the broker makes of `strategy=range` when a second member joins:
//! the classic protocol's `range` is eager (the first member gives up all
//! its partitions, then gets its share back), while under KIP-848's
//! `groupProtocol=consumer` every assignor is incremental (the first member
//! gives up only the partitions that move). With
//! `KAFKA_RS_TEST_GROUP_PROTOCOL=consumer` (the KIP-848 pass of
//! `scripts/test.sh`) this proves the pass ran the consumer protocol on
//! the broker, not only in the configuration.

mod consumer_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, HandlerError, Message};

const PARTITIONS: i32 = 4;

#[kafka_consumer(service = "protocol.member")]
async fn member(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

/// The rebalance callbacks a member saw, in order: each with its partitions.
type Seen = Arc<Mutex<Vec<(&'static str, Vec<i32>)>>>;

fn start_member(config: kafka_runtime::config::Config, seen: &Seen) -> Running {
    let (assigned, revoked) = (seen.clone(), seen.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(config)
        .shutdown_timeout(Duration::from_secs(10))
        .on_partitions_assigned(move |ev| {
            let partitions = ev.partitions.iter().map(|(_, p)| *p).collect();
            assigned.lock().unwrap().push(("assigned", partitions));
        })
        .on_partitions_revoked(move |ev| {
            let partitions = ev.partitions.iter().map(|(_, p)| *p).collect();
            revoked.lock().unwrap().push(("revoked", partitions));
        })
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    Running::from_parts(stop, tokio::spawn(async move { serve.await }))
}

fn held(seen: &Seen) -> usize {
    let mut held = std::collections::BTreeSet::new();
    for (kind, partitions) in seen.lock().unwrap().iter() {
        for p in partitions {
            if *kind == "assigned" {
                held.insert(*p);
            } else {
                held.remove(p);
            }
        }
    }
    held.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_is_eager_under_the_classic_protocol_and_incremental_under_kip_848() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("protocol");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[Service::new("protocol.member", &topic)
            .group(&unique_name("protocol-group"))
            .key("strategy", "range")],
    );
    let consumer_protocol =
        config.consumers[0].config.group_protocol == kafka_runtime::config::GroupProtocol::Consumer;
    let (first, second): (Seen, Seen) = Default::default();
    let a = start_member(config.clone(), &first);
    eventually("the first member to hold every partition", || {
        held(&first) == PARTITIONS as usize
    })
    .await;
    let before = first.lock().unwrap().len();
    let b = start_member(config, &second);
    eventually("the second member to get its share", || held(&second) > 0).await;
    eventually("the first member to hold the rest", || {
        held(&first) + held(&second) == PARTITIONS as usize
    })
    .await;
    // The first member's revocations since the second joined, one entry
    // per callback (a broker may rebalance more than once meanwhile).
    let revocations: Vec<usize> = first.lock().unwrap()[before..]
        .iter()
        .filter(|(kind, _)| *kind == "revoked")
        .map(|(_, partitions)| partitions.len())
        .collect();
    let revoked: usize = revocations.iter().sum();
    let moved = held(&second);
    b.stop().await.expect("a clean stop");
    a.stop().await.expect("a clean stop");
    if consumer_protocol {
        assert_eq!(
            revoked, moved,
            "KIP-848: only the {moved} partitions that moved are revoked (revoked {revoked})"
        );
    } else {
        assert_eq!(
            revocations.first(),
            Some(&(PARTITIONS as usize)),
            "classic range: the first revocation takes every partition (revocations {revocations:?})"
        );
    }
    eprintln!(
        "group protocol {}: when a second range member joined, the first was revoked {revoked} of {PARTITIONS} partitions ({moved} moved; per callback {revocations:?})",
        if consumer_protocol { "consumer (KIP-848)" } else { "classic" }
    );
}
