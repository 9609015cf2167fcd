//! Compressed frames (BTZ1) on the sample province schedule (the repo's
//! `content/` and `schedules/`): the player runs one whole day (Monday
//! 2026-12-07, Asia/Ho_Chi_Minh) and every frame it makes for each panel
//! is coded as a controller that accepts everything would get it (the
//! smallest of run-length, deflate and a delta against the frame before,
//! never larger than BTF1), signature included on both sides. Prints bytes
//! per panel per day, raw against compressed (docs/PERFORMANCE.md), then
//! measures the reference decoder on each sample panel's largest frame.
//!
//! `cargo bench --bench codec` (`-- --test` for a quick pass).

#[path = "support/codec_day.rs"]
mod codec_day;

use bangtin::codec::{self, Decoder};
use bangtin::frame;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn bench(c: &mut Criterion) {
    let panels = codec_day::day(24);
    let mut ids: Vec<&String> = panels.keys().collect();
    ids.sort();
    println!("\nbytes per panel per day, sample province schedule (signed frames):");
    println!("| panel | format | frames | raw (BTF1) | compressed | ratio |");
    println!("|---|---|---|---|---|---|");
    for id in &ids {
        let d = &panels[*id];
        println!(
            "| {id} | {} | {} | {} | {} | {:.1}× |",
            d.format,
            d.frames,
            d.raw,
            d.coded,
            d.raw as f64 / d.coded.max(1) as f64
        );
    }
    let mut g = c.benchmark_group("decode");
    for id in ids {
        let Some((z, base)) = &panels[id].largest else {
            continue;
        };
        let p = codec::parse(z).unwrap();
        let f = p.header.frame;
        let base = base.as_ref().map(|(s, b)| (*s, b.as_slice()));
        let mut scratch = vec![0u8; frame::raw_data_len(f.format, f.width, f.height).unwrap()];
        let mut dec = Decoder::default();
        dec.decode(&p, base, &mut scratch).unwrap();
        let name = format!("{id} enc {:#04x} {} bytes", p.header.encoding, z.len());
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| dec.decode(&p, base, &mut scratch).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
