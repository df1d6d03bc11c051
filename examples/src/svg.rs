//! Standalone SVG charts of a series against its expected band, with its anomalies, alert
//! spans and event markers: what `oddsight detect --plot` and the incident example draw.
//!
//! The chart is plain SVG 1.1 with no script and no external reference, so any browser or
//! image viewer opens it. Long series are reduced to one column per horizontal pixel (each
//! column keeps the lowest and highest value, the widest band and the mean expectation), so a
//! million points make a file of a few hundred kilobytes; anomalies are always drawn.
//!
//! ```
//! use oddsight_examples::svg::{ChartPoint, Span, TimeChart};
//! let points: Vec<ChartPoint> = (0..100)
//!     .map(|i| ChartPoint {
//!         timestamp: i * 60_000,
//!         value: if i == 70 { 30.0 } else { 10.0 },
//!         band: Some((10.0, 8.0, 12.0)),
//!         anomaly: i == 70,
//!     })
//!     .collect();
//! let mut chart = TimeChart::new("latency (ms)", &points);
//! chart.spans.push(Span { start: 70 * 60_000, end: 72 * 60_000, label: "alert #1".into(), color: "#d22".into() });
//! let svg = chart.render();
//! assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
//! assert_eq!(svg.matches(r#"class="anomaly""#).count(), 1);
//! ```

use std::fmt::Write as _;

/// One point of a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartPoint {
    /// Unix milliseconds.
    pub timestamp: i64,
    /// The observed value.
    pub value: f64,
    /// What was expected and its band, `(expected, lower, upper)`; `None` while the detector
    /// was still warming up.
    pub band: Option<(f64, f64, f64)>,
    /// Whether the point is marked as an anomaly.
    pub anomaly: bool,
}

/// A shaded time span (an alert), from `start` to `end` (Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Start, Unix milliseconds.
    pub start: i64,
    /// End, Unix milliseconds.
    pub end: i64,
    /// Label drawn at its top left.
    pub label: String,
    /// An SVG colour (`#d22`, `crimson`).
    pub color: String,
}

/// A vertical marker at one instant (a deploy, a rollback).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Unix milliseconds.
    pub timestamp: i64,
    /// Label drawn beside it.
    pub label: String,
    /// An SVG colour.
    pub color: String,
}

/// A chart of one series over time; fill the public fields, then [`TimeChart::render`].
pub struct TimeChart<'a> {
    /// Title at the top.
    pub title: String,
    /// The series, in time order.
    pub points: &'a [ChartPoint],
    /// Shaded spans (alerts).
    pub spans: Vec<Span>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// How an axis time is written; UTC `YYYY-MM-DD HH:MM` by default.
    pub time_label: Box<dyn Fn(i64) -> String + 'a>,
    /// Width and height in pixels. Default 1000 × 420.
    pub size: (f64, f64),
}

impl std::fmt::Debug for TimeChart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeChart")
            .field("title", &self.title)
            .field("points", &self.points.len())
            .field("spans", &self.spans)
            .field("markers", &self.markers)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Space around the plot area: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (70.0, 20.0, 36.0, 48.0);

impl<'a> TimeChart<'a> {
    /// A chart of `points` titled `title`, with no spans or markers.
    pub fn new(title: impl Into<String>, points: &'a [ChartPoint]) -> Self {
        TimeChart {
            title: title.into(),
            points,
            spans: Vec::new(),
            markers: Vec::new(),
            time_label: Box::new(utc_minute),
            size: (1000.0, 420.0),
        }
    }

    /// The chart as an SVG document.
    pub fn render(&self) -> String {
        let (w, h) = self.size;
        let (left, right, top, bottom) = MARGIN;
        let plot_w = (w - left - right).max(10.0);
        let plot_h = (h - top - bottom).max(10.0);
        let mut s = String::with_capacity(64 * 1024);
        // Writing into a String cannot fail.
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(s, r#"<text x="{left}" y="20" font-size="14">{}</text>"#, escape(&self.title));
        let finite: Vec<&ChartPoint> = self.points.iter().filter(|p| p.value.is_finite()).collect();
        let (Some(first), Some(last)) = (finite.first(), finite.last()) else {
            let _ = writeln!(s, r#"<text x="{left}" y="{}">no data</text>"#, top + plot_h / 2.0);
            s.push_str("</svg>\n");
            return s;
        };
        let (t0, t1) = (first.timestamp, last.timestamp.max(first.timestamp + 1));
        let columns = plot_w.round().max(1.0) as usize;
        let reduced = reduce(&finite, t0, t1, columns);

        // The vertical range covers the values and the bands, with a little air.
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for c in &reduced {
            lo = lo.min(c.min);
            hi = hi.max(c.max);
            // An infinite band edge (a detector that bounds one side only) is left off the scale.
            if let Some((_, l, u)) = c.band {
                if l.is_finite() {
                    lo = lo.min(l);
                }
                if u.is_finite() {
                    hi = hi.max(u);
                }
            }
        }
        // Values are finite, so both ends are; a flat series still gets a range.
        if hi <= lo {
            lo -= 1.0;
            hi += 1.0;
        }
        let pad = (hi - lo) * 0.05;
        let (lo, hi) = (lo - pad, hi + pad);
        let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * plot_w;
        // Off-scale values (an infinite band edge) are drawn at the plot's edge.
        let y = |v: f64| top + (hi - v.clamp(lo, hi)) / (hi - lo) * plot_h;

        // Axes, grid and labels.
        let _ = writeln!(
            s,
            r##"<rect class="plot-area" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##
        );
        for k in 0..=4 {
            let v = lo + (hi - lo) * k as f64 / 4.0;
            let yv = y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{yv:.1}" x2="{:.1}" y2="{yv:.1}" stroke="#eee"/><text class="y-label" x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                left + plot_w,
                left - 6.0,
                yv + 4.0,
                axis_number(v, hi - lo)
            );
        }
        let ticks = 5;
        for k in 0..=ticks {
            let t = t0 + ((t1 - t0) as f64 * k as f64 / ticks as f64).round() as i64;
            let xt = x(t);
            let anchor = match k {
                0 => "start",
                k if k == ticks => "end",
                _ => "middle",
            };
            let _ = writeln!(
                s,
                r##"<line x1="{xt:.1}" y1="{:.1}" x2="{xt:.1}" y2="{:.1}" stroke="#999"/><text class="x-label" x="{xt:.1}" y="{:.1}" text-anchor="{anchor}" fill="#555">{}</text>"##,
                top + plot_h,
                top + plot_h + 5.0,
                top + plot_h + 18.0,
                escape(&(self.time_label)(t))
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">time</text>"##,
            left + plot_w / 2.0,
            h - 8.0
        );

        // Alert spans under everything else.
        for (i, span) in self.spans.iter().enumerate() {
            let a = x(span.start.clamp(t0, t1));
            let b = x(span.end.clamp(t0, t1)).max(a + 1.0);
            let _ = writeln!(
                s,
                r#"<rect class="alert" x="{a:.1}" y="{top}" width="{:.1}" height="{plot_h}" fill="{c}" fill-opacity="0.12" stroke="{c}" stroke-opacity="0.5"/><text x="{:.1}" y="{:.1}" fill="{c}">{}</text>"#,
                b - a,
                a + 3.0,
                top + 12.0 + 12.0 * (i % 4) as f64,
                escape(&span.label),
                c = escape(&span.color),
            );
        }

        // The expected band and the expectation, in runs where the detector judged.
        for run in reduced.split(|c| c.band.is_none()).filter(|r| !r.is_empty()) {
            let upper: Vec<String> =
                run.iter().filter_map(|c| c.band.map(|(_, _, u)| format!("{:.1},{:.1}", x(c.t), y(u)))).collect();
            let lower: Vec<String> =
                run.iter().rev().filter_map(|c| c.band.map(|(_, l, _)| format!("{:.1},{:.1}", x(c.t), y(l)))).collect();
            let _ = writeln!(
                s,
                r##"<polygon class="band" points="{} {}" fill="#cde" stroke="none"/>"##,
                upper.join(" "),
                lower.join(" ")
            );
            let expected: Vec<String> =
                run.iter().filter_map(|c| c.band.map(|(e, _, _)| format!("{:.1},{:.1}", x(c.t), y(e)))).collect();
            let _ = writeln!(
                s,
                r##"<polyline class="expected" points="{}" fill="none" stroke="#68a" stroke-dasharray="4 3"/>"##,
                expected.join(" ")
            );
        }

        // The values: each column's low and high, in the order they came.
        let mut line = Vec::with_capacity(reduced.len() * 2);
        for c in &reduced {
            let (a, b) = if c.max_first { (c.max, c.min) } else { (c.min, c.max) };
            line.push(format!("{:.1},{:.1}", x(c.t), y(a)));
            if b != a {
                line.push(format!("{:.1},{:.1}", x(c.t), y(b)));
            }
        }
        let _ = writeln!(
            s,
            r##"<polyline class="values" points="{}" fill="none" stroke="#222" stroke-width="1.2"/>"##,
            line.join(" ")
        );

        // Anomalies: every one when there are few, one per column otherwise.
        let anomalies: Vec<&&ChartPoint> = finite.iter().filter(|p| p.anomaly).collect();
        let mut drawn_column = usize::MAX;
        for p in &anomalies {
            if anomalies.len() > columns {
                let column = column_of(p.timestamp, t0, t1, columns);
                if column == drawn_column {
                    continue;
                }
                drawn_column = column;
            }
            let _ = writeln!(
                s,
                r##"<circle class="anomaly" cx="{:.1}" cy="{:.1}" r="3" fill="#d22"/>"##,
                x(p.timestamp),
                y(p.value)
            );
        }

        for (i, m) in self.markers.iter().enumerate() {
            let xm = x(m.timestamp.clamp(t0, t1));
            let _ = writeln!(
                s,
                r#"<line class="marker" x1="{xm:.1}" y1="{top}" x2="{xm:.1}" y2="{:.1}" stroke="{c}" stroke-dasharray="3 2"/><text x="{:.1}" y="{:.1}" fill="{c}">{}</text>"#,
                top + plot_h,
                xm + 3.0,
                top + plot_h - 6.0 - 12.0 * (i % 6) as f64,
                escape(&m.label),
                c = escape(&m.color),
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// One pixel column of a reduced series.
#[derive(Debug, Clone, Copy)]
struct Column {
    t: i64,
    min: f64,
    max: f64,
    /// Whether the highest value came before the lowest.
    max_first: bool,
    band: Option<(f64, f64, f64)>,
}

fn column_of(t: i64, t0: i64, t1: i64, columns: usize) -> usize {
    (((t - t0) as f64 / (t1 - t0) as f64 * columns as f64) as usize).min(columns.saturating_sub(1))
}

/// Reduces the points to at most one [`Column`] per pixel column (the points themselves when
/// there are fewer).
fn reduce(points: &[&ChartPoint], t0: i64, t1: i64, columns: usize) -> Vec<Column> {
    let single = |p: &ChartPoint| Column { t: p.timestamp, min: p.value, max: p.value, max_first: false, band: p.band };
    if points.len() <= columns {
        return points.iter().map(|p| single(p)).collect();
    }
    let mut out: Vec<Column> = Vec::with_capacity(columns);
    let mut current = usize::MAX;
    // Sums of the expectation and how many points had one, for the column's mean.
    let mut expected_sum = 0.0;
    let mut expected_n = 0u32;
    for p in points {
        let column = column_of(p.timestamp, t0, t1, columns);
        if column != current || out.is_empty() {
            if let Some(last) = out.last_mut()
                && let Some(band) = last.band.as_mut()
            {
                band.0 = expected_sum / f64::from(expected_n.max(1));
            }
            current = column;
            out.push(single(p));
            (expected_sum, expected_n) = match p.band {
                Some((e, _, _)) => (e, 1),
                None => (0.0, 0),
            };
            continue;
        }
        let Some(c) = out.last_mut() else { continue };
        if p.value < c.min {
            c.min = p.value;
            c.max_first = true;
        }
        if p.value > c.max {
            c.max = p.value;
            c.max_first = false;
        }
        if let Some((e, l, u)) = p.band {
            expected_sum += e;
            expected_n += 1;
            c.band = Some(match c.band {
                Some((ce, cl, cu)) => (ce, cl.min(l), cu.max(u)),
                None => (e, l, u),
            });
        }
    }
    if let Some(last) = out.last_mut()
        && let Some(band) = last.band.as_mut()
    {
        band.0 = expected_sum / f64::from(expected_n.max(1));
    }
    out
}

/// A Unix-millisecond time as `YYYY-MM-DD HH:MM` in UTC.
pub fn utc_minute(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// An axis number with as many decimals as the axis range needs.
fn axis_number(v: f64, range: f64) -> String {
    let decimals = if range <= 0.0 || !range.is_finite() { 2.0 } else { (2.0 - range.log10().floor()).clamp(0.0, 6.0) };
    format!("{v:.*}", decimals as usize)
}

/// Escapes text for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: i64) -> Vec<ChartPoint> {
        (0..n)
            .map(|i| ChartPoint {
                timestamp: i * 1000,
                value: (i % 10) as f64 + if i == n / 2 { 100.0 } else { 0.0 },
                band: (i >= 5).then_some((4.5, 0.0, 9.0)),
                anomaly: i == n / 2,
            })
            .collect()
    }

    #[test]
    fn long_series_are_reduced_but_keep_extremes_and_anomalies() {
        let pts = points(200_000);
        let svg = TimeChart::new("big", &pts).render();
        assert!(svg.len() < 400_000, "{}", svg.len());
        assert_eq!(svg.matches(r#"class="anomaly""#).count(), 1);
        // The spike's column keeps its height: the highest value is on the chart.
        let refs: Vec<&ChartPoint> = pts.iter().collect();
        let cols = reduce(&refs, 0, 199_999_000, 910);
        assert!(cols.len() <= 910);
        assert_eq!(cols.iter().map(|c| c.max).fold(f64::MIN, f64::max), 100.0);
        assert_eq!(cols.iter().map(|c| c.min).fold(f64::MAX, f64::min), 0.0);
    }

    #[test]
    fn text_is_escaped_and_empty_charts_render() {
        let svg = TimeChart::new("a<b & \"c\"", &[]).render();
        assert!(svg.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(svg.contains("no data"));
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
    }

    #[test]
    fn warm_up_leaves_no_band() {
        let pts = points(20);
        let svg = TimeChart::new("t", &pts).render();
        // Points 0..5 have no band: the band polygon starts at the sixth point.
        assert_eq!(svg.matches(r#"class="band""#).count(), 1);
        assert_eq!(svg.matches(r#"class="expected""#).count(), 1);
    }
}
