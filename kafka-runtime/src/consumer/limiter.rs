//! `limiterRate`/`limiterBurst`: a token bucket shared by all partitions of a
//! service (the seed used one `rate.Limiter` per consumer service).
//! librdkafka has no such knob, so the runtime implements it.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Limiter {
    /// `None` when no rate is configured (or it is not positive): no limit.
    pub(crate) fn new(rate: Option<f64>, burst: Option<u32>) -> Option<Self> {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0)?;
        let burst = f64::from(burst.unwrap_or(1).max(1));
        Some(Limiter {
            rate,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                refilled: Instant::now(),
            }),
        })
    }

    /// Waits until a token is available and takes it.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut bucket = self.state.lock().await;
                let now = Instant::now();
                let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.rate;
                bucket.tokens = (bucket.tokens + earned).min(self.burst);
                bucket.refilled = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_after_the_burst() {
        let limiter = Limiter::new(Some(10.0), Some(2)).expect("a limiter");
        let start = Instant::now();
        for _ in 0..4 {
            limiter.acquire().await;
        }
        // Two tokens were saved up; the next two take 100 ms each.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(199), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1_000), "{elapsed:?}");
    }

    #[test]
    fn no_rate_no_limiter() {
        assert!(Limiter::new(None, Some(3)).is_none());
        assert!(Limiter::new(Some(0.0), None).is_none());
    }
}
