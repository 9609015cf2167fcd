//! BTB1, a panel's offline playlist (docs/protocol.md, "Offline
//! bundles"): the pages of its next hours, deduplicated, the rotations
//! that show them and when each applies, and the brightness switches, in
//! one signed, expiring message. A controller that loses the broker plays
//! it by its own clock until it ends, then blanks.
//!
//! Pure, like `frame.rs` and `codec`: no clock, disk or network. The
//! server builds a bundle from the player's timeline ([`build`]) and
//! encodes it ([`encode`], then signs what [`encode`] returns); a
//! controller checks one ([`accept`]) and asks what to show at an instant
//! ([`Bundle::at`]). All integers little-endian; times are Unix
//! milliseconds, or milliseconds after `issued_at` inside the body.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::codec::{self, Accepts, CodecError, ENC_DEFLATE, ENC_RLE};
use crate::domain::PixelFormat;
use crate::frame::{self, FLAG_SIGNED, SIGNATURE_LEN};

/// The first four bytes of every bundle.
pub const MAGIC: &[u8; 4] = b"BTB1";
/// Bytes before the body (panel id excluded).
pub const HEADER_LEN: usize = 32;
/// A page stored as the panel's raw pixels (or a PNG file, for PNG panels).
pub const ENC_RAW: u8 = 0;
/// The longest rotation [`build`] looks for (steps in one cycle).
const MAX_CYCLE: usize = 256;
/// The longest span a bundle may cover: its offsets are u32 milliseconds.
pub const MAX_SPAN_MS: u64 = u32::MAX as u64;

/// Whose bundle it is, its size and its span (the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The panel id the bundle is for (checked by [`accept`]).
    pub panel: String,
    /// How its pages' pixels are laid out.
    pub format: PixelFormat,
    /// Pixels across.
    pub width: u16,
    /// Pixels down.
    pub height: u16,
    /// Unix milliseconds: when the server made it, and when it ends.
    pub issued_at: u64,
    /// Unix milliseconds after which the controller blanks instead.
    pub expires_at: u64,
}

/// A decoded bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Whose bundle, its size and span.
    pub head: Head,
    /// The distinct pages the steps name by index.
    pub pages: Vec<Page>,
    /// In time order, not overlapping; where none applies the panel is blank.
    pub segments: Vec<Segment>,
    /// In time order; the first is at 0 (the level at `issued_at`).
    pub brightness: Vec<Switch>,
}

/// One distinct page: a page shown ten times is stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// [`ENC_RAW`], or a BTZ1 coding ([`ENC_RLE`], [`ENC_DEFLATE`]).
    pub encoding: u8,
    /// CRC-32 of the decoded pixels (the CRC a BTF1 frame of them carries).
    pub crc: u32,
    /// The page's bytes in its encoding.
    pub data: Vec<u8>,
}

/// A rotation and the time it applies: from `start` to `end`
/// (milliseconds after `issued_at`), the steps in order, again and again
/// from `start`; the last turn may be cut short by `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Milliseconds after `issued_at` the segment starts.
    pub start: u32,
    /// Milliseconds after `issued_at` the segment ends (exclusive, after `start`).
    pub end: u32,
    /// BTF1 flags of its frames (bit 0: an alert).
    pub flags: u16,
    /// The rotation: at least one step.
    pub steps: Vec<Step>,
}

/// One turn of a rotation: a page and how long it stays up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index into [`Bundle::pages`].
    pub page: u16,
    /// How long the page stays up, milliseconds (above 0).
    pub dwell_ms: u32,
}

/// From `at` (milliseconds after `issued_at`) the brightness is `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// Milliseconds after `issued_at`.
    pub at: u32,
    /// The brightness from then on, 0–255.
    pub level: u8,
}

/// What a bundle puts on the glass at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playing {
    /// The page, or `None`: blank.
    pub page: Option<u16>,
    /// BTF1 flags of the frame shown (bit 0: an alert; blank when `page` is `None`).
    pub flags: u16,
    /// The brightness at that instant, 0–255.
    pub brightness: u8,
    /// Unix milliseconds of the next change (a page turn, a segment's
    /// start or end, a brightness switch, the bundle's end).
    pub next: u64,
}

/// Why bytes are not a well-formed bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The layout is off: what is wrong, in words.
    #[error("not a BTB1 bundle: {0}")]
    Layout(&'static str),
    /// The header names no pixel format (the code given).
    #[error("unknown pixel format code {0}")]
    Format(u8),
}

/// Why a controller refuses a bundle; [`Refusal::code`] is what its status
/// says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a well-formed bundle.
    #[error("malformed bundle: {0}")]
    Malformed(#[from] BundleError),
    /// Unsigned, or signed with another key, while the controller has one.
    #[error("the bundle's signature does not verify with the server's key")]
    Signature,
    /// Made for another panel (the id it names).
    #[error("the bundle is for panel {0}")]
    Panel(String),
    /// Its `expires_at` (Unix ms) has passed.
    #[error("the bundle ended at {0} (Unix ms)")]
    Expired(u64),
    /// Made for another size (the width and height it names).
    #[error("the bundle is for a {0}x{1} panel")]
    Size(u16, u16),
    /// Issued before the bundle the controller already holds.
    #[error("a newer bundle is held")]
    Older,
}

impl Refusal {
    /// A short stable name, for the controller's status.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::Signature => "signature",
            Refusal::Panel(_) => "panel",
            Refusal::Expired(_) => "expired",
            Refusal::Size(..) => "size",
            Refusal::Older => "older",
        }
    }
}

/// One stretch of the server's timeline, as [`build`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// Unix milliseconds, `[start, end)`.
    pub start: u64,
    /// Unix milliseconds, exclusive.
    pub end: u64,
    /// BTF1 flags of the frame shown (bit 0: an alert).
    pub flags: u16,
    /// The pixels shown and their CRC-32; `None`: blank.
    pub pixels: Option<(&'a [u8], u32)>,
}

/// The bundle of a timeline: pages deduplicated (and coded when the
/// controller `accepts` a coding that is smaller), consecutive slots
/// folded into rotations, `brightness` (Unix ms, level) as switches.
/// Slots and switches outside `[issued_at, expires_at)` are cut to it.
pub fn build(
    mut head: Head,
    accepts: Accepts,
    slots: &[Slot<'_>],
    brightness: &[(u64, u8)],
) -> Bundle {
    let issued = head.issued_at;
    let expires = head.expires_at.clamp(issued, issued + MAX_SPAN_MS);
    head.expires_at = expires;
    let off = |t: u64| (t.clamp(issued, expires) - issued) as u32;
    let mut pages: Vec<Page> = Vec::new();
    let mut by_crc: HashMap<u32, Vec<(usize, &[u8])>> = HashMap::new();
    let mut steps: Vec<Timed> = Vec::new();
    for s in slots {
        let (start, end) = (off(s.start), off(s.end));
        let Some((pixels, crc)) = s.pixels.filter(|_| start < end) else {
            continue;
        };
        let same = by_crc
            .get(&crc)
            .and_then(|v| v.iter().find(|(_, d)| *d == pixels))
            .map(|(i, _)| *i);
        let page = same.unwrap_or_else(|| {
            let (encoding, data) =
                codec::encode_page(pixels, accepts).unwrap_or_else(|| (ENC_RAW, pixels.to_vec()));
            pages.push(Page {
                encoding,
                crc,
                data,
            });
            by_crc
                .entry(crc)
                .or_default()
                .push((pages.len() - 1, pixels));
            pages.len() - 1
        });
        steps.push(Timed {
            start,
            end,
            page: page as u16,
            flags: s.flags,
        });
    }
    let mut switches: Vec<Switch> = Vec::new();
    for &(t, level) in brightness {
        let at = off(t);
        if at > 0 && u64::from(at) >= expires - issued {
            continue;
        }
        let first = switches.is_empty();
        match switches.last_mut() {
            Some(last) if last.at == at => last.level = level,
            Some(last) if last.level == level => {}
            _ if at == 0 || !first => switches.push(Switch { at, level }),
            _ => {}
        }
    }
    Bundle {
        head,
        pages,
        segments: fold(&steps),
        brightness: switches,
    }
}

/// A page on the glass over `[start, end)` (ms after `issued_at`).
#[derive(Debug, Clone, Copy)]
struct Timed {
    start: u32,
    end: u32,
    page: u16,
    flags: u16,
}

impl Timed {
    fn dwell(&self) -> u32 {
        self.end - self.start
    }
    fn key(&self) -> (u16, u32, u16) {
        (self.page, self.dwell(), self.flags)
    }
}

/// Folds consecutive steps into rotations: greedily, from each step, the
/// cycle (up to [`MAX_CYCLE`] steps) whose repetition covers the most
/// steps; a last turn cut short (a window closing mid-dwell) joins it.
fn fold(steps: &[Timed]) -> Vec<Segment> {
    let n = steps.len();
    let joined = |k: usize| steps[k].start == steps[k - 1].end;
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let flags = steps[i].flags;
        let (mut reach, mut period) = (1, 1);
        for p in 1..=MAX_CYCLE.min(n - i) {
            let last = i + p - 1;
            if last > i && (!joined(last) || steps[last].flags != flags) {
                break;
            }
            let mut j = i + p;
            while j < n && joined(j) && steps[j].key() == steps[j - p].key() {
                j += 1;
            }
            if j - i > reach {
                (reach, period) = (j - i, p);
            }
        }
        let mut j = i + reach;
        let mut end = steps[j - 1].end;
        if j < n && joined(j) {
            let (cut, like) = (steps[j], steps[j - period]);
            if cut.page == like.page && cut.flags == like.flags && cut.dwell() < like.dwell() {
                end = cut.end;
                j += 1;
            }
        }
        out.push(Segment {
            start: steps[i].start,
            end,
            flags,
            steps: steps[i..i + period]
                .iter()
                .map(|s| Step {
                    page: s.page,
                    dwell_ms: s.dwell(),
                })
                .collect(),
        });
        i = j;
    }
    out
}

impl Bundle {
    /// What to show at `now` (Unix ms); `None` before `issued_at` or from
    /// `expires_at` on: the bundle says nothing then (blank).
    pub fn at(&self, now: u64) -> Option<Playing> {
        if now < self.head.issued_at || now >= self.head.expires_at {
            return None;
        }
        let off = (now - self.head.issued_at) as u32;
        let end = (self.head.expires_at - self.head.issued_at) as u32;
        let i = self.brightness.partition_point(|s| s.at <= off);
        let brightness = i.checked_sub(1).map_or(255, |k| self.brightness[k].level);
        let mut next = self.brightness.get(i).map_or(end, |s| s.at);
        let k = self.segments.partition_point(|s| s.end <= off);
        let (page, flags) = match self.segments.get(k) {
            Some(s) if s.start <= off => {
                let cycle: u64 = s.steps.iter().map(|t| u64::from(t.dwell_ms)).sum();
                let mut into = u64::from(off - s.start) % cycle.max(1);
                let turn_start = u64::from(off) - into;
                let mut shown = s.steps[0];
                let mut step_end = turn_start;
                for t in &s.steps {
                    step_end += u64::from(t.dwell_ms);
                    shown = *t;
                    if into < u64::from(t.dwell_ms) {
                        break;
                    }
                    into -= u64::from(t.dwell_ms);
                }
                next = next
                    .min(s.end)
                    .min(step_end.min(u64::from(u32::MAX)) as u32);
                (Some(shown.page), s.flags)
            }
            Some(s) => {
                next = next.min(s.start);
                (None, 0)
            }
            None => (None, 0),
        };
        Some(Playing {
            page,
            flags,
            brightness,
            next: self.head.issued_at + u64::from(next.max(off + 1)),
        })
    }

    /// The pixels of page `i`, decoded into `out` (exactly the frame's
    /// raw size; for PNG panels, the PNG file as stored) and checked
    /// against its CRC.
    pub fn pixels(
        &self,
        i: u16,
        decoder: &mut codec::Decoder,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let p = self.pages.get(i as usize).ok_or(CodecError::Data)?;
        out.clear();
        if p.encoding == ENC_RAW {
            out.extend_from_slice(&p.data);
        } else {
            let need = frame::raw_data_len(self.head.format, self.head.width, self.head.height)
                .ok_or(CodecError::Data)?;
            out.resize(need, 0);
            decoder.expand(p.encoding, &p.data, out)?;
        }
        let actual = frame::crc32(out);
        if actual != p.crc {
            return Err(CodecError::Crc {
                expected: p.crc,
                actual,
            });
        }
        Ok(())
    }
}

/// The bundle's bytes, with the signed flag set when `signed`: the caller
/// then appends the 64-byte Ed25519 signature of exactly these bytes.
pub fn encode(b: &Bundle, signed: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for n in [b.pages.len(), b.segments.len(), b.brightness.len(), 0] {
        body.extend_from_slice(&(n as u16).to_le_bytes());
    }
    for p in &b.pages {
        body.extend_from_slice(&[p.encoding, 0, 0, 0]);
        body.extend_from_slice(&p.crc.to_le_bytes());
        body.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        body.extend_from_slice(&p.data);
    }
    for s in &b.segments {
        body.extend_from_slice(&s.start.to_le_bytes());
        body.extend_from_slice(&s.end.to_le_bytes());
        body.extend_from_slice(&s.flags.to_le_bytes());
        body.extend_from_slice(&(s.steps.len() as u16).to_le_bytes());
        for t in &s.steps {
            body.extend_from_slice(&t.page.to_le_bytes());
            body.extend_from_slice(&t.dwell_ms.to_le_bytes());
        }
    }
    for s in &b.brightness {
        body.extend_from_slice(&s.at.to_le_bytes());
        body.push(s.level);
    }
    let h = &b.head;
    let id = h.panel.as_bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + id.len() + body.len() + SIGNATURE_LEN);
    out.extend_from_slice(MAGIC);
    out.push(h.format.code());
    out.push(id.len() as u8);
    out.extend_from_slice(&h.width.to_le_bytes());
    out.extend_from_slice(&h.height.to_le_bytes());
    let flags: u16 = if signed { FLAG_SIGNED } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&h.issued_at.to_le_bytes());
    out.extend_from_slice(&h.expires_at.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&body);
    out
}

/// A little-endian reader that fails instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(BundleError::Layout("the body ends early"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, BundleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, BundleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> Result<u32, BundleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64, BundleError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
}

/// A parsed bundle and its signature (when the signed flag is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The bundle as read.
    pub bundle: Bundle,
    /// The bytes a signature covers: header, panel id and body.
    pub signed_part: &'a [u8],
    /// The signature after the body, when the signed flag is set (not verified here).
    pub signature: Option<&'a [u8; SIGNATURE_LEN]>,
}

/// Parses and checks the layout: magic, sizes, every length, segments in
/// order and inside the bundle's span, steps naming existing pages,
/// switches in order. Never panics. The signature is not checked here.
pub fn decode(bytes: &[u8]) -> Result<Parsed<'_>, BundleError> {
    use BundleError::Layout;
    let mut r = Reader { bytes, at: 0 };
    if r.take(4).map_err(|_| Layout("shorter than the header"))? != MAGIC {
        return Err(Layout("no BTB1 magic"));
    }
    let code = r.u8()?;
    let format = PixelFormat::from_code(code).ok_or(BundleError::Format(code))?;
    let id_len = r.u8()? as usize;
    let (width, height, flags) = (r.u16()?, r.u16()?, r.u16()?);
    let (issued_at, expires_at) = (r.u64()?, r.u64()?);
    let body_len = r.u32()? as usize;
    if width == 0 || height == 0 {
        return Err(Layout("zero width or height"));
    }
    if flags & !FLAG_SIGNED != 0 {
        return Err(Layout("unknown flags"));
    }
    if expires_at < issued_at || expires_at - issued_at > MAX_SPAN_MS {
        return Err(Layout("expires_at before issued_at, or too far after"));
    }
    let panel = std::str::from_utf8(r.take(id_len)?)
        .ok()
        .filter(|s| crate::domain::Id::parse(s).is_ok())
        .ok_or(Layout("the panel id is not a panel id"))?
        .to_string();
    let end = r.at + body_len;
    let sig_len = if flags & FLAG_SIGNED != 0 {
        SIGNATURE_LEN
    } else {
        0
    };
    if bytes.len() != end.saturating_add(sig_len) || end > bytes.len() {
        return Err(Layout("length does not match the bytes that follow"));
    }
    let span = (expires_at - issued_at) as u32;
    let (n_pages, n_segments, n_switches, zero) = (r.u16()?, r.u16()?, r.u16()?, r.u16()?);
    if zero != 0 {
        return Err(Layout("reserved bytes are not zero"));
    }
    let pages = read_pages(&mut r, n_pages, frame::raw_data_len(format, width, height))?;
    let segments = read_segments(&mut r, n_segments, n_pages, span)?;
    let brightness = read_switches(&mut r, n_switches, span)?;
    if r.at != end {
        return Err(Layout("bytes left over in the body"));
    }
    let signature =
        (sig_len > 0).then(|| <&[u8; SIGNATURE_LEN]>::try_from(&bytes[end..]).expect("64 bytes"));
    Ok(Parsed {
        bundle: Bundle {
            head: Head {
                panel,
                format,
                width,
                height,
                issued_at,
                expires_at,
            },
            pages,
            segments,
            brightness,
        },
        signed_part: &bytes[..end],
        signature,
    })
}

/// The body's `n` pages: a known encoding, reserved bytes zero, a raw
/// page exactly `raw` bytes (the panel's size).
fn read_pages(r: &mut Reader<'_>, n: u16, raw: Option<usize>) -> Result<Vec<Page>, BundleError> {
    use BundleError::Layout;
    let mut pages = Vec::with_capacity(n.into());
    for _ in 0..n {
        let head = r.take(4)?;
        let (encoding, crc, len) = (head[0], r.u32()?, r.u32()? as usize);
        if head[1..] != [0, 0, 0] {
            return Err(Layout("reserved bytes are not zero"));
        }
        match (encoding, raw) {
            (ENC_RAW, Some(n)) if n != len => {
                return Err(Layout("a raw page is not the panel's size"))
            }
            (ENC_RAW, _) => {}
            (ENC_RLE | ENC_DEFLATE, Some(_)) => {}
            _ => return Err(Layout("unknown page encoding")),
        }
        let data = r.take(len)?.to_vec();
        pages.push(Page {
            encoding,
            crc,
            data,
        });
    }
    Ok(pages)
}

/// The body's `n` segments: in order, not empty, inside the bundle's
/// `span` (ms), each step naming one of the `n_pages` pages and lasting.
fn read_segments(
    r: &mut Reader<'_>,
    n: u16,
    n_pages: u16,
    span: u32,
) -> Result<Vec<Segment>, BundleError> {
    use BundleError::Layout;
    let mut segments: Vec<Segment> = Vec::with_capacity(n.into());
    for _ in 0..n {
        let (start, end, flags, n) = (r.u32()?, r.u32()?, r.u16()?, r.u16()?);
        let after = segments.last().map_or(0, |s| s.end);
        if start < after || start >= end || end > span || n == 0 {
            return Err(Layout("segments out of order, empty or outside the bundle"));
        }
        let mut steps = Vec::with_capacity(n.into());
        for _ in 0..n {
            let (page, dwell_ms) = (r.u16()?, r.u32()?);
            if page >= n_pages || dwell_ms == 0 {
                return Err(Layout("a step names no page or lasts no time"));
            }
            steps.push(Step { page, dwell_ms });
        }
        segments.push(Segment {
            start,
            end,
            flags,
            steps,
        });
    }
    Ok(segments)
}

/// The body's `n` brightness switches: the first at 0, then strictly
/// later ones inside the bundle's `span` (ms).
fn read_switches(r: &mut Reader<'_>, n: u16, span: u32) -> Result<Vec<Switch>, BundleError> {
    let mut brightness: Vec<Switch> = Vec::with_capacity(n.into());
    for _ in 0..n {
        let (at, level) = (r.u32()?, r.u8()?);
        let ordered = match brightness.last() {
            None => at == 0,
            Some(prev) => at > prev.at && at < span,
        };
        if !ordered {
            return Err(BundleError::Layout("brightness switches out of order"));
        }
        brightness.push(Switch { at, level });
    }
    Ok(brightness)
}

/// What a controller checks before it keeps a bundle, in order: the
/// layout, the signature (with a key: it must be signed and verify), the
/// panel id, the size, and that it has not ended at `now` (Unix ms).
pub fn accept(
    bytes: &[u8],
    key: Option<&VerifyingKey>,
    panel: &str,
    size: Option<(u16, u16)>,
    now: u64,
) -> Result<Bundle, Refusal> {
    let p = decode(bytes)?;
    if let Some(key) = key {
        let ok = p.signature.is_some_and(|sig| {
            key.verify(p.signed_part, &Signature::from_bytes(sig))
                .is_ok()
        });
        if !ok {
            return Err(Refusal::Signature);
        }
    }
    let b = p.bundle;
    let h = &b.head;
    if h.panel != panel {
        return Err(Refusal::Panel(h.panel.clone()));
    }
    if size.is_some_and(|s| s != (h.width, h.height)) {
        return Err(Refusal::Size(h.width, h.height));
    }
    if now >= h.expires_at {
        return Err(Refusal::Expired(h.expires_at));
    }
    Ok(b)
}

#[cfg(test)]
mod tests;
