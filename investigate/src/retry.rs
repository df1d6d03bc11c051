//! Bounded retries with waits that honour `retry-after`, through an injectable [`Sleeper`].
//!
//! A [`RetryPolicy`] says whether a failed call is tried again and after how long: a rate limit
//! waits exactly what the provider's `retry-after` asked for (and gives up at once when that is
//! longer than [`RetryPolicy::max_retry_after`], rather than waiting less than asked); other
//! retryable failures (timeouts, 5xx, unreachable servers) back off exponentially. The waiting
//! itself goes through a [`Sleeper`], so tests record the waits instead of sleeping them:
//!
//! ```
//! use oddsight_investigate::Error;
//! use oddsight_investigate::retry::{RecordingSleeper, RetryPolicy, retry};
//! use std::time::Duration;
//!
//! let sleeper = RecordingSleeper::new();
//! let mut calls = 0;
//! let result = retry(&RetryPolicy::default(), &sleeper, |_| {
//!     calls += 1;
//!     if calls < 3 {
//!         Err(Error::RateLimited { provider: "openai".into(), retry_after_secs: Some(7.0) })
//!     } else {
//!         Ok("answer")
//!     }
//! });
//! assert_eq!(result?, "answer");
//! assert_eq!(sleeper.waits(), vec![Duration::from_secs(7), Duration::from_secs(7)]);
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::error::{Error, Result};
use std::sync::Mutex;
use std::time::Duration;

/// Waits. [`ThreadSleeper`] really sleeps; [`RecordingSleeper`] only records, for tests.
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration);
}

/// Sleeps the calling thread ([`std::thread::sleep`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Records every wait it is asked for and returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// A sleeper with no waits recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The waits asked for so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) {
        if let Ok(mut w) = self.waits.lock() {
            w.push(duration);
        }
    }
}

/// How often and after how long a failed call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry). Default 2.
    pub max_retries: u32,
    /// First backoff when the failure carries no `retry-after`; doubles on each retry.
    /// Default 1 s.
    pub base_backoff: Duration,
    /// Longest backoff. Default 30 s.
    pub max_backoff: Duration,
    /// Longest `retry-after` that is waited for; a longer one ends the retries with the rate
    /// limit error, so that the caller (or a person) decides. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0, ..Self::default() }
    }

    /// Sets `max_retries`.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets `base_backoff` and `max_backoff`.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max;
        self
    }

    /// Sets `max_retry_after`.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The wait before retry number `retry` (0 for the first retry) after `error`, or `None`
    /// when it must not be retried: the error is not retryable, the retries are spent, or the
    /// provider asked for a longer wait than [`RetryPolicy::max_retry_after`].
    pub fn delay(&self, error: &Error, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let Error::RateLimited { retry_after_secs: Some(secs), .. } = error {
            let wait = Duration::try_from_secs_f64(*secs).ok()?;
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let factor = 2u32.saturating_pow(retry.min(16));
        Some(self.base_backoff.saturating_mul(factor).min(self.max_backoff))
    }
}

/// Calls `f` (with the attempt number, 0 first) until it succeeds or `policy` says stop,
/// waiting through `sleeper` between attempts. Returns the last error when it gives up.
///
/// # Errors
/// The last error of `f`.
pub fn retry<T>(policy: &RetryPolicy, sleeper: &dyn Sleeper, mut f: impl FnMut(u32) -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match f(attempt) {
            Ok(v) => return Ok(v),
            Err(e) => match policy.delay(&e, attempt) {
                Some(wait) => {
                    sleeper.sleep(wait);
                    attempt += 1;
                }
                None => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(secs: Option<f64>) -> Error {
        Error::RateLimited { provider: "p".into(), retry_after_secs: secs }
    }

    #[test]
    fn delays_honour_retry_after_and_back_off() {
        let p = RetryPolicy::default().max_retries(10);
        assert_eq!(p.delay(&limited(Some(2.5)), 0), Some(Duration::from_millis(2500)));
        assert_eq!(p.delay(&limited(Some(61.0)), 0), None, "longer than max_retry_after: give up");
        assert_eq!(p.delay(&limited(None), 0), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(&limited(None), 2), Some(Duration::from_secs(4)));
        assert_eq!(p.delay(&limited(None), 9), Some(Duration::from_secs(30)));
        let timeout = Error::Timeout { provider: "p".into(), secs: 1.0 };
        assert_eq!(p.delay(&timeout, 1), Some(Duration::from_secs(2)));
        let server = Error::Http { provider: "p".into(), status: 503, message: String::new() };
        assert!(p.delay(&server, 0).is_some());
        let client = Error::Http { provider: "p".into(), status: 400, message: String::new() };
        assert_eq!(p.delay(&client, 0), None);
        assert_eq!(p.delay(&Error::Auth { provider: "p".into(), message: String::new() }, 0), None);
        assert_eq!(RetryPolicy::none().delay(&limited(Some(1.0)), 0), None);
        assert_eq!(RetryPolicy::default().delay(&limited(Some(1.0)), 2), None, "retries spent");
    }

    #[test]
    fn retry_is_bounded_and_returns_the_last_error() {
        let sleeper = RecordingSleeper::new();
        let mut calls = 0;
        let r: Result<()> = retry(&RetryPolicy::default(), &sleeper, |attempt| {
            assert_eq!(attempt, calls);
            calls += 1;
            Err(limited(None))
        });
        assert_eq!(r.unwrap_err().code(), "RateLimited");
        assert_eq!(calls, 3);
        assert_eq!(sleeper.waits(), vec![Duration::from_secs(1), Duration::from_secs(2)]);
        let mut calls = 0;
        let r: Result<()> = retry(&RetryPolicy::default(), &sleeper, |_| {
            calls += 1;
            Err(Error::Auth { provider: "p".into(), message: "no".into() })
        });
        assert!(r.is_err());
        assert_eq!(calls, 1, "auth failures are not retried");
    }
}
