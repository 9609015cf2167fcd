//! Compressed frames for the MQTT controllers that opted in (their status
//! lists `"accepts"`, docs/protocol.md "Compressed frames"): each BTF1
//! frame the player makes is recoded as the smallest BTZ1 the controller
//! decodes — run-length, deflate, or a delta against the frame it holds —
//! and signed again; anything else goes out as it came.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ed25519_dalek::SigningKey;

use crate::codec;
use crate::domain::Id;
use crate::frame::{self, FLAG_SIGNED};
use crate::memory::{ByteLru, Weigh};
use crate::player::Shared;

/// The last frames sent to opted-in panels (delta bases), in bytes.
pub const BASES_BUDGET: usize = 32 * 1024 * 1024;

/// The last [`codec::HELD`] frames sent to a panel, oldest first.
#[derive(Default)]
struct Sent(VecDeque<Bytes>);

impl Weigh for Sent {
    fn weight(&self) -> usize {
        self.0.iter().map(|b| b.len() + 64).sum()
    }
}

/// Recodes each frame for its panel's controller as the smallest BTZ1 it
/// decodes, remembering what was sent for later deltas.
pub struct Compressor {
    shared: Arc<Shared>,
    signer: Option<SigningKey>,
    /// The last BTF1 frames sent to each opted-in panel.
    sent: Mutex<ByteLru<Id, Sent>>,
}

impl Compressor {
    /// A compressor reading what controllers decode and hold from `shared`, signing with `signer`.
    pub fn new(shared: Arc<Shared>, signer: Option<SigningKey>) -> Compressor {
        Compressor {
            shared,
            signer,
            sent: Mutex::new(ByteLru::new(BASES_BUDGET)),
        }
    }

    /// What to publish for `frame` (a BTF1 frame) on `panel`'s topic.
    pub fn recode(&self, panel: &Id, frame: Bytes) -> Bytes {
        let (accepts, held) = self.shared.coding_of(panel);
        if !accepts.any() {
            return frame;
        }
        let Ok(f) = frame::decode(&frame) else {
            return frame;
        };
        let mut sent = self
            .sent
            .lock()
            .expect("sent lock")
            .get(panel)
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let decoded: Vec<frame::Frame<'_>> = sent
            .iter()
            .filter_map(|b| frame::decode(b).ok())
            .filter(|b| held.contains(&b.header.seq))
            .collect();
        let bases: Vec<(u32, &[u8])> = decoded.iter().map(|b| (b.header.seq, b.data)).collect();
        let coded = codec::encode_best(&f.header, f.data, accepts, &bases);
        let signed = f.header.flags & FLAG_SIGNED != 0;
        let out = match (coded, &self.signer) {
            (Some(mut z), Some(key)) if signed => {
                frame::append_signature(&mut z, key);
                Bytes::from(z)
            }
            (Some(z), _) if !signed => Bytes::from(z),
            _ => frame.clone(),
        };
        drop(decoded);
        if sent.len() >= codec::HELD {
            sent.pop_front();
        }
        sent.push_back(frame);
        self.sent
            .lock()
            .expect("sent lock")
            .insert(panel.clone(), Sent(sent));
        out
    }
}
