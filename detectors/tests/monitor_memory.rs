//! Bytes per series, measured with a counting allocator: the whole monitor's heap (series
//! entries, index, interned labels, every target's state) divided by the number of series,
//! after a day of per-minute points with a few alerts. Pins the figures documented in
//! `oddsight_detectors::monitor`, so a regression fails here.
//!
//! One test function only: the allocator counts every thread, and tests run in parallel.

use oddsight_detectors::monitor::{Monitor, TargetConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIN: i64 = 60_000;

/// Heap bytes per series of a monitor with one target of `spec` over `n` series
/// (`cpu{host="h…"}`), each fed a day of minutes with a three-point burst.
fn bytes_per_series(spec: &str, n: usize) -> f64 {
    let ts: Vec<i64> = (0..1440).map(|i| 1_795_392_000_000 + i * MIN).collect();
    let values: Vec<f64> =
        (0..1440i64).map(|i| if (900..903).contains(&i) { 400.0 } else { 100.0 + ((i * 7919) % 13) as f64 }).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut m = Monitor::new();
    m.add_target(TargetConfig::new("t", "cpu", spec)).expect("valid target");
    for s in 0..n {
        let id = m.series_id(&format!("cpu{{host=\"h{s}\"}}")).expect("valid name");
        m.ingest_batch(id, &ts, &values).expect("finite, in order");
    }
    let events = m.tick(ts[1439]);
    assert_eq!(events.len(), 2 * n, "{spec}: every series fired and resolved once");
    // The history (100 alerts) is monitor-wide, not per series: leave it out.
    let history: isize = {
        let before = LIVE.load(Ordering::Relaxed);
        let copy: Vec<_> = m.alerts(&Default::default()).into_iter().cloned().collect();
        let bytes = LIVE.load(Ordering::Relaxed) - before;
        drop(copy);
        bytes
    };
    drop(events);
    let after = LIVE.load(Ordering::Relaxed);
    let per = (after - before - history) as f64 / n as f64;
    drop(m);
    per
}

#[test]
fn bytes_per_series_by_detector() {
    let ewma = bytes_per_series("ewma", 20_000);
    let mad = bytes_per_series("mad", 1_000);
    let seasonal = bytes_per_series("seasonal", 2_000);
    eprintln!("bytes per series: ewma {ewma:.0}, mad {mad:.0}, seasonal {seasonal:.0}");
    // EWMA: a 432-byte slot (detector 104, policy 312, bookkeeping 16) plus the series entry
    // (64), its key in the index, its label and the interned label value, with the spare
    // capacity of growing tables. A million such series fit in 1 GiB with room to spare.
    assert!((650.0..=760.0).contains(&ewma), "ewma: {ewma} bytes per series");
    assert!(ewma * 1e6 < 1024.0 * 1024.0 * 1024.0 * 0.7);
    // MAD over a day of minutes: the sorted and arrival-order windows, 16 bytes a point.
    assert!((24_000.0..=25_000.0).contains(&mad), "mad: {mad} bytes per series");
    // Seasonal: 193 buckets of 48 bytes, plus the boxed detector.
    assert!((10_400.0..=10_900.0).contains(&seasonal), "seasonal: {seasonal} bytes per series");
}
