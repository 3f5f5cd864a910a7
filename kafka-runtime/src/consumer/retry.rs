//! The retry policy: whether a failed handling runs again, and after how
//! long (`maxRetry`, `retryInterval`, `retryBackoff`, `retryMaxInterval`,
//! `retryJitter`, the service's `timeout`), or whether the record moves on
//! to a retry topic (`retryTopics`).
//!
//! [`Policy::after_failure`] is the one place that answers these questions.
//! The attempt stage asks it before each run, so that the handler's
//! `Context` shows the wait that would follow a failure, and keeps that
//! answer for when the run fails.

use std::time::Duration;

use crate::config::{ConsumerConfig, RetryBackoff, RetryPolicy};

/// The retry settings of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// How many runs in place: `maxRetry`; with retry topics, per topic,
    /// where 0 means one run.
    pub(crate) retry: RetryPolicy,
    /// `retryInterval`: every wait with `fixed`, the first with `exponential`.
    pub(crate) interval: Duration,
    pub(crate) backoff: RetryBackoff,
    /// The longest wait with `exponential`.
    pub(crate) max_interval: Duration,
    /// `retryJitter`, in percent.
    pub(crate) jitter: u32,
    /// How long one attempt may run (the service's `timeout`).
    pub(crate) timeout: Option<Duration>,
}

/// What follows a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Another run in place after this wait.
    InPlace(Duration),
    /// The record moves on to the next retry topic, due after this wait.
    Hop(Duration),
    /// Give up: the dead-letter topic, or skip.
    GiveUp,
}

impl Next {
    /// The wait before the next run, wherever it happens.
    pub(crate) fn delay(self) -> Option<Duration> {
        match self {
            Next::InPlace(d) | Next::Hop(d) => Some(d),
            Next::GiveUp => None,
        }
    }
}

impl Policy {
    /// The policy of a consumer service whose handler may run `timeout`.
    pub(crate) fn of(config: &ConsumerConfig, timeout: Option<Duration>) -> Self {
        let retry = match (config.retry_topics, config.retry) {
            // The retry topics are the retries: "for ever" in place would
            // never reach them.
            (Some(_), RetryPolicy::Forever) => RetryPolicy::Never,
            (_, retry) => retry,
        };
        Policy {
            retry,
            interval: config.retry_interval,
            backoff: config.retry_backoff,
            max_interval: config.effective_retry_max_interval(),
            jitter: config.retry_jitter.min(100),
            timeout,
        }
    }

    /// The scheduled wait after a record's `total`-th run failed (1 for
    /// the first run), before jitter.
    pub(crate) fn scheduled(&self, total: u32) -> Duration {
        match self.backoff {
            RetryBackoff::Fixed => self.interval,
            RetryBackoff::Exponential => total
                .checked_sub(1)
                .and_then(|doublings| 1u32.checked_shl(doublings))
                .and_then(|factor| self.interval.checked_mul(factor))
                .map_or(self.max_interval, |d| d.min(self.max_interval)),
        }
    }

    /// What follows if run number `local` of this handling, the record's
    /// `total`-th run, fails; `hops` says whether a retry topic follows the
    /// topic it was read from. Waits in place are drawn within the jitter;
    /// a hop's wait is the schedule's, so that the records of a retry topic
    /// become due in the order they were written.
    pub(crate) fn after_failure(&self, local: u32, total: u32, hops: bool) -> Next {
        if self.retry.allows_another_attempt(local) {
            Next::InPlace(self.jittered(self.scheduled(total)))
        } else if hops {
            Next::Hop(self.scheduled(total))
        } else {
            Next::GiveUp
        }
    }

    fn jittered(&self, wait: Duration) -> Duration {
        if self.jitter == 0 {
            return wait;
        }
        let cut = fastrand::f64() * f64::from(self.jitter) / 100.0;
        wait.mul_f64(1.0 - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retry: RetryPolicy) -> Policy {
        Policy {
            retry,
            interval: Duration::from_millis(7),
            backoff: RetryBackoff::Fixed,
            max_interval: Duration::from_secs(60),
            jitter: 0,
            timeout: None,
        }
    }

    #[test]
    fn the_delay_follows_max_retry() {
        let ms7 = Next::InPlace(Duration::from_millis(7));
        assert_eq!(
            policy(RetryPolicy::Forever).after_failure(1_000, 1_000, false),
            ms7
        );
        assert_eq!(
            policy(RetryPolicy::Never).after_failure(1, 1, false),
            Next::GiveUp
        );
        let twice = policy(RetryPolicy::Limited(2));
        assert_eq!(twice.after_failure(2, 2, false), ms7);
        assert_eq!(twice.after_failure(3, 3, false), Next::GiveUp);
        assert_eq!(
            twice.after_failure(3, 3, true),
            Next::Hop(Duration::from_millis(7))
        );
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let exp = Policy {
            interval: Duration::from_millis(100),
            backoff: RetryBackoff::Exponential,
            max_interval: Duration::from_millis(1_000),
            ..policy(RetryPolicy::Forever)
        };
        let waits: Vec<u128> = (1..=6).map(|n| exp.scheduled(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(exp.scheduled(u32::MAX), Duration::from_millis(1_000));
        assert_eq!(
            exp.after_failure(3, 3, false),
            Next::InPlace(Duration::from_millis(400))
        );
    }

    #[test]
    fn jitter_never_lengthens_a_wait_and_stays_within_its_share() {
        let jittery = Policy {
            interval: Duration::from_millis(1_000),
            jitter: 30,
            ..policy(RetryPolicy::Forever)
        };
        let waits: Vec<Duration> = (0..200)
            .filter_map(|_| jittery.after_failure(1, 1, false).delay())
            .collect();
        assert!(waits
            .iter()
            .all(|w| *w >= Duration::from_millis(700) && *w <= Duration::from_millis(1_000)));
        assert!(
            waits.iter().any(|w| *w < Duration::from_millis(900)),
            "200 draws all within 10% of the top"
        );
        // A hop's wait keeps the schedule.
        let hop = Policy {
            retry: RetryPolicy::Never,
            ..jittery
        };
        assert_eq!(
            hop.after_failure(1, 1, true),
            Next::Hop(Duration::from_millis(1_000))
        );
    }

    #[test]
    fn retry_topics_turn_for_ever_into_one_run_per_topic() {
        let mut config = ConsumerConfig {
            retry_topics: Some(2),
            ..ConsumerConfig::default()
        };
        assert_eq!(Policy::of(&config, None).retry, RetryPolicy::Never);
        config.retry = RetryPolicy::Limited(1);
        assert_eq!(Policy::of(&config, None).retry, RetryPolicy::Limited(1));
        config.retry_topics = None;
        config.retry = RetryPolicy::Forever;
        assert_eq!(Policy::of(&config, None).retry, RetryPolicy::Forever);
    }
}
