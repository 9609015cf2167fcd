//! BTF1, the frame format controllers receive (docs/protocol.md, "BTF1
//! frame").
//!
//! Pure bytes in, bytes out: this module never touches a socket, a file or
//! the clock. All integers are little-endian. The header is 32 bytes, then
//! `length` bytes of pixel data, then, when the signed flag is set, a
//! 64-byte Ed25519 signature over everything before it.

use crate::domain::PixelFormat;

/// The first four bytes of every frame.
pub const MAGIC: &[u8; 4] = b"BTF1";
/// Bytes before the pixel data.
pub const HEADER_LEN: usize = 32;
/// Bytes of the Ed25519 signature after the data, when the signed flag is set.
pub const SIGNATURE_LEN: usize = 64;

/// An alert: shown above every campaign (controllers may mark it).
pub const FLAG_EMERGENCY: u16 = 1 << 0;
/// Nothing to show: the controller darkens the panel (the data is zeros).
pub const FLAG_BLANK: u16 = 1 << 1;
/// A 64-byte Ed25519 signature follows the data.
pub const FLAG_SIGNED: u16 = 1 << 2;

/// The fixed-size part of a frame, without the data's length and CRC (those
/// are derived from the data when encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// How the data encodes the pixels (byte 4).
    pub format: PixelFormat,
    /// The panel's brightness while this frame shows, 0–255 (byte 5).
    pub brightness: u8,
    /// Pixels across.
    pub width: u16,
    /// Pixels down.
    pub height: u16,
    /// `FLAG_EMERGENCY`, `FLAG_BLANK`, `FLAG_SIGNED`; other bits zero.
    pub flags: u16,
    /// The panel's frame counter: only grows, across server restarts; a
    /// controller refuses one not above the last it showed.
    pub seq: u32,
    /// Unix seconds after which the controller blanks the frame; 0 = never.
    pub valid_until: u64,
}

/// A decoded frame. `data` borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header as read.
    pub header: Header,
    /// The pixel data, its length and CRC checked.
    pub data: &'a [u8],
    /// The header's CRC-32 of `data` (checked): what a verified ack names.
    pub crc: u32,
    /// The signature after the data, when the signed flag is set (not
    /// verified here: the key is the caller's).
    pub signature: Option<&'a [u8; SIGNATURE_LEN]>,
}

impl Frame<'_> {
    /// The bytes a signature covers: header and data.
    pub fn signed_part<'b>(&self, whole: &'b [u8]) -> &'b [u8] {
        &whole[..HEADER_LEN + self.data.len()]
    }
}

/// Why bytes are not a BTF1 frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header (the count given).
    #[error("frame is {0} bytes, shorter than the 32-byte header")]
    TooShort(usize),
    /// The first four bytes are not `BTF1`.
    #[error("frame does not start with the BTF1 magic")]
    BadMagic,
    /// Byte 4 names no pixel format (the code given).
    #[error("unknown pixel format code {0}")]
    BadFormat(u8),
    /// A side of zero pixels.
    #[error("frame size {width}x{height} is not allowed (each side 1 to 65535)")]
    BadSize {
        /// Pixels across, as the header says.
        width: u16,
        /// Pixels down, as the header says.
        height: u16,
    },
    /// The header's data length runs past the bytes received.
    #[error("header says {declared} data bytes, but {available} follow")]
    Truncated {
        /// Data bytes the header declares.
        declared: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// Bytes after the data (and the signature, when signed).
    #[error("{extra} unexpected bytes after the data")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// The data does not match the header's CRC-32.
    #[error("CRC mismatch: header says {expected:08x}, data has {actual:08x}")]
    Crc {
        /// The CRC in the header.
        expected: u32,
        /// The CRC of the data received.
        actual: u32,
    },
    /// Raw data not of the size its format and the panel's size need.
    #[error("{format} data for {width}x{height} must be {expected} bytes, got {actual}")]
    DataSize {
        /// The pixel format's name.
        format: &'static str,
        /// Pixels across.
        width: u16,
        /// Pixels down.
        height: u16,
        /// Bytes the format needs at that size.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
}

/// Bytes of pixel data a raw format needs for a frame of this size; `None`
/// for PNG, whose size varies.
pub fn raw_data_len(format: PixelFormat, width: u16, height: u16) -> Option<usize> {
    let (w, h) = (width as usize, height as usize);
    match format {
        PixelFormat::Mono1 => Some(w.div_ceil(8) * h),
        PixelFormat::Rgb565 => Some(w * h * 2),
        PixelFormat::Rgb888 => Some(w * h * 3),
        PixelFormat::Png => None,
    }
}

/// CRC-32 (IEEE), as zlib's `crc32`.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Writes the 32-byte header for `data` whose CRC is already known. Lets a
/// cache keep (data, crc) and stamp a fresh header per panel cheaply.
pub fn encode_header(h: &Header, data_len: usize, crc: u32) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[0..4].copy_from_slice(MAGIC);
    out[4] = h.format.code();
    out[5] = h.brightness;
    out[6..8].copy_from_slice(&h.width.to_le_bytes());
    out[8..10].copy_from_slice(&h.height.to_le_bytes());
    out[10..12].copy_from_slice(&h.flags.to_le_bytes());
    out[12..16].copy_from_slice(&h.seq.to_le_bytes());
    out[16..24].copy_from_slice(&h.valid_until.to_le_bytes());
    out[24..28].copy_from_slice(&(data_len as u32).to_le_bytes());
    out[28..32].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Header followed by data; no signature (the signed flag must then be clear,
/// or the caller appends the signature itself: see [`encode_with_crc`]).
pub fn encode(h: &Header, data: &[u8]) -> Vec<u8> {
    encode_with_crc(h, data, crc32(data))
}

/// [`encode`] with the data's CRC-32 already known (a cached page's).
pub fn encode_with_crc(h: &Header, data: &[u8], crc: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len() + SIGNATURE_LEN);
    out.extend_from_slice(&encode_header(h, data.len(), crc));
    out.extend_from_slice(data);
    out
}

/// The header's fields at bytes 4..24 (format, brightness, size, flags,
/// seq, valid_until), which BTZ1 (`codec`) lays out the same way. `bytes`
/// holds at least [`HEADER_LEN`] bytes.
pub fn header_fields(bytes: &[u8]) -> Result<Header, DecodeError> {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let format = PixelFormat::from_code(bytes[4]).ok_or(DecodeError::BadFormat(bytes[4]))?;
    let (width, height) = (u16_at(6), u16_at(8));
    if width == 0 || height == 0 {
        return Err(DecodeError::BadSize { width, height });
    }
    Ok(Header {
        format,
        brightness: bytes[5],
        width,
        height,
        flags: u16_at(10),
        seq: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        valid_until: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
    })
}

/// Parses and checks a frame: magic, format, size, length, CRC, and for raw
/// formats that the data is exactly the panel's size. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    if &bytes[0..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let header = header_fields(bytes)?;
    let Header {
        format,
        width,
        height,
        flags,
        ..
    } = header;
    let declared = u32_at(24) as usize;
    let rest = &bytes[HEADER_LEN..];
    if rest.len() < declared {
        return Err(DecodeError::Truncated {
            declared,
            available: rest.len(),
        });
    }
    let data = &rest[..declared];
    let after = &rest[declared..];
    let signature = if flags & FLAG_SIGNED != 0 {
        if after.len() < SIGNATURE_LEN {
            return Err(DecodeError::Truncated {
                declared: declared + SIGNATURE_LEN,
                available: rest.len(),
            });
        }
        if after.len() > SIGNATURE_LEN {
            return Err(DecodeError::Trailing {
                extra: after.len() - SIGNATURE_LEN,
            });
        }
        Some(<&[u8; SIGNATURE_LEN]>::try_from(after).expect("64 bytes"))
    } else {
        if !after.is_empty() {
            return Err(DecodeError::Trailing { extra: after.len() });
        }
        None
    };
    let expected = u32_at(28);
    let actual = crc32(data);
    if expected != actual {
        return Err(DecodeError::Crc { expected, actual });
    }
    if let Some(need) = raw_data_len(format, width, height) {
        if need != data.len() {
            return Err(DecodeError::DataSize {
                format: format.name(),
                width,
                height,
                expected: need,
                actual: data.len(),
            });
        }
    }
    Ok(Frame {
        header,
        data,
        crc: actual,
        signature,
    })
}

/// Signs `bytes` (a frame, BTZ1 frame or bundle up to its signature)
/// with Ed25519 and appends the 64-byte signature.
pub fn append_signature(bytes: &mut Vec<u8>, key: &ed25519_dalek::SigningKey) {
    use ed25519_dalek::Signer;
    let sig = key.sign(bytes);
    bytes.extend_from_slice(&sig.to_bytes());
}

/// `hexdump -C`-style lines (offset, 16 bytes), as docs/protocol.md
/// shows frames; for the tests that check those examples.
#[cfg(test)]
pub(crate) fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let hex: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:08x}  {}\n", i * 16, hex.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(format: PixelFormat, w: u16, h: u16) -> Header {
        Header {
            format,
            brightness: 200,
            width: w,
            height: h,
            flags: FLAG_EMERGENCY,
            seq: 0xdead_beef,
            valid_until: 1_800_000_000,
        }
    }

    #[test]
    fn round_trips_every_raw_format() {
        for f in [PixelFormat::Mono1, PixelFormat::Rgb565, PixelFormat::Rgb888] {
            let h = header(f, 13, 5);
            let len = raw_data_len(f, 13, 5).unwrap();
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let bytes = encode(&h, &data);
            let fr = decode(&bytes).unwrap();
            assert_eq!(fr.header, h);
            assert_eq!(fr.data, &data[..]);
            assert!(fr.signature.is_none());
        }
    }

    #[test]
    fn header_layout_is_byte_exact() {
        let h = Header {
            format: PixelFormat::Mono1,
            brightness: 0x80,
            width: 16,
            height: 2,
            flags: FLAG_BLANK,
            seq: 7,
            valid_until: 0x0102_0304_0506_0708,
        };
        let data = [0xffu8, 0x00, 0x0f, 0xf0];
        let b = encode(&h, &data);
        assert_eq!(&b[0..4], b"BTF1");
        assert_eq!(b[4], 1);
        assert_eq!(b[5], 0x80);
        assert_eq!(&b[6..8], &[16, 0]);
        assert_eq!(&b[8..10], &[2, 0]);
        assert_eq!(&b[10..12], &[2, 0]);
        assert_eq!(&b[12..16], &[7, 0, 0, 0]);
        assert_eq!(&b[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[24..28], &[4, 0, 0, 0]);
        // zlib.crc32(bytes([0xff,0x00,0x0f,0xf0]))
        assert_eq!(
            u32::from_le_bytes(b[28..32].try_into().unwrap()),
            crc32(&data)
        );
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "IEEE check value");
        assert_eq!(&b[32..], &data);
    }

    #[test]
    fn signed_frames_carry_64_bytes_after_data() {
        let mut h = header(PixelFormat::Png, 4, 4);
        h.flags |= FLAG_SIGNED;
        let data = b"not really png but opaque".to_vec();
        let mut bytes = encode(&h, &data);
        bytes.extend_from_slice(&[9u8; 64]);
        let fr = decode(&bytes).unwrap();
        assert_eq!(fr.signature.unwrap(), &[9u8; 64]);
        assert_eq!(fr.signed_part(&bytes).len(), 32 + data.len());
        bytes.pop();
        assert!(matches!(decode(&bytes), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn malformed_frames_are_rejected() {
        let h = header(PixelFormat::Mono1, 16, 2);
        let good = encode(&h, &[1, 2, 3, 4]);
        assert!(decode(&good).is_ok());
        for n in 0..good.len() {
            assert!(decode(&good[..n]).is_err(), "prefix {n}");
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(DecodeError::BadMagic));
        let mut bad = good.clone();
        bad[4] = 9;
        assert_eq!(decode(&bad), Err(DecodeError::BadFormat(9)));
        let mut bad = good.clone();
        bad[33] ^= 1;
        assert!(matches!(decode(&bad), Err(DecodeError::Crc { .. })));
        let mut bad = good.clone();
        bad.push(0);
        assert!(matches!(
            decode(&bad),
            Err(DecodeError::Trailing { extra: 1 })
        ));
        let wrong_size = encode(&header(PixelFormat::Mono1, 16, 3), &[1, 2, 3, 4]);
        assert!(matches!(
            decode(&wrong_size),
            Err(DecodeError::DataSize { .. })
        ));
        let mut huge = good.clone();
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(DecodeError::Truncated { .. })));
        let zero = encode(&header(PixelFormat::Png, 0, 2), &[]);
        assert!(matches!(decode(&zero), Err(DecodeError::BadSize { .. })));
    }

    #[test]
    fn decode_never_panics_on_noise() {
        let mut x: u32 = 12345;
        for len in 0..300usize {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(x as u8);
            }
            if len >= 4 {
                v[..4].copy_from_slice(MAGIC);
            }
            let _ = decode(&v);
        }
    }
}
