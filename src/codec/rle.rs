//! Run-length coding of bytes (PackBits-style), for mono1 frames and for
//! deltas, whose bytes are mostly runs of zeros.
//!
//! A control byte `c` is followed by:
//! - `c` 0–127: `c + 1` literal bytes;
//! - `c` 128–255: one byte, repeated `c - 126` times (2–129).
//!
//! Decoding writes into a slice it is given and never past it.

/// Longest run one control byte carries.
const MAX_RUN: usize = 129;
/// Most literals one control byte carries.
const MAX_LITERALS: usize = 128;

/// Encodes `data`.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 + 16);
    let mut i = 0;
    let mut lit_start = 0;
    while i < data.len() {
        let b = data[i];
        let mut run = 1;
        while i + run < data.len() && data[i + run] == b && run < MAX_RUN {
            run += 1;
        }
        if run >= 3 || (run == 2 && i == lit_start) {
            flush_literals(&mut out, &data[lit_start..i]);
            out.push((run + 126) as u8);
            out.push(b);
            i += run;
            lit_start = i;
        } else {
            i += run;
        }
    }
    flush_literals(&mut out, &data[lit_start..]);
    out
}

fn flush_literals(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(MAX_LITERALS);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

/// Why a run-length stream does not decode to its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RleError {
    /// It would write past the frame's end.
    Overrun,
    /// It ends inside a control's bytes.
    Truncated,
    /// It ends before the frame is full.
    Short,
}

/// Decodes `input` into exactly `out` (every byte of it); with `xor`, each
/// decoded byte is XORed into `out` instead of stored (a delta).
pub fn decode_into(input: &[u8], out: &mut [u8], xor: bool) -> Result<(), RleError> {
    let mut i = 0;
    let mut o = 0;
    while i < input.len() {
        let c = input[i] as usize;
        i += 1;
        if c < 128 {
            let n = c + 1;
            let src = input.get(i..i + n).ok_or(RleError::Truncated)?;
            let dst = out.get_mut(o..o + n).ok_or(RleError::Overrun)?;
            put(dst, src, xor);
            i += n;
            o += n;
        } else {
            let n = c - 126;
            let b = *input.get(i).ok_or(RleError::Truncated)?;
            let dst = out.get_mut(o..o + n).ok_or(RleError::Overrun)?;
            for d in dst {
                *d = if xor { *d ^ b } else { b };
            }
            i += 1;
            o += n;
        }
    }
    if o == out.len() {
        Ok(())
    } else {
        Err(RleError::Short)
    }
}

fn put(dst: &mut [u8], src: &[u8], xor: bool) {
    if xor {
        for (d, s) in dst.iter_mut().zip(src) {
            *d ^= s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) -> usize {
        let enc = encode(data);
        let mut out = vec![0u8; data.len()];
        decode_into(&enc, &mut out, false).unwrap();
        assert_eq!(out, data);
        enc.len()
    }

    #[test]
    fn round_trips_runs_literals_and_their_limits() {
        assert_eq!(round_trip(&[]), 0);
        assert_eq!(round_trip(&[7]), 2);
        assert_eq!(
            round_trip(&[0; 512]),
            8,
            "512 zeros: four runs of 129 or fewer"
        );
        round_trip(&[1, 2, 3, 3, 3, 4, 4, 5]);
        let mixed: Vec<u8> = (0..5000u32).map(|i| (i * 7 / 13 % 5) as u8).collect();
        round_trip(&mixed);
        let noise: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(round_trip(&noise) <= noise.len() + noise.len() / 128 + 1);
    }

    #[test]
    fn xor_applies_a_delta_in_place() {
        let old: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut new = old.clone();
        new[100] ^= 0x55;
        new[200..210].fill(9);
        let diff: Vec<u8> = old.iter().zip(&new).map(|(a, b)| a ^ b).collect();
        let enc = encode(&diff);
        assert!(enc.len() < 30, "{}", enc.len());
        let mut glass = old.clone();
        decode_into(&enc, &mut glass, true).unwrap();
        assert_eq!(glass, new);
    }

    #[test]
    fn never_writes_past_its_slice() {
        let enc = encode(&[5; 100]);
        let mut small = [0u8; 50];
        assert_eq!(decode_into(&enc, &mut small, false), Err(RleError::Overrun));
        let mut big = [0u8; 150];
        assert_eq!(decode_into(&enc, &mut big, false), Err(RleError::Short));
        assert_eq!(
            decode_into(&[3, 1], &mut big, false),
            Err(RleError::Truncated)
        );
        assert_eq!(
            decode_into(&[200], &mut big, false),
            Err(RleError::Truncated)
        );
    }
}
