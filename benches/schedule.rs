//! `resolve` for a province: 10,000 panels × 20 campaigns, as the player
//! does after every store change; and the worst day for the rotation's
//! replay: a campaign beside one whose window opens every minute.

use std::collections::HashMap;
use std::hint::black_box;

use bangtin::domain::{Alert, AlertBody, Campaign, Id, Panel, PixelFormat, Profile, Target};
use bangtin::schedule::{compile, resolve, timeline, Catalog, CompiledCampaign, DEFAULT_TZ};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, Criterion};

struct Cat(HashMap<Id, u32>);

impl Catalog for Cat {
    fn pages(&self, message: &Id, _: &Profile) -> Option<u32> {
        self.0.get(message).copied()
    }
    fn alert_pages(&self, _: &Alert, _: &Profile) -> u32 {
        2
    }
}

fn world() -> (Vec<Panel>, Vec<CompiledCampaign>, Vec<Alert>, Cat) {
    let panels: Vec<Panel> = (0..10_000)
        .map(|i| Panel {
            id: Id::parse(&format!("p{i}")).unwrap(),
            name: format!("Panel {i}"),
            width: 128,
            height: 32,
            format: PixelFormat::Mono1,
            groups: vec![format!("ward-{}", i % 50), format!("district-{}", i % 7)],
            color: None,
            brightness: None,
            transport: Default::default(),
            location: None,
            units: Vec::new(),
        })
        .collect();
    let crons = [
        None,
        Some("0 7 * * 1-5"),
        Some("*/15 6-22 * * *"),
        Some("0 0 7,12,17 * * *"),
        Some("@hourly"),
    ];
    let mut catalog = HashMap::new();
    let campaigns = (0..20)
        .map(|c| {
            let messages: Vec<_> = (0..4)
                .map(|m| {
                    let id = format!("c{c}-m{m}");
                    // One message in eight is a draft.
                    if (c + m) % 8 != 0 {
                        catalog.insert(Id::parse(&id).unwrap(), 1 + (m as u32 % 3));
                    }
                    serde_json::json!({"id": id, "dwell_s": 5 + m * 3})
                })
                .collect();
            let target = match c % 4 {
                0 => "all".to_string(),
                1 => format!("group:ward-{}", c % 50),
                2 => format!("group:district-{}", c % 7),
                _ => format!("p{}", c * 97),
            };
            let mut body = serde_json::json!({
                "name": format!("Campaign {c}"),
                "messages": messages,
                "targets": [target],
                "priority": c % 3,
            });
            match crons[c % crons.len()] {
                Some(cron) => {
                    body["cron"] = cron.into();
                    body["duration_s"] = 1800.into();
                }
                None => {
                    body["start"] = "2026-01-01".into();
                    body["end"] = "2026-12-31".into();
                }
            }
            let campaign = Campaign {
                id: Id::parse(&format!("c{c:02}")).unwrap(),
                body: serde_json::from_value(body).unwrap(),
                updated_by: None,
                updated_at: None,
            };
            compile(&campaign).unwrap()
        })
        .collect();
    let now = instant();
    let alerts = vec![Alert {
        id: Id::parse("storm").unwrap(),
        body: AlertBody {
            text: "Bão".into(),
            targets: vec![Target::Group("district-3".into())],
            duration_s: 3600,
        },
        created_by: "op".into(),
        created_at: now - TimeDelta::minutes(10),
        ends_at: now + TimeDelta::minutes(50),
        cancelled_at: None,
    }];
    (panels, campaigns, alerts, Cat(catalog))
}

fn instant() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-04T07:20:13+07:00")
        .unwrap()
        .with_timezone(&Utc)
}

fn bench(c: &mut Criterion) {
    let (panels, campaigns, alerts, catalog) = world();
    let now = instant();
    c.bench_function("resolve 10k panels x 20 campaigns", |b| {
        b.iter(|| {
            for p in &panels {
                black_box(resolve(
                    p,
                    &campaigns,
                    &alerts,
                    &catalog,
                    DEFAULT_TZ,
                    black_box(now),
                ));
            }
        })
    });
    let one = &campaigns[2];
    c.bench_function("window_at + next_boundary_after (cron */15)", |b| {
        b.iter(|| {
            black_box(one.window_at(black_box(now)));
            black_box(one.next_boundary_after(black_box(now)));
        })
    });
}

/// A ten-message campaign all day beside one open 30 s of every minute.
fn minutely() -> (Panel, Vec<CompiledCampaign>, Cat) {
    let (panels, _, _, _) = world();
    let mut catalog = HashMap::new();
    let mut campaign = |id: &str, body: serde_json::Value| {
        let body: bangtin::domain::CampaignBody = serde_json::from_value(body).unwrap();
        for m in &body.messages {
            catalog.insert(m.id.clone(), 1);
        }
        compile(&Campaign {
            id: Id::parse(id).unwrap(),
            body,
            updated_by: None,
            updated_at: None,
        })
        .unwrap()
    };
    let ten: Vec<_> = (0..10)
        .map(|i| serde_json::json!({"id": format!("a{i}"), "dwell_s": 10}))
        .collect();
    let campaigns = vec![
        campaign(
            "all-day",
            serde_json::json!({"name": "A", "messages": ten, "targets": ["all"], "priority": 0}),
        ),
        campaign(
            "minutely",
            serde_json::json!({"name": "B", "messages": [{"id": "b0", "dwell_s": 10}],
                               "targets": ["all"], "priority": 0, "cron": "* * * * *", "duration_s": 30}),
        ),
    ];
    (panels[0].clone(), campaigns, Cat(catalog))
}

fn replay(c: &mut Criterion) {
    let (panel, campaigns, catalog) = minutely();
    for local in ["00:10:13", "12:00:13", "23:50:13"] {
        let now = DateTime::parse_from_rfc3339(&format!("2026-03-04T{local}+07:00"))
            .unwrap()
            .with_timezone(&Utc);
        c.bench_function(
            &format!("resolve beside a window every minute, {local}"),
            |b| {
                b.iter(|| {
                    black_box(resolve(
                        &panel,
                        &campaigns,
                        &[],
                        &catalog,
                        DEFAULT_TZ,
                        black_box(now),
                    ))
                })
            },
        );
    }
    let from = DateTime::parse_from_rfc3339("2026-03-04T00:00:00+07:00")
        .unwrap()
        .with_timezone(&Utc);
    c.bench_function("timeline of that day (~9,000 slots)", |b| {
        b.iter(|| {
            black_box(timeline(
                &panel,
                &campaigns,
                &[],
                &catalog,
                DEFAULT_TZ,
                from,
                from + TimeDelta::days(1),
                20_000,
            ))
        })
    });
}

criterion_group!(benches, bench, replay);
criterion_main!(benches);
