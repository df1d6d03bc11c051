//! A seeded generator of service logs with an incident in them, for examples, tests and
//! benchmarks.
//!
//! [`IncidentLogParams::generate`] writes `lines` log lines of a small shop: `checkout`,
//! `payment`, `inventory` and `cart` services logging requests (with response times and
//! memory), cache hits (without either), occasional retries (WARN, 1.5 %) and declined
//! payments (ERROR, 0.5 %). Timestamps start at 2026-03-02T09:00:00Z, about 120 ms apart.
//! Response times are lognormal around each service's median (checkout 120 ms, payment 90,
//! inventory 40, cart 25, spread `exp(N(0, 0.35²))`); memory is Gaussian around each service's
//! level (640, 420, 380, 300 MB, σ 6 MB).
//!
//! With `incident` on (the default), four things go wrong, at fixed fractions of the run:
//!
//! | lines | what | label |
//! |---|---|---|
//! | 40–42 % | checkout slows down 10–25×; a third of its lines say `slow query … took …ms` (WARN) | performance |
//! | 52–53 % | payment gateway errors and an open circuit breaker (ERROR, CRITICAL) on checkout and payment | error |
//! | 64–67 % | checkout memory climbs from 640 MB to 1.9 GB (labelled once 350 MB above its level) | memory |
//! | 8 fixed lines | odd messages: a huge payload dump, a scanner's user agent, a deprecated cipher, … | pattern |
//!
//! Every line's label says which injected anomaly it carries, if any. The generator is a pure
//! function of its parameters: the same parameters give the same bytes on every machine.

use super::AnomalyType;
use super::parse::LogFormat;
use super::record::{Level, LogRecord};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// 2026-03-02T09:00:00Z in Unix milliseconds.
pub const START_MS: i64 = 1_772_442_000_000;

/// Parameters of the generator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IncidentLogParams {
    /// Lines to write, in `1..=10_000_000`. Default 5,000.
    pub lines: usize,
    /// Seed. Default 42.
    pub seed: u64,
    /// Whether to inject the incident. Default true.
    pub incident: bool,
    /// The layout written. Default JSON lines.
    pub format: LogFormat,
}

impl Default for IncidentLogParams {
    fn default() -> Self {
        IncidentLogParams { lines: 5000, seed: 42, incident: true, format: LogFormat::Jsonl }
    }
}

/// The generated logs.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentLogs {
    /// The log text, one line per record, each ending in a newline.
    pub text: String,
    /// For each line, the injected anomaly it carries.
    pub labels: Vec<Option<AnomalyType>>,
}

/// SplitMix64: a tiny, portable, seeded random stream.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn gaussian(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn round1(x: f64) -> f64 {
        (x * 10.0).round() / 10.0
    }
}

const SERVICES: [(&str, f64, f64); 4] =
    [("checkout", 120.0, 640.0), ("payment", 90.0, 420.0), ("inventory", 40.0, 380.0), ("cart", 25.0, 300.0)];

const ODD: [&str; 8] = [
    "unexpected payload from partner feed: {\"items\":[{\"sku\":\"A-1\",\"qty\":1,\"meta\":{\"tags\":[\"x\",\"y\",\"z\"],\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt in culpa qui officia deserunt mollit anim id est laborum\"}}]}",
    "request with user agent sqlmap/1.7.2#stable probing /admin/config.php?debug=true",
    "TLS handshake with 203.0.113.9 negotiated deprecated cipher TLS_RSA_WITH_RC4_128_SHA",
    "config reload: feature flag checkout_v2 flipped by ops-bot without a change ticket",
    "clock skew of 4213ms detected against the NTP pool; token validation may misbehave",
    "received SIGHUP, reopening log files and dropping worker pool",
    "schema migration 0042_add_gift_wrap applied out of band on the primary",
    "cache stampede guard tripped: 9000 concurrent misses for one key",
];

impl IncidentLogParams {
    /// Sets `lines`.
    pub fn lines(mut self, lines: usize) -> Self {
        self.lines = lines;
        self
    }
    /// Sets `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets `incident`.
    pub fn incident(mut self, incident: bool) -> Self {
        self.incident = incident;
        self
    }
    /// Sets `format`.
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Writes the logs.
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` for `lines` out of range.
    pub fn generate(&self) -> Result<IncidentLogs> {
        if !(1..=10_000_000).contains(&self.lines) {
            return Err(Error::Core(oddsight_core::Error::InvalidParameter {
                name: "lines",
                reason: "must be in 1..=10000000",
                value: self.lines.to_string(),
            }));
        }
        let n = self.lines;
        let mut rng = Rng(self.seed ^ 0x5eed_1095);
        let mut text = String::with_capacity(n * 200);
        let mut labels = Vec::with_capacity(n);
        let frac = |i: usize| i as f64 / n as f64;
        let odd_at: Vec<usize> = (0..ODD.len()).map(|k| (n * (2 * k + 1)) / (2 * ODD.len()) + 7).collect();
        let mut ts = START_MS;
        for i in 0..n {
            ts += 1 + (-(120.0 * rng.uniform().ln())) as i64;
            let (record, label) = self.line(&mut rng, i, frac(i), &odd_at, ts);
            match self.format {
                LogFormat::Jsonl => record.write_json(&mut text),
                LogFormat::Logfmt => record.write_logfmt(&mut text),
                LogFormat::Plain => record.write_plain(&mut text),
            }
            text.push('\n');
            labels.push(label);
        }
        Ok(IncidentLogs { text, labels })
    }

    fn line(
        &self,
        rng: &mut Rng,
        i: usize,
        f: f64,
        odd_at: &[usize],
        ts: i64,
    ) -> (LogRecord<'static>, Option<AnomalyType>) {
        let s = match rng.below(10) {
            0..=3 => 0,
            4 | 5 => 1,
            6 | 7 => 2,
            _ => 3,
        };
        let (service, rt_median, mem_level) = SERVICES[s];
        let mut rt = Rng::round1(rt_median * (0.35 * rng.gaussian()).exp());
        let mut mem = Rng::round1(mem_level + 6.0 * rng.gaussian());
        let order = 100_000 + rng.below(900_000);
        let user = rng.below(50_000);
        let trace = format!("{:016x}", rng.next_u64());
        let base = |message: String, level: Level| {
            LogRecord::new(message).timestamp(ts).level(level).service(service).field("trace_id", trace.clone())
        };
        if self.incident {
            if let Some(k) = odd_at.iter().position(|&at| at == i) {
                let r = base(ODD[k].to_string(), if k % 2 == 0 { Level::Info } else { Level::Warn });
                return (r, Some(AnomalyType::Pattern));
            }
            if (0.40..0.42).contains(&f) && s == 0 {
                rt = Rng::round1(rt * (10.0 + 15.0 * rng.uniform()));
                let r = if rng.below(3) == 0 {
                    base(format!("slow query on orders table took {}ms", rt.round()), Level::Warn)
                } else {
                    base(
                        format!(
                            "order {order} placed by user{user} total {}.{:02} EUR",
                            10 + rng.below(300),
                            rng.below(100)
                        ),
                        Level::Info,
                    )
                };
                return (r.response_time_ms(rt).memory_mb(mem), Some(AnomalyType::Performance));
            }
            if (0.52..0.53).contains(&f) && s <= 1 {
                let r = if rng.below(4) == 0 {
                    base(
                        format!("circuit breaker open for payment-gateway after {} failures", 5 + rng.below(20)),
                        Level::Critical,
                    )
                } else {
                    base(
                        format!(
                            "payment gateway exception: connection refused by 10.0.3.{}:443 (attempt {})",
                            rng.below(250) + 1,
                            1 + rng.below(3)
                        ),
                        Level::Error,
                    )
                };
                return (
                    r.response_time_ms(Rng::round1(rt_median * 0.2 * (0.3 * rng.gaussian()).exp())).memory_mb(mem),
                    Some(AnomalyType::Error),
                );
            }
            if (0.64..0.67).contains(&f) && s == 0 {
                let extra = (f - 0.64) / 0.03 * 1260.0;
                mem = Rng::round1(mem + extra);
                let r = base(
                    format!(
                        "order {order} placed by user{user} total {}.{:02} EUR",
                        10 + rng.below(300),
                        rng.below(100)
                    ),
                    Level::Info,
                );
                let label = (extra >= 350.0).then_some(AnomalyType::Memory);
                return (r.response_time_ms(rt).memory_mb(mem), label);
            }
        }
        let roll = rng.below(1000);
        let r = if roll < 5 {
            base(format!("payment declined for order {order}: insufficient funds"), Level::Error)
                .response_time_ms(rt)
                .memory_mb(mem)
        } else if roll < 20 {
            base(format!("retrying {} call, attempt {}", SERVICES[(s + 1) % 4].0, 2 + rng.below(2)), Level::Warn)
                .response_time_ms(rt)
                .memory_mb(mem)
        } else if roll < 150 {
            return (base(format!("cache hit for key {service}:{user}"), Level::Debug), None);
        } else {
            let message = match s {
                0 => match rng.below(2) {
                    0 => format!(
                        "order {order} placed by user{user} total {}.{:02} EUR",
                        10 + rng.below(300),
                        rng.below(100)
                    ),
                    _ => format!("GET /api/checkout/{order} 200"),
                },
                1 => format!("payment authorized for order {order} via card ending {:04}", rng.below(10_000)),
                2 => format!("reserved {} units of sku {:08x}", 1 + rng.below(5), rng.next_u64() as u32),
                _ => format!("cart {} updated: {} items", user, 1 + rng.below(9)),
            };
            base(message, Level::Info).response_time_ms(rt).memory_mb(mem)
        };
        (r, None)
    }
}

/// The labels as a count per type: `[performance, memory, error, pattern]`.
pub fn label_counts(labels: &[Option<AnomalyType>]) -> [usize; 4] {
    let mut c = [0; 4];
    for l in labels.iter().flatten() {
        c[*l as usize] += 1;
    }
    c
}

/// The message of a generated line, for display.
pub fn short(message: &str, max: usize) -> Cow<'_, str> {
    if message.chars().count() <= max {
        Cow::Borrowed(message)
    } else {
        Cow::Owned(message.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect())
    }
}
