//! BTZ1, the compressed frame a controller may opt into (docs/protocol.md,
//! "Compressed frames"): a raw frame's pixels, run-length coded ([`rle`])
//! or deflated (RFC 1951, `miniz_oxide`), optionally as the XOR against
//! the frame on the glass (a delta).
//!
//! Pure bytes in, bytes out, like `frame.rs`. The encoder allocates freely
//! (it runs on the server); the decoder ([`Decoder`]) is the reference for
//! controllers on microcontrollers: it writes only into two buffers of the
//! frame's size that the caller owns, with a fixed-size inflate state, and
//! never allocates.

pub mod rle;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::frame::{self, raw_data_len, FLAG_SIGNED, SIGNATURE_LEN};

/// The first four bytes of every compressed frame.
pub const MAGIC: &[u8; 4] = b"BTZ1";
/// Bytes before the coded data: BTF1's 32, then encoding, three zero
/// bytes and the delta's base seq.
pub const HEADER_LEN: usize = 40;

/// How the data is coded (header byte 32): run-length.
pub const ENC_RLE: u8 = 1;
/// Raw deflate (RFC 1951, no zlib or gzip wrapper).
pub const ENC_DEFLATE: u8 = 2;
/// Bit 7 of the encoding: the coded bytes are the XOR of the new pixels
/// with those of the frame `base_seq`, one the controller showed lately.
pub const ENC_DELTA: u8 = 0x80;
/// How many of the frames it showed last a controller that decodes deltas
/// keeps (their pixels): a delta may name any of them. A rotation of up
/// to this many pages costs a delta of nothing but runs of zeros.
pub const HELD: usize = 16;

/// What a controller says it decodes, in its status (`"accepts"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Accepts {
    /// Run-length coded frames (`btz1-rle`).
    pub rle: bool,
    /// Deflated frames (`btz1-deflate`).
    pub deflate: bool,
    /// Deltas against a frame it holds (`btz1-delta`).
    pub delta: bool,
    /// It plays offline bundles (`btb1`, [`crate::bundle`]): only such a
    /// controller is sent one.
    pub bundle: bool,
}

impl Accepts {
    /// From the status's `"accepts"` names; unknown names are ignored.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Accepts {
        let mut a = Accepts::default();
        for n in names {
            match n {
                "btz1-rle" => a.rle = true,
                "btz1-deflate" => a.deflate = true,
                "btz1-delta" => a.delta = true,
                "btb1" => a.bundle = true,
                _ => {}
            }
        }
        a
    }

    /// Whether it decodes BTZ1 at all (a delta is coded by run-length or
    /// deflate, so those two decide).
    pub fn any(&self) -> bool {
        self.rle || self.deflate
    }
}

/// A BTZ1 header. `crc` is the CRC-32 of the decoded pixel data: the same
/// CRC a raw BTF1 frame of those pixels carries, and the one a verified ack
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The BTF1 header of the frame it stands for.
    pub frame: frame::Header,
    /// CRC-32 of the decoded pixels.
    pub crc: u32,
    /// [`ENC_RLE`] or [`ENC_DEFLATE`], with [`ENC_DELTA`] for a delta.
    pub encoding: u8,
    /// The seq of the frame a delta is against (0 when not a delta).
    pub base_seq: u32,
}

/// The smallest BTZ1 coding of `data` (a raw frame's pixels) that the
/// controller accepts, or `None` when none is smaller than the raw frame.
/// `bases` are frames the controller holds (seq, pixels): a delta is tried
/// against the one most like `data` (fewest differing bytes).
pub fn encode_best(
    h: &frame::Header,
    data: &[u8],
    accepts: Accepts,
    bases: &[(u32, &[u8])],
) -> Option<Vec<u8>> {
    raw_data_len(h.format, h.width, h.height).filter(|n| *n == data.len())?;
    let same_size: Vec<(u32, &[u8])> = bases
        .iter()
        .filter(|(_, b)| b.len() == data.len())
        .copied()
        .collect();
    encode_best_with(
        h,
        frame::crc32(data),
        accepts,
        &same_size,
        |b| differing(b, data),
        |b| code(data, b.copied(), accepts),
    )
}

/// [`encode_best`], the costly steps left to the caller (the player keeps
/// their results per page): `differ(base)`,
/// the bytes in which the frame's pixels (CRC `crc`) and `base` differ;
/// `code(base)`, the [`code`] of the pixels alone (`None`) or against
/// `base`. `bases` (seq, pixels) are of the pixels' size.
pub fn encode_best_with<B, C: AsRef<[u8]>>(
    h: &frame::Header,
    crc: u32,
    accepts: Accepts,
    bases: &[(u32, B)],
    mut differ: impl FnMut(&B) -> usize,
    mut code: impl FnMut(Option<&B>) -> Option<(u8, C)>,
) -> Option<Vec<u8>> {
    let closest = bases
        .iter()
        .filter(|_| accepts.delta)
        .min_by_key(|(_, b)| differ(b));
    let full = code(None).map(|c| (0, c));
    let delta = closest.and_then(|(seq, b)| code(Some(b)).map(|c| (*seq, c)));
    let (base_seq, (encoding, coded)) = [full, delta]
        .into_iter()
        .flatten()
        .min_by_key(|(_, (_, c))| c.as_ref().len())?;
    assemble(h, crc, encoding, base_seq, coded.as_ref())
}

/// How many bytes of `a` and `b` differ (a delta between them is mostly
/// zeros when few do).
pub fn differing(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// The smallest coding the controller accepts of `data` alone (`base`
/// `None`) or of its XOR with `base` (a delta: the encoding then has
/// [`ENC_DELTA`] set): (encoding, coded bytes), or `None` when it accepts
/// no coding or `base` is not `data`'s size.
pub fn code(data: &[u8], base: Option<&[u8]>, accepts: Accepts) -> Option<(u8, Vec<u8>)> {
    let xored: Vec<u8>;
    let (delta, bytes) = match base {
        None => (0, data),
        Some(b) if accepts.delta && b.len() == data.len() => {
            xored = b.iter().zip(data).map(|(x, y)| x ^ y).collect();
            (ENC_DELTA, xored.as_slice())
        }
        Some(_) => return None,
    };
    let rle = accepts.rle.then(|| (ENC_RLE | delta, rle::encode(bytes)));
    let deflate = accepts.deflate.then(|| {
        (
            ENC_DEFLATE | delta,
            miniz_oxide::deflate::compress_to_vec(bytes, 9),
        )
    });
    [rle, deflate]
        .into_iter()
        .flatten()
        .min_by_key(|(_, coded)| coded.len())
}

/// The BTZ1 frame (header and `coded`, room left for a signature) for the
/// frame whose header is `h` and whose pixels have CRC `crc`, or `None`
/// when it is not smaller than the raw BTF1 frame would be.
pub fn assemble(
    h: &frame::Header,
    crc: u32,
    encoding: u8,
    base_seq: u32,
    coded: &[u8],
) -> Option<Vec<u8>> {
    let raw = raw_data_len(h.format, h.width, h.height)?;
    if HEADER_LEN + coded.len() >= frame::HEADER_LEN + raw {
        return None;
    }
    let header = Header {
        frame: *h,
        crc,
        encoding,
        base_seq,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + coded.len() + SIGNATURE_LEN);
    out.extend_from_slice(&encode_header(&header, coded.len()));
    out.extend_from_slice(coded);
    Some(out)
}

/// The smallest coding of a page's pixels the controller accepts
/// (encoding, coded bytes), or `None` when none is smaller than `data`:
/// [`encode_best`] without a header or a delta, for a bundle's pages.
pub fn encode_page(data: &[u8], accepts: Accepts) -> Option<(u8, Vec<u8>)> {
    code(data, None, accepts).filter(|(_, coded)| coded.len() < data.len())
}

/// Writes the 40-byte header for `data_len` bytes of coded data.
pub fn encode_header(h: &Header, data_len: usize) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let f = frame::encode_header(&h.frame, data_len, h.crc);
    out[..frame::HEADER_LEN].copy_from_slice(&f);
    out[0..4].copy_from_slice(MAGIC);
    out[32] = h.encoding;
    out[36..40].copy_from_slice(&h.base_seq.to_le_bytes());
    out
}

/// Why a BTZ1 frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The layout is off: what is wrong, in words.
    #[error("not a BTZ1 frame: {0}")]
    Layout(&'static str),
    /// A PNG frame (the format named): BTZ1 codes raw pixels only.
    #[error("BTZ1 carries raw pixels only, not {0}")]
    Format(&'static str),
    /// Header byte 32 names no known coding.
    #[error("unknown encoding {0:#04x}")]
    Encoding(u8),
    /// The caller's buffer is not the frame's raw size.
    #[error("the frame needs {need} bytes of buffer, {have} given")]
    Buffer {
        /// Bytes the frame's pixels take.
        need: usize,
        /// Bytes the caller gave.
        have: usize,
    },
    /// A delta against a frame the controller does not hold.
    #[error("a delta against seq {base} needs that frame on the glass")]
    NoBase {
        /// The seq the delta names.
        base: u32,
    },
    /// The coded data ends early, runs over, or is not valid coding.
    #[error("the coded data does not decode to exactly the frame's pixels")]
    Data,
    /// The decoded pixels do not match the header's CRC-32.
    #[error("CRC mismatch after decoding: header says {expected:08x}, pixels have {actual:08x}")]
    Crc {
        /// The CRC in the header.
        expected: u32,
        /// The CRC of the pixels decoded.
        actual: u32,
    },
}

/// A parsed BTZ1 frame; `data` and `signature` borrow from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The header as read.
    pub header: Header,
    /// The coded data.
    pub data: &'a [u8],
    /// The signature after the data, when the signed flag is set (not
    /// verified here).
    pub signature: Option<&'a [u8; SIGNATURE_LEN]>,
}

impl Parsed<'_> {
    /// The bytes a signature covers: header and data.
    pub fn signed_part<'b>(&self, whole: &'b [u8]) -> &'b [u8] {
        &whole[..HEADER_LEN + self.data.len()]
    }
}

/// Checks the layout (magic, format, size, length, signature's place).
/// The data is checked by decoding it ([`Decoder::decode`]).
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, CodecError> {
    if bytes.len() < HEADER_LEN {
        return Err(CodecError::Layout("shorter than the 40-byte header"));
    }
    if &bytes[0..4] != MAGIC {
        return Err(CodecError::Layout("no BTZ1 magic"));
    }
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let fields =
        frame::header_fields(bytes).map_err(|_| CodecError::Layout("bad pixel format or size"))?;
    if raw_data_len(fields.format, fields.width, fields.height).is_none() {
        return Err(CodecError::Format(fields.format.name()));
    }
    let encoding = bytes[32];
    if !matches!(encoding & !ENC_DELTA, ENC_RLE | ENC_DEFLATE) {
        return Err(CodecError::Encoding(encoding));
    }
    if bytes[33..36] != [0, 0, 0] {
        return Err(CodecError::Layout("reserved bytes 33-35 are not zero"));
    }
    let flags = fields.flags;
    let header = Header {
        frame: fields,
        crc: u32_at(28),
        encoding,
        base_seq: u32_at(36),
    };
    let len = u32_at(24) as usize;
    let rest = &bytes[HEADER_LEN..];
    let sig_len = if flags & FLAG_SIGNED != 0 {
        SIGNATURE_LEN
    } else {
        0
    };
    if rest.len() != len.saturating_add(sig_len) || len > rest.len() {
        return Err(CodecError::Layout(
            "length does not match the bytes that follow",
        ));
    }
    let (data, after) = rest.split_at(len);
    let signature =
        (sig_len > 0).then(|| <&[u8; SIGNATURE_LEN]>::try_from(after).expect("64 bytes"));
    Ok(Parsed {
        header,
        data,
        signature,
    })
}

/// The reference decoder: a fixed-size inflate state (about 11 KB),
/// reused frame after frame. Decoding takes the base a delta names (one of
/// the [`HELD`] frames the controller keeps) and a scratch buffer, each
/// exactly the frame's pixel size, and allocates nothing: a controller's
/// memory is its frame buffers and this.
pub struct Decoder {
    inflate: DecompressorOxide,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            inflate: DecompressorOxide::new(),
        }
    }
}

impl Decoder {
    /// Decodes `p` into `scratch`. For a delta, `base` must be the frame
    /// its base seq names (seq, pixels), as the controller keeps it; it is
    /// not changed, so a refused frame leaves the glass as it was. On
    /// success the new pixels are in `scratch`.
    pub fn decode(
        &mut self,
        p: &Parsed<'_>,
        base: Option<(u32, &[u8])>,
        scratch: &mut [u8],
    ) -> Result<(), CodecError> {
        let h = &p.header;
        let f = &h.frame;
        let need = raw_data_len(f.format, f.width, f.height).unwrap_or(usize::MAX);
        if scratch.len() != need {
            return Err(CodecError::Buffer {
                need,
                have: scratch.len(),
            });
        }
        let delta = h.encoding & ENC_DELTA != 0;
        let glass = match base {
            Some((seq, b)) if seq == h.base_seq && b.len() == need => b,
            _ if delta => return Err(CodecError::NoBase { base: h.base_seq }),
            _ => &[],
        };
        self.expand(h.encoding & !ENC_DELTA, p.data, scratch)?;
        if delta {
            for (s, g) in scratch.iter_mut().zip(glass) {
                *s ^= g;
            }
        }
        let actual = frame::crc32(scratch);
        if actual != h.crc {
            return Err(CodecError::Crc {
                expected: h.crc,
                actual,
            });
        }
        Ok(())
    }

    /// Decodes `data`, coded with `encoding` ([`ENC_RLE`] or
    /// [`ENC_DEFLATE`], no delta), into exactly `out`: anything shorter or
    /// longer is [`CodecError::Data`]. Also what a bundle's pages use.
    pub fn expand(&mut self, encoding: u8, data: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        match encoding {
            ENC_RLE => rle::decode_into(data, out, false).map_err(|_| CodecError::Data),
            ENC_DEFLATE => self.inflate_into(data, out),
            other => Err(CodecError::Encoding(other)),
        }
    }

    fn inflate_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
        self.inflate.init();
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        let (status, read, written) = decompress(&mut self.inflate, data, out, 0, flags);
        match status {
            TINFLStatus::Done if read == data.len() && written == out.len() => Ok(()),
            _ => Err(CodecError::Data),
        }
    }
}

#[cfg(test)]
mod tests;
