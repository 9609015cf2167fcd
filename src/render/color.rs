//! Colour arithmetic: sRGB ⇄ linear light, blending, RGB565 quantisation,
//! ordered dithering. Blends and resampling happen in linear light; the
//! tables here make that cheap.

use std::sync::OnceLock;

use crate::domain::Color;

fn srgb_decode(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn srgb_encode(v: f32) -> f32 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// sRGB byte → linear light 0..1.
pub(super) fn to_linear(v: u8) -> f32 {
    static T: OnceLock<[f32; 256]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|i| srgb_decode(i as f32 / 255.0)))[usize::from(v)]
}

/// sRGB byte → linear light 0..65535, as a table (fetch it once per image,
/// not once per pixel: it showed in the image loadtest's profile).
pub(super) fn linear_u16_table() -> &'static [u16; 256] {
    static T: OnceLock<[u16; 256]> = OnceLock::new();
    T.get_or_init(|| {
        std::array::from_fn(|i| (srgb_decode(i as f32 / 255.0) * 65535.0).round() as u16)
    })
}

const ENC_STEPS: usize = 4096;

/// Linear light 0..1 → sRGB 0..255 as a float (not rounded). Table lookup
/// with linear interpolation; used per colour (the text ramp), while
/// per-pixel loops use [`srgb88_table`].
fn to_srgb_f(v: f32) -> f32 {
    static T: OnceLock<Vec<f32>> = OnceLock::new();
    let t = T.get_or_init(|| {
        (0..=ENC_STEPS)
            .map(|i| srgb_encode(i as f32 / ENC_STEPS as f32) * 255.0)
            .collect()
    });
    let x = v.clamp(0.0, 1.0) * ENC_STEPS as f32;
    let i = (x as usize).min(ENC_STEPS - 1);
    let f = x - i as f32;
    t[i] + (t[i + 1] - t[i]) * f
}

/// Linear light 0..1 → the nearest sRGB byte.
pub(super) fn to_srgb(v: f32) -> u8 {
    (to_srgb_f(v) + 0.5) as u8
}

/// Relative luminance (linear light) of an sRGB colour.
pub(super) fn luminance(c: Color) -> f32 {
    let [r, g, b] = c.0;
    0.2126 * to_linear(r) + 0.7152 * to_linear(g) + 0.0722 * to_linear(b)
}

/// The 256 colours between `bg` (coverage 0) and `fg` (coverage 255), mixed
/// in linear light: antialiased text on a solid band needs nothing else.
pub(super) fn ramp(bg: Color, fg: Color) -> [[u8; 3]; 256] {
    std::array::from_fn(|a| {
        let t = a as f32 / 255.0;
        std::array::from_fn(|i| {
            let (b, f) = (to_linear(bg.0[i]), to_linear(fg.0[i]));
            to_srgb(b + (f - b) * t)
        })
    })
}

/// 5- or 6-bit level → the 8-bit value a panel shows for it (bit replication).
fn expand(q: u8, bits: u32) -> u8 {
    if bits == 5 {
        (q << 3) | (q >> 2)
    } else {
        (q << 2) | (q >> 4)
    }
}

/// Nearest colour an RGB565 panel can show, as 8-bit RGB.
pub(super) fn round565(p: [u8; 3]) -> [u8; 3] {
    let q = |v: u8, max: u32| ((u32::from(v) * max + 127) / 255) as u8;
    [
        expand(q(p[0], 31), 5),
        expand(q(p[1], 63), 6),
        expand(q(p[2], 31), 5),
    ]
}

/// 8-bit RGB (already representable, or rounded) → the RGB565 word, by
/// tables (the rounded 5- and 6-bit level of every byte, already shifted
/// into place), fetched once for per-pixel loops.
#[derive(Clone, Copy)]
pub(super) struct Pack565(&'static [[u16; 3]; 256]);

impl Pack565 {
    pub(super) fn get() -> Pack565 {
        static T: OnceLock<[[u16; 3]; 256]> = OnceLock::new();
        Pack565(T.get_or_init(|| {
            std::array::from_fn(|v| {
                let q = |max: u32| ((v as u32 * max + 127) / 255) as u16;
                [q(31) << 11, q(63) << 5, q(31)]
            })
        }))
    }

    #[inline]
    pub(super) fn word(self, p: [u8; 3]) -> u16 {
        let t = self.0;
        t[usize::from(p[0])][0] | t[usize::from(p[1])][1] | t[usize::from(p[2])][2]
    }
}

/// 8×8 Bayer matrix, thresholds 0..63.
const BAYER8: [[u8; 8]; 8] = [
    [0, 32, 8, 40, 2, 34, 10, 42],
    [48, 16, 56, 24, 50, 18, 58, 26],
    [12, 44, 4, 36, 14, 46, 6, 38],
    [60, 28, 52, 20, 62, 30, 54, 22],
    [3, 35, 11, 43, 1, 33, 9, 41],
    [51, 19, 59, 27, 49, 17, 57, 25],
    [15, 47, 7, 39, 13, 45, 5, 37],
    [63, 31, 55, 23, 61, 29, 53, 21],
];

/// Linear light 0..65535 → sRGB 0..255 in 8.8 fixed point (the fraction
/// kept for dithering), one entry per 16-bit value.
pub(super) fn srgb88_table() -> &'static [u16] {
    static T: OnceLock<Vec<u16>> = OnceLock::new();
    T.get_or_init(|| {
        (0..=u16::MAX)
            .map(|v| (srgb_encode(f32::from(v) / 65535.0) * 255.0 * 256.0).round() as u16)
            .collect()
    })
}

/// For each 8-bit value and each channel width (5, 6 bits): the panel
/// value (bit replication) of the largest level not above it, and the
/// step to the next level (0 at the top level).
fn levels_below() -> &'static [[(u8, u8); 2]; 256] {
    static T: OnceLock<[[(u8, u8); 2]; 256]> = OnceLock::new();
    T.get_or_init(|| {
        std::array::from_fn(|c| {
            let below = |max: u8, bits: u32| {
                let q = (0..=max)
                    .rev()
                    .find(|&q| usize::from(expand(q, bits)) <= c)
                    .unwrap_or(0);
                let lo = expand(q, bits);
                (
                    lo,
                    if q == max {
                        0
                    } else {
                        expand(q + 1, bits) - lo
                    },
                )
            };
            [below(31, 5), below(63, 6)]
        })
    })
}

/// Ordered dithering of sRGB values (8.8 fixed point, 0..255) to the
/// RGB565 grid: a colour the grid holds exactly stays exactly, others
/// alternate between the two nearest levels by an 8×8 Bayer pattern, so
/// gradients don't band. Holds its table, for per-pixel loops.
#[derive(Clone, Copy)]
pub(super) struct Dither565(&'static [[(u8, u8); 2]; 256]);

impl Dither565 {
    pub(super) fn get() -> Dither565 {
        Dither565(levels_below())
    }

    #[inline]
    pub(super) fn px(self, v: [u16; 3], x: u32, y: u32) -> [u8; 3] {
        let b = u32::from(BAYER8[(y & 7) as usize][(x & 7) as usize]);
        // Between the two grid values around `c` (as the panel expands
        // them), pick the upper one with probability = how far `c` is
        // towards it: (c - lo) / step > (b + 0.5) / 64, in integers.
        let t = 2 * (2 * b + 1);
        let ch = |c: u16, which: usize| {
            let c = u32::from(c.min(255 << 8));
            let (lo, step) = self.0[(c >> 8) as usize][which];
            if c - (u32::from(lo) << 8) > u32::from(step) * t && step > 0 {
                lo + step
            } else {
                lo
            }
        };
        [ch(v[0], 0), ch(v[1], 1), ch(v[2], 0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgb_round_trips() {
        for v in 0..=255u8 {
            assert_eq!(to_srgb(to_linear(v)), v);
        }
    }

    fn pack565(p: [u8; 3]) -> u16 {
        Pack565::get().word(p)
    }

    #[test]
    fn rgb565_grid_is_stable() {
        for v in 0..=255u8 {
            let p = round565([v, v, v]);
            assert_eq!(round565(p), p);
            let fp = p.map(|v| u16::from(v) << 8);
            for (x, y) in [(0, 0), (3, 5), (7, 7)] {
                assert_eq!(Dither565::get().px(fp, x, y), p, "{v} at {x},{y}");
            }
        }
        for v in 0..=255u8 {
            let q = |max: u32| ((u32::from(v) * max + 127) / 255) as u16;
            assert_eq!(pack565([v, 0, 0]), q(31) << 11, "{v}");
            assert_eq!(pack565([0, v, 0]), q(63) << 5, "{v}");
            assert_eq!(pack565([0, 0, v]), q(31), "{v}");
        }
        assert_eq!(pack565([255, 255, 255]), 0xffff);
        assert_eq!(pack565([255, 0, 0]), 0xf800);
        assert_eq!(pack565([0, 255, 0]), 0x07e0);
        assert_eq!(pack565([0, 0, 255]), 0x001f);
    }
}
