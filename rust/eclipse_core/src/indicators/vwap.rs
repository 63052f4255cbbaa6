//! Rolling VWAP: sum(typical * volume) / sum(volume) over the last `window` bars including the current one,
//! typical = (high + low + close) / 3. First value at index `window - 1`; NaN when the window has no volume
//! (exactly: the sums re-sync when the last non-zero volume leaves, so an empty window sums to exactly 0).
//!
//! Running sums are recomputed exactly from the window when the mass removed since the last re-sync outweighs
//! what remains by `moments::RESYNC_RATIO` (a volume spike leaving, or slow drift): the error stays ~1e-13
//! relative, and on ordinary data that happens about once per thousand windows (O(1) amortised).

use serde::{Deserialize, Serialize};

use super::with_simd;
use crate::ring::Ring;

/// Typical price times volume.
#[inline(always)]
pub fn typical_pv(high: f64, low: f64, close: f64, volume: f64) -> f64 {
    (high + low + close) * (1.0 / 3.0) * volume
}

#[inline(always)]
fn output(sum_pv: f64, sum_v: f64) -> f64 {
    if sum_v <= 0.0 {
        f64::NAN
    } else {
        sum_pv / sum_v
    }
}

/// True when the mass removed since the last re-sync outweighs the remaining sums (see
/// `moments::RESYNC_RATIO`).
#[inline(always)]
fn cancelled(removed_v: f64, sum_v: f64, removed_pv: f64, sum_pv: f64) -> bool {
    let r = super::moments::RESYNC_RATIO;
    removed_v > r * sum_v.abs() || removed_pv > r * sum_pv.abs()
}

#[inline(always)]
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut s = 0.0;
    for v in values {
        s += v;
    }
    s
}

/// Incremental rolling VWAP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vwap {
    window: usize,
    pv: Ring,
    vol: Ring,
    sum_pv: f64,
    sum_v: f64,
    removed_v: f64,
    removed_pv: f64,
    value: f64,
}

impl Vwap {
    /// A new rolling VWAP over `window >= 1` bars.
    pub fn new(window: usize) -> Self {
        Self {
            window,
            pv: Ring::new(window),
            vol: Ring::new(window),
            sum_pv: 0.0,
            sum_v: 0.0,
            removed_v: 0.0,
            removed_pv: 0.0,
            value: f64::NAN,
        }
    }

    /// Adds one bar; returns the VWAP, NaN during warm-up or over a window without volume.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64, volume: f64) -> f64 {
        let pv = typical_pv(high, low, close, volume);
        let old_pv = self.pv.push(pv);
        let mut resync = false;
        if let (Some(opv), Some(ov)) = (old_pv, self.vol.push(volume)) {
            self.sum_pv += pv - opv;
            self.sum_v += volume - ov;
            self.removed_v += ov.abs();
            self.removed_pv += opv.abs();
            resync = cancelled(self.removed_v, self.sum_v, self.removed_pv, self.sum_pv);
        }
        let just_full = old_pv.is_none() && self.vol.is_full();
        if resync || just_full {
            let ((p1, p2), (v1, v2)) = (self.pv.as_slices(), self.vol.as_slices());
            self.sum_pv = sum(p1.iter().chain(p2).copied());
            self.sum_v = sum(v1.iter().chain(v2).copied());
            self.removed_v = 0.0;
            self.removed_pv = 0.0;
        }
        if self.vol.is_full() {
            self.value = output(self.sum_pv, self.sum_v);
        }
        self.value
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, window: usize) -> bool {
        self.window == window
            && self.pv.check(window)
            && self.vol.check(window)
            && self.pv.len() == self.vol.len()
    }
}

/// Batch rolling VWAP into `out`; bit-identical to feeding [`Vwap::update`]. Returns false when an input
/// value may be NaN or infinite (they propagate into the typical price times volume, or its running sums;
/// a rare overflow of finite values also says false, and the caller's exact check then finds nothing).
#[must_use]
pub fn batch_into(
    h: &[f64],
    l: &[f64],
    c: &[f64],
    v: &[f64],
    window: usize,
    out: &mut [f64],
) -> bool {
    let n = c.len();
    if window > n {
        out.fill(f64::NAN);
        return [h, l, c, v]
            .iter()
            .all(|x| super::first_non_finite(x).is_none());
    }
    out[..window - 1].fill(f64::NAN);
    let sum_pv = sum((0..window).map(|i| typical_pv(h[i], l[i], c[i], v[i])));
    let sum_v = sum(v[..window].iter().copied());
    out[window - 1] = output(sum_pv, sum_v);
    let head = sum_pv.is_finite() && sum_v.is_finite();
    head && with_simd!(steady(
        h: &[f64] = h,
        l: &[f64] = l,
        c: &[f64] = c,
        v: &[f64] = v,
        window: usize = window,
        out: &mut [f64] = out,
        sum_pv: f64 = sum_pv,
        sum_v: f64 = sum_v,
    ) -> bool)
}

/// Steady state over indices `window..`, one L1-sized block at a time: the typical prices entering and
/// leaving are computed in a vectorised pass, the running sums sequentially, the divisions in a vectorised
/// pass again. Same operations as [`Vwap::update`], so the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn steady(
    h: &[f64],
    l: &[f64],
    c: &[f64],
    v: &[f64],
    window: usize,
    out: &mut [f64],
    mut sum_pv: f64,
    mut sum_v: f64,
) -> bool {
    const BLOCK: usize = 256;
    let n = c.len();
    let pv = |i: usize| typical_pv(h[i], l[i], c[i], v[i]);
    let (mut pv_in, mut pv_out) = ([0.0; BLOCK], [0.0; BLOCK]);
    let (mut spv, mut sv) = ([0.0; BLOCK], [0.0; BLOCK]);
    let (mut removed_v, mut removed_pv) = (0.0, 0.0);
    let mut ok = true;
    let mut start = window;
    while start < n {
        let len = BLOCK.min(n - start);
        let (i0, j0) = (start, start - window);
        let (hi, li, ci, vi) = (
            &h[i0..i0 + len],
            &l[i0..i0 + len],
            &c[i0..i0 + len],
            &v[i0..i0 + len],
        );
        let (ho, lo, co, vo) = (
            &h[j0..j0 + len],
            &l[j0..j0 + len],
            &c[j0..j0 + len],
            &v[j0..j0 + len],
        );
        for (p, (((&h, &l), &c), &v)) in pv_in[..len]
            .iter_mut()
            .zip(hi.iter().zip(li).zip(ci).zip(vi))
        {
            *p = typical_pv(h, l, c, v);
            ok &= p.is_finite();
        }
        for (p, (((&h, &l), &c), &v)) in pv_out[..len]
            .iter_mut()
            .zip(ho.iter().zip(lo).zip(co).zip(vo))
        {
            *p = typical_pv(h, l, c, v);
        }
        let moves = pv_in[..len]
            .iter()
            .zip(&pv_out[..len])
            .zip(vi.iter().zip(vo));
        for (k, ((&p_in, &p_out), (&v_in, &v_out))) in moves.enumerate() {
            sum_pv += p_in - p_out;
            sum_v += v_in - v_out;
            removed_v += v_out.abs();
            removed_pv += p_out.abs();
            if cancelled(removed_v, sum_v, removed_pv, sum_pv) {
                let (from, to) = (j0 + k + 1, i0 + k);
                sum_pv = sum((from..=to).map(pv));
                sum_v = sum(v[from..=to].iter().copied());
                (removed_v, removed_pv) = (0.0, 0.0);
            }
            spv[k] = sum_pv;
            sv[k] = sum_v;
        }
        for ((o, p), s) in out[start..start + len]
            .iter_mut()
            .zip(&spv[..len])
            .zip(&sv[..len])
        {
            *o = output(*p, *s);
        }
        start += len;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_typical_price_by_volume() {
        let mut w = Vwap::new(2);
        assert!(w.update(3.0, 3.0, 3.0, 1.0).is_nan());
        assert_eq!(w.update(6.0, 6.0, 6.0, 2.0), 5.0);
        assert_eq!(w.update(9.0, 9.0, 9.0, 0.0), 6.0);
        assert!(w.update(9.0, 9.0, 9.0, 0.0).is_nan());
    }

    #[test]
    fn batch_equals_incremental() {
        let c: Vec<f64> = (0..70)
            .map(|i| (f64::from(i) * 0.4).sin() * 5.0 + 100.0)
            .collect();
        let h: Vec<f64> = c.iter().map(|x| x + 1.0).collect();
        let l: Vec<f64> = c.iter().map(|x| x - 1.0).collect();
        let v: Vec<f64> = (0..70)
            .map(|i| if i % 9 < 4 { 0.0 } else { f64::from(i) })
            .collect();
        for w in [1, 2, 4, 30] {
            let mut out = vec![0.0; c.len()];
            assert!(batch_into(&h, &l, &c, &v, w, &mut out));
            let mut s = Vwap::new(w);
            for i in 0..c.len() {
                assert_eq!(
                    s.update(h[i], l[i], c[i], v[i]).to_bits(),
                    out[i].to_bits(),
                    "w={w} i={i}"
                );
            }
        }
    }
}
