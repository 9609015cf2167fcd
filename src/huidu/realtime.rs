//! HD2020-generation cards (single/dual-colour P10 signs, and the
//! full-colour HD-E63): realtime bitmaps in "HT" packets.
//!
//! What public sources say, and all this module relies on (the only public
//! implementation is `alparslanahmed/huidu-led`, `hd2020_gen6.go`, whose
//! fixed byte blocks look copied from captures; Huidu publishes nothing):
//!
//! - A packet is `"HT", 0x00, 0x1b` (27, the header length), the total
//!   length (u16 **big**-endian), the command byte, zeros, a sequence byte
//!   at offset 26, the payload, the sum of every byte before it (u16 BE)
//!   and `0xAA`.
//! - The card answers each packet with a 31-byte `"HR"` reply: a 16-byte
//!   device id at 2, the command answered at 20, a status at 21 (0 = ok),
//!   the card type at 26 (47, 87, 93 = HD-E63 variants), the same checksum
//!   at 28 and `0xAA`. Two replies in that project's tests verify.
//! - A realtime area goes as start (0x18), data (0x19, in 1024-byte chunks,
//!   512 when the area is larger) and end (0x1a); the area data is a
//!   52-byte "HA" header (width, height BE; plane count at 50) and the
//!   bitmap: per row, one plane of `width/8` bytes per colour, MSB =
//!   leftmost pixel. Single/dual-colour cards take two planes (red, green),
//!   full-colour cards three (red, green, blue).
//!
//! Not built, because nothing public explains its bytes: the "screen
//! setup" (0x12/0x13) that project sends before areas larger than 64×32 on
//! full-colour cards, and its "program" upload (0x13, 0x02–0x04).

use image::RgbImage;

use super::Error;

/// The two bytes every "HT" packet starts with.
pub const MAGIC: &[u8; 2] = b"HT";
/// The two bytes every 31-byte "HR" reply starts with.
pub const REPLY_MAGIC: &[u8; 2] = b"HR";
/// Header bytes in front of the payload (27, also written at offset 3).
pub const HEADER_LEN: usize = 27;
/// Checksum (2) and end byte (1).
pub const TRAILER_LEN: usize = 3;
/// The last byte of every packet and reply.
pub const END: u8 = 0xaa;
/// Length of the card's "HR" reply, in bytes.
pub const REPLY_LEN: usize = 31;
/// Largest packet built (a 1024-byte chunk plus its prefix and framing).
pub const MAX_PACKET: usize = HEADER_LEN + 5 + 1024 + TRAILER_LEN;

/// Command bytes.
pub mod cmd {
    /// Start of a realtime area.
    pub const AREA_START: u8 = 0x18;
    /// One chunk of the area's data (1024 bytes, 512 when the area is larger).
    pub const AREA_DATA: u8 = 0x19;
    /// End of a realtime area.
    pub const AREA_END: u8 = 0x1a;
}

/// How the LEDs of a card are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorType {
    /// One LED colour (red P10): a pixel is on or off.
    Single,
    /// Red and green LEDs: off, red, green or both (yellow).
    Dual,
    /// Red, green, blue, one bit each.
    Full,
}

impl ColorType {
    /// Bitmap planes per pixel row: 2 (red, green) for single/dual-colour cards, 3 for full colour.
    pub fn planes(self) -> usize {
        match self {
            ColorType::Single | ColorType::Dual => 2,
            ColorType::Full => 3,
        }
    }
}

fn sum16(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .fold(0u16, |s, &b| s.wrapping_add(u16::from(b)))
}

/// An "HT" packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtPacket {
    /// Command byte, at offset 6 (see [`cmd`]).
    pub cmd: u8,
    /// Sequence byte, at offset 26.
    pub seq: u8,
    /// The bytes between the 27-byte header and the checksum.
    pub payload: Vec<u8>,
}

impl HtPacket {
    /// The packet on the wire: header, payload, u16 big-endian byte sum of all before it, `0xAA`.
    pub fn encode(&self) -> Vec<u8> {
        let total = HEADER_LEN + self.payload.len() + TRAILER_LEN;
        let mut out = vec![0u8; HEADER_LEN];
        out[..2].copy_from_slice(MAGIC);
        out[3] = HEADER_LEN as u8;
        out[4..6].copy_from_slice(&(total as u16).to_be_bytes());
        out[6] = self.cmd;
        out[26] = self.seq;
        out.extend_from_slice(&self.payload);
        let sum = sum16(&out);
        out.extend_from_slice(&sum.to_be_bytes());
        out.push(END);
        out
    }

    /// One packet from the front of `bytes`: the packet and its length, or
    /// `None` if more bytes are needed.
    pub fn decode(bytes: &[u8]) -> Result<Option<(HtPacket, usize)>, Error> {
        if bytes.len() < 6 {
            return Ok(None);
        }
        if &bytes[..2] != MAGIC || bytes[3] as usize != HEADER_LEN {
            return Err(Error::Hd2020("not an HT packet".into()));
        }
        let total = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        if !(HEADER_LEN + TRAILER_LEN..=MAX_PACKET).contains(&total) {
            return Err(Error::Hd2020(format!("length {total} out of range")));
        }
        if bytes.len() < total {
            return Ok(None);
        }
        let p = &bytes[..total];
        let sum = u16::from_be_bytes([p[total - 3], p[total - 2]]);
        if p[total - 1] != END || sum != sum16(&p[..total - 3]) {
            return Err(Error::Hd2020("bad checksum or end byte".into()));
        }
        Ok(Some((
            HtPacket {
                cmd: p[6],
                seq: p[26],
                payload: p[HEADER_LEN..total - TRAILER_LEN].to_vec(),
            },
            total,
        )))
    }
}

/// The card's 31-byte "HR" answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The card's 16-byte device id, at offset 2.
    pub device_id: [u8; 16],
    /// The command byte answered, at offset 20.
    pub cmd: u8,
    /// Status at offset 21: 0 = accepted.
    pub status: u8,
    /// Card type at offset 26 (47, 87, 93 are HD-E63 variants).
    pub card_type: u8,
    /// Bytes whose meaning is not known, kept so a reply re-encodes exactly.
    pub other: [u8; 7],
}

impl Reply {
    /// Reads a 31-byte reply, checking magic, end byte and checksum.
    pub fn decode(b: &[u8]) -> Result<Reply, Error> {
        if b.len() != REPLY_LEN || &b[..2] != REPLY_MAGIC || b[30] != END {
            return Err(Error::Hd2020("not an HR reply".into()));
        }
        if u16::from_be_bytes([b[28], b[29]]) != sum16(&b[..28]) {
            return Err(Error::Hd2020("bad reply checksum".into()));
        }
        let mut device_id = [0u8; 16];
        device_id.copy_from_slice(&b[2..18]);
        Ok(Reply {
            device_id,
            cmd: b[20],
            status: b[21],
            card_type: b[26],
            other: [b[18], b[19], b[22], b[23], b[24], b[25], b[27]],
        })
    }

    /// The 31 bytes on the wire, checksum recomputed.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; REPLY_LEN];
        b[..2].copy_from_slice(REPLY_MAGIC);
        b[2..18].copy_from_slice(&self.device_id);
        [b[18], b[19]] = [self.other[0], self.other[1]];
        b[20] = self.cmd;
        b[21] = self.status;
        b[22..26].copy_from_slice(&self.other[2..6]);
        b[26] = self.card_type;
        b[27] = self.other[6];
        let sum = sum16(&b[..28]);
        b[28..30].copy_from_slice(&sum.to_be_bytes());
        b[30] = END;
        b
    }

    /// The device id as the Go project prints it (GUID byte order).
    pub fn device_id_string(&self) -> String {
        let r = &self.device_id;
        format!(
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
            r[3],
            r[2],
            r[1],
            r[0],
            r[5],
            r[4],
            r[7],
            r[6],
            r[8],
            r[9],
            hex::encode(&r[10..])
        )
    }

    /// Card types that take three colour planes (HD-E63 and variants).
    pub fn is_full_colour(&self) -> bool {
        matches!(self.card_type, 47 | 87 | 93)
    }
}

/// The bitmap of `glass` (the frame as it should look) for a card of
/// `colors`: a channel is lit at 128 and above; a single-colour card lights
/// a pixel when any channel is.
pub fn bitmap(glass: &RgbImage, colors: ColorType) -> Result<Vec<u8>, Error> {
    let (w, h) = glass.dimensions();
    if w == 0 || h == 0 || w % 8 != 0 {
        return Err(Error::Frame(format!(
            "an HD2020 bitmap needs a width that is a multiple of 8, not {w}"
        )));
    }
    let stride = (w / 8) as usize;
    let planes = colors.planes();
    let mut out = vec![0u8; stride * planes * h as usize];
    for (x, y, px) in glass.enumerate_pixels() {
        let [r, g, b] = px.0.map(|c| c >= 128);
        let lit: [bool; 3] = match colors {
            ColorType::Single => {
                let on = r || g || b;
                [on, on, false]
            }
            ColorType::Dual => [r, g, false],
            ColorType::Full => [r, g, b],
        };
        let row = y as usize * stride * planes;
        for (plane, on) in lit.iter().take(planes).enumerate() {
            if *on {
                out[row + plane * stride + x as usize / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    Ok(out)
}

/// The 52-byte "HA" area header in front of the bitmap. The constant bytes
/// are as the Go project sends them; only width, height (BE, at 8 and 10)
/// and the plane count (at 50) are understood.
pub fn area_header(width: u16, height: u16, planes: u8) -> [u8; 52] {
    let mut h = [0u8; 52];
    h[..4].copy_from_slice(&[0x48, 0x41, 0x00, 0x19]);
    h[8..10].copy_from_slice(&width.to_be_bytes());
    h[10..12].copy_from_slice(&height.to_be_bytes());
    h[13] = 0x01;
    h[28..32].copy_from_slice(&[0x1d, 0x00, 0x17, 0x39]);
    h[39..44].copy_from_slice(&[0x1e, 0xc9, 0x03, 0x00, 0x01]);
    h[47] = 0x17;
    h[50] = planes;
    h
}

/// The packets of one realtime area: start, data chunks, end, numbered
/// from sequence 1. `transfer` tells this area's packets apart from the
/// previous one's (e.g. the low bits of the frame's seq).
pub fn area_packets(
    glass: &RgbImage,
    colors: ColorType,
    transfer: u16,
) -> Result<Vec<HtPacket>, Error> {
    let (w, h) = glass.dimensions();
    let too_big = || Error::Frame(format!("{w}x{h} is too large for an HD2020 realtime area"));
    let mut area = area_header(
        u16::try_from(w).map_err(|_| too_big())?,
        u16::try_from(h).map_err(|_| too_big())?,
        colors.planes() as u8,
    )
    .to_vec();
    area.extend(bitmap(glass, colors)?);
    let chunk = if area.len() <= 1024 { 1024 } else { 512 };
    let chunks: Vec<&[u8]> = area.chunks(chunk).collect();
    let count = u8::try_from(chunks.len()).map_err(|_| too_big())?;
    let id = transfer.to_le_bytes();
    let mut start = vec![0u8; 47];
    start[0] = 0x2f;
    start[1..3].copy_from_slice(&id);
    start[4] = count;
    start[6] = 0x01;
    let mut out = vec![HtPacket {
        cmd: cmd::AREA_START,
        seq: 1,
        payload: start,
    }];
    for (i, c) in chunks.iter().enumerate() {
        let mut p = vec![0x05, id[0], id[1]];
        p.extend_from_slice(&(i as u16).to_be_bytes());
        p.extend_from_slice(c);
        out.push(HtPacket {
            cmd: cmd::AREA_DATA,
            seq: (i + 2) as u8,
            payload: p,
        });
    }
    out.push(HtPacket {
        cmd: cmd::AREA_END,
        seq: count.wrapping_add(2),
        payload: vec![0x03, id[0], id[1]],
    });
    Ok(out)
}

/// Sends one area, a packet at a time, each after the card acknowledged
/// the previous one (as the Go project does).
#[derive(Debug)]
pub struct AreaSend {
    packets: Vec<HtPacket>,
    next: usize,
    awaiting: Option<u8>,
    buf: Vec<u8>,
    card: Option<Reply>,
}

impl AreaSend {
    /// An upload of `packets` (as built for one area), nothing sent yet.
    pub fn new(packets: Vec<HtPacket>) -> AreaSend {
        AreaSend {
            packets,
            next: 0,
            awaiting: None,
            buf: Vec::new(),
            card: None,
        }
    }

    /// The next packet to write, when the previous one was acknowledged.
    pub fn transmit(&mut self) -> Option<Vec<u8>> {
        if self.awaiting.is_some() || self.next >= self.packets.len() {
            return None;
        }
        let p = &self.packets[self.next];
        self.awaiting = Some(p.cmd);
        self.next += 1;
        Some(p.encode())
    }

    /// Bytes from the card. Ok(true) once the last packet is acknowledged.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<bool, Error> {
        self.buf.extend_from_slice(bytes);
        while self.buf.len() >= REPLY_LEN {
            let r = Reply::decode(&self.buf[..REPLY_LEN])?;
            self.buf.drain(..REPLY_LEN);
            match self.awaiting {
                Some(want) if r.cmd == want => {
                    if r.status != 0 {
                        return Err(Error::Hd2020(format!(
                            "the card refused command 0x{want:02x} with status {}",
                            r.status
                        )));
                    }
                    self.awaiting = None;
                }
                _ if r.status != 0 => {
                    return Err(Error::Hd2020(format!(
                        "the card answered command 0x{:02x} with status {}",
                        r.cmd, r.status
                    )))
                }
                _ => {}
            }
            self.card = Some(r);
        }
        Ok(self.is_done())
    }

    /// Whether every packet was sent and acknowledged.
    pub fn is_done(&self) -> bool {
        self.awaiting.is_none() && self.next >= self.packets.len()
    }

    /// The last reply seen (device id, card type).
    pub fn card(&self) -> Option<&Reply> {
        self.card.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn ht_packets_round_trip_and_checksums_verify() {
        let p = HtPacket {
            cmd: cmd::AREA_END,
            seq: 3,
            payload: vec![0x03, 0x34, 0x12],
        };
        let wire = p.encode();
        assert_eq!(wire.len(), 33);
        assert_eq!(&wire[..7], &[b'H', b'T', 0, 0x1b, 0, 33, 0x1a]);
        assert_eq!(HtPacket::decode(&wire).unwrap(), Some((p, 33)));
        assert_eq!(HtPacket::decode(&wire[..20]).unwrap(), None);
        let mut bad = wire.clone();
        bad[28] ^= 1;
        assert!(HtPacket::decode(&bad).is_err());
    }

    #[test]
    fn area_packets_have_the_go_projects_shape() {
        // Sizes from alparslanahmed/huidu-led hd2020_gen6_test.go: a 64x32
        // two-plane area is 52 + 512 bytes: start 77, one data 599, end 33.
        let glass = RgbImage::from_pixel(64, 32, Rgb([255, 0, 0]));
        let packets = area_packets(&glass, ColorType::Single, 0x1234).unwrap();
        let wires: Vec<Vec<u8>> = packets.iter().map(HtPacket::encode).collect();
        assert_eq!(
            wires.iter().map(Vec::len).collect::<Vec<_>>(),
            [77, 599, 33]
        );
        assert_eq!(&wires[1][28..30], &[0x34, 0x12]);
        assert_eq!((wires[1][41], wires[1][43], wires[1][82]), (0x40, 0x20, 2));
        assert_eq!(wires[2][26], 3);
        // 128x64 full colour: 52 + 3072 bytes in 512-byte chunks.
        let glass = RgbImage::from_pixel(128, 64, Rgb([255, 255, 255]));
        let packets = area_packets(&glass, ColorType::Full, 0x9876).unwrap();
        assert_eq!(packets.len(), 9);
        assert_eq!(packets[0].payload[4], 7);
        assert_eq!(packets[1].encode().len(), 547);
        assert_eq!(packets[7].encode().len(), 87);
    }

    #[test]
    fn bitmap_planes_by_colour_type() {
        let mut glass = RgbImage::new(8, 1);
        glass.put_pixel(0, 0, Rgb([255, 32, 0])); // LED red
        glass.put_pixel(1, 0, Rgb([255, 176, 0])); // amber
        glass.put_pixel(2, 0, Rgb([0, 200, 0]));
        glass.put_pixel(3, 0, Rgb([0, 0, 255]));
        assert_eq!(bitmap(&glass, ColorType::Single).unwrap(), [0xf0, 0xf0]);
        assert_eq!(bitmap(&glass, ColorType::Dual).unwrap(), [0xc0, 0x60]);
        assert_eq!(bitmap(&glass, ColorType::Full).unwrap(), [0xc0, 0x60, 0x10]);
        assert!(bitmap(&RgbImage::new(12, 1), ColorType::Single).is_err());
    }

    #[test]
    fn area_send_waits_for_each_acknowledgement() {
        let glass = RgbImage::new(64, 32);
        let packets = area_packets(&glass, ColorType::Single, 7).unwrap();
        let mut send = AreaSend::new(packets);
        let ack = |cmd: u8, status: u8| {
            Reply {
                device_id: [1; 16],
                cmd,
                status,
                card_type: 0,
                other: [0, 0x1c, 0, 0, 0, 0, 0],
            }
            .encode()
        };
        let first = send.transmit().unwrap();
        assert_eq!(first[6], cmd::AREA_START);
        assert_eq!(send.transmit(), None);
        assert!(!send.receive(&ack(cmd::AREA_START, 0)).unwrap());
        assert_eq!(send.transmit().unwrap()[6], cmd::AREA_DATA);
        let a = ack(cmd::AREA_DATA, 0);
        assert!(!send.receive(&a[..10]).unwrap());
        assert!(!send.receive(&a[10..]).unwrap());
        assert_eq!(send.transmit().unwrap()[6], cmd::AREA_END);
        assert!(send.receive(&ack(cmd::AREA_END, 0)).unwrap());
        let mut refused = AreaSend::new(area_packets(&glass, ColorType::Single, 7).unwrap());
        refused.transmit();
        assert!(refused.receive(&ack(cmd::AREA_START, 4)).is_err());
    }
}
