//! Readiness of producers: each producer client counts as ready once a
//! broker answered it a metadata request. Until then it is asked again
//! every [`PROBE_EVERY`], on a blocking thread (metadata calls block).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::producer::BrokerProbe;
use crate::readiness::{ComponentState, Readiness};

/// How long one metadata request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait between two probes of a client no broker answered.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probes every client until it reached a broker or `stop` fires.
pub(super) fn spawn(probes: Vec<BrokerProbe>, readiness: &Readiness, stop: &CancellationToken) {
    for probe in probes {
        let (readiness, stop) = (readiness.clone(), stop.clone());
        tokio::spawn(async move {
            let probe = std::sync::Arc::new(probe);
            loop {
                let asked = std::sync::Arc::clone(&probe);
                let reached = tokio::task::spawn_blocking(move || asked.reach(PROBE_TIMEOUT)).await;
                let state = match reached {
                    Ok(Ok(())) => ComponentState::Ready,
                    Ok(Err(error)) => ComponentState::Pending(format!(
                        "reaching a broker (last attempt: {error})"
                    )),
                    Err(join) => {
                        ComponentState::Pending(format!("reaching a broker (probe failed: {join})"))
                    }
                };
                let done = state == ComponentState::Ready;
                readiness.producer(probe.label(), state);
                if done {
                    return;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(PROBE_EVERY) => {}
                }
            }
        });
    }
}
