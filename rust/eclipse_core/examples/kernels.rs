//! Times the batch kernels in Rust alone (no Python, no allocation in the timed loop):
//! `cargo run --release --example kernels`.

use std::time::Instant;

use _core::indicators as ind;

fn series(n: usize) -> Vec<f64> {
    let mut x = 50_000.0;
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            x += (s % 1000) as f64 / 1000.0 * 60.0 - 30.0;
            x
        })
        .collect()
}

fn time(name: &str, n: usize, mut f: impl FnMut()) {
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{name:10} {:6.2} ns/elem", best * 1e9 / n as f64);
}

fn main() {
    let n = 1_000_000;
    let x = series(n);
    let h: Vec<f64> = x.iter().map(|v| v + 5.0).collect();
    let l: Vec<f64> = x.iter().map(|v| v - 5.0).collect();
    let v: Vec<f64> = x.iter().map(|v| v % 97.0).collect();
    let mut o = vec![0.0; n];
    let (mut o1, mut o2, mut o3) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    time("sma", n, || ind::sma_into(&x, 20, &mut o).unwrap());
    time("ema", n, || ind::ema_into(&x, 20, &mut o).unwrap());
    time("rsi", n, || ind::rsi_into(&x, 14, &mut o).unwrap());
    time("atr", n, || {
        ind::atr_into(&h, &l, &x, 14, false, &mut o).unwrap()
    });
    time("bollinger", n, || {
        ind::bollinger_into(&x, 20, 2.0, [&mut o, &mut o1, &mut o2, &mut o3]).unwrap()
    });
    time("vwap", n, || {
        ind::vwap_into(&h, &l, &x, &v, 240, &mut o).unwrap()
    });
    time("vol_z", n, || {
        ind::volume_into(&v, 20, true, &mut o).unwrap()
    });
    time("momentum", n, || ind::momentum_into(&x, 5, &mut o).unwrap());
    time("moments", n, || {
        let mut acc = 0.0;
        ind::moments::batch(&x, 20, |_, m, v| acc += m + v);
        std::hint::black_box(acc);
    });
    time("4 writes", n, || {
        for i in 0..n {
            o[i] = x[i];
            o1[i] = x[i] + 1.0;
            o2[i] = x[i] - 1.0;
            o3[i] = x[i] * 2.0;
        }
    });
    time("3 writes", n, || {
        for i in 0..n {
            o[i] = x[i];
            o1[i] = x[i] + 1.0;
            o2[i] = x[i] - 1.0;
        }
    });
    time("finite", n, || assert!(ind::first_non_finite(&x).is_none()));
}
