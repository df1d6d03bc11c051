//! Quickstart: a seasonal baseline and the "3 strikes" rule catch a bad deploy.
//!
//! Two weeks of synthetic per-minute API latency with a daily cycle (busy afternoons, quiet
//! nights) and a weekly one (quiet weekends) are streamed through a time-of-week
//! [`SeasonalBaseline`] and a [`StrikePolicy`]. The first week teaches the baseline; on Tuesday
//! of the second week at 14:00 a bad deploy triples latency. The program prints every alert
//! event with the verdict that explains it.
//!
//! Run with `cargo run --release -p oddsight-examples --example quickstart`.

use oddsight_core::{
    AlertEvent, BaselineDetector, Detector, DetectorParams, Learned, Point, Resolution, SeasonalParams,
    StrikePolicyParams, Watch, ZScore,
};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-11-02 00:00 UTC.
const START: i64 = 1_793_577_600_000;
/// Tuesday of the second week, 14:00 UTC.
const DEPLOY: i64 = START + 8 * DAY + 14 * HOUR;

/// splitmix64: a tiny seeded generator, so the run is the same every time.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Median latency in ms at `t`: 80 ms at night, up to 200 ms at 14:00 on weekdays, 60 % of the
/// daytime load at weekends; log-normal noise of about 6 %.
fn latency(t: i64, rng: &mut Rng) -> f64 {
    let hour = ((t - START).rem_euclid(DAY)) as f64 / HOUR as f64;
    let weekday = ((t - START).rem_euclid(7 * DAY) / DAY) as u8;
    let daytime = (-((hour - 14.0) / 4.0).powi(2)).exp();
    let load = if weekday >= 5 { 0.6 } else { 1.0 };
    let base = 80.0 + 120.0 * daytime * load;
    let deploy = if t >= DEPLOY { 3.0 } else { 1.0 };
    base * deploy * (0.06 * rng.normal()).exp()
}

fn clock(t: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let d = (t - START) / DAY;
    let m = (t - START).rem_euclid(DAY) / MINUTE;
    format!("week {} {} {:02}:{:02}", d / 7 + 1, DAYS[(d % 7) as usize], m / 60, m % 60)
}

fn main() -> Result<(), oddsight_core::Error> {
    let baseline = SeasonalParams::default().build()?; // hour of day x day of week, UTC
    let mut detector = BaselineDetector::new(baseline, ZScore, DetectorParams::default())?;
    let mut rng = Rng(42);

    // Backfill: a week of history teaches every hour-of-week bucket.
    let history = START + 7 * DAY;
    let timestamps: Vec<i64> = (START..history).step_by(MINUTE as usize).collect();
    let values: Vec<f64> = timestamps.iter().map(|&t| latency(t, &mut rng)).collect();
    detector.update_batch(&timestamps, &values)?;
    let tue_2pm = detector.baseline().bucket(detector.baseline().bucket_index(DEPLOY)).map(|b| b.mean);
    println!("learned {} minutes of history; Tuesday 14:00 is normally {:.0} ms", values.len(), tue_2pm.unwrap_or(0.0));

    // Live: stream the second week through the 3-strikes rule.
    let mut watch = Watch::new(detector, StrikePolicyParams::strikes(3).build()?);
    let end = DEPLOY + 3 * HOUR;
    let (mut points, mut skipped, mut false_alarms) = (0u64, 0u64, 0u64);
    println!("streaming live from {} to {}; bad deploy at {}", clock(history), clock(end), clock(DEPLOY));
    let mut t = history;
    while t < end {
        let step = watch.push(Point::new(t, latency(t, &mut rng)))?;
        points += 1;
        skipped += u64::from(step.learned == Learned::Skipped);
        for event in &step.events {
            match event {
                AlertEvent::Fired { alert } => {
                    if t < DEPLOY {
                        false_alarms += 1;
                    }
                    let first = &alert.verdicts[0];
                    println!(
                        "\n{}  FIRED alert #{} ({} strikes from {}, {} min after the deploy)",
                        clock(t),
                        alert.id,
                        alert.verdicts.len(),
                        clock(alert.start),
                        (t - DEPLOY) / MINUTE
                    );
                    println!("  why: {}", step.verdict.explain());
                    println!("  first strike: {}", first.explain());
                }
                AlertEvent::Escalated { id, from, to, .. } => {
                    println!("{}  alert #{id} escalated {from} -> {to}", clock(t));
                }
                AlertEvent::Resolved { alert } => {
                    let why = match alert.resolution {
                        Some(Resolution::Rebaselined) => "a sustained shift: the new level is the baseline now",
                        _ => "back to normal",
                    };
                    println!(
                        "{}  alert #{} resolved after {} anomalous minutes: {why}",
                        clock(t),
                        alert.id,
                        alert.anomalous_points
                    );
                }
            }
        }
        t += MINUTE;
    }
    println!(
        "\n{points} live points, {skipped} kept out of the baseline, {false_alarms} false alarms before the deploy"
    );
    Ok(())
}
