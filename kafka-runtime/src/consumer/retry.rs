//! The retry policy: whether a failed handling runs again, and after how
//! long (`maxRetry`, `retryInterval`, the service's `timeout`).
//!
//! [`Policy::next_delay`] is the one place that answers both questions, so
//! a backoff that grows with the attempt number (exponential, with jitter)
//! is a change of this file alone; the attempt stage already passes the
//! attempt number in and shows it on the handling's span.

use std::time::Duration;

use crate::config::RetryPolicy;

/// The retry settings of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) retry: RetryPolicy,
    pub(crate) interval: Duration,
    /// How long one attempt may run (the service's `timeout`).
    pub(crate) timeout: Option<Duration>,
}

impl Policy {
    /// After attempt number `attempts` (1 for the first run) failed: how
    /// long to wait before the next one, or `None` to give up.
    pub(crate) fn next_delay(&self, attempts: u32) -> Option<Duration> {
        self.retry
            .allows_another_attempt(attempts)
            .then_some(self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_follows_max_retry() {
        let policy = |retry| Policy {
            retry,
            interval: Duration::from_millis(7),
            timeout: None,
        };
        assert_eq!(
            policy(RetryPolicy::Forever).next_delay(1_000),
            Some(Duration::from_millis(7))
        );
        assert_eq!(policy(RetryPolicy::Never).next_delay(1), None);
        let twice = policy(RetryPolicy::Limited(2));
        assert!(twice.next_delay(2).is_some());
        assert_eq!(twice.next_delay(3), None);
    }
}
