//! Bytes per series of each baseline: `size_of` plus the heap it holds, measured by a counting
//! allocator after two weeks of per-minute telemetry (so every structure is at steady state,
//! capacity slack included).
//!
//! Run: `cargo run --release -p oddsight-benches --example footprint`

use oddsight_benches::{MINUTES_PER_WEEK, lognormal, minute_latency};
use oddsight_core::{
    BaselineDetector, DetectorParams, EwmaParams, Point, QuantileSketchParams, QuantileWindowParams, SeasonalParams,
    StrikePolicyParams, Watch, WindowParams, ZScore,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, keeping count of the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the caller's arguments; the counter is only
// bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Builds a value with `make`, feeds it with `feed`, and prints its inline size and the heap it
/// holds afterwards.
fn report<T>(name: &str, make: impl FnOnce() -> T, feed: impl FnOnce(&mut T)) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut value = make();
    feed(&mut value);
    let heap = LIVE.load(Ordering::Relaxed) - before;
    let inline = std::mem::size_of::<T>();
    println!("| {name} | {inline} | {heap} | {} |", inline + heap);
    drop(value);
}

fn main() {
    let series = minute_latency(2 * MINUTES_PER_WEEK, 1);
    let latencies = lognormal(1_000_000, 2);
    let points: Vec<Point> = series.timestamps.iter().zip(&series.values).map(|(&t, &v)| Point::new(t, v)).collect();
    let valid = "default parameters are valid";

    println!("| baseline (after two weeks of minutes) | size_of | heap | bytes per series |");
    println!("|---|---:|---:|---:|");
    report(
        "EwmaBaseline",
        || EwmaParams::default().build().expect(valid),
        |b| series.values.iter().for_each(|&x| b.learn(x)),
    );
    for w in [60, 1440] {
        report(
            &format!("WindowBaseline, w = {w}"),
            || WindowParams::default().window(w).build().expect(valid),
            |b| series.values.iter().for_each(|&x| b.learn(x)),
        );
    }
    report(
        "QuantileWindow, w = 1440",
        || QuantileWindowParams::default().build().expect(valid),
        |b| series.values.iter().for_each(|&x| b.learn(x)),
    );
    report(
        "SeasonalBaseline (hour of week + hour of day + global)",
        || SeasonalParams::default().build().expect(valid),
        |b| points.iter().for_each(|p| b.learn(p.timestamp, p.value)),
    );
    report(
        "QuantileSketch, α = 0.01 (10⁶ lognormal latencies)",
        || QuantileSketchParams::default().build().expect(valid),
        |s| latencies.iter().for_each(|&x| s.add(x).expect("finite")),
    );
    report(
        "Watch<BaselineDetector<SeasonalBaseline, ZScore>, StrikePolicy>",
        || {
            let b = SeasonalParams::default().build().expect(valid);
            let d = BaselineDetector::new(b, ZScore, DetectorParams::default()).expect(valid);
            Watch::new(d, StrikePolicyParams::default().build().expect(valid))
        },
        |w| {
            for &p in &points {
                w.push(p).expect("finite, in order");
            }
        },
    );
}
