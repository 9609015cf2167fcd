//! One day of the sample province schedule through the player, every
//! frame coded as BTZ1 for a controller that accepts everything. Shared by
//! `benches/codec.rs` (the figures in docs/PERFORMANCE.md) and the
//! integration test that holds the targets.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bangtin::codec::{self, Accepts};
use bangtin::frame::{self, SIGNATURE_LEN};
use bangtin::player::{Out, Player, PlayerParts};
use bangtin::schedule::DEFAULT_TZ;
use bangtin::store::Store;
use chrono::{DateTime, Duration, Utc};

const ALL: Accepts = Accepts {
    rle: true,
    deflate: true,
    delta: true,
    bundle: false,
};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A frame a controller holds: seq and pixels.
pub type Held = (u32, Vec<u8>);

#[derive(Default)]
pub struct PanelDay {
    pub format: String,
    pub frames: u64,
    pub raw: u64,
    pub coded: u64,
    /// The frame before (for deltas) and the largest coded frame seen.
    /// The frames before, newest last (a controller holds `codec::HELD`).
    prev: Vec<Held>,
    /// The largest coded frame and the base it names, if a delta.
    pub largest: Option<(Vec<u8>, Option<Held>)>,
    /// Coded size by (CRC of the pixels, CRCs of the frames held): the
    /// day repeats its rotation, so each distinct case is coded once.
    memo: HashMap<(u32, Vec<u32>), u64>,
}

impl PanelDay {
    /// The frame was shown: the controller holds it, and forgets its oldest.
    fn hold(&mut self, seq: u32, data: &[u8]) {
        if self.prev.len() >= codec::HELD {
            self.prev.remove(0);
        }
        self.prev.push((seq, data.to_vec()));
    }
}

/// Every frame the player makes for the sample panels over the first
/// `hours` of a local day.
pub fn day(hours: i64) -> HashMap<String, PanelDay> {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("content"), &dir.path().join("content"));
    copy_dir(&repo.join("schedules"), &dir.path().join("schedules"));
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let mut player = Player::new(PlayerParts::over_store(store.clone(), DEFAULT_TZ, None).unwrap());
    let mut panels: HashMap<String, PanelDay> = HashMap::new();
    let mut sink = |o: Out| {
        let Out::Frame { panel, frame, .. } = o else {
            return;
        };
        let f = frame::decode(&frame).unwrap();
        let d = panels.entry(panel.to_string()).or_default();
        d.format = f.header.format.name().to_string();
        d.frames += 1;
        let raw = (frame.len() + SIGNATURE_LEN) as u64;
        d.raw += raw;
        let key = (
            f.crc,
            d.prev
                .iter()
                .map(|(_, p)| frame::crc32(p))
                .collect::<Vec<_>>(),
        );
        if let Some(n) = d.memo.get(&key) {
            d.coded += n;
            d.hold(f.header.seq, f.data);
            return;
        }
        let bases: Vec<(u32, &[u8])> = d.prev.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        let coded = codec::encode_best(&f.header, f.data, ALL, &bases);
        let n = coded
            .as_ref()
            .map_or(raw, |z| (z.len() + SIGNATURE_LEN) as u64);
        d.coded += n;
        d.memo.insert(key, n);
        if let Some(z) = coded {
            let bigger = d.largest.as_ref().is_none_or(|(l, _)| z.len() > l.len());
            if bigger {
                let base_seq = codec::parse(&z).unwrap().header.base_seq;
                let base = d.prev.iter().find(|(s, _)| *s == base_seq);
                d.largest = Some((z, base.cloned()));
            }
        }
        d.hold(f.header.seq, f.data);
    };
    // Midnight in Vietnam (UTC+7), a weekday: the rush-hour campaign runs.
    let start: DateTime<Utc> = "2026-12-06T17:00:00Z".parse().unwrap();
    let end = start + Duration::hours(hours);
    player.republish_all(start, &mut sink);
    while let Some(t) = player.next_wake().filter(|t| *t < end) {
        player.on_timer(t, &mut sink);
    }
    panels
}
