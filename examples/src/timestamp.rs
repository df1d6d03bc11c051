//! Timestamp parsing for the command line: the formats telemetry exports actually use, parsed
//! by hand on the hot path.
//!
//! Accepted, per row (a file may mix them):
//!
//! | form | example | read as |
//! |---|---|---|
//! | date and time, no zone | `2014-04-10 16:15:00`, `2014-04-10T16:15` | UTC |
//! | with a fraction | `2014-04-10 16:15:00.123456` (`.` or `,`) | UTC, truncated to ms |
//! | with a zone | `…Z`, `…+02:00`, `…-0530`, `…+02` (a space before it is allowed) | that offset |
//! | a date alone | `2014-04-10` | midnight UTC |
//! | a number | `1397146500`, `1397146500123`, `1397146500.5` | Unix seconds or milliseconds, see [`NumericUnit`] |
//! | anything else RFC 3339 / RFC 9557 accepts | `2014-04-10T16:15:00+02:00[Europe/Paris]` | parsed by `jiff` |
//!
//! Why by hand: the 1-million-row budget of `oddsight score` (under a second end to end) leaves
//! some tens of nanoseconds per timestamp, and a general parser spends more than that on
//! deciding which format it is looking at. The fixed forms above are checked field by field;
//! whatever they do not match goes to `jiff`, which is slower but knows the whole grammar.

use std::fmt;

/// How a numeric timestamp is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumericUnit {
    /// Decided by the first numeric timestamp of a file: a magnitude of at least 10¹¹ is
    /// milliseconds (10¹¹ s would be the year 5138, 10¹¹ ms is 1973), anything smaller
    /// seconds. The rest of the file keeps that unit.
    #[default]
    Auto,
    /// Unix seconds (a fraction is kept to the millisecond).
    Seconds,
    /// Unix milliseconds.
    Millis,
}

impl NumericUnit {
    /// The unit [`NumericUnit::Auto`] picks for a first numeric timestamp of `magnitude`.
    pub fn guess(magnitude: f64) -> NumericUnit {
        if magnitude.abs() >= 1e11 { NumericUnit::Millis } else { NumericUnit::Seconds }
    }
}

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    /// What was wrong, in a few words.
    pub reason: String,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for TimestampError {}

fn fail<T>(reason: impl Into<String>) -> Result<T, TimestampError> {
    Err(TimestampError { reason: reason.into() })
}

/// A timestamp parser that remembers the numeric unit once [`NumericUnit::Auto`] has decided,
/// and the last date it read (consecutive rows mostly share it, so the calendar arithmetic
/// is done once a day, not once a row).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimestampParser {
    unit: NumericUnit,
    /// `YYYY-MM-DD` of the last date read, and its day number.
    last_date: Option<([u8; 10], i64)>,
}

impl TimestampParser {
    /// A parser reading numbers in `unit`.
    pub fn new(unit: NumericUnit) -> Self {
        TimestampParser { unit, last_date: None }
    }

    /// The numeric unit in force (still `Auto` until the first numeric timestamp).
    pub fn unit(&self) -> NumericUnit {
        self.unit
    }

    /// Parses one timestamp into Unix milliseconds (UTC).
    ///
    /// # Errors
    /// [`TimestampError`] saying what was wrong.
    #[inline]
    pub fn parse(&mut self, field: &[u8]) -> Result<i64, TimestampError> {
        let field = trim(field);
        match field.first() {
            None => fail("empty timestamp"),
            Some(b'0'..=b'9') if field.len() == 19 && field[4] == b'-' => match self.parse_plain(field) {
                Some(ms) => Ok(ms),
                None => parse_datetime(field),
            },
            Some(b'0'..=b'9') if field.len() >= 10 && field[4] == b'-' => parse_datetime(field),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.') => self.parse_number(field),
            _ => parse_fallback(field),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` (or with `T`), the commonest form, with the date cached.
    /// `None` for anything else or anything out of range, which [`parse_datetime`] then
    /// reads or explains.
    #[inline]
    fn parse_plain(&mut self, b: &[u8]) -> Option<i64> {
        if b[7] != b'-' || !matches!(b[10], b' ' | b'T' | b't') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let date: [u8; 10] = b[..10].try_into().ok()?;
        let days = match self.last_date {
            Some((d, days)) if d == date => days,
            _ => {
                let (c, y2, mo, d) = (two(b, 0)?, two(b, 2)?, two(b, 5)?, two(b, 8)?);
                let y = c * 100 + y2;
                if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
                    return None;
                }
                let days = days_from_civil(y, mo, d);
                self.last_date = Some((date, days));
                days
            }
        };
        let (h, mi, sec) = (two(b, 11)?, two(b, 14)?, two(b, 17)?);
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        Some(days * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000)
    }

    fn parse_number(&mut self, field: &[u8]) -> Result<i64, TimestampError> {
        let Some(parts) = split_number(field) else {
            // Exponents and the like: rare, so let the float parser have them.
            let text = std::str::from_utf8(field).unwrap_or("");
            let Ok(x) = text.parse::<f64>() else {
                return parse_fallback(field);
            };
            if !x.is_finite() {
                return fail("timestamp is not a finite number");
            }
            let ms = match self.resolve(x) {
                NumericUnit::Millis => x,
                _ => x * 1000.0,
            };
            if ms.abs() > 8.64e15 {
                return fail("timestamp out of range");
            }
            return Ok(ms.floor() as i64);
        };
        let (negative, int, frac_ms) = parts;
        let signed = if negative { -(int as f64) } else { int as f64 };
        let ms = match self.resolve(signed) {
            NumericUnit::Millis => Some(int),
            _ => int.checked_mul(1000).and_then(|v| v.checked_add(frac_ms)),
        };
        // ±8.64e15 ms (±273 790 years) is the range every time library agrees on.
        match ms {
            Some(ms) if ms <= 8_640_000_000_000_000 => Ok(if negative { -ms } else { ms }),
            _ => fail("timestamp out of range"),
        }
    }

    #[inline]
    fn resolve(&mut self, first: f64) -> NumericUnit {
        if self.unit == NumericUnit::Auto {
            self.unit = NumericUnit::guess(first);
        }
        self.unit
    }
}

/// `[+-]digits[.digits]` → (negative, integer part, first three fraction digits as ms).
/// `None` for anything else (exponents, no digits, more than 18 integer digits).
#[inline]
fn split_number(b: &[u8]) -> Option<(bool, i64, i64)> {
    let (negative, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 18 {
        return None;
    }
    let int = rest[..digits].iter().fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'));
    let tail = &rest[digits..];
    let frac = match tail.split_first() {
        None => &[][..],
        Some((b'.', f)) if f.iter().all(u8::is_ascii_digit) => f,
        _ => return None,
    };
    if digits == 0 && frac.is_empty() {
        return None;
    }
    Some((negative, int, fraction_ms(frac)))
}

/// The first three digits of a fraction as milliseconds (`5` → 500, `123456` → 123).
#[inline]
fn fraction_ms(f: &[u8]) -> i64 {
    let mut ms = 0;
    for k in 0..3 {
        ms = ms * 10 + f.get(k).map_or(0, |&c| i64::from(c - b'0'));
    }
    ms
}

#[inline]
fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

#[inline]
fn two(b: &[u8], at: usize) -> Option<i64> {
    match (b.get(at), b.get(at + 1)) {
        (Some(&x @ b'0'..=b'9'), Some(&y @ b'0'..=b'9')) => Some(i64::from(x - b'0') * 10 + i64::from(y - b'0')),
        _ => None,
    }
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS[(.|,)fff…]]][ ][Z|±HH[[:]MM]]`, the date and time checked field
/// by field. Anything that does not fit goes to [`parse_fallback`].
#[inline]
fn parse_datetime(b: &[u8]) -> Result<i64, TimestampError> {
    let (Some(c), Some(y2), Some(mo), Some(d)) = (two(b, 0), two(b, 2), two(b, 5), two(b, 8)) else {
        return parse_fallback(b);
    };
    if b[7] != b'-' {
        return parse_fallback(b);
    }
    let y = c * 100 + y2;
    if !(1..=12).contains(&mo) {
        return fail(format!("month {mo} out of range"));
    }
    if d < 1 || d > days_in_month(y, mo) {
        return fail(format!("day {d} out of range for {y:04}-{mo:02}"));
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let mut rest = &b[10..];
    if let Some((&sep, time)) = rest.split_first() {
        if !matches!(sep, b' ' | b'T' | b't') {
            return parse_fallback(b);
        }
        let (Some(h), Some(mi)) = (two(time, 0), two(time, 3)) else { return parse_fallback(b) };
        if time[2] != b':' {
            return parse_fallback(b);
        }
        let mut sec = 0;
        let mut frac = 0;
        rest = &time[5..];
        if rest.first() == Some(&b':') {
            let Some(s) = two(rest, 1) else { return parse_fallback(b) };
            sec = s;
            rest = &rest[3..];
            if let Some((b'.' | b',', f)) = rest.split_first() {
                let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
                if n == 0 {
                    return parse_fallback(b);
                }
                frac = fraction_ms(&f[..n]);
                rest = &f[n..];
            }
        }
        if h > 24 || (h == 24 && (mi, sec, frac) != (0, 0, 0)) || mi > 59 || sec > 60 {
            return fail(format!("time {h:02}:{mi:02}:{sec:02} out of range"));
        }
        // A leap second (:60) is read as the last millisecond of its minute, so time never
        // steps back.
        let sec_ms = if sec == 60 { 59_999 } else { sec * 1000 + frac };
        ms += (h * 60 + mi) * 60_000 + sec_ms;
    }
    if rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    let offset_min = match rest {
        [] => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (h, m) = match zone {
                [_, _] => (two(zone, 0), Some(0)),
                [_, _, b':', _, _] => (two(zone, 0), two(zone, 3)),
                [_, _, _, _] => (two(zone, 0), two(zone, 2)),
                _ => (None, None),
            };
            let (Some(h), Some(m)) = (h, m) else { return parse_fallback(b) };
            if h > 23 || m > 59 {
                return fail(format!("offset {h:02}:{m:02} out of range"));
            }
            let off = h * 60 + m;
            if *sign == b'-' { -off } else { off }
        }
        _ => return parse_fallback(b),
    };
    Ok(ms - offset_min * 60_000)
}

/// Everything the hand parser does not know: RFC 3339 / RFC 9557 with `jiff` (an offset is
/// required there; a civil date-time without one is read as UTC).
#[cold]
fn parse_fallback(b: &[u8]) -> Result<i64, TimestampError> {
    let Ok(text) = std::str::from_utf8(b) else { return fail("timestamp is not UTF-8") };
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
        && let Ok(ts) = dt.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(ts.timestamp().as_millisecond());
    }
    fail(format!(
        "cannot read timestamp {text:?}: expected YYYY-MM-DD HH:MM:SS, ISO 8601 (with T, Z or an offset) \
         or Unix seconds/milliseconds"
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
#[inline]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[inline]
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<i64, TimestampError> {
        TimestampParser::default().parse(s.as_bytes())
    }

    const T: i64 = 1_397_146_500_000; // 2014-04-10 16:15:00 UTC

    #[test]
    fn fixed_forms() {
        assert_eq!(p("2014-04-10 16:15:00"), Ok(T));
        assert_eq!(p("2014-04-10T16:15:00"), Ok(T));
        assert_eq!(p(" 2014-04-10T16:15 "), Ok(T));
        assert_eq!(p("2014-04-10T16:15:00Z"), Ok(T));
        assert_eq!(p("2014-04-10 16:15:00.123456"), Ok(T + 123));
        assert_eq!(p("2014-04-10T16:15:00,5Z"), Ok(T + 500));
        assert_eq!(p("2014-04-10T18:15:00+02:00"), Ok(T));
        assert_eq!(p("2014-04-10T18:15:00+0200"), Ok(T));
        assert_eq!(p("2014-04-10T18:15:00+02"), Ok(T));
        assert_eq!(p("2014-04-10 10:45:00 -05:30"), Ok(T));
        assert_eq!(p("2014-04-10"), Ok(T - (16 * 60 + 15) * 60_000));
        assert_eq!(p("2014-04-10 24:00:00"), p("2014-04-11"));
        assert_eq!(p("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(p("1969-12-31T23:59:59Z"), Ok(-1000));
    }

    #[test]
    fn the_date_cache_is_invisible() {
        let mut cached = TimestampParser::default();
        for text in [
            "2014-04-10 16:15:00",
            "2014-04-10 23:59:59",
            "2014-04-11 00:00:00",
            "2014-04-10 00:00:01",
            "2014-04-10T16:15:00",
            "2014-02-29 00:00:00",
            "2014-04-10 16:15:60",
            "2014-04-10 24:00:00",
            "2016-02-29 12:00:00",
            "2014-04-10 16:15:0x",
        ] {
            assert_eq!(cached.parse(text.as_bytes()), TimestampParser::default().parse(text.as_bytes()), "{text}");
            assert_eq!(cached.parse(text.as_bytes()), parse_datetime(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(p("1397146500"), Ok(T));
        assert_eq!(p("1397146500.25"), Ok(T + 250));
        assert_eq!(p("1397146500000"), Ok(T));
        assert_eq!(p("1.3971465e9"), Ok(T));
        let mut parser = TimestampParser::default();
        assert_eq!(parser.parse(b"0"), Ok(0));
        assert_eq!(parser.unit(), NumericUnit::Seconds);
        // The unit stays once chosen.
        assert_eq!(parser.parse(b"1397146500000").ok(), Some(1_397_146_500_000_000));
        let mut ms = TimestampParser::new(NumericUnit::Millis);
        assert_eq!(ms.parse(b"5"), Ok(5));
        assert!(p("99999999999999999999").is_err());
    }

    #[test]
    fn fallback_and_errors() {
        assert_eq!(p("2014-04-10T18:15:00+02:00[Europe/Paris]"), Ok(T));
        for bad in [
            "",
            "abc",
            "2014-13-10 00:00:00",
            "2014-02-30 00:00:00",
            "2014-04-10 25:00:00",
            "2014-04-10 16:61:00",
            "2014-04-10 16:15:00+25:00",
            "2014-04-10 16:15:00.",
            "2014/04/10",
            "1e400",
            "12:00",
        ] {
            let e = p(bad);
            assert!(e.is_err(), "{bad:?} gave {e:?}");
        }
        assert!(p("2014-13-10 00:00:00").unwrap_err().reason.contains("month 13"));
    }

    proptest::proptest! {
        /// Any bytes: a value or an error, never a panic.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = TimestampParser::default().parse(&bytes);
        }

        /// Any bytes shaped like a timestamp: the fast paths agree with the general one.
        #[test]
        fn fast_paths_agree(bytes in proptest::collection::vec(
            proptest::sample::select(b"0123456789-: T".to_vec()), 19..=19)
        ) {
            let fast = TimestampParser::default().parse(&bytes);
            let general = if bytes.len() >= 10 && bytes[4] == b'-' { parse_datetime(&bytes) } else { fast.clone() };
            proptest::prop_assert_eq!(fast.ok(), general.ok());
        }
    }

    #[test]
    fn agrees_with_jiff() {
        // A sweep over dates (leap years, century rules) and offsets, against jiff.
        let mut state = 1u64;
        for _ in 0..20_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let r = state >> 16;
            let (y, mo) = (1600 + (r % 800) as i64, 1 + ((r >> 10) % 12) as i64);
            let d = 1 + ((r >> 14) % days_in_month(y, mo) as u64) as i64;
            let (h, mi, s, frac) = ((r >> 20) % 24, (r >> 25) % 60, (r >> 31) % 60, (r >> 37) % 1000);
            let off = ((r >> 47) % 1680) as i64 - 840;
            let sign = if off < 0 { '-' } else { '+' };
            let text = format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}{sign}{:02}:{:02}",
                off.abs() / 60,
                off.abs() % 60
            );
            let expected = text.parse::<jiff::Timestamp>().unwrap().as_millisecond();
            assert_eq!(p(&text), Ok(expected), "{text}");
        }
    }
}
