//! One request budget for the whole process: a token bucket that every Graph request draws
//! from, in the order the requests asked. Its refill rate adapts to throttling like TCP's
//! congestion control (AIMD): a 429 cuts it to 70% and pauses everyone for `Retry-After`, and
//! each second without throttling adds back 1% of the configured rate.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The share of the rate kept after a 429 (multiplicative decrease).
const DECREASE: f64 = 0.7;

/// The share of the configured rate added back per second without a 429 (additive increase),
/// so a single cut recovers in 30 seconds. Slow on purpose: when the configured rate is above
/// what Graph allows, each climb back over the limit costs a `Retry-After` pause of everyone.
const RECOVERY_PER_SECOND: f64 = 0.01;

/// After a cut, further 429s within this time (past any pause) belong to the same burst of
/// in-flight requests and do not cut again.
const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);

pub struct RateLimiter {
    max_rate: f64,
    min_rate: f64,
    burst: f64,
    /// Waiters queue here in arrival order (tokio's mutex is fair); only the head of the queue
    /// sleeps on the bucket.
    turn: tokio::sync::Mutex<()>,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    rate: f64,
    tokens: f64,
    updated: Instant,
    paused_until: Instant,
    next_decrease: Instant,
}

/// What a 429 did to the budget, for the retry log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    /// The refill rate after the 429, in requests per second.
    pub rate: f64,
    /// True when this 429 lowered the rate; false when an earlier 429 of the same burst did.
    pub lowered: bool,
}

impl RateLimiter {
    /// A bucket refilled at `per_second`. It holds a tenth of a second of requests (at least
    /// one), so even after an idle spell no second sees more than 1.1 × `per_second` requests:
    /// Graph enforces its limits over windows of one second and longer.
    pub fn new(per_second: f64) -> Self {
        let max_rate = per_second.max(0.01);
        let burst = (max_rate / 10.0).max(1.0);
        let now = Instant::now();
        RateLimiter {
            max_rate,
            min_rate: max_rate.min(1.0),
            burst,
            turn: tokio::sync::Mutex::new(()),
            bucket: Mutex::new(Bucket {
                rate: max_rate,
                tokens: burst,
                updated: now,
                paused_until: now,
                next_decrease: now,
            }),
        }
    }

    /// Waits until a request may start. Returns the time spent waiting.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let _turn = self.turn.lock().await;
        loop {
            let wait = self.lock().take(Instant::now(), self.max_rate, self.burst);
            match wait {
                None => return started.elapsed(),
                // The state is read again after the sleep: a 429 may have paused the bucket.
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Records a 429: lowers the rate once per burst of throttled requests, empties the bucket
    /// so traffic restarts at the new rate instead of a burst, and holds every request back
    /// for `retry_after` when Graph sent a positive one.
    pub fn throttled(&self, retry_after: Option<Duration>) -> Throttled {
        let mut bucket = self.lock();
        let now = Instant::now();
        bucket.refill(now, self.max_rate, self.burst);
        if let Some(pause) = retry_after.filter(|pause| !pause.is_zero()) {
            bucket.paused_until = bucket.paused_until.max(now + pause);
        }
        let lowered = now >= bucket.next_decrease;
        if lowered {
            bucket.rate = (bucket.rate * DECREASE).max(self.min_rate);
            bucket.next_decrease = bucket.paused_until.max(now) + DECREASE_COOLDOWN;
        }
        bucket.tokens = 0.0;
        // Time spent paused earns neither tokens nor recovery.
        bucket.updated = bucket.paused_until.max(now);
        Throttled { rate: bucket.rate, lowered }
    }

    /// The current refill rate in requests per second.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // The bucket holds plain numbers that every update leaves consistent, so a panic
        // elsewhere while it was locked cannot have broken it.
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Bucket {
    /// Takes a token and returns `None`, or returns how long to wait before trying again.
    fn take(&mut self, now: Instant, max_rate: f64, burst: f64) -> Option<Duration> {
        if now < self.paused_until {
            return Some(self.paused_until - now);
        }
        self.refill(now, max_rate, burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }

    /// Credits the time since the last update: tokens at the current rate, and the additive
    /// recovery of the rate itself.
    fn refill(&mut self, now: Instant, max_rate: f64, burst: f64) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        if elapsed == 0.0 {
            return;
        }
        self.rate = (self.rate + max_rate * RECOVERY_PER_SECOND * elapsed).min(max_rate);
        self.tokens = (self.tokens + elapsed * self.rate).min(burst);
        self.updated = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_paces_requests() {
        let limiter = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..31 {
            limiter.acquire().await;
        }
        // One comes from the full bucket, 30 more at 10 per second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(2990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(3100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_share_the_rate() {
        let limiter = std::sync::Arc::new(RateLimiter::new(25.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let limiter = std::sync::Arc::clone(&limiter);
                tokio::spawn(async move {
                    for _ in 0..25 {
                        limiter.acquire().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        // 250 requests: 2.5 from the bucket, the rest at 25 per second.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((9.8..=10.1).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_everyone() {
        let limiter = RateLimiter::new(100.0);
        limiter.throttled(Some(Duration::from_secs(5)));
        let waited = limiter.acquire().await;
        assert!(waited >= Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_retry_after_is_no_pause() {
        let limiter = RateLimiter::new(100.0);
        limiter.throttled(Some(Duration::ZERO));
        let waited = limiter.acquire().await;
        assert!(waited < Duration::from_millis(50), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_cuts_once_per_burst_then_recovers() {
        let limiter = RateLimiter::new(20.0);
        let first = limiter.throttled(None);
        assert!(first.lowered);
        assert!((first.rate - 14.0).abs() < 1e-9, "{first:?}");
        let same_burst = limiter.throttled(None);
        assert!(!same_burst.lowered);
        assert!((same_burst.rate - 14.0).abs() < 1e-9, "{same_burst:?}");

        // Two seconds of recovery add 0.4 before the cut: (14 + 0.4) × 0.7.
        tokio::time::advance(Duration::from_secs(2)).await;
        let second = limiter.throttled(None);
        assert!(second.lowered);
        assert!((second.rate - 10.08).abs() < 1e-9, "{second:?}");

        // 1% of 20 per second: the missing 9.92 requests per second are back after 49.6 s.
        tokio::time::advance(Duration::from_secs(45)).await;
        limiter.acquire().await;
        assert!(limiter.rate() < 20.0, "{}", limiter.rate());
        tokio::time::advance(Duration::from_secs(5)).await;
        limiter.acquire().await;
        assert!((limiter.rate() - 20.0).abs() < 1e-9, "{}", limiter.rate());
    }
}
