//! Colorlight 5A-75 receiver cards: a frame of pixels as raw Ethernet
//! frames, for a small Linux box wired to the card.
//!
//! Layout as documented by PanelPlayer (`protocol/readme.md`,
//! `source/colorlight.c` in ZoidTechnology/PanelPlayer): destination MAC
//! `11:22:33:44:55:66` (the card), source `22:22:33:44:55:66`, then in place
//! of an EtherType a single packet-type byte and its payload:
//!
//! - `0x55` image data, one per row (or per 497-pixel piece of a wider
//!   row): row (u16 BE), horizontal offset (u16 BE), pixel count (u16 BE),
//!   `0x08, 0x88`, then the pixels in **B, G, R** order;
//! - `0x01` display frame, sent at least 5 ms after the last row: 99 bytes,
//!   `0x07` at 0, brightness at 22, `0x05` at 23, red/green/blue brightness
//!   at 25–27;
//! - `0x0a` set brightness (optional): red, green, blue, `0xff`, 60 zeros.
//!
//! Pure: bytes out; the caller writes them to an `AF_PACKET` socket.

/// Destination MAC the 5A-75 listens on, `11:22:33:44:55:66` (PanelPlayer).
pub const RECEIVER_MAC: [u8; 6] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
/// Source MAC the card expects, `22:22:33:44:55:66` (PanelPlayer).
pub const SENDER_MAC: [u8; 6] = [0x22, 0x22, 0x33, 0x44, 0x55, 0x66];
/// Packet type of the display frame that latches the rows received.
pub const TYPE_DISPLAY: u8 = 0x01;
/// Packet type of the optional brightness / colour-balance frame.
pub const TYPE_BRIGHTNESS: u8 = 0x0a;
/// Packet type of one row's (or row piece's) image data.
pub const TYPE_ROW: u8 = 0x55;
/// Pixels per row packet, so a frame stays within 1500 bytes of payload.
pub const MAX_ROW_PIXELS: usize = 497;
/// Bytes of a display-frame payload (after the type byte).
pub const DISPLAY_LEN: usize = 99;
/// Bytes of a brightness payload (after the type byte).
pub const BRIGHTNESS_LEN: usize = 64;
/// Least delay between the last row and the display frame.
pub const DISPLAY_DELAY_MS: u64 = 5;

/// Source and destination addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macs {
    /// Destination MAC, the receiver card's.
    pub dst: [u8; 6],
    /// Source MAC, the sender's.
    pub src: [u8; 6],
}

impl Default for Macs {
    fn default() -> Macs {
        Macs {
            dst: RECEIVER_MAC,
            src: SENDER_MAC,
        }
    }
}

/// Why a picture cannot be encoded for the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The pixel buffer is not `width` × `height` × 3 bytes (or is empty).
    #[error("the frame has {got} bytes but {width}x{height} RGB888 needs {need}")]
    Size {
        /// Picture width in pixels.
        width: u16,
        /// Picture height in pixels.
        height: u16,
        /// Bytes RGB888 at that size needs.
        need: usize,
        /// Bytes given.
        got: usize,
    },
}

/// One frame's worth of Ethernet frames: the rows, then (after
/// [`DISPLAY_DELAY_MS`]) the display frame that latches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// The image-data frames, top row first, in sending order.
    pub rows: Vec<Vec<u8>>,
    /// The display frame, to send at least [`DISPLAY_DELAY_MS`] after the last row.
    pub display: Vec<u8>,
}

fn ethernet(macs: Macs, kind: u8, payload_len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(13 + payload_len);
    f.extend_from_slice(&macs.dst);
    f.extend_from_slice(&macs.src);
    f.push(kind);
    f
}

/// The image-data frames of one row (`rgb`: the row's pixels, R, G, B).
pub fn row_frames(macs: Macs, row: u16, rgb: &[u8]) -> Vec<Vec<u8>> {
    rgb.chunks(MAX_ROW_PIXELS * 3)
        .enumerate()
        .map(|(i, piece)| {
            let count = piece.len() / 3;
            let mut f = ethernet(macs, TYPE_ROW, 8 + piece.len());
            f.extend_from_slice(&row.to_be_bytes());
            f.extend_from_slice(&((i * MAX_ROW_PIXELS) as u16).to_be_bytes());
            f.extend_from_slice(&(count as u16).to_be_bytes());
            f.extend_from_slice(&[0x08, 0x88]);
            for px in piece.chunks_exact(3) {
                f.extend_from_slice(&[px[2], px[1], px[0]]);
            }
            f
        })
        .collect()
}

/// The display frame: shows the rows received, at `brightness` (0–255)
/// with that level on each colour.
pub fn display_frame(macs: Macs, brightness: u8) -> Vec<u8> {
    let mut f = ethernet(macs, TYPE_DISPLAY, DISPLAY_LEN);
    let mut p = [0u8; DISPLAY_LEN];
    p[0] = 0x07;
    p[22] = brightness;
    p[23] = 0x05;
    p[25..28].copy_from_slice(&[brightness; 3]);
    f.extend_from_slice(&p);
    f
}

/// The optional brightness / colour-balance frame.
pub fn brightness_frame(macs: Macs, rgb: [u8; 3]) -> Vec<u8> {
    let mut f = ethernet(macs, TYPE_BRIGHTNESS, BRIGHTNESS_LEN);
    let mut p = [0u8; BRIGHTNESS_LEN];
    p[..3].copy_from_slice(&rgb);
    p[3] = 0xff;
    f.extend_from_slice(&p);
    f
}

/// Every frame needed to show `rgb` (RGB888, row-major, `width` ×
/// `height`) at `brightness`.
pub fn encode(
    rgb: &[u8],
    width: u16,
    height: u16,
    brightness: u8,
    macs: Macs,
) -> Result<Frames, Error> {
    let row_len = usize::from(width) * 3;
    let need = row_len * usize::from(height);
    if rgb.len() != need || need == 0 {
        return Err(Error::Size {
            width,
            height,
            need,
            got: rgb.len(),
        });
    }
    let rows = rgb
        .chunks_exact(row_len)
        .enumerate()
        .flat_map(|(y, row)| row_frames(macs, y as u16, row))
        .collect();
    Ok(Frames {
        rows,
        display: display_frame(macs, brightness),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_rows_split_at_497_pixels() {
        let rgb = vec![7u8; 1000 * 3];
        let f = row_frames(Macs::default(), 0, &rgb);
        assert_eq!(f.len(), 3);
        assert_eq!(&f[1][15..19], &[0x01, 0xf1, 0x01, 0xf1]); // offset 497, 497 px
        assert_eq!(&f[2][15..19], &[0x03, 0xe2, 0x00, 0x06]); // offset 994, 6 px
        assert!(f.iter().all(|x| x.len() <= 14 + 1500));
    }

    #[test]
    fn display_and_brightness_frames() {
        let d = display_frame(Macs::default(), 200);
        assert_eq!(d.len(), 13 + 99);
        assert_eq!((d[12], d[13], d[35], d[36]), (0x01, 0x07, 200, 0x05));
        assert_eq!(&d[38..41], &[200, 200, 200]);
        let b = brightness_frame(Macs::default(), [1, 2, 3]);
        assert_eq!(b.len(), 13 + 64);
        assert_eq!(&b[12..17], &[0x0a, 1, 2, 3, 0xff]);
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/colorlight/",
                $name
            ))
        };
    }

    #[test]
    fn panelplayer_layouts_byte_for_byte() {
        // Hand-made from PanelPlayer's source/colorlight.c (see the .txt
        // files next to the fixtures).
        let m = Macs::default();
        assert_eq!(
            row_frames(m, 3, &[1, 2, 3, 4, 5, 6])[0],
            fixture!("row_3.bin")
        );
        assert_eq!(display_frame(m, 255), fixture!("display_255.bin"));
        assert_eq!(brightness_frame(m, [1, 2, 3]), fixture!("brightness.bin"));
    }

    #[test]
    fn encode_checks_the_size() {
        let f = encode(&[0; 4 * 2 * 3], 4, 2, 255, Macs::default()).unwrap();
        assert_eq!(f.rows.len(), 2);
        assert!(encode(&[0; 5], 4, 2, 255, Macs::default()).is_err());
    }
}
