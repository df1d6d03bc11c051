//! The sliding median over a day of minutes, for `benches/compare/rolling_median.py`: writes the
//! generated series with our rolling median beside it, or times `QuantileWindow` on it.
//!
//! ```text
//! cargo run --release -p oddsight-benches --example rolling -- dump iid 100000 4 > iid.csv
//! cargo run --release -p oddsight-benches --example rolling -- time iid 100000 4
//! ```
//!
//! `dump` prints `value,median` lines (the median empty until the window is full, as pandas
//! leaves it NaN); `time` prints points per second of `learn` + `median` and of `learn` +
//! `robust` (median and MAD), best of seven passes over a warm window.

use oddsight_benches::{MINUTES_PER_DAY, gaussian, minute_latency};
use oddsight_core::{QuantileWindow, QuantileWindowParams};
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

fn window() -> QuantileWindow {
    QuantileWindowParams::default().window(MINUTES_PER_DAY).build().expect("a day of minutes is a valid window")
}

/// Points per second of `step` over `data`, best of seven passes (the window stays warm).
fn best_rate(data: &[f64], mut step: impl FnMut(f64) -> f64) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let start = Instant::now();
        let mut acc = 0.0;
        for &x in black_box(data) {
            acc += step(x);
        }
        black_box(acc);
        best = best.min(start.elapsed().as_secs_f64());
    }
    data.len() as f64 / best
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rolling dump|time iid|telemetry N SEED";
    let [mode, shape, n, seed] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (Ok(n), Ok(seed)) = (n.parse::<usize>(), seed.parse::<u64>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let data = match shape.as_str() {
        "iid" => gaussian(n, seed),
        "telemetry" => minute_latency(n, seed).values,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    match mode.as_str() {
        "dump" => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            writeln!(out, "value,median")?;
            let mut w = window();
            for &x in &data {
                w.learn(x);
                match w.median() {
                    // `{:?}` prints the shortest string that parses back to the same f64.
                    Some(m) if w.len() == MINUTES_PER_DAY => writeln!(out, "{x:?},{m:?}")?,
                    _ => writeln!(out, "{x:?},")?,
                }
            }
            out.flush()
        }
        "time" => {
            let mut w = window();
            data.iter().take(MINUTES_PER_DAY).for_each(|&x| w.learn(x));
            let median = best_rate(&data, |x| {
                w.learn(x);
                w.median().unwrap_or(0.0)
            });
            let robust = best_rate(&data, |x| {
                w.learn(x);
                w.robust().map_or(0.0, |(_, scale, _)| scale)
            });
            println!("learn+median {median:.0} points/s");
            println!("learn+robust {robust:.0} points/s");
            Ok(())
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
