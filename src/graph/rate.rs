//! One request budget for the whole process: a token bucket that every Graph request draws
//! from, paused for everyone when Graph answers 429.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

struct BucketState {
    tokens: f64,
    updated: Instant,
    paused_until: Instant,
}

impl RateLimiter {
    /// A bucket refilled at `per_second` that holds at most one second of requests, so a burst
    /// after an idle spell stays within Graph's per-second limit.
    pub fn new(per_second: f64) -> Self {
        let per_second = per_second.max(0.01);
        let burst = per_second.max(1.0);
        let now = Instant::now();
        RateLimiter {
            per_second,
            burst,
            state: Mutex::new(BucketState { tokens: burst, updated: now, paused_until: now }),
        }
    }

    /// Waits until a request may start. Returns the time spent waiting.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                if now < state.paused_until {
                    state.paused_until - now
                } else {
                    let refill = now.duration_since(state.updated).as_secs_f64() * self.per_second;
                    state.tokens = (state.tokens + refill).min(self.burst);
                    state.updated = now;
                    if state.tokens >= 1.0 {
                        state.tokens -= 1.0;
                        return started.elapsed();
                    }
                    Duration::from_secs_f64((1.0 - state.tokens) / self.per_second)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds every request back for `pause`, after Graph throttled one. The bucket is emptied
    /// too, so traffic restarts at the steady rate instead of a burst.
    pub async fn pause(&self, pause: Duration) {
        let mut state = self.state.lock().await;
        let until = Instant::now() + pause;
        if until > state.paused_until {
            state.paused_until = until;
        }
        state.tokens = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_paces_requests() {
        let limiter = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..30 {
            limiter.acquire().await;
        }
        // 10 come from the full bucket, 20 more at 10 per second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_requests_back() {
        let limiter = RateLimiter::new(100.0);
        limiter.pause(Duration::from_secs(5)).await;
        let waited = limiter.acquire().await;
        assert!(waited >= Duration::from_secs(5), "{waited:?}");
    }
}
