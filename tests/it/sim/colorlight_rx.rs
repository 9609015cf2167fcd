//! A Colorlight 5A-75 receiver, for tests: turns captured Ethernet frames
//! back into the panel's pixels.
//!
//! Written from PanelPlayer's `protocol/readme.md` (ZoidTechnology/
//! PanelPlayer), without bangtin's encoder: frames addressed to
//! 11:22:33:44:55:66; type 0x55 rows (row, offset, count big-endian,
//! 0x08 0x88, BGR pixels) land in a back buffer; type 0x01 latches it onto
//! the glass with the brightness at payload offset 22.

pub const RECEIVER: [u8; 6] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];

#[derive(Debug)]
pub struct Receiver {
    pub width: usize,
    pub height: usize,
    back: Vec<u8>,
    /// RGB on the glass after the last display frame.
    pub glass: Option<Vec<u8>>,
    pub brightness: Option<u8>,
    /// Frames the card would not take (wrong address, malformed, out of
    /// the panel).
    pub ignored: usize,
}

impl Receiver {
    pub fn new(width: usize, height: usize) -> Receiver {
        Receiver {
            width,
            height,
            back: vec![0; width * height * 3],
            glass: None,
            brightness: None,
            ignored: 0,
        }
    }

    pub fn feed(&mut self, frame: &[u8]) {
        if frame.len() < 13 || frame[..6] != RECEIVER || frame.len() > 14 + 1500 {
            self.ignored += 1;
            return;
        }
        let p = &frame[13..];
        match frame[12] {
            0x55 if p.len() >= 8 && p[6..8] == [0x08, 0x88] => {
                let be = |i: usize| usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
                let (row, offset, count) = (be(0), be(2), be(4));
                if row >= self.height || offset + count > self.width || p.len() != 8 + 3 * count {
                    self.ignored += 1;
                    return;
                }
                for (i, bgr) in p[8..].chunks_exact(3).enumerate() {
                    let at = (row * self.width + offset + i) * 3;
                    self.back[at..at + 3].copy_from_slice(&[bgr[2], bgr[1], bgr[0]]);
                }
            }
            0x01 if p.len() >= 28 && p[0] == 0x07 => {
                self.glass = Some(self.back.clone());
                self.brightness = Some(p[22]);
            }
            0x0a if p.len() >= 4 => {}
            _ => self.ignored += 1,
        }
    }
}
