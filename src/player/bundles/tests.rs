use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::api::tests::copy_dir;
use crate::bundle::{self as b, Bundle};
use crate::codec::Accepts;
use crate::player::{PlayerParts, Shared};
use crate::store::Store;

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    shared: Arc<Shared>,
    player: Player,
    key: ed25519_dalek::SigningKey,
}

/// A player over the repository's sample province (content/, schedules/).
fn sample(horizon: Duration) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("content"), &dir.path().join("content"));
    copy_dir(&repo.join("schedules"), &dir.path().join("schedules"));
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let parts = PlayerParts::over_store(
        store.clone(),
        crate::schedule::DEFAULT_TZ,
        Some(key.clone()),
    )
    .unwrap();
    let shared = parts.shared.clone();
    let mut player = Player::new(parts);
    player.set_bundle_horizon(Some(horizon));
    // Every controller of the sample says it plays bundles.
    for id in store.snapshot().panels.keys() {
        shared.decodes(id, BUNDLES, None);
    }
    Rig {
        _dir: dir,
        store,
        shared,
        player,
        key,
    }
}

/// What a controller that plays bundles and decodes nothing else says.
const BUNDLES: Accepts = Accepts {
    rle: false,
    deflate: false,
    delta: false,
    bundle: true,
};

/// 06:00 in Vietnam on a weekday: the rush-hour campaign opens.
fn morning() -> DateTime<Utc> {
    "2026-12-07T23:00:00Z".parse().unwrap()
}

fn bundles(f: impl FnOnce(&mut dyn FnMut(Out))) -> Vec<(Id, Bytes)> {
    let mut out = Vec::new();
    f(&mut |o| {
        if let Out::Bundle { panel, bundle } = o {
            out.push((panel, bundle));
        }
    });
    out
}

fn open(rig: &Rig, id: &str, bytes: &[u8], now: DateTime<Utc>) -> Bundle {
    b::accept(
        bytes,
        Some(&rig.key.verifying_key()),
        id,
        None,
        unix_ms(now),
    )
    .unwrap()
}

/// The bundle is the player's own timeline: at every instant of it, the
/// page the bundle names is the page the player publishes then.
#[test]
fn a_bundle_replays_the_players_frames() {
    let mut r = sample(Duration::hours(2));
    let t0 = morning() - Duration::minutes(30) + Duration::milliseconds(1234);
    let id = Id::parse("p10-vinh-ubnd-hung-dung").unwrap();
    let mut frames: Vec<(DateTime<Utc>, u32, u16, u8)> = Vec::new();
    let mut bundle = None;
    let mut sink = |now: DateTime<Utc>, o: Out| match o {
        Out::Frame { panel, frame, .. } if panel == id => {
            let f = crate::frame::decode(&frame).unwrap();
            frames.push((now, f.crc, f.header.flags, f.header.brightness));
        }
        Out::Bundle {
            panel,
            bundle: bytes,
        } if panel == id && bundle.is_none() => bundle = Some(bytes),
        _ => {}
    };
    r.player.republish_all(t0, &mut |o| sink(t0, o));
    let end = t0 + Duration::hours(2);
    while let Some(t) = r.player.next_wake().filter(|t| *t < end) {
        r.player.on_timer(t, &mut |o| sink(t, o));
    }
    let b = open(&r, id.as_str(), &bundle.expect("a bundle at the start"), t0);
    assert_eq!(b.head.expires_at, unix_ms(t0 + Duration::hours(2)));
    assert!(frames.len() > 100, "{} frames", frames.len());
    let mut turns = 0;
    for (i, (at, crc, flags, level)) in frames.iter().enumerate() {
        let until = frames.get(i + 1).map_or(end, |f| f.0);
        for t in [*at, until - Duration::milliseconds(1)] {
            let p = b.at(unix_ms(t)).unwrap();
            let shown = p.page.map_or(0, |k| b.pages[k as usize].crc);
            let blank = flags & crate::frame::FLAG_BLANK != 0;
            assert_eq!(shown == 0, blank, "at {t}");
            if !blank {
                assert_eq!(shown, *crc, "at {t}");
            }
            assert_eq!(p.brightness, *level, "at {t}");
        }
        turns += 1;
    }
    assert!(turns > 100);
}

/// Writes in a burst make one bundle per panel, after SETTLE; a bundle
/// is made again half-way through its span.
#[test]
fn bundles_are_coalesced_and_renewed_at_half_life() {
    let mut r = sample(Duration::minutes(10));
    let t0 = morning();
    let first = bundles(|o| r.player.republish_all(t0, o));
    let mqtt = r.store.snapshot().panels.len();
    assert_eq!(first.len(), mqtt, "one bundle per MQTT panel");
    // Three edits of one panel: nothing at once, one bundle after SETTLE.
    let id = Id::parse("p10-cua-lo-cho").unwrap();
    for name in ["A", "B", "C"] {
        let mut p = r.store.snapshot().panels[&id].clone();
        p.name = name.into();
        r.store.put_panel(p, false, "a").unwrap();
        let t = t0 + Duration::milliseconds(100);
        assert!(bundles(|o| r.player.on_store_change(t, o)).is_empty());
    }
    let due = r.player.next_wake().unwrap();
    assert!(due <= t0 + Duration::milliseconds(100) + SETTLE);
    let mut made = Vec::new();
    let mut now = t0;
    while now < t0 + SETTLE + Duration::seconds(1) {
        now = r.player.next_wake().unwrap().max(now);
        made.extend(bundles(|o| r.player.on_timer(now, o)));
        now += Duration::milliseconds(1);
    }
    assert_eq!(
        made.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    // Half-way through the first bundles, every panel gets a new one.
    let half = t0 + Duration::minutes(5);
    let mut renewed = std::collections::BTreeSet::new();
    let mut now = t0 + SETTLE + Duration::seconds(1);
    while now <= half {
        now = r.player.next_wake().unwrap().max(now);
        renewed.extend(
            bundles(|o| r.player.on_timer(now, o))
                .into_iter()
                .map(|b| b.0),
        );
        now += Duration::milliseconds(1);
    }
    assert_eq!(renewed.len(), mqtt - 1, "all but the one renewed later");
    assert!(!renewed.contains(&id));
}

fn size(panel: &str, hours: i64, accepts: Accepts) -> usize {
    let id = Id::parse(panel).unwrap();
    let mut r = sample(Duration::hours(hours));
    r.shared.decodes(
        &id,
        Accepts {
            bundle: true,
            ..accepts
        },
        None,
    );
    let now = morning() - Duration::hours(1);
    r.player.republish_all(now, &mut |_| {});
    let bytes = r.player.bundle(&id, now).unwrap();
    let b = open(&r, panel, &bytes, now);
    assert!(b
        .pages
        .iter()
        .all(|p| (p.encoding != b::ENC_RAW) == accepts.any()));
    bytes.len()
}

/// The 6-hour bundle of a P10 (128x32 mono) on the sample schedule is
/// under 20 KB even with raw pages; the figures in docs/PERFORMANCE.md.
#[test]
fn a_p10_six_hour_bundle_is_under_20_kb() {
    let r = sample(Duration::hours(1));
    let p10 = "p10-vinh-ubnd-hung-dung";
    let p = &r.store.snapshot().panels[&Id::parse(p10).unwrap()];
    assert_eq!((p.width, p.height, p.format.name()), (128, 32, "mono1"));
    let raw = Accepts::default();
    let all = Accepts::from_names(["btz1-rle", "btz1-deflate"]);
    let six = size(p10, 6, raw);
    assert!(six < 20_000, "{six} bytes");
    for panel in [p10, "led-nghi-loc-quan-hanh"] {
        for hours in [1, 6, 24] {
            eprintln!(
                "bundle {panel} {hours} h: {} bytes raw pages, {} coded",
                size(panel, hours, raw),
                size(panel, hours, all)
            );
        }
    }
}

/// A controller that has not said `btb1` is sent no bundle, not even on a
/// republication; its first status that says it owes it one, at once;
/// the same status again owes nothing more.
#[test]
fn only_a_controller_that_plays_bundles_is_sent_one() {
    let mut r = sample(Duration::hours(6));
    let id = Id::parse("p10-vinh-ubnd-hung-dung").unwrap();
    let frames_only = Accepts {
        bundle: false,
        ..BUNDLES
    };
    r.shared.decodes(&id, frames_only, None);
    let now = morning();
    let first = bundles(|o| r.player.republish_all(now, o));
    assert!(!first.is_empty(), "the others get theirs");
    assert!(first.iter().all(|(p, _)| *p != id), "not this one");
    assert!(r.player.bundle(&id, now).is_none());
    let owed = r.shared.decodes(&id, BUNDLES, None);
    assert!(owed.bundle, "{owed:?}");
    let later = now + Duration::seconds(5);
    let sent = bundles(|o| r.player.bundle_wanted(&id, later, o));
    assert_eq!(sent.len(), 1);
    open(&r, id.as_str(), &sent[0].1, later);
    assert!(!r.shared.decodes(&id, BUNDLES, None).bundle, "owed once");
}
