//! An HD2020-generation card taking realtime bitmaps, for tests.
//!
//! Written from `alparslanahmed/huidu-led` (`hd2020_gen6.go` and its
//! tests), without bangtin's codec: "HT" packets with a big-endian length
//! at 4, command at 6, sequence at 26, a 16-bit byte sum and 0xAA; a
//! 31-byte "HR" reply per packet (command at 20, status at 21, card type at
//! 26). A realtime area arrives as start (0x18) / data (0x19) / end (0x1a);
//! its 52-byte "HA" header carries width and height (BE, at 8 and 10) and
//! the plane count (at 50). The card shows the bitmap in its colour type.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The card's LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leds {
    /// Single colour: every lit pixel shows this colour.
    Single([u8; 3]),
    /// Red and green LEDs.
    Dual,
    /// Red, green and blue LEDs.
    Full,
}

#[derive(Debug, Default)]
pub struct Hd2020State {
    /// RGB of what is on the glass, with its size.
    pub shown: Option<(u32, u32, Vec<u8>)>,
    pub packets: usize,
    pub refused: usize,
}

#[derive(Clone)]
pub struct Hd2020Card {
    leds: Leds,
    card_type: u8,
    state: Arc<Mutex<Hd2020State>>,
}

impl Hd2020Card {
    pub fn new(leds: Leds) -> Hd2020Card {
        Hd2020Card {
            leds,
            // The Go project's HD-E63 types are 47/87/93; 0x1c is a made-up
            // type for a single/dual-colour card.
            card_type: if leds == Leds::Full { 87 } else { 0x1c },
            state: Arc::default(),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Hd2020State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub async fn listen(&self) -> SocketAddr {
        let card = self.clone();
        super::listen(move |s| card.clone().serve(s)).await
    }

    async fn serve(self, mut s: TcpStream) {
        let mut buf = Vec::new();
        let mut read = vec![0u8; 2048];
        let mut area = Area::default();
        loop {
            let n = match s.read(&mut read).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&read[..n]);
            while buf.len() >= 6 {
                if &buf[..2] != b"HT" {
                    return;
                }
                let total = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
                if !(30..=4096).contains(&total) {
                    return;
                }
                if buf.len() < total {
                    break;
                }
                let p: Vec<u8> = buf.drain(..total).collect();
                let sum: u32 = p[..total - 3].iter().map(|&b| u32::from(b)).sum();
                let ok = p[total - 1] == 0xaa
                    && u16::from_be_bytes([p[total - 3], p[total - 2]]) == sum as u16;
                let cmd = p[6];
                let status = if ok {
                    self.on_packet(&mut area, cmd, &p[27..total - 3])
                } else {
                    1
                };
                self.with(|st| {
                    st.packets += 1;
                    if status != 0 {
                        st.refused += 1;
                    }
                });
                if s.write_all(&self.reply(cmd, status)).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Status 0 when the packet fits the transfer in progress.
    fn on_packet(&self, area: &mut Area, cmd: u8, payload: &[u8]) -> u8 {
        match cmd {
            0x18 if payload.len() == 47 && payload[0] == 0x2f => {
                *area = Area {
                    id: Some([payload[1], payload[2]]),
                    chunks: vec![None; usize::from(payload[4])],
                };
                0
            }
            0x19 if payload.len() > 5
                && payload[0] == 0x05
                && area.id == Some([payload[1], payload[2]]) =>
            {
                let i = usize::from(u16::from_be_bytes([payload[3], payload[4]]));
                match area.chunks.get_mut(i) {
                    Some(slot) => {
                        *slot = Some(payload[5..].to_vec());
                        0
                    }
                    None => 2,
                }
            }
            0x1a if payload.len() == 3
                && payload[0] == 0x03
                && area.id == Some([payload[1], payload[2]]) =>
            {
                let Some(data) = area.chunks.iter().cloned().collect::<Option<Vec<_>>>() else {
                    return 3;
                };
                match self.show(&data.concat()) {
                    Some(shown) => {
                        self.with(|st| st.shown = Some(shown));
                        0
                    }
                    None => 4,
                }
            }
            _ => 5,
        }
    }

    fn show(&self, data: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
        if data.len() < 52 || &data[..2] != b"HA" {
            return None;
        }
        let w = u32::from(u16::from_be_bytes([data[8], data[9]]));
        let h = u32::from(u16::from_be_bytes([data[10], data[11]]));
        let planes = usize::from(data[50]);
        let want = match self.leds {
            Leds::Single(_) | Leds::Dual => 2,
            Leds::Full => 3,
        };
        let stride = (w / 8) as usize;
        let bits = &data[52..];
        if planes != want || w % 8 != 0 || bits.len() != stride * planes * h as usize {
            return None;
        }
        let on = |y: u32, plane: usize, x: u32| {
            let row = y as usize * stride * planes + plane * stride;
            bits[row + x as usize / 8] & (0x80 >> (x % 8)) != 0
        };
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let px = match self.leds {
                    // A single-colour card drives one LED per pixel from
                    // the first plane.
                    Leds::Single(c) => {
                        if on(y, 0, x) {
                            c
                        } else {
                            [0, 0, 0]
                        }
                    }
                    Leds::Dual => [
                        if on(y, 0, x) { 255 } else { 0 },
                        if on(y, 1, x) { 255 } else { 0 },
                        0,
                    ],
                    Leds::Full => [0, 1, 2].map(|p| if on(y, p, x) { 255 } else { 0 }),
                };
                rgb.extend_from_slice(&px);
            }
        }
        Some((w, h, rgb))
    }

    fn reply(&self, cmd: u8, status: u8) -> Vec<u8> {
        let mut r = vec![0u8; 31];
        r[..2].copy_from_slice(b"HR");
        r[2..18].copy_from_slice(&[
            0x0e, 0xff, 0x43, 0x7f, 0x9d, 0x5c, 0xbe, 0xd0, 0xe3, 0x4d, 0x3f, 0x56, 0xcd, 0xfd,
            0x0b, 0x36,
        ]);
        r[18..20].copy_from_slice(&[0x00, 0x1c]);
        r[20] = cmd;
        r[21] = status;
        r[26] = self.card_type;
        let sum: u32 = r[..28].iter().map(|&b| u32::from(b)).sum();
        r[28..30].copy_from_slice(&(sum as u16).to_be_bytes());
        r[30] = 0xaa;
        r
    }
}

#[derive(Default)]
struct Area {
    id: Option<[u8; 2]>,
    chunks: Vec<Option<Vec<u8>>>,
}
