//! OHLCV bars: validation of one closed 1m bar and aggregation of 1m bars into higher timeframes aligned
//! to UTC boundaries, with gaps handled (a bucket closes when its last minute arrives or when a bar of a
//! later bucket arrives; a bucket built from fewer minutes than its span records how many it had).

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// Milliseconds in one minute.
pub const MINUTE_MS: i64 = 60_000;

/// Latest accepted bar open time: 3000-01-01T00:00:00Z in milliseconds (earliest: the Unix epoch). Keeps
/// bucket arithmetic far from overflow and catches timestamps in the wrong unit early.
pub const MAX_TS_MS: i64 = 32_503_680_000_000;

/// One OHLCV bar; `ts_ms` is the bar's open time (UTC milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Open time, UTC milliseconds.
    pub ts_ms: i64,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Traded volume.
    pub volume: f64,
    /// How many 1m bars went into this bar.
    pub count: u32,
}

fn bad(field: &'static str, why: String) -> CoreError {
    CoreError::BadBar { field, why }
}

impl Bar {
    /// Validates a closed 1m bar: finite fields, consistent range, volume >= 0, minute-aligned time.
    ///
    /// # Errors
    /// [`CoreError::BadBar`] naming the field.
    pub fn checked(
        ts_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> CoreResult<Bar> {
        for (field, v) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("volume", volume),
        ] {
            if !v.is_finite() {
                return Err(bad(field, format!("{v} is not a finite number")));
            }
        }
        if !(0..=MAX_TS_MS).contains(&ts_ms) {
            return Err(bad(
                "ts_ms",
                format!("{ts_ms} is outside 1970..3000 UTC (bar open time in UTC milliseconds)"),
            ));
        }
        if ts_ms.rem_euclid(MINUTE_MS) != 0 {
            return Err(bad(
                "ts_ms",
                format!("{ts_ms} is not a whole minute (bar open time in UTC ms)"),
            ));
        }
        if volume < 0.0 {
            return Err(bad("volume", format!("{volume} is negative")));
        }
        if low > high {
            return Err(bad("low", format!("{low} is above high {high}")));
        }
        if open > high || close > high {
            return Err(bad(
                "high",
                format!("{high} is below open {open} or close {close}"),
            ));
        }
        if open < low || close < low {
            return Err(bad(
                "low",
                format!("{low} is above open {open} or close {close}"),
            ));
        }
        Ok(Bar {
            ts_ms,
            open,
            high,
            low,
            close,
            volume,
            count: 1,
        })
    }
}

/// Up to two bars closed by one push (a gap can close the previous bucket and the current one at once).
#[derive(Debug, Clone, Copy, Default)]
pub struct Closed {
    bars: [Option<Bar>; 2],
}

impl Closed {
    fn push(&mut self, bar: Bar) {
        if self.bars[0].is_none() {
            self.bars[0] = Some(bar);
        } else {
            self.bars[1] = Some(bar);
        }
    }

    /// The closed bars, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = Bar> + '_ {
        self.bars.iter().flatten().copied()
    }

    /// True when no bar closed.
    pub fn is_empty(&self) -> bool {
        self.bars[0].is_none()
    }
}

/// Aggregates 1m bars into `minutes`-minute bars aligned to UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregator {
    span_ms: i64,
    current: Option<Bar>,
}

impl Aggregator {
    /// A new aggregator (`minutes >= 1`).
    pub fn new(minutes: u32) -> Self {
        Self {
            span_ms: i64::from(minutes.max(1)) * MINUTE_MS,
            current: None,
        }
    }

    /// Bucket span in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.span_ms
    }

    /// Adds one (validated, time-ordered) 1m bar; returns the buckets it closed.
    #[inline]
    pub fn push(&mut self, bar: &Bar) -> Closed {
        let mut closed = Closed::default();
        let bucket = bar.ts_ms - bar.ts_ms.rem_euclid(self.span_ms);
        if let Some(cur) = self.current {
            if cur.ts_ms != bucket {
                closed.push(cur);
                self.current = None;
            }
        }
        let cur = match self.current.as_mut() {
            Some(cur) => {
                cur.high = cur.high.max(bar.high);
                cur.low = cur.low.min(bar.low);
                cur.close = bar.close;
                cur.volume += bar.volume;
                cur.count += 1;
                *cur
            }
            None => {
                let b = Bar {
                    ts_ms: bucket,
                    count: 1,
                    ..*bar
                };
                self.current = Some(b);
                b
            }
        };
        if bar.ts_ms == bucket + self.span_ms - MINUTE_MS {
            closed.push(cur);
            self.current = None;
        }
        closed
    }

    /// Consistency check after deserialization.
    pub fn check(&self, minutes: u32) -> bool {
        self.span_ms == i64::from(minutes) * MINUTE_MS
            && self
                .current
                .is_none_or(|b| b.ts_ms.rem_euclid(self.span_ms) == 0 && b.count >= 1)
    }
}

/// Batch resampling of 1m bars (validated, strictly increasing) into `minutes` bars.
///
/// # Errors
/// Invalid bars or time not strictly increasing.
pub fn resample(ts: &[i64], cols: [&[f64]; 5], minutes: u32) -> CoreResult<Vec<Bar>> {
    let names = ["open", "high", "low", "close", "volume"];
    for (name, c) in names.iter().zip(cols) {
        if c.len() != ts.len() {
            return Err(CoreError::LengthMismatch {
                a: "ts_ms",
                b: name,
                len_a: ts.len(),
                len_b: c.len(),
            });
        }
    }
    let mut agg = Aggregator::new(minutes);
    let mut out = Vec::with_capacity(ts.len() / minutes.max(1) as usize + 2);
    let mut last: Option<i64> = None;
    for i in 0..ts.len() {
        let bar = Bar::checked(
            ts[i], cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i],
        )
        .map_err(|e| at_row(e, i))?;
        if let Some(prev) = last {
            if bar.ts_ms <= prev {
                return Err(bad(
                    "ts_ms",
                    format!(
                        "row {i}: {} is not after the previous bar {prev}",
                        bar.ts_ms
                    ),
                ));
            }
        }
        last = Some(bar.ts_ms);
        out.extend(agg.push(&bar).iter());
    }
    Ok(out)
}

fn at_row(e: CoreError, row: usize) -> CoreError {
    match e {
        CoreError::BadBar { field, why } => CoreError::BadBar {
            field,
            why: format!("row {row}: {why}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(min: i64, c: f64) -> Bar {
        Bar::checked(min * MINUTE_MS, c, c + 1.0, c - 1.0, c, 1.0).unwrap()
    }

    #[test]
    fn closes_on_last_minute() {
        let mut a = Aggregator::new(5);
        for m in 0..4 {
            assert!(a.push(&bar(m, 10.0 + m as f64)).is_empty());
        }
        let closed: Vec<Bar> = a.push(&bar(4, 20.0)).iter().collect();
        assert_eq!(closed.len(), 1);
        let b = closed[0];
        assert_eq!(
            (b.ts_ms, b.open, b.high, b.low, b.close, b.volume, b.count),
            (0, 10.0, 21.0, 9.0, 20.0, 5.0, 5)
        );
    }

    #[test]
    fn gap_closes_previous_and_current() {
        let mut a = Aggregator::new(5);
        a.push(&bar(1, 10.0));
        let closed: Vec<Bar> = a.push(&bar(9, 12.0)).iter().collect();
        assert_eq!(closed.len(), 2);
        assert_eq!((closed[0].ts_ms, closed[0].count), (0, 1));
        assert_eq!((closed[1].ts_ms, closed[1].count), (5 * MINUTE_MS, 1));
    }

    #[test]
    fn rejects_inconsistent_bar() {
        let err = Bar::checked(0, 1.0, 0.5, 0.4, 1.0, 1.0).unwrap_err();
        assert!(err.to_string().contains("high"));
        let err = Bar::checked(1, 1.0, 1.0, 1.0, 1.0, 1.0).unwrap_err();
        assert!(err.to_string().contains("ts_ms"));
        let err = Bar::checked(0, 1.0, 1.0, 1.0, 1.0, -1.0).unwrap_err();
        assert!(err.to_string().contains("volume"));
    }
}
