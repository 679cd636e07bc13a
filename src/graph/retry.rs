//! Retry policy for Graph requests: exponential backoff with full jitter, `Retry-After` when the
//! server sends one, and bounds on both the attempts and the total time.

use std::time::Duration;

use rand::Rng;

/// How a request is retried. `Default` holds the defaults of the `sync` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries per request after the first attempt (`--max-retries`).
    pub max_retries: u32,
    /// The backoff ceiling of the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling, and the largest `Retry-After` honoured.
    pub max_backoff: Duration,
    /// No retry starts once its wait would end this long after the first attempt
    /// (`--max-retry-time`).
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    /// Eight retries reach the 60 s ceiling by the eighth (0.5 s doubled seven times), so a
    /// request rides out about two minutes of outage on average, and ten minutes at most.
    fn default() -> Self {
        RetryConfig {
            max_retries: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(600),
        }
    }
}

impl RetryConfig {
    /// Returns the wait before retry number `retry` (1 for the first retry). A server hint wins
    /// when it is positive: Graph's throttling pages ask clients to wait exactly that long. A
    /// missing or zero `Retry-After` is no hint, so the backoff applies.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(hint) = retry_after.filter(|hint| !hint.is_zero()) {
            return hint.min(self.max_backoff);
        }
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        // Full jitter: a uniform wait in [0, ceiling] spreads retries of many users apart.
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// True when retry number `retry`, waiting `delay` after `elapsed` since the first attempt,
    /// stays within both bounds.
    pub fn allows(&self, retry: u32, elapsed: Duration, delay: Duration) -> bool {
        retry <= self.max_retries && elapsed.saturating_add(delay) <= self.max_elapsed
    }
}

/// True for the statuses Graph documents as transient: throttling and server faults.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Reads `Retry-After` given in seconds, the form Graph uses.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_within_ceiling() {
        let config = RetryConfig::default();
        for retry in 1..=12 {
            let ceiling = config.initial_backoff.saturating_mul(1 << (retry - 1)).min(config.max_backoff);
            assert!(config.delay(retry, None) <= ceiling);
        }
    }

    #[test]
    fn server_hint_wins_unless_zero() {
        let config = RetryConfig::default();
        assert_eq!(config.delay(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert!(config.delay(1, Some(Duration::ZERO)) <= config.initial_backoff);
        assert_eq!(config.delay(1, Some(Duration::from_secs(3600))), config.max_backoff);
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "12".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn bounds_stop_retries() {
        let config = RetryConfig { max_retries: 2, max_elapsed: Duration::from_secs(10), ..RetryConfig::default() };
        let second = Duration::from_secs(1);
        assert!(config.allows(1, Duration::ZERO, second));
        assert!(config.allows(2, Duration::from_secs(8), second));
        assert!(!config.allows(3, Duration::ZERO, second), "past max_retries");
        assert!(!config.allows(1, Duration::from_secs(9), Duration::from_secs(2)), "past max_elapsed");
    }
}
