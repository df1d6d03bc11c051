//! The Rust side of `benches/compare/compare.py` for isolation forests: reads rows the script
//! wrote, fits a forest on them and scores them, and reports how long each took.
//!
//! ```text
//! cargo run --release -p oddsight-benches --example compare_forest -- \
//!     ROWS.f64 WIDTH TREES SAMPLES full|LEVEL SEED REPEATS SCORES.f64
//! ```
//!
//! `ROWS.f64` holds the rows as raw little-endian `f64`, row after row, `WIDTH` values each.
//! `full` fits fully extended trees (`extension_level: None`), a number `LEVEL` fits
//! `extension_level: Some(LEVEL)` (0 is the classic axis-parallel forest). Each of `REPEATS`
//! runs times `ForestParams::fit` on every row, then `score_rows` of every row with the last
//! forest, each on the thread's CPU clock and on the wall clock; one thread throughout. The
//! scores go to `SCORES.f64`. Prints one JSON object with `fit_cpu_s`, `fit_wall_s`,
//! `score_cpu_s` and `score_wall_s`.

use criterion::measurement::Measurement;
use ndarray::ArrayView2;
use oddsight_benches::ThreadTime;
use oddsight_detectors::ForestParams;
use std::process::ExitCode;
use std::time::Instant;

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{name} must be a number, got {text}"))
}

fn run(args: &[String]) -> Result<(), String> {
    let [rows, width, trees, samples, extension, seed, repeats, out] = args else {
        return Err("usage: compare_forest ROWS.f64 WIDTH TREES SAMPLES full|LEVEL SEED REPEATS SCORES.f64".into());
    };
    let bytes = std::fs::read(rows).map_err(|e| format!("cannot read {rows}: {e}"))?;
    let width: usize = number("WIDTH", width)?;
    if width == 0 || bytes.len() % (8 * width) != 0 {
        return Err(format!("{rows}: {} bytes is not a whole number of rows of {width} values", bytes.len()));
    }
    let data: Vec<f64> = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    let view = ArrayView2::from_shape((data.len() / width, width), &data).map_err(|e| e.to_string())?;
    let extension_level = match extension.as_str() {
        "full" => None,
        level => Some(number("LEVEL", level)?),
    };
    let params = ForestParams::default()
        .trees(number("TREES", trees)?)
        .sample_size(number("SAMPLES", samples)?)
        .extension_level(extension_level)
        .seed(number("SEED", seed)?);
    params.validate().map_err(|e| e.to_string())?;
    let repeats: usize = number("REPEATS", repeats)?;
    if repeats == 0 {
        return Err("REPEATS must be at least 1".into());
    }

    let clock = ThreadTime;
    let (mut fit_cpu, mut fit_wall) = (Vec::new(), Vec::new());
    let mut forest = None;
    for _ in 0..repeats {
        let (cpu, wall) = (clock.start(), Instant::now());
        let fitted = params.fit(view).map_err(|e| e.to_string())?;
        fit_cpu.push(clock.end(cpu).as_secs_f64());
        fit_wall.push(wall.elapsed().as_secs_f64());
        forest = Some(fitted);
    }
    let forest = forest.ok_or("no forest fitted")?;
    let (mut score_cpu, mut score_wall) = (Vec::new(), Vec::new());
    let mut scores = vec![0.0; view.nrows()];
    for _ in 0..repeats {
        let (cpu, wall) = (clock.start(), Instant::now());
        forest.score_rows_into(view, &mut scores).map_err(|e| e.to_string())?;
        score_cpu.push(clock.end(cpu).as_secs_f64());
        score_wall.push(wall.elapsed().as_secs_f64());
    }
    let bytes: Vec<u8> = scores.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    let list = |xs: &[f64]| xs.iter().map(|x| format!("{x:.9}")).collect::<Vec<_>>().join(", ");
    println!(
        "{{\"fit_cpu_s\": [{}], \"fit_wall_s\": [{}], \"score_cpu_s\": [{}], \"score_wall_s\": [{}]}}",
        list(&fit_cpu),
        list(&fit_wall),
        list(&score_cpu),
        list(&score_wall)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare_forest: {e}");
            ExitCode::from(2)
        }
    }
}
