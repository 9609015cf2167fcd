//! Lanczos3 resampling of interleaved linear-light images (`f32` on a
//! 0..65535 scale, out as 16-bit), separable: a vertical pass over the source rows, then the
//! horizontal pass run as a vertical one over the transposed result. Both
//! passes are multiply-adds over contiguous rows, which the compiler turns
//! into SIMD; weights are computed once per output line with a sine
//! recurrence instead of two `sin` calls per tap.

/// Lanczos window half-width.
const SUPPORT: f64 = 3.0;

/// The weights of every output pixel along one axis: output `i` reads
/// input `start[i]..start[i] + taps` with `w[i * taps..][..taps]`.
#[derive(Debug, Clone, PartialEq)]
struct Weights {
    start: Vec<usize>,
    taps: usize,
    w: Vec<f32>,
}

impl Weights {
    /// Output pixels `0..out` cover input `in0..in1` (fractional, inside
    /// `0..in_size`); pixels outside the crop but inside the image still
    /// contribute, as when resampling the whole image and cutting.
    fn new(in_size: usize, in0: f64, in1: f64, out: usize) -> Weights {
        let scale = (in1 - in0) / out as f64;
        let fscale = scale.max(1.0);
        let radius = SUPPORT * fscale;
        let taps = ((radius.ceil() as usize) * 2 + 1).min(in_size).max(1);
        let mut start = Vec::with_capacity(out);
        let mut w = vec![0f32; out * taps];
        let mut row = vec![0f64; taps];
        for i in 0..out {
            let center = in0 + (i as f64 + 0.5) * scale;
            let lo = ((center - radius).floor().max(0.0) as usize).min(in_size - 1);
            let hi = ((center + radius).ceil() as usize).min(in_size).max(lo + 1);
            // Keep a fixed window: shift it left at the right edge.
            let s = lo.min(in_size - taps);
            // x of tap t, in filter units: (s + t + 0.5 - center) / fscale.
            let x0 = (s as f64 + 0.5 - center) / fscale;
            let step = 1.0 / fscale;
            lanczos_row(x0, step, &mut row);
            for (t, v) in row.iter_mut().enumerate() {
                if s + t < lo || s + t >= hi {
                    *v = 0.0;
                }
            }
            let sum: f64 = row.iter().sum();
            let norm = if sum.abs() > 1e-12 { 1.0 / sum } else { 0.0 };
            for (d, v) in w[i * taps..(i + 1) * taps].iter_mut().zip(&row) {
                *d = (v * norm) as f32;
            }
            start.push(s);
        }
        Weights { start, taps, w }
    }

    fn of(&self, i: usize) -> (usize, &[f32]) {
        (self.start[i], &self.w[i * self.taps..(i + 1) * self.taps])
    }

    /// Input range any output reads.
    fn span(&self) -> (usize, usize) {
        let lo = self.start.iter().copied().min().unwrap_or(0);
        let hi = self.start.iter().map(|s| s + self.taps).max().unwrap_or(0);
        (lo, hi)
    }
}

/// `out[t] = lanczos3(x0 + t * step)` for every t, with two rotating
/// (sin, cos) pairs for πx and πx/3 instead of `sin` per tap.
fn lanczos_row(x0: f64, step: f64, out: &mut [f64]) {
    use std::f64::consts::PI;
    let (a, a3) = (PI * x0, PI * x0 / SUPPORT);
    let (d, d3) = (PI * step, PI * step / SUPPORT);
    let (mut s, mut c) = a.sin_cos();
    let (mut s3, mut c3) = a3.sin_cos();
    let (sd, cd) = d.sin_cos();
    let (sd3, cd3) = d3.sin_cos();
    for (t, o) in out.iter_mut().enumerate() {
        let x = x0 + t as f64 * step;
        *o = if x.abs() < 1e-9 {
            1.0
        } else if x.abs() >= SUPPORT {
            0.0
        } else {
            // sinc(x) · sinc(x/3) = sin(πx) sin(πx/3) · 3 / (πx)²
            s * s3 * SUPPORT / (PI * PI * x * x)
        };
        (s, c) = (s * cd + c * sd, c * cd - s * sd);
        (s3, c3) = (s3 * cd3 + c3 * sd3, c3 * cd3 - s3 * sd3);
    }
}

/// Resamples the `crop` (x, y, w, h; fractional) of an interleaved
/// `C`-channel image (values 0..65535) `sw`×`sh` to `dw`×`dh`. Output interleaved, row-major.
pub(super) fn lanczos3<const C: usize>(
    src: &[f32],
    sw: usize,
    sh: usize,
    crop: (f64, f64, f64, f64),
    dw: usize,
    dh: usize,
) -> Vec<[u16; C]> {
    if sw == 0 || sh == 0 || dw == 0 || dh == 0 {
        return vec![[0; C]; dw * dh];
    }
    let (cx, cy, cw, ch) = crop;
    let wx = Weights::new(sw, cx, cx + cw, dw);
    let wy = Weights::new(sh, cy, cy + ch, dh);
    let (x0, x1) = wx.span();
    let cols = x1 - x0;

    // Vertical pass, written transposed: source column x (within the
    // span) becomes row x of `tr`, holding dh pixels. Output rows go in
    // groups of `GROUP`, so the transposed writes land `GROUP` pixels at a
    // time in each row of `tr`.
    const GROUP: usize = 8;
    let len = cols * C;
    let span = dh * C;
    SCRATCH.with_borrow_mut(|kept| {
        // Every element is written below; stale values never leak. A
        // buffer bigger than SCRATCH_KEEP is used once and freed.
        let mut once = Vec::new();
        let tr = if len * dh <= SCRATCH_KEEP {
            if kept.len() < len * dh {
                kept.resize(len * dh, 0.0);
            }
            kept
        } else {
            once.resize(len * dh, 0.0);
            &mut once
        };
        let mut acc = vec![0f32; GROUP * len];
        for j0 in (0..dh).step_by(GROUP) {
            let g = GROUP.min(dh - j0);
            for (q, acc) in acc.chunks_exact_mut(len).take(g).enumerate() {
                let (s, w) = wy.of(j0 + q);
                weighted_sum(acc, w, |t| {
                    let r = ((s + t) * sw + x0) * C;
                    &src[r..r + len]
                });
            }
            for (x, dst) in tr.chunks_exact_mut(span).take(cols).enumerate() {
                for (q, d) in dst[j0 * C..(j0 + g) * C].chunks_exact_mut(C).enumerate() {
                    d.copy_from_slice(&acc[q * len + x * C..q * len + x * C + C]);
                }
            }
        }

        // Horizontal pass over the rows of `tr`, `GROUP` output columns
        // at a time, written back row-major.
        let mut out = vec![[0u16; C]; dw * dh];
        let mut cols16 = vec![0u16; GROUP * span];
        let mut col = vec![0f32; span];
        for i0 in (0..dw).step_by(GROUP) {
            let g = GROUP.min(dw - i0);
            for (q, c16) in cols16.chunks_exact_mut(span).take(g).enumerate() {
                let (s, w) = wx.of(i0 + q);
                weighted_sum(&mut col, w, |t| {
                    let r = (s + t - x0) * span;
                    &tr[r..r + span]
                });
                for (d, v) in c16.iter_mut().zip(&col) {
                    *d = round_u16(*v);
                }
            }
            for (j, row) in out.chunks_exact_mut(dw).enumerate() {
                for (q, o) in row[i0..i0 + g].iter_mut().enumerate() {
                    o.copy_from_slice(&cols16[q * span + j * C..q * span + j * C + C]);
                }
            }
        }
        out
    })
}

/// Floats per block of [`weighted_sum`]: a multiple of 3 and 4, held in
/// registers across the taps.
const BLOCK: usize = 48;

/// `acc = Σ w[t] · row(t)`, block by block so each block of sums stays in
/// registers while every tap is added (rather than reloading and storing
/// `acc` once per tap).
fn weighted_sum<'a>(acc: &mut [f32], w: &[f32], row: impl Fn(usize) -> &'a [f32]) {
    let taps: Vec<(f32, &[f32])> = w
        .iter()
        .enumerate()
        .filter(|(_, k)| **k != 0.0)
        .map(|(t, k)| (*k, row(t)))
        .collect();
    let full = acc.len() / BLOCK * BLOCK;
    let (blocks, tail) = acc.split_at_mut(full);
    for (b, out) in blocks.chunks_exact_mut(BLOCK).enumerate() {
        let mut a = [0f32; BLOCK];
        for (k, r) in &taps {
            let r: &[f32; BLOCK] = r[b * BLOCK..(b + 1) * BLOCK].try_into().expect("block");
            for (a, v) in a.iter_mut().zip(r) {
                *a += k * v;
            }
        }
        out.copy_from_slice(&a);
    }
    tail.fill(0.0);
    for (k, r) in &taps {
        for (a, v) in tail.iter_mut().zip(&r[full..]) {
            *a += k * v;
        }
    }
}

/// Floats of scratch a thread keeps between calls (8 MB: a 2048-wide
/// source onto 340 rows; the usual panel sizes need far less).
const SCRATCH_KEEP: usize = 2 * 1024 * 1024;

thread_local! {
    /// The transposed intermediate image, kept per thread between calls
    /// (renders run on the player thread and the blocking pool).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `v` clamped to 0..=65535 and rounded (to even on .5), without a
/// float-to-int conversion: adding 2²³ leaves the integer in the low
/// mantissa bits. Plain arithmetic, so the loop around it vectorises.
#[inline]
fn round_u16(v: f32) -> u16 {
    const MAGIC: f32 = 8_388_608.0;
    ((v.clamp(0.0, 65535.0) + MAGIC).to_bits() & 0xffff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanczos3_direct(x: f64) -> f64 {
        use std::f64::consts::PI;
        if x.abs() < 1e-9 {
            1.0
        } else if x.abs() >= 3.0 {
            0.0
        } else {
            let px = PI * x;
            (px.sin() / px) * ((px / 3.0).sin() / (px / 3.0))
        }
    }

    #[test]
    fn rounding_without_conversion() {
        for (v, want) in [
            (-3.0, 0),
            (0.0, 0),
            (0.49, 0),
            (0.51, 1),
            (1234.4, 1234),
            (1234.6, 1235),
            (65534.9, 65535),
            (65535.0, 65535),
            (1e9, 65535),
            (f32::NAN, 0),
        ] {
            assert_eq!(round_u16(v), want, "{v}");
        }
    }

    #[test]
    fn recurrence_matches_the_formula() {
        for (x0, step) in [(-3.4, 0.31), (-2.0, 1.0), (-5.9, 0.0625), (-1.25, 0.5)] {
            let mut row = vec![0.0; 40];
            lanczos_row(x0, step, &mut row);
            for (t, v) in row.iter().enumerate() {
                let want = lanczos3_direct(x0 + t as f64 * step);
                assert!(
                    (v - want).abs() < 1e-9,
                    "x0 {x0} step {step} t {t}: {v} vs {want}"
                );
            }
        }
    }

    #[test]
    fn weights_sum_to_one_and_stay_inside() {
        for (n, out, in0, in1) in [
            (400, 192, 0.0, 400.0),
            (400, 32, 0.0, 400.0),
            (10, 40, 0.0, 10.0),
            (3, 1, 0.0, 3.0),
            (1, 5, 0.0, 1.0),
            (500, 100, 123.4, 321.0),
        ] {
            let w = Weights::new(n, in0, in1, out);
            for i in 0..out {
                let (s, k) = w.of(i);
                assert!(s + k.len() <= n);
                let sum: f32 = k.iter().sum();
                assert!((sum - 1.0).abs() < 1e-4, "{n}->{out} #{i}: {sum}");
            }
        }
    }

    #[test]
    fn flat_stays_flat_and_identity_is_exact() {
        let src: Vec<f32> = vec![1234.0; 50 * 30 * 3];
        let out = lanczos3::<3>(&src, 50, 30, (0.0, 0.0, 50.0, 30.0), 17, 11);
        assert!(out.iter().all(|p| *p == [1234; 3]));
        let src: Vec<u16> = (0..20 * 10 * 4).map(|i| (i * 97 % 65536) as u16).collect();
        let srcf: Vec<f32> = src.iter().map(|v| f32::from(*v)).collect();
        let out = lanczos3::<4>(&srcf, 20, 10, (0.0, 0.0, 20.0, 10.0), 20, 10);
        let flat: Vec<u16> = out.iter().flatten().copied().collect();
        assert_eq!(flat, src);
    }

    #[test]
    fn big_jobs_use_a_scratch_buffer_of_their_own() {
        // 2048 columns × 3 channels × 400 rows > SCRATCH_KEEP floats.
        let (sw, sh) = (2048, 400);
        assert!(sw * 3 * sh > SCRATCH_KEEP);
        let src: Vec<f32> = (0..sw * sh)
            .flat_map(|i| [500.0, 20_000.0, (i % sw) as f32 * 30.0])
            .collect();
        let out = lanczos3::<3>(&src, sw, sh, (0.0, 0.0, sw as f64, sh as f64), 512, sh);
        assert_eq!(out.len(), 512 * sh);
        assert!(out.iter().all(|p| p[0] == 500 && p[1] == 20_000));
        // The ramp survives: column i of 512 is about the mean of source
        // columns 4i..4i+4, i.e. (4i + 1.5) × 30.
        let want = (4.0 * 100.0 + 1.5) * 30.0;
        assert!((f32::from(out[7 * 512 + 100][2]) - want).abs() < 2.0);
        // And the kept buffer did not grow to that size.
        SCRATCH.with_borrow(|kept| assert!(kept.len() <= SCRATCH_KEEP));
    }

    #[test]
    fn downscale_averages_a_fine_pattern() {
        // 1-px black/white stripes shrunk 4× come out mid-grey, not aliased.
        let src: Vec<f32> = (0..64 * 8)
            .map(|i| if (i % 64) % 2 == 0 { 0.0 } else { 65535.0 })
            .collect();
        let out = lanczos3::<1>(&src, 64, 8, (0.0, 0.0, 64.0, 8.0), 16, 2);
        for p in &out[1..15] {
            assert!((i32::from(p[0]) - 32768).abs() < 700, "{}", p[0]);
        }
    }
}
