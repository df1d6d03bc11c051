//! A progress bar on standard error for long inputs of the command line.
//!
//! The bar measures bytes: a [`CountingReader`] around the input counts what has been read, and
//! [`Progress::tick`], called once per row by whoever consumes the rows, redraws the bar at most
//! ten times a second. It is drawn only when standard error is a terminal and the input is long
//! enough to be worth watching ([`Progress::wanted`]); otherwise nothing is ever written, so
//! pipes and log files stay clean.
//!
//! ```
//! use oddsight_examples::progress::bar;
//! assert_eq!(bar(50, 100, 10), "[#####-----]  50%");
//! assert_eq!(bar(7, 0, 4), "[----]   0%");
//! ```

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Inputs shorter than this (bytes) finish too quickly for a bar to help.
pub const MIN_BYTES: u64 = 4 << 20;

/// Ticks between two looks at the clock.
const TICKS_PER_CHECK: u32 = 4096;

/// Least time between two redraws.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Width of the bar itself, in characters.
const WIDTH: usize = 30;

/// A reader that counts the bytes read through it, for a [`Progress`] on another thread.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar over a known number of bytes, drawn on standard error.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    read: Arc<AtomicU64>,
    started: Instant,
    last_draw: Option<Instant>,
    ticks: u32,
    rows: u64,
}

impl Progress {
    /// Whether a bar is worth drawing: standard error is a terminal and the input has at least
    /// [`MIN_BYTES`] bytes.
    pub fn wanted(total_bytes: u64) -> bool {
        Self::worth_it(std::io::stderr().is_terminal(), total_bytes)
    }

    /// The rule behind [`Progress::wanted`], with the terminal test given.
    pub fn worth_it(stderr_is_terminal: bool, total_bytes: u64) -> bool {
        stderr_is_terminal && total_bytes >= MIN_BYTES
    }

    /// A bar over `total_bytes`, labelled `label` (the input's name).
    pub fn new(label: impl Into<String>, total_bytes: u64) -> Self {
        Progress {
            label: label.into(),
            total: total_bytes,
            read: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
            last_draw: None,
            ticks: 0,
            rows: 0,
        }
    }

    /// Wraps the input so that what is read through it moves this bar.
    pub fn reader<R: Read>(&self, inner: R) -> CountingReader<R> {
        CountingReader { inner, count: Arc::clone(&self.read) }
    }

    /// One more row consumed; redraws now and then.
    #[inline]
    pub fn tick(&mut self) {
        self.rows += 1;
        self.ticks += 1;
        if self.ticks >= TICKS_PER_CHECK {
            self.ticks = 0;
            let now = Instant::now();
            if self.last_draw.is_none_or(|t| now.duration_since(t) >= REDRAW_EVERY) {
                self.last_draw = Some(now);
                self.draw();
            }
        }
    }

    fn draw(&self) {
        let done = self.read.load(Ordering::Relaxed).min(self.total);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { self.rows as f64 / secs } else { 0.0 };
        let line = format!("\r{} {} {} rows ({:.0} rows/s)", self.label, bar(done, self.total, WIDTH), self.rows, rate);
        // A progress bar that cannot be drawn is not worth failing the run for.
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the bar's line, if it was ever drawn.
    pub fn finish(&self) {
        if self.last_draw.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// A bar of `width` characters for `done` out of `total`, with the percentage.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let share = if total == 0 { 0.0 } else { (done.min(total) as f64 / total as f64).clamp(0.0, 1.0) };
    let filled = ((share * width as f64).round() as usize).min(width);
    format!("[{}{}] {:>3.0}%", "#".repeat(filled), "-".repeat(width - filled), share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_with_the_share() {
        assert_eq!(bar(0, 10, 5), "[-----]   0%");
        assert_eq!(bar(10, 10, 5), "[#####] 100%");
        assert_eq!(bar(25, 10, 5), "[#####] 100%"); // more than the total reads as done
        assert_eq!(bar(1, 3, 6), "[##----]  33%");
    }

    #[test]
    fn only_long_inputs_on_a_terminal() {
        assert!(Progress::worth_it(true, MIN_BYTES));
        assert!(!Progress::worth_it(true, MIN_BYTES - 1));
        assert!(!Progress::worth_it(false, u64::MAX));
    }

    #[test]
    fn the_reader_counts_bytes_and_passes_them_through() {
        let progress = Progress::new("x", 11);
        let mut reader = progress.reader(&b"hello world"[..]);
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("reads from memory");
        assert_eq!(text, "hello world");
        assert_eq!(progress.read.load(Ordering::Relaxed), 11);
    }
}
