//! The player after a store change, over 1,000 and 10,000 panels of the
//! same three profiles (70% mono1 128x32, 25% rgb565 192x96, 5% rgb888
//! 384x192): cost grows with the distinct (message, profile, page) renders,
//! and per panel only by stamping a header on a cached page.
//!
//! - `nothing-changed`: a store write that changes no panel's frame
//!   (re-decide everything, publish nothing).
//! - `switch-cached`: the campaign switches between two messages already
//!   rendered: every panel gets a new frame, no render.
//! - `switch-fresh`: the campaign switches to a message just edited (new
//!   version): 3 renders (one per profile), then every panel a new frame.
//!
//! - `switch-signed-inline`, `switch-signed-threads` (10,000 panels): as
//!   `switch-cached`, every frame signed (Ed25519, as the server does),
//!   by the player's own thread, then by signing threads (as many as
//!   the machine has cores, up to 4: two here, on the 2-core machine of
//!   docs/PERFORMANCE.md; the same as inline on one core).
//!
//! The store write before each iteration (fsync) is set-up, not measured.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::Arc;

use bangtin::domain::{Campaign, Id, MessageBody, Policy};
use bangtin::player::{Out, Player, PlayerParts};
use bangtin::schedule::DEFAULT_TZ;
use bangtin::store::Store;
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use serde_json::json;

fn write(path: &Path, v: serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn message(id: &str, text: &str) -> serde_json::Value {
    json!({"id": id, "title": id, "text": text, "style": {"color": "#ffe066"},
           "status": "approved", "version": 1, "created_by": "a",
           "created_at": "2026-01-01T00:00:00Z", "updated_by": "a",
           "updated_at": "2026-01-01T00:00:00Z"})
}

fn campaign(msg: &str) -> serde_json::Value {
    json!({"id": "c1", "name": "c1", "messages": [{"id": msg, "dwell_s": 3600}],
           "targets": ["all"], "start": "2026-01-01", "end": "2026-12-31", "priority": 1})
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    player: RefCell<Player>,
}

/// `n` panels; frames signed when `signing` names the signing threads.
fn world(n: u32, signing: Option<usize>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 1..=n {
        let (w, h, f) = match (i - 1) % 20 {
            0..=13 => (128, 32, "mono1"),
            14..=18 => (192, 96, "rgb565"),
            _ => (384, 192, "rgb888"),
        };
        write(
            &root.join(format!("content/panels/p{i:05}.json")),
            json!({"id": format!("p{i:05}"), "name": "p", "width": w, "height": h,
                   "format": f, "groups": [format!("g{}", i % 100)]}),
        );
    }
    write(
        &root.join("content/messages/m1.json"),
        message(
            "m1",
            "Khai báo tạm trú trực tuyến trên ứng dụng VNeID, không cần đến trụ sở.",
        ),
    );
    write(
        &root.join("content/messages/m2.json"),
        message(
            "m2",
            "Đội mũ bảo hiểm đạt chuẩn khi đi xe máy, xe đạp điện.",
        ),
    );
    write(&root.join("schedules/c1.json"), campaign("m1"));
    let store = Arc::new(Store::open(root).unwrap());
    let key = signing.map(|_| ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    let mut parts = PlayerParts::over_store(store.clone(), DEFAULT_TZ, key).unwrap();
    parts.frames.signing_threads = signing.unwrap_or(0);
    let mut player = Player::new(parts);
    player.republish_all(now(), &mut |_| {});
    World {
        _dir: dir,
        store,
        player: RefCell::new(player),
    }
}

fn now() -> DateTime<Utc> {
    "2026-06-01T03:00:00Z".parse().unwrap()
}

fn set_campaign(store: &Store, msg: &str) {
    let c: Campaign = serde_json::from_value(campaign(msg)).unwrap();
    store.put_campaign(c, false, "bench").unwrap();
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("player");
    g.sample_size(10);
    for n in [1_000u32, 10_000] {
        let w = world(n, None);
        let frames = Cell::new(0u64);
        let mut sink = |o: Out| {
            if let Out::Frame { frame, .. } = o {
                frames.set(frames.get() + frame.len() as u64);
            }
        };
        g.bench_function(BenchmarkId::new("nothing-changed", n), |b| {
            b.iter_batched(
                || set_campaign(&w.store, "m1"),
                |_| w.player.borrow_mut().on_store_change(now(), &mut sink),
                BatchSize::PerIteration,
            )
        });
        let flip = Cell::new(false);
        g.bench_function(BenchmarkId::new("switch-cached", n), |b| {
            b.iter_batched(
                || {
                    flip.set(!flip.get());
                    set_campaign(&w.store, if flip.get() { "m2" } else { "m1" })
                },
                |_| {
                    let before = frames.get();
                    w.player.borrow_mut().on_store_change(now(), &mut sink);
                    assert!(frames.get() > before, "a switch sends frames");
                },
                BatchSize::PerIteration,
            )
        });
        let m2 = Id::parse("m2").unwrap();
        let round = Cell::new(0u32);
        g.bench_function(BenchmarkId::new("switch-fresh", n), |b| {
            b.iter_batched(
                || {
                    set_campaign(&w.store, "m1");
                    w.player.borrow_mut().on_store_change(now(), &mut |_| {});
                    round.set(round.get() + 1);
                    let text = format!(
                        "Đội mũ bảo hiểm đạt chuẩn khi đi xe máy (lần {}).",
                        round.get()
                    );
                    let body: MessageBody =
                        serde_json::from_value(serde_json::json!({"title": "m2", "text": text}))
                            .unwrap();
                    w.store.edit_message(&m2, body, "bench", now()).unwrap();
                    w.store
                        .approve_message(&m2, "bench-approver", None, now(), Policy::default())
                        .unwrap();
                    set_campaign(&w.store, "m2");
                },
                |_| {
                    let before = frames.get();
                    w.player.borrow_mut().on_store_change(now(), &mut sink);
                    assert!(frames.get() > before, "a switch sends frames");
                },
                BatchSize::PerIteration,
            )
        });
    }
    for (name, threads) in [("switch-signed-inline", 1), ("switch-signed-threads", 0)] {
        let w = world(10_000, Some(threads));
        let flip = Cell::new(false);
        g.bench_function(BenchmarkId::new(name, 10_000), |b| {
            b.iter_batched(
                || {
                    flip.set(!flip.get());
                    set_campaign(&w.store, if flip.get() { "m2" } else { "m1" })
                },
                |_| {
                    let mut signed = 0;
                    w.player.borrow_mut().on_store_change(now(), &mut |o| {
                        if let Out::Frame { frame, .. } = o {
                            // The header only: the timing is the player's.
                            let flags = bangtin::frame::header_fields(&frame).map(|h| h.flags);
                            signed += usize::from(
                                flags.is_ok_and(|f| f & bangtin::frame::FLAG_SIGNED != 0),
                            );
                        }
                    });
                    assert_eq!(signed, 10_000, "every panel a signed frame");
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
