//! Compressed frames for the MQTT controllers that opted in (their status
//! lists `"accepts"`, docs/protocol.md "Compressed frames"): a frame is
//! coded as the smallest BTZ1 the controller decodes — run-length,
//! deflate, or a delta against a frame it holds — when that is smaller
//! than BTF1, and signed once, by the stamper.
//!
//! Coding is the costly part (deflate at level 9 of a 384×192 rgb888 page
//! takes milliseconds), and a campaign change sends the same page to
//! thousands of panels, most of them holding the same page before. So a
//! coding is made once per (page, base) pair and kept: pages are shared
//! buffers (the render cache's), and a pair is known by the addresses of
//! its two buffers, which the kept entry holds on to (so no other page can
//! take those addresses while it is kept).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::codec::{self, Accepts};
use crate::domain::Id;
use crate::frame::Header;
use crate::memory::{ByteLru, Weigh};
use crate::player::Shared;

/// The pages last sent to opted-in panels (delta bases), in bytes. Pages
/// shared by many panels are counted once per panel, so this is an upper
/// bound of what it holds.
pub const BASES_BUDGET: usize = 32 * 1024 * 1024;

/// The codings kept for reuse (with the pages they were made from, each
/// counted as if held by nothing else).
pub const CODINGS_BUDGET: usize = 16 * 1024 * 1024;

/// The last [`codec::HELD`] pages sent to a panel (seq, pixels), oldest first.
#[derive(Default)]
struct Sent(VecDeque<(u32, Bytes)>);

impl Weigh for Sent {
    fn weight(&self) -> usize {
        self.0.iter().map(|(_, b)| b.len() + 64).sum()
    }
}

/// Which buffers a coding was made from: each one's address and length.
type PairKey = (usize, usize, usize, usize, Accepts);

/// One (page, base) pair: how much they differ and, once asked for, the
/// smallest coding. An entry with a coding holds the two buffers it was
/// made from, so their addresses name them while it lives; a count alone
/// holds nothing (it only ranks bases, and a stale one costs at most a
/// larger delta), so counts for many large bases do not push codings out.
struct Coding {
    kept: Option<(Bytes, Option<Bytes>)>,
    /// Bytes that differ between page and base (0 without a base).
    differing: usize,
    /// The smallest coding, once asked for.
    coded: Option<Option<(u8, Bytes)>>,
}

impl Weigh for Coding {
    fn weight(&self) -> usize {
        let kept = self
            .kept
            .as_ref()
            .map_or(0, |(p, b)| p.len() + b.as_ref().map_or(0, Bytes::len));
        let coded = self.coded.as_ref().and_then(|c| c.as_ref());
        kept + coded.map_or(0, |(_, c)| c.len()) + 128
    }
}

fn key(page: &Bytes, base: Option<&Bytes>, accepts: Accepts) -> PairKey {
    (
        page.as_ptr() as usize,
        page.len(),
        base.map_or(0, |b| b.as_ptr() as usize),
        base.map_or(0, Bytes::len),
        accepts,
    )
}

/// Codes each frame for its panel's controller as the smallest BTZ1 it
/// decodes, remembering what was sent for later deltas.
pub struct Compressor {
    shared: Arc<Shared>,
    /// The last pages sent to each opted-in panel.
    sent: Mutex<ByteLru<Id, Sent>>,
    codings: Mutex<ByteLru<PairKey, Coding>>,
}

impl Compressor {
    /// A compressor reading what controllers decode and hold from `shared`.
    pub fn new(shared: Arc<Shared>) -> Compressor {
        Compressor {
            shared,
            sent: Mutex::new(ByteLru::new(BASES_BUDGET)),
            codings: Mutex::new(ByteLru::new(CODINGS_BUDGET)),
        }
    }

    /// The BTZ1 frame (unsigned, room left for the signature) to send
    /// `panel` for a frame with header `h` and pixels `page` (CRC `crc`),
    /// or `None` when its controller decodes no BTZ1 or none is smaller
    /// than BTF1. Either way, `page` is remembered as sent (a later delta
    /// base) when the controller decodes BTZ1.
    pub fn code(&self, panel: &Id, h: &Header, page: &Bytes, crc: u32) -> Option<Vec<u8>> {
        let (accepts, held) = self.shared.coding_of(panel);
        if !accepts.any() {
            return None;
        }
        // PNG pages and pages not of the header's size are never coded.
        crate::frame::raw_data_len(h.format, h.width, h.height).filter(|n| *n == page.len())?;
        let mut sent = self
            .sent
            .lock()
            .expect("sent lock")
            .get(panel)
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let bases: Vec<(u32, Bytes)> = sent
            .iter()
            .filter(|(seq, b)| held.contains(seq) && b.len() == page.len())
            .cloned()
            .collect();
        let out = codec::encode_best_with(
            h,
            crc,
            accepts,
            &bases,
            |b| self.differing(page, b, accepts),
            |b| self.coded(page, b, accepts),
        );
        if sent.len() >= codec::HELD {
            sent.pop_front();
        }
        sent.push_back((h.seq, page.clone()));
        self.sent
            .lock()
            .expect("sent lock")
            .insert(panel.clone(), Sent(sent));
        out
    }

    /// This server did not send what it coded so far (it followed another
    /// server, whose frames the controllers hold): no delta may be made
    /// against those pages. Called when it takes the lead.
    pub fn forget_sent(&self) {
        *self.sent.lock().expect("sent lock") = ByteLru::new(BASES_BUDGET);
    }

    /// How many bytes of `page` and `base` differ (kept per pair).
    fn differing(&self, page: &Bytes, base: &Bytes, accepts: Accepts) -> usize {
        let k = key(page, Some(base), accepts);
        if let Some(c) = self.codings.lock().expect("codings lock").get(&k) {
            return c.differing;
        }
        let differing = codec::differing(page, base);
        self.codings.lock().expect("codings lock").insert(
            k,
            Coding {
                kept: None,
                differing,
                coded: None,
            },
        );
        differing
    }

    /// The smallest coding of `page` (against `base`, for a delta), made
    /// once per pair.
    fn coded(&self, page: &Bytes, base: Option<&Bytes>, accepts: Accepts) -> Option<(u8, Bytes)> {
        let k = key(page, base, accepts);
        let mut differing = 0;
        if let Some(c) = self.codings.lock().expect("codings lock").get(&k) {
            if let Some(coded) = &c.coded {
                return coded.clone();
            }
            differing = c.differing;
        }
        let coded = codec::code(page, base.map(|b| &b[..]), accepts)
            .map(|(encoding, c)| (encoding, Bytes::from(c)));
        self.codings.lock().expect("codings lock").insert(
            k,
            Coding {
                kept: Some((page.clone(), base.cloned())),
                differing,
                coded: Some(coded.clone()),
            },
        );
        coded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PixelFormat;

    const ALL: Accepts = Accepts {
        rle: true,
        deflate: true,
        delta: true,
        bundle: false,
    };

    fn header(seq: u32) -> Header {
        Header {
            format: PixelFormat::Rgb565,
            brightness: 255,
            width: 64,
            height: 32,
            flags: 0,
            seq,
            valid_until: 0,
        }
    }

    /// A colour "text" page: a few blocks on a plain field.
    fn page(shift: usize) -> Bytes {
        let mut d = vec![0u8; 64 * 32 * 2];
        for (i, b) in d.iter_mut().enumerate() {
            if (i / 2 + shift) % 64 < 9 && (i / 128) % 8 < 5 {
                *b = (i % 7) as u8 + 1;
            }
        }
        Bytes::from(d)
    }

    /// A page, and the same page with one word changed (a delta between
    /// them is mostly zeros).
    fn page_and_a_word_changed() -> (Bytes, Bytes) {
        let a = page(0);
        let mut changed = a.to_vec();
        changed[1000..1040].fill(9);
        (a, Bytes::from(changed))
    }

    fn decode(bytes: &[u8], base: Option<(u32, &[u8])>) -> (codec::Header, Vec<u8>) {
        let p = codec::parse(bytes).expect("a BTZ1 frame");
        let mut out = vec![0u8; 64 * 32 * 2];
        codec::Decoder::default()
            .decode(&p, base, &mut out)
            .expect("decodes");
        (p.header, out)
    }

    fn opted_in(n: usize) -> (Compressor, Vec<Id>) {
        let shared = Arc::new(Shared::default());
        let ids: Vec<Id> = (0..n)
            .map(|i| Id::parse(&format!("p{i}")).unwrap())
            .collect();
        for id in &ids {
            shared.decodes(id, ALL, None);
        }
        (Compressor::new(shared), ids)
    }

    #[test]
    fn a_page_is_coded_once_for_every_panel_that_shows_it() {
        let (c, ids) = opted_in(200);
        let p = page(0);
        let crc = crate::frame::crc32(&p);
        for (i, id) in ids.iter().enumerate() {
            let z = c.code(id, &header(i as u32 + 1), &p, crc).expect("coded");
            let (h, pixels) = decode(&z, None);
            assert_eq!(h.frame.seq, i as u32 + 1, "each panel's own header");
            assert_eq!(h.crc, crc);
            assert_eq!(pixels, p, "panel {id}");
        }
        assert_eq!(
            c.codings.lock().unwrap().len(),
            1,
            "one coding for 200 panels"
        );
    }

    #[test]
    fn a_delta_goes_against_the_page_the_controller_holds() {
        let shared = Arc::new(Shared::default());
        let id = Id::parse("p1").unwrap();
        shared.decodes(&id, ALL, None);
        let c = Compressor::new(shared.clone());
        let (a, b) = page_and_a_word_changed();
        c.code(&id, &header(1), &a, crate::frame::crc32(&a))
            .expect("coded");
        // The controller says it holds seq 1 (its status, or an ack).
        shared.decodes(&id, ALL, Some(1));
        let z = c
            .code(&id, &header(2), &b, crate::frame::crc32(&b))
            .expect("coded");
        let (h, pixels) = decode(&z, Some((1, &a)));
        assert_ne!(h.encoding & codec::ENC_DELTA, 0, "{h:?}");
        assert_eq!(h.base_seq, 1);
        assert_eq!(pixels, b);
    }

    #[test]
    fn after_taking_the_lead_no_delta_goes_against_a_page_never_sent() {
        let shared = Arc::new(Shared::default());
        let id = Id::parse("p1").unwrap();
        shared.decodes(&id, ALL, None);
        let c = Compressor::new(shared.clone());
        let (a, b) = page_and_a_word_changed();
        // Coded while following: never published.
        c.code(&id, &header(7), &a, crate::frame::crc32(&a));
        // The leader's frame 7 (other pixels) is what the controller holds.
        shared.decodes(&id, ALL, Some(7));
        c.forget_sent();
        let z = c
            .code(&id, &header(8), &b, crate::frame::crc32(&b))
            .expect("coded");
        let (h, pixels) = decode(&z, None);
        assert_eq!(h.encoding & codec::ENC_DELTA, 0, "{h:?}");
        assert_eq!(pixels, b);
    }

    #[test]
    fn equal_pages_in_other_buffers_are_coded_alike_and_nothing_is_mixed_up() {
        let (c, ids) = opted_in(2);
        let (a, b) = (page(0), page(5));
        let again = Bytes::from(a.to_vec());
        let za = c.code(&ids[0], &header(1), &a, crate::frame::crc32(&a));
        let zb = c.code(&ids[1], &header(1), &b, crate::frame::crc32(&b));
        let z2 = c.code(&ids[1], &header(1), &again, crate::frame::crc32(&a));
        let (za, zb, z2) = (za.unwrap(), zb.unwrap(), z2.unwrap());
        assert_eq!(decode(&zb, None).1, b);
        assert_eq!(z2, za, "the same pixels in another buffer, the same frame");
    }

    #[test]
    fn a_controller_without_btz1_gets_none_and_png_is_never_coded() {
        let shared = Arc::new(Shared::default());
        let id = Id::parse("p1").unwrap();
        let c = Compressor::new(shared.clone());
        let p = page(0);
        assert_eq!(c.code(&id, &header(1), &p, 0), None, "not opted in");
        shared.decodes(&id, ALL, None);
        let png = Header {
            format: PixelFormat::Png,
            ..header(2)
        };
        assert_eq!(c.code(&id, &png, &p, 0), None, "PNG frames stay BTF1");
    }
}
