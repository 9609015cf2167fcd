//! `resolve`, `timeline`, `compile` and brightness at chosen instants.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::domain::{AlertBody, Campaign, CampaignBody, PixelFormat, Target};

/// Messages and their page counts; absent = missing or unapproved. The
/// third field holds validity windows (none: always valid).
struct Cat(
    HashMap<&'static str, u32>,
    u32,
    HashMap<&'static str, Window>,
);

impl Catalog for Cat {
    fn pages(&self, message: &Id, _: &Profile) -> Option<u32> {
        self.0.get(message.as_str()).copied()
    }
    fn alert_pages(&self, _: &Alert, _: &Profile) -> u32 {
        self.1
    }
    fn window(&self, message: &Id) -> Window {
        self.2
            .get(message.as_str())
            .copied()
            .unwrap_or((None, None))
    }
}

fn cat(pages: &[(&'static str, u32)]) -> Cat {
    Cat(pages.iter().copied().collect(), 1, HashMap::new())
}

/// An instant from RFC 3339; `+07:00` is Vietnam.
fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn panel(id: &str, groups: &[&str]) -> Panel {
    Panel {
        id: Id::parse(id).unwrap(),
        name: id.into(),
        width: 128,
        height: 32,
        format: PixelFormat::Mono1,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        color: None,
        brightness: None,
        transport: Default::default(),
        location: None,
        units: Vec::new(),
    }
}

/// A campaign from the JSON body, with defaults for what a test leaves out.
fn body(id: &str, v: serde_json::Value) -> Campaign {
    let mut v = v;
    let o = v.as_object_mut().unwrap();
    o.entry("name").or_insert(json!(id));
    o.entry("targets").or_insert(json!(["all"]));
    o.entry("priority").or_insert(json!(0));
    let body: CampaignBody = serde_json::from_value(v).unwrap();
    Campaign {
        id: Id::parse(id).unwrap(),
        body,
        updated_by: None,
        updated_at: None,
    }
}

fn camp(id: &str, v: serde_json::Value) -> CompiledCampaign {
    compile(&body(id, v)).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn alert(id: &str, targets: &[&str], from: &str, to: &str) -> Alert {
    Alert {
        id: Id::parse(id).unwrap(),
        body: AlertBody {
            text: "Bão số 3".into(),
            targets: targets.iter().map(|t| Target::parse(t).unwrap()).collect(),
            duration_s: 0,
        },
        created_by: "op".into(),
        created_at: at(from),
        ends_at: at(to),
        cancelled_at: None,
    }
}

/// A short, comparable rendering of a show: "c/m p/n", "alert a p/n" or "blank".
fn short(s: &Show) -> String {
    match s {
        Show::Blank => "blank".into(),
        Show::Message {
            campaign,
            message,
            page,
            pages,
            ..
        } => format!("{campaign}/{message} {page}/{pages}"),
        Show::Alert { alert, page, pages } => format!("alert {alert} {page}/{pages}"),
    }
}

struct World {
    panel: Panel,
    campaigns: Vec<CompiledCampaign>,
    alerts: Vec<Alert>,
    catalog: Cat,
}

impl World {
    fn new(campaigns: Vec<CompiledCampaign>, catalog: Cat) -> World {
        World {
            panel: panel("p1", &["hai-chau"]),
            campaigns,
            alerts: vec![],
            catalog,
        }
    }
    fn at(&self, now: DateTime<Utc>) -> Decision {
        resolve(
            &self.panel,
            &self.campaigns,
            &self.alerts,
            &self.catalog,
            DEFAULT_TZ,
            now,
        )
    }
    fn show(&self, s: &str) -> String {
        short(&self.at(at(s)).show)
    }
    /// Checks the table: (instant, expected show).
    fn check(&self, table: &[(&str, &str)]) {
        for (t, want) in table {
            assert_eq!(self.show(t), *want, "at {t}");
        }
        self.check_until(table.iter().map(|(t, _)| at(t)));
    }
    /// `until` is later than `now`, and the decision holds on `[now, until)`.
    fn check_until(&self, instants: impl IntoIterator<Item = DateTime<Utc>>) {
        for now in instants {
            let d = self.at(now);
            let Some(until) = d.until else { continue };
            assert!(until > now, "until {until} not after {now}");
            assert!(d.since <= now, "since {} after {now}", d.since);
            let span = until - now;
            for t in [
                now + TimeDelta::milliseconds(1).min(span / 2),
                now + span / 3,
                now + span / 2,
                until - TimeDelta::milliseconds(1),
            ] {
                if t >= now && t < until {
                    assert_eq!(self.at(t), d, "decision at {now} differs at {t}");
                }
            }
        }
    }
    fn slots(&self, from: DateTime<Utc>, to: DateTime<Utc>, max_slots: usize) -> Vec<Slot> {
        timeline(
            &self.panel,
            &self.campaigns,
            &self.alerts,
            &self.catalog,
            DEFAULT_TZ,
            from,
            to,
            max_slots,
        )
    }
    fn timeline(&self, from: &str, to: &str) -> Vec<(String, String)> {
        self.slots(at(from), at(to), 1000)
            .into_iter()
            .map(|s| {
                (
                    s.start
                        .with_timezone(&DEFAULT_TZ)
                        .format("%H:%M:%S")
                        .to_string(),
                    short(&s.show),
                )
            })
            .collect()
    }
    /// The timeline as "HH:MM:SS show" lines, local time.
    fn shows(&self, from: &str, to: &str) -> Vec<String> {
        self.timeline(from, to)
            .into_iter()
            .map(|(t, s)| format!("{t} {s}"))
            .collect()
    }
}

#[test]
fn cron_window_opens_and_closes_at_exact_instants() {
    let w = World::new(
        vec![camp(
            "morning",
            json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"0 7 * * *","duration_s":3600}),
        )],
        cat(&[("m1", 1)]),
    );
    w.check(&[
        ("2026-03-02T06:59:59.999+07:00", "blank"),
        ("2026-03-02T07:00:00+07:00", "morning/m1 1/1"),
        ("2026-03-02T07:59:59.999+07:00", "morning/m1 1/1"),
        ("2026-03-02T08:00:00+07:00", "blank"),
    ]);
    let d = w.at(at("2026-03-02T06:30:00+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T07:00:00+07:00")));
    let d = w.at(at("2026-03-02T07:30:00+07:00"));
    assert_eq!(d.since, at("2026-03-02T07:00:00+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T08:00:00+07:00")));
    let d = w.at(at("2026-03-02T08:00:00+07:00"));
    assert_eq!(d.since, at("2026-03-02T08:00:00+07:00"));
    let c = &w.campaigns[0];
    assert_eq!(
        c.window_at(at("2026-03-02T07:10:00+07:00")),
        Some((
            at("2026-03-02T07:00:00+07:00"),
            at("2026-03-02T08:00:00+07:00")
        ))
    );
    assert_eq!(
        c.next_boundary_after(at("2026-03-02T08:00:00+07:00")),
        Some(at("2026-03-03T07:00:00+07:00"))
    );
}

#[test]
fn a_window_opened_before_the_campaign_was_saved_is_active() {
    let mut c = body(
        "late",
        json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"0 7 * * *","duration_s":3600}),
    );
    c.updated_at = Some(at("2026-03-02T07:45:00+07:00"));
    let w = World::new(vec![compile(&c).unwrap()], cat(&[("m1", 1)]));
    w.check(&[("2026-03-02T07:45:01+07:00", "late/m1 1/1")]);
}

#[test]
fn weekday_mapping_and_shorthands_in_resolve() {
    let w = World::new(
        vec![
            camp(
                "weekdays",
                json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"0 7 * * 1-5","duration_s":600,"priority":1}),
            ),
            camp(
                "daily",
                json!({"messages":[{"id":"m2","dwell_s":10}],"cron":"@daily","duration_s":60}),
            ),
        ],
        cat(&[("m1", 1), ("m2", 1)]),
    );
    w.check(&[
        // 2026-03-01 is a Sunday.
        ("2026-03-01T07:05:00+07:00", "blank"),
        ("2026-03-02T07:05:00+07:00", "weekdays/m1 1/1"),
        ("2026-03-06T07:05:00+07:00", "weekdays/m1 1/1"),
        ("2026-03-07T07:05:00+07:00", "blank"),
        ("2026-03-07T00:00:00+07:00", "daily/m2 1/1"),
        ("2026-03-07T00:00:59+07:00", "daily/m2 1/1"),
        ("2026-03-07T00:01:00+07:00", "blank"),
    ]);
}

#[test]
fn date_range_edges_at_local_midnight() {
    let w = World::new(
        vec![camp(
            "tet",
            json!({"messages":[{"id":"m1","dwell_s":10}],"start":"2026-03-02","end":"2026-03-03"}),
        )],
        cat(&[("m1", 1)]),
    );
    w.check(&[
        ("2026-03-01T23:59:59+07:00", "blank"),
        ("2026-03-02T00:00:00+07:00", "tet/m1 1/1"),
        ("2026-03-03T23:59:59+07:00", "tet/m1 1/1"),
        ("2026-03-03T23:59:59.999+07:00", "tet/m1 1/1"),
        ("2026-03-04T00:00:00+07:00", "blank"),
    ]);
    let d = w.at(at("2026-03-03T12:00:00+07:00"));
    assert_eq!(d.since, at("2026-03-02T00:00:00+07:00"));
    // Brightness switches at 18:00 come first.
    assert_eq!(d.until, Some(at("2026-03-03T18:00:00+07:00")));
    let d = w.at(at("2026-03-03T20:00:00+07:00"));
    assert_eq!(d.until, Some(at("2026-03-04T00:00:00+07:00")));
    let c = &w.campaigns[0];
    assert_eq!(c.next_boundary_after(at("2026-03-04T00:00:00+07:00")), None);
}

#[test]
fn open_ended_dates() {
    let w = World::new(
        vec![
            camp("always", json!({"messages":[{"id":"m1","dwell_s":10}]})),
            camp(
                "from",
                json!({"messages":[{"id":"m2","dwell_s":10}],"start":"2026-03-02","priority":2}),
            ),
            camp(
                "until",
                json!({"messages":[{"id":"m3","dwell_s":10}],"end":"2026-01-01","priority":1}),
            ),
        ],
        cat(&[("m1", 1), ("m2", 1), ("m3", 1)]),
    );
    w.check(&[
        ("2025-12-31T23:59:59+07:00", "until/m3 1/1"),
        ("2026-01-02T00:00:00+07:00", "always/m1 1/1"),
        ("2030-01-02T00:00:00+07:00", "from/m2 1/1"),
    ]);
    assert_eq!(
        w.campaigns[0].window_at(at("2026-01-01T00:00:00Z")),
        Some((DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC))
    );
    assert_eq!(
        w.campaigns[0].next_boundary_after(at("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn cron_with_dates_fires_only_within_them() {
    let c = camp(
        "week",
        json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"0 23 * * *","duration_s":7200,
               "start":"2026-03-02","end":"2026-03-03"}),
    );
    let cases = [
        ("2026-03-01T23:30:00+07:00", false),
        ("2026-03-02T23:30:00+07:00", true),
        ("2026-03-03T23:30:00+07:00", true),
        // A window opened on the end date runs past midnight.
        ("2026-03-04T00:30:00+07:00", true),
        ("2026-03-04T23:30:00+07:00", false),
    ];
    for (t, active) in cases {
        assert_eq!(c.window_at(at(t)).is_some(), active, "{t}");
    }
    assert_eq!(
        c.next_boundary_after(at("2026-02-01T00:00:00+07:00")),
        Some(at("2026-03-02T23:00:00+07:00"))
    );
    assert_eq!(c.next_boundary_after(at("2026-03-04T01:00:00+07:00")), None);
}

#[test]
fn overlapping_windows_restart_at_each_firing() {
    let c = camp(
        "often",
        json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"*/15 * * * *","duration_s":3600}),
    );
    let now = at("2026-03-02T07:20:00+07:00");
    assert_eq!(
        c.window_at(now),
        Some((
            at("2026-03-02T07:15:00+07:00"),
            at("2026-03-02T08:15:00+07:00")
        ))
    );
    assert_eq!(
        c.next_boundary_after(now),
        Some(at("2026-03-02T07:30:00+07:00"))
    );
}

#[test]
fn priorities_and_playability() {
    let w = World::new(
        vec![
            camp(
                "low",
                json!({"messages":[{"id":"m1","dwell_s":10}],"start":"2026-01-01","priority":1}),
            ),
            camp(
                "high",
                json!({"messages":[{"id":"m2","dwell_s":10}],"cron":"0 7 * * *","duration_s":600,"priority":5}),
            ),
            camp(
                "unapproved",
                json!({"messages":[{"id":"draft","dwell_s":10}],"start":"2026-01-01","priority":9}),
            ),
            camp(
                "elsewhere",
                json!({"messages":[{"id":"m3","dwell_s":10}],"targets":["p2","group:lien-chieu"],"priority":99}),
            ),
            camp(
                "group",
                json!({"messages":[{"id":"m4","dwell_s":10}],"targets":["group:hai-chau"],
                       "cron":"0 8 * * *","duration_s":60,"priority":7}),
            ),
        ],
        cat(&[("m1", 1), ("m2", 1), ("m3", 1), ("m4", 1)]),
    );
    w.check(&[
        ("2026-03-02T06:59:59+07:00", "low/m1 1/1"),
        ("2026-03-02T07:00:00+07:00", "high/m2 1/1"),
        ("2026-03-02T07:10:00+07:00", "low/m1 1/1"),
        ("2026-03-02T08:00:30+07:00", "group/m4 1/1"),
    ]);
    // While `high` plays, `low` opening or closing does not matter; `group`
    // opening at 08:00 is after `high` closes at 07:10.
    let d = w.at(at("2026-03-02T07:05:00+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T07:10:00+07:00")));
}

#[test]
fn unplayable_messages_are_skipped() {
    let w = World::new(
        vec![camp(
            "mixed",
            json!({"messages":[{"id":"gone","dwell_s":10},{"id":"m1","dwell_s":10},
                               {"id":"zero","dwell_s":10},{"id":"m2","dwell_s":20}],
                   "start":"2026-03-02"}),
        )],
        Cat(
            [("m1", 1), ("m2", 1), ("zero", 0)].into_iter().collect(),
            1,
            HashMap::new(),
        ),
    );
    w.check(&[
        ("2026-03-02T00:00:00+07:00", "mixed/m1 1/1"),
        ("2026-03-02T00:00:09+07:00", "mixed/m1 1/1"),
        ("2026-03-02T00:00:10+07:00", "mixed/m2 1/1"),
        ("2026-03-02T00:00:29+07:00", "mixed/m2 1/1"),
        ("2026-03-02T00:00:30+07:00", "mixed/m1 1/1"),
    ]);
}

#[test]
fn all_unplayable_counts_as_inactive() {
    let w = World::new(
        vec![
            camp(
                "top",
                json!({"messages":[{"id":"draft","dwell_s":10}],"start":"2026-03-02","priority":9}),
            ),
            camp(
                "base",
                json!({"messages":[{"id":"m1","dwell_s":10}],"start":"2026-03-02"}),
            ),
        ],
        cat(&[("m1", 1)]),
    );
    w.check(&[("2026-03-02T10:00:00+07:00", "base/m1 1/1")]);
}

#[test]
fn pages_each_stay_for_the_dwell() {
    let w = World::new(
        vec![camp(
            "paged",
            json!({"messages":[{"id":"long","dwell_s":5},{"id":"short","dwell_s":7}],"start":"2026-03-02"}),
        )],
        cat(&[("long", 3), ("short", 1)]),
    );
    w.check(&[
        ("2026-03-02T00:00:00+07:00", "paged/long 1/3"),
        ("2026-03-02T00:00:04.999+07:00", "paged/long 1/3"),
        ("2026-03-02T00:00:05+07:00", "paged/long 2/3"),
        ("2026-03-02T00:00:10+07:00", "paged/long 3/3"),
        ("2026-03-02T00:00:15+07:00", "paged/short 1/1"),
        ("2026-03-02T00:00:21.999+07:00", "paged/short 1/1"),
        ("2026-03-02T00:00:22+07:00", "paged/long 1/3"),
        // 1000 cycles of 22 s later, plus 6 s.
        ("2026-03-02T06:06:46+07:00", "paged/long 2/3"),
    ]);
    let d = w.at(at("2026-03-02T00:00:06+07:00"));
    assert_eq!(d.since, at("2026-03-02T00:00:05+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T00:00:10+07:00")));
    assert_eq!(
        d.show,
        Show::Message {
            campaign: Id::parse("paged").unwrap(),
            message: Id::parse("long").unwrap(),
            page: 2,
            pages: 3,
            dwell_s: 5
        }
    );
}

#[test]
fn equal_priorities_take_turns_message_by_message() {
    let w = World::new(
        vec![
            // Listed out of order: turns follow campaign ids.
            camp(
                "b",
                json!({"messages":[{"id":"b1","dwell_s":10}],"start":"2026-03-02"}),
            ),
            camp(
                "a",
                json!({"messages":[{"id":"a1","dwell_s":10},{"id":"a2","dwell_s":10},{"id":"a3","dwell_s":10}],
                       "start":"2026-03-02"}),
            ),
        ],
        cat(&[("a1", 1), ("a2", 1), ("a3", 1), ("b1", 1)]),
    );
    let want = [
        "a/a1", "b/b1", "a/a2", "b/b1", "a/a3", "b/b1", "a/a1", "b/b1",
    ];
    for (i, m) in want.iter().enumerate() {
        let t = at("2026-03-02T00:00:00+07:00") + TimeDelta::seconds(10 * i as i64 + 3);
        assert_eq!(short(&w.at(t).show), format!("{m} 1/1"), "slot {i}");
    }
    w.check_until((0..80).map(|i| at("2026-03-02T00:00:00+07:00") + TimeDelta::seconds(i)));
}

#[test]
fn uneven_playlists_keep_their_own_place() {
    let w = World::new(
        vec![
            camp(
                "a",
                json!({"messages":[{"id":"a1","dwell_s":1},{"id":"a2","dwell_s":2}],"start":"2026-03-02"}),
            ),
            camp(
                "b",
                json!({"messages":[{"id":"b1","dwell_s":3},{"id":"b2","dwell_s":1},{"id":"b3","dwell_s":1}],
                       "start":"2026-03-02"}),
            ),
        ],
        cat(&[("a1", 1), ("a2", 1), ("b1", 1), ("b2", 1), ("b3", 1)]),
    );
    // Rounds: a1 b1 | a2 b2 | a1 b3 | a2 b1 | a1 b2 | a2 b3 | a1 b1 …
    let got = w.shows("2026-03-02T00:00:00+07:00", "2026-03-02T00:00:16+07:00");
    assert_eq!(
        got,
        [
            "00:00:00 a/a1 1/1",
            "00:00:01 b/b1 1/1",
            "00:00:04 a/a2 1/1",
            "00:00:06 b/b2 1/1",
            "00:00:07 a/a1 1/1",
            "00:00:08 b/b3 1/1",
            "00:00:09 a/a2 1/1",
            "00:00:11 b/b1 1/1",
            "00:00:14 a/a1 1/1",
            "00:00:15 b/b2 1/1",
        ]
    );
}

#[test]
fn a_window_opening_beside_a_message_lets_it_finish() {
    let w = World::new(
        vec![
            camp(
                "a",
                json!({"messages":[{"id":"a1","dwell_s":7},{"id":"a2","dwell_s":6}],"start":"2026-03-02"}),
            ),
            camp(
                "b",
                json!({"messages":[{"id":"b1","dwell_s":10}],"cron":"0 7 * * *","duration_s":60}),
            ),
        ],
        cat(&[("a1", 1), ("a2", 1), ("b1", 1)]),
    );
    // `a` alone cycles every 13 s from midnight: a1 runs 06:59:54–07:00:01.
    // `b` opens at 07:00 and takes the next turn; its last turn is cut at
    // 07:01, and `a` goes on with the message after the one it last played.
    let got = w.shows("2026-03-02T06:59:50+07:00", "2026-03-02T07:01:20+07:00");
    assert_eq!(
        got,
        [
            "06:59:50 a/a2 1/1",
            "06:59:54 a/a1 1/1",
            "07:00:01 b/b1 1/1",
            "07:00:11 a/a2 1/1",
            "07:00:17 b/b1 1/1",
            "07:00:27 a/a1 1/1",
            "07:00:34 b/b1 1/1",
            "07:00:44 a/a2 1/1",
            "07:00:50 b/b1 1/1",
            "07:01:00 a/a1 1/1",
            "07:01:07 a/a2 1/1",
            "07:01:13 a/a1 1/1",
        ]
    );
    // The opening of `b` at 07:00 bounds the decision before it.
    let d = w.at(at("2026-03-02T06:59:58+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T07:00:00+07:00")));
    w.check_until((0..90).map(|i| at("2026-03-02T06:59:50+07:00") + TimeDelta::seconds(i)));
}

#[test]
fn a_pre_empted_campaign_resumes_where_it_left_off() {
    let mut w = World::new(
        vec![
            camp(
                "low",
                json!({"messages":[{"id":"l1","dwell_s":10},{"id":"l2","dwell_s":10},{"id":"l3","dwell_s":11}],
                       "start":"2026-03-02"}),
            ),
            camp(
                "high",
                json!({"messages":[{"id":"h1","dwell_s":10}],"cron":"0 7 * * *","duration_s":60,"priority":5}),
            ),
        ],
        cat(&[("l1", 1), ("l2", 1), ("l3", 1), ("h1", 1)]),
    );
    // `low` cycles every 31 s from midnight: l3 runs 06:59:52–07:00:03 and
    // is cut at 07:00; it plays again, whole, when `high` closes.
    let got = w.shows("2026-03-02T06:59:50+07:00", "2026-03-02T07:01:30+07:00");
    assert_eq!(
        got,
        [
            "06:59:50 low/l2 1/1",
            "06:59:52 low/l3 1/1",
            "07:00:00 high/h1 1/1",
            "07:01:00 low/l3 1/1",
            "07:01:11 low/l1 1/1",
            "07:01:21 low/l2 1/1",
        ]
    );
    // An alert pauses it the same way.
    w.campaigns.truncate(1);
    w.alerts = vec![alert(
        "storm",
        &["all"],
        "2026-03-02T07:00:00+07:00",
        "2026-03-02T07:01:00+07:00",
    )];
    let got = w.shows("2026-03-02T06:59:50+07:00", "2026-03-02T07:01:30+07:00");
    assert_eq!(
        got,
        [
            "06:59:50 low/l2 1/1",
            "06:59:52 low/l3 1/1",
            "07:00:00 alert storm 1/1",
            "07:01:00 low/l3 1/1",
            "07:01:11 low/l1 1/1",
            "07:01:21 low/l2 1/1",
        ]
    );
}

#[test]
fn a_campaign_goes_on_across_its_own_windows_and_starts_each_day_at_the_top() {
    let w = World::new(
        vec![camp(
            "twice",
            json!({"messages":[{"id":"t1","dwell_s":10},{"id":"t2","dwell_s":10},{"id":"t3","dwell_s":10}],
                   "cron":"0 7,12 * * *","duration_s":25}),
        )],
        cat(&[("t1", 1), ("t2", 1), ("t3", 1)]),
    );
    assert_eq!(
        w.shows("2026-03-02T07:00:00+07:00", "2026-03-02T07:00:30+07:00"),
        [
            "07:00:00 twice/t1 1/1",
            "07:00:10 twice/t2 1/1",
            "07:00:20 twice/t3 1/1",
            "07:00:25 blank",
        ]
    );
    // t3 was cut at 07:00:25: it plays again first at noon.
    assert_eq!(
        w.shows("2026-03-02T12:00:00+07:00", "2026-03-02T12:00:30+07:00"),
        [
            "12:00:00 twice/t3 1/1",
            "12:00:10 twice/t1 1/1",
            "12:00:20 twice/t2 1/1",
            "12:00:25 blank",
        ]
    );
    assert_eq!(
        w.shows("2026-03-03T07:00:00+07:00", "2026-03-03T07:00:10+07:00"),
        ["07:00:00 twice/t1 1/1"]
    );
}

#[test]
fn an_unbroken_rotation_runs_on_through_midnight() {
    let w = World::new(
        vec![
            camp(
                "a",
                json!({"messages":[{"id":"a1","dwell_s":7},{"id":"a2","dwell_s":7},{"id":"a3","dwell_s":7}],
                       "start":"2026-03-01"}),
            ),
            camp(
                "b",
                json!({"messages":[{"id":"b1","dwell_s":6}],"start":"2026-03-01"}),
            ),
        ],
        cat(&[("a1", 1), ("a2", 1), ("a3", 1), ("b1", 1)]),
    );
    // Rounds of 13 s from midnight on the 1st: round 6646 starts at
    // 23:59:58 and runs on past the places set again at midnight.
    let got = w.shows("2026-03-01T23:59:40+07:00", "2026-03-02T00:00:30+07:00");
    assert_eq!(
        got,
        [
            "23:59:40 b/b1 1/1",
            "23:59:45 a/a1 1/1",
            "23:59:52 b/b1 1/1",
            "23:59:58 a/a2 1/1",
            "00:00:05 b/b1 1/1",
            "00:00:11 a/a3 1/1",
            "00:00:18 b/b1 1/1",
            "00:00:24 a/a1 1/1",
        ]
    );
    w.check_until((0..50).map(|i| at("2026-03-01T23:59:40+07:00") + TimeDelta::seconds(i)));
}

#[test]
fn alerts_preempt_and_lapse() {
    let mut w = World::new(
        vec![camp(
            "base",
            json!({"messages":[{"id":"m1","dwell_s":10}],"start":"2026-03-02"}),
        )],
        Cat([("m1", 1)].into_iter().collect(), 3, HashMap::new()),
    );
    w.alerts = vec![
        alert(
            "storm",
            &["group:hai-chau"],
            "2026-03-02T10:00:00.500+07:00",
            "2026-03-02T10:01:00+07:00",
        ),
        alert(
            "flood",
            &["p1"],
            "2026-03-02T10:00:30+07:00",
            "2026-03-02T10:00:40+07:00",
        ),
        alert(
            "other",
            &["p2"],
            "2026-03-02T09:00:00+07:00",
            "2026-03-02T11:00:00+07:00",
        ),
        Alert {
            cancelled_at: Some(at("2026-03-02T09:30:00+07:00")),
            ..alert(
                "cancelled",
                &["all"],
                "2026-03-02T09:00:00+07:00",
                "2026-03-02T12:00:00+07:00",
            )
        },
    ];
    w.check(&[
        ("2026-03-02T10:00:00+07:00", "base/m1 1/1"),
        ("2026-03-02T10:00:00.500+07:00", "alert storm 1/3"),
        ("2026-03-02T10:00:08.499+07:00", "alert storm 1/3"),
        ("2026-03-02T10:00:08.500+07:00", "alert storm 2/3"),
        ("2026-03-02T10:00:16.500+07:00", "alert storm 3/3"),
        ("2026-03-02T10:00:24.500+07:00", "alert storm 1/3"),
        // The newest active alert wins, and the older one resumes after it.
        ("2026-03-02T10:00:30+07:00", "alert flood 1/3"),
        ("2026-03-02T10:00:39+07:00", "alert flood 2/3"),
        ("2026-03-02T10:00:40+07:00", "alert storm 2/3"),
        ("2026-03-02T10:00:56.499+07:00", "alert storm 1/3"),
        ("2026-03-02T10:00:59.999+07:00", "alert storm 2/3"),
        ("2026-03-02T10:01:00+07:00", "base/m1 1/1"),
    ]);
    let d = w.at(at("2026-03-02T10:00:25+07:00"));
    assert_eq!(d.since, at("2026-03-02T10:00:24.500+07:00"));
    // The newer alert's start comes before the page flip.
    assert_eq!(d.until, Some(at("2026-03-02T10:00:30+07:00")));
    let d = w.at(at("2026-03-02T10:00:57+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T10:01:00+07:00")));
    let d = w.at(at("2026-03-02T09:59:00+07:00"));
    assert_eq!(d.until, Some(at("2026-03-02T10:00:00.500+07:00")));
}

#[test]
fn nothing_scheduled_is_blank() {
    let w = World::new(vec![], cat(&[]));
    let d = w.at(at("2026-03-02T12:00:00+07:00"));
    assert_eq!(d.show, Show::Blank);
    assert_eq!(d.since, DateTime::<Utc>::UNIX_EPOCH);
    assert_eq!(d.until, Some(at("2026-03-02T18:00:00+07:00")));
    assert_eq!(d.brightness, 255);
}

#[test]
fn dst_zones_in_resolve() {
    let w = World::new(
        vec![
            camp(
                "ny",
                json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"30 2 * * *","duration_s":600,
                       "tz":"America/New_York"}),
            ),
            camp(
                "berlin",
                json!({"messages":[{"id":"m2","dwell_s":10}],"cron":"30 2 * * *","duration_s":600,
                       "tz":"Europe/Berlin"}),
            ),
        ],
        cat(&[("m1", 1), ("m2", 1)]),
    );
    w.check(&[
        // Spring forward, New York: 02:30 does not exist; fires at 03:00 EDT.
        ("2026-03-08T02:59:59-05:00", "blank"),
        ("2026-03-08T03:00:00-04:00", "ny/m1 1/1"),
        ("2026-03-08T03:09:59-04:00", "ny/m1 1/1"),
        ("2026-03-08T03:10:00-04:00", "blank"),
        ("2026-03-09T02:30:00-04:00", "ny/m1 1/1"),
        // Fall back, Berlin: 02:30 happens twice; fires once, the first time.
        ("2026-10-25T02:30:00+02:00", "berlin/m2 1/1"),
        ("2026-10-25T02:40:00+02:00", "blank"),
        ("2026-10-25T02:30:00+01:00", "blank"),
        ("2026-10-25T02:35:00+01:00", "blank"),
    ]);
    // The repeated 02:30 in Berlin is no boundary; New York's 02:30 is next.
    let d = w.at(at("2026-10-25T02:45:00+02:00"));
    assert_eq!(d.until, Some(at("2026-10-25T02:30:00-04:00")));
}

#[test]
fn until_is_honest_over_sampled_instants() {
    let mut w = World::new(
        vec![
            camp(
                "rush",
                json!({"messages":[{"id":"m1","dwell_s":13},{"id":"m2","dwell_s":4}],
                       "cron":"*/20 6-9 * * 1-5","duration_s":900,"priority":3}),
            ),
            camp(
                "rush2",
                json!({"messages":[{"id":"m3","dwell_s":11}],"cron":"5 7 * * *","duration_s":1800,"priority":3}),
            ),
            camp(
                "day",
                json!({"messages":[{"id":"m1","dwell_s":30},{"id":"draft","dwell_s":5}],
                       "start":"2026-03-01","end":"2026-03-05","priority":1}),
            ),
            camp(
                "night",
                json!({"messages":[{"id":"m2","dwell_s":17}],"cron":"0 0 22 * * *","duration_s":28800,"priority":2}),
            ),
        ],
        Cat(
            [("m1", 2), ("m2", 1), ("m3", 4)].into_iter().collect(),
            2,
            HashMap::new(),
        ),
    );
    w.alerts = vec![alert(
        "a",
        &["all"],
        "2026-03-02T07:12:03+07:00",
        "2026-03-02T07:14:00+07:00",
    )];
    let start = at("2026-03-01T20:00:00+07:00");
    // Every 7 minutes 13 seconds over five days, plus every second around 07:00–07:40.
    let coarse = (0..1000).map(|i| start + TimeDelta::seconds(433 * i));
    let fine = (0..2400).map(|i| at("2026-03-02T07:00:00+07:00") + TimeDelta::seconds(i));
    w.check_until(coarse.chain(fine));
    // resolve(until) is a fresh decision, again honest.
    let mut t = at("2026-03-02T06:55:00+07:00");
    for _ in 0..500 {
        let d = w.at(t);
        t = d.until.unwrap();
        w.check_until([t]);
    }
}

#[test]
fn timeline_matches_resolve() {
    let mut w = World::new(
        vec![
            camp(
                "a",
                json!({"messages":[{"id":"m1","dwell_s":5},{"id":"m2","dwell_s":3}],"start":"2026-03-02"}),
            ),
            camp(
                "b",
                json!({"messages":[{"id":"m3","dwell_s":4}],"cron":"*/2 * * * *","duration_s":30,"priority":1}),
            ),
        ],
        cat(&[("m1", 2), ("m2", 1), ("m3", 1)]),
    );
    w.alerts = vec![alert(
        "x",
        &["all"],
        "2026-03-02T08:03:10+07:00",
        "2026-03-02T08:03:30+07:00",
    )];
    let from = at("2026-03-02T08:00:00+07:00");
    let to = at("2026-03-02T08:10:00+07:00");
    let slots = w.slots(from, to, 10_000);
    assert_eq!(slots.first().unwrap().start, from);
    assert_eq!(slots.last().unwrap().end, to);
    for pair in slots.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_ne!(pair[0].show, pair[1].show, "merged");
    }
    for s in &slots {
        for t in [
            s.start,
            s.start + (s.end - s.start) / 2,
            s.end - TimeDelta::milliseconds(1),
        ] {
            assert_eq!(w.at(t).show, s.show, "at {t}");
        }
    }
    let capped = w.slots(from, to, 3);
    assert_eq!(capped.len(), 3);
    assert_eq!(capped[..], slots[..3]);
}

#[test]
fn brightness_switches() {
    let tz = DEFAULT_TZ;
    let def = Brightness::default();
    let cases = [
        ("2026-03-02T05:59:59+07:00", 96, "2026-03-02T06:00:00+07:00"),
        (
            "2026-03-02T06:00:00+07:00",
            255,
            "2026-03-02T18:00:00+07:00",
        ),
        (
            "2026-03-02T17:59:59+07:00",
            255,
            "2026-03-02T18:00:00+07:00",
        ),
        ("2026-03-02T18:00:00+07:00", 96, "2026-03-03T06:00:00+07:00"),
        ("2026-03-02T23:59:59+07:00", 96, "2026-03-03T06:00:00+07:00"),
    ];
    for (t, level, next) in cases {
        assert_eq!(brightness_at(&def, tz, at(t)), (level, at(next)), "{t}");
    }
    // Night starting before day: a panel lit brightly overnight.
    let inverted = Brightness {
        day: 200,
        night: 50,
        day_starts: "20:00".into(),
        night_starts: "05:30".into(),
    };
    let cases = [
        (
            "2026-03-02T03:00:00+07:00",
            200,
            "2026-03-02T05:30:00+07:00",
        ),
        ("2026-03-02T05:30:00+07:00", 50, "2026-03-02T20:00:00+07:00"),
        (
            "2026-03-02T21:00:00+07:00",
            200,
            "2026-03-03T05:30:00+07:00",
        ),
    ];
    for (t, level, next) in cases {
        assert_eq!(
            brightness_at(&inverted, tz, at(t)),
            (level, at(next)),
            "{t}"
        );
    }
    let flat = Brightness {
        day_starts: "07:00".into(),
        night_starts: "07:00".into(),
        ..def.clone()
    };
    assert_eq!(
        brightness_at(&flat, tz, at("2026-03-02T03:00:00+07:00")),
        (255, DateTime::<Utc>::MAX_UTC)
    );
    // Across a DST change the switch stays at local wall-clock time.
    let berlin = chrono_tz::Europe::Berlin;
    assert_eq!(
        brightness_at(&def, berlin, at("2026-03-29T12:00:00+02:00")),
        (255, at("2026-03-29T18:00:00+02:00"))
    );
    assert_eq!(
        brightness_at(&def, berlin, at("2026-03-29T01:00:00+01:00")),
        (96, at("2026-03-29T06:00:00+02:00"))
    );
    // The panel's own policy reaches the decision.
    let mut w = World::new(vec![], cat(&[]));
    w.panel.brightness = Some(inverted);
    assert_eq!(w.at(at("2026-03-02T03:00:00+07:00")).brightness, 200);
}

#[test]
fn compile_refuses_with_reasons() {
    let ok = json!({"messages":[{"id":"m1","dwell_s":10}]});
    let cases = [
        (json!({"name":" "}), "name"),
        (json!({"messages":[]}), "1 to 100 messages"),
        (json!({"messages":[{"id":"m1","dwell_s":0}]}), "dwell_s 0"),
        (
            json!({"messages":[{"id":"m1","dwell_s":86401}]}),
            "dwell_s 86401",
        ),
        (json!({"targets":[]}), "at least one target"),
        (json!({"cron":"0 7 * * *"}), "needs duration_s"),
        (json!({"duration_s":60}), "only applies with a cron"),
        (json!({"cron":"0 7 * * *","duration_s":0}), "duration_s 0"),
        (json!({"cron":"0 7 * * *","duration_s":2678401}), "31 days"),
        (json!({"cron":"0 7 * *","duration_s":60}), "accepted forms"),
        (
            json!({"start":"2026-03-03","end":"2026-03-02"}),
            "after end",
        ),
        (json!({"tz":"Asia/Saigon-ish"}), "unknown time zone"),
    ];
    for (patch, says) in cases {
        let mut v = ok.clone();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let e = compile(&body("c", v.clone()))
            .expect_err(&v.to_string())
            .0
            .to_string();
        assert!(e.contains(says), "{v}: {e}");
    }
    let many: Vec<_> = (0..101)
        .map(|i| json!({"id":format!("m{i}"),"dwell_s":1}))
        .collect();
    assert!(compile(&body("c", json!({"messages":many}))).is_err());
    let c = compile(&body(
        "c",
        json!({"messages":[{"id":"m1","dwell_s":86400}],"cron":"@daily","duration_s":2678400,
               "start":"2026-03-02","end":"2026-03-02","tz":"Europe/Berlin"}),
    ))
    .unwrap();
    assert_eq!(c.tz(), chrono_tz::Europe::Berlin);
    assert_eq!(compile(&body("c", ok)).unwrap().tz(), DEFAULT_TZ);
}

#[test]
fn explain_for_the_dashboard() {
    let (text, next) = explain(
        "0 7 * * 1-5",
        "Asia/Ho_Chi_Minh",
        at("2026-03-06T08:00:00+07:00"),
        3,
    )
    .unwrap();
    assert_eq!(
        text.render(crate::i18n::Lang::En),
        "at 07:00 on Monday to Friday"
    );
    assert_eq!(
        text.render(crate::i18n::Lang::Vi),
        "lúc 07:00 từ thứ Hai đến thứ Sáu"
    );
    let shown: Vec<String> = next.iter().map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        shown,
        [
            "2026-03-09T07:00:00+07:00",
            "2026-03-10T07:00:00+07:00",
            "2026-03-11T07:00:00+07:00"
        ]
    );
    let (_, next) = explain(
        "30 2 * * *",
        "America/New_York",
        at("2026-03-07T12:00:00Z"),
        2,
    )
    .unwrap();
    assert_eq!(next[0].to_rfc3339(), "2026-03-08T03:00:00-04:00");
    assert!(explain("0 7 * * *", "Mars/Olympus", at("2026-03-07T12:00:00Z"), 2).is_err());
    assert!(explain("nope", "UTC", at("2026-03-07T12:00:00Z"), 2).is_err());
    assert_eq!(parse_tz("UTC").unwrap(), chrono_tz::UTC);
}

/// Windows that open again before they close (a cron firing every minute
/// for 60 s, one firing every 15 minutes for 30 minutes) cover the panel
/// without a gap: following `until` from decision to decision never meets a
/// blank, and every second around the firings shows the campaign.
#[test]
fn re_firing_windows_cover_the_panel_without_a_gap() {
    for (cron, duration) in [
        ("* * * * *", 60),
        ("*/15 * * * *", 1800),
        ("0 * * * * *", 75),
    ] {
        let w = World::new(
            vec![camp(
                "again",
                json!({"messages":[{"id":"m1","dwell_s":10}],"cron":cron,"duration_s":duration}),
            )],
            cat(&[("m1", 1)]),
        );
        let start = at("2026-03-02T00:00:00+07:00");
        let end = at("2026-03-03T00:00:00+07:00");
        let mut t = start;
        while t < end {
            let d = w.at(t);
            assert_eq!(short(&d.show), "again/m1 1/1", "{cron} at {t}");
            let until = d.until.expect("something changes within a day");
            assert!(until > t, "{cron}: until {until} at {t}");
            t = until;
        }
        for minute in [0, 1, 14, 15, 16, 59, 60, 61, 719, 720, 1439] {
            let firing = start + TimeDelta::minutes(minute);
            for s in -3..=3 {
                let t = firing + TimeDelta::seconds(s);
                assert_ne!(w.at(t).show, Show::Blank, "{cron} at {t}");
            }
        }
        w.check_until((0..600).map(|s| start + TimeDelta::seconds(s)));
    }
}

#[test]
fn a_cron_that_never_fires_is_refused() {
    for cron in [
        "0 0 0 1 1 * 1970",
        "0 0 30 2 *",
        "0 0 0 31 4 *",
        "0 0 12 * * * 1999",
    ] {
        let e = compile(&body(
            "c",
            json!({"messages":[{"id":"m1","dwell_s":10}],"cron":cron,"duration_s":60}),
        ))
        .expect_err(cron)
        .0
        .to_string();
        assert!(e.contains("this cron never fires: "), "{cron}: {e}");
    }
    // A year in range is fine, even if it is past.
    assert!(parse_cron("0 0 12 * * * 2024").is_ok());
}

#[test]
fn campaign_dates_out_of_range_are_refused() {
    for (key, date) in [
        ("start", "-0001-01-01"),
        ("end", "+10000-01-01"),
        ("start", "1999-12-31"),
        ("end", "2101-01-01"),
    ] {
        let v = json!({"messages":[{"id":"m1","dwell_s":10}], key: date});
        let e = compile(&body("c", v)).expect_err(date).0.to_string();
        assert!(e.contains("2000") && e.contains("2100"), "{date}: {e}");
    }
    for (key, date) in [("start", "2000-01-01"), ("end", "2100-12-31")] {
        let v = json!({"messages":[{"id":"m1","dwell_s":10}], key: date});
        assert!(compile(&body("c", v)).is_ok(), "{date}");
    }
}

#[test]
fn timeline_instants_are_always_rfc3339() {
    let w = World::new(
        vec![camp(
            "always",
            json!({"messages":[{"id":"m1","dwell_s":10}]}),
        )],
        cat(&[("m1", 1)]),
    );
    let cases = [
        (
            at("9999-12-31T12:00:00Z"),
            at("9999-12-31T23:59:59Z") + TimeDelta::days(1),
        ),
        (
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MIN_UTC + TimeDelta::days(1),
        ),
        (at("2100-12-31T20:00:00Z"), at("2101-01-01T04:00:00Z")),
    ];
    for (from, to) in cases {
        for s in w.slots(from, to, 100) {
            for t in [s.start, s.end] {
                let text = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                assert!(
                    DateTime::parse_from_rfc3339(&text).is_ok(),
                    "{text} from {from:?} to {to:?}"
                );
            }
        }
    }
}
/// Airtime per show over `slots`, in seconds.
fn airtime(slots: &[Slot]) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for s in slots {
        *out.entry(short(&s.show)).or_insert(0) += (s.end - s.start).num_seconds();
    }
    out
}

/// The ten-message all-day campaign beside a campaign whose window opens
/// every minute for 30 s: every message plays, each gets its share, and the
/// all-day campaign's playlist runs on across the window boundaries.
/// Ten messages all day from 2026-03-02, and two in a window that opens
/// every minute for 30 s.
fn all_day_beside_minutely() -> World {
    let ten: Vec<_> = (1..=10)
        .map(|i| json!({"id": format!("a{i}"), "dwell_s": 10}))
        .collect();
    World::new(
        vec![
            camp("all-day", json!({"messages": ten, "start": "2026-03-02"})),
            camp(
                "minutely",
                json!({"messages":[{"id":"b1","dwell_s":10},{"id":"b2","dwell_s":10}],
                       "cron":"* * * * *","duration_s":30}),
            ),
        ],
        Cat(
            (1..=10)
                .map(|i| {
                    (
                        ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10"][i - 1],
                        1,
                    )
                })
                .chain([("b1", 1), ("b2", 1)])
                .collect(),
            1,
            HashMap::new(),
        ),
    )
}

/// The numbers of the messages a campaign's turns show, in order
/// (`a7` → 7).
fn message_turns(slots: &[Slot], campaign: &str) -> Vec<usize> {
    slots
        .iter()
        .filter_map(|s| match &s.show {
            Show::Message {
                campaign: c,
                message,
                ..
            } if c.as_str() == campaign => Some(message.as_str()[1..].parse::<usize>().unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn share_of_voice_is_fair_beside_a_window_that_opens_every_minute() {
    let w = all_day_beside_minutely();
    let from = at("2026-03-02T09:00:00+07:00");
    let to = at("2026-03-02T10:00:00+07:00");
    let slots = w.slots(from, to, 10_000);
    assert!(slots.iter().all(|s| s.show != Show::Blank));
    let air = airtime(&slots);
    // Turns alternate while both are open: in each 30-s window the minutely
    // campaign gets one or two of the three 10-s turns (the all-day one may
    // be finishing a message when the window opens), so between a third and
    // two thirds of its 1800 s of open windows, and both its messages play.
    let b1 = air.get("minutely/b1 1/1").copied().unwrap_or(0);
    let b2 = air.get("minutely/b2 1/1").copied().unwrap_or(0);
    assert!((600..=1200).contains(&(b1 + b2)), "{air:?}");
    assert!(b1.abs_diff(b2) <= 60, "{air:?}");
    // The rest is the all-day campaign's, shared equally by its ten
    // messages (± 10 %).
    let all_day = 3600 - b1 - b2;
    for i in 1..=10 {
        let got = air.get(&format!("all-day/a{i} 1/1")).copied().unwrap_or(0);
        assert!(
            got.abs_diff(all_day / 10) * 10 <= all_day as u64 / 10,
            "a{i} played {got} s: {air:?}"
        );
    }
    // Stability: the all-day campaign's turns run a1 a2 … a10 a1 … without
    // ever going back to a1 early; the minutely one never skips a message.
    let a = message_turns(&slots, "all-day");
    assert!(a.len() >= 200, "{a:?}");
    for pair in a.windows(2) {
        assert_eq!(pair[1], pair[0] % 10 + 1, "all-day turns: {a:?}");
    }
    let b = message_turns(&slots, "minutely");
    for pair in b.windows(2) {
        // A turn cut by the window's close is played again next time.
        assert!(
            pair[1] == pair[0] || pair[1] == pair[0] % 2 + 1,
            "minutely turns: {b:?}"
        );
    }
    // While both are open they alternate: never two turns of the same
    // campaign in a row inside one window of the minutely campaign.
    for pair in slots.windows(2) {
        let inside = w.campaigns[1].window_at(pair[1].start).is_some()
            && w.campaigns[1].window_at(pair[0].start).is_some()
            && w.campaigns[1].window_at(pair[0].start) == w.campaigns[1].window_at(pair[1].start);
        if let (Show::Message { campaign: c0, .. }, Show::Message { campaign: c1, .. }) =
            (&pair[0].show, &pair[1].show)
        {
            if inside {
                assert_ne!(c0, c1, "{:?} then {:?}", pair[0], pair[1]);
            }
        }
    }
    // resolve agrees with the timeline at every slot.
    for s in slots.iter().step_by(7) {
        assert_eq!(w.at(s.start + (s.end - s.start) / 2).show, s.show, "{s:?}");
    }
    w.check_until(slots.iter().take(40).map(|s| s.start));
}

/// Three campaigns sharing priority 0 (one all day, one every 7 minutes,
/// one hourly in office hours) and one of priority 2 every 20 minutes.
fn busy_day() -> World {
    World::new(
        vec![
            camp(
                "day",
                json!({"messages":[{"id":"d1","dwell_s":9},{"id":"d2","dwell_s":12},{"id":"d3","dwell_s":5}],
                       "start":"2026-03-01"}),
            ),
            camp(
                "often",
                json!({"messages":[{"id":"o1","dwell_s":8},{"id":"o2","dwell_s":6}],
                       "cron":"*/7 * * * *","duration_s":200}),
            ),
            camp(
                "office",
                json!({"messages":[{"id":"f1","dwell_s":15},{"id":"f2","dwell_s":4},{"id":"f3","dwell_s":7}],
                       "cron":"0 9-17 * * *","duration_s":1800}),
            ),
            camp(
                "urgent",
                json!({"messages":[{"id":"u1","dwell_s":10},{"id":"u2","dwell_s":10}],
                       "cron":"*/20 * * * *","duration_s":90,"priority":2}),
            ),
        ],
        Cat(
            [
                ("d1", 1),
                ("d2", 2),
                ("d3", 1),
                ("o1", 1),
                ("o2", 3),
                ("f1", 1),
                ("f2", 1),
                ("f3", 2),
                ("u1", 1),
                ("u2", 1),
            ]
            .into_iter()
            .collect(),
            1,
            HashMap::new(),
        ),
    )
}

/// Each campaign's turns, in order: (message, played to its end).
fn turns(slots: &[Slot]) -> HashMap<String, Vec<(String, bool)>> {
    let mut turns: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for (i, s) in slots.iter().enumerate() {
        assert_ne!(s.show, Show::Blank, "{s:?}");
        let Show::Message {
            campaign,
            message,
            page,
            pages,
            dwell_s,
        } = &s.show
        else {
            continue;
        };
        if *page != 1 {
            continue;
        }
        // Played whole if its pages ran their dwell before anything else.
        let mut end = s.end;
        for next in &slots[i + 1..] {
            match &next.show {
                Show::Message {
                    campaign: c,
                    message: m,
                    page: p,
                    ..
                } if c == campaign && m == message && *p > 1 => end = next.end,
                _ => break,
            }
        }
        let whole = end - s.start == TimeDelta::seconds(i64::from(*pages * *dwell_s));
        turns
            .entry(campaign.to_string())
            .or_default()
            .push((message.to_string(), whole));
    }
    turns
}

/// A busy day: three campaigns sharing priority 0 (one all day, one every
/// 7 minutes, one hourly in office hours), one of priority 2 every 20
/// minutes, and an alert. No campaign ever skips a message: each one's
/// turns follow its playlist, a message played again only after it was cut.
#[test]
fn no_campaign_skips_a_message_on_a_busy_day() {
    let mut w = busy_day();
    w.alerts = vec![alert(
        "storm",
        &["all"],
        "2026-03-02T10:00:03.250+07:00",
        "2026-03-02T10:05:00+07:00",
    )];
    let slots = w.slots(
        at("2026-03-02T06:00:00+07:00"),
        at("2026-03-02T20:00:00+07:00"),
        100_000,
    );
    let order = |m: &str| -> Vec<&str> {
        match &m[..1] {
            "d" => vec!["d1", "d2", "d3"],
            "o" => vec!["o1", "o2"],
            "f" => vec!["f1", "f2", "f3"],
            _ => vec!["u1", "u2"],
        }
    };
    let turns = turns(&slots);
    assert_eq!(turns.len(), 4, "{:?}", turns.keys());
    for (campaign, list) in &turns {
        let playlist = order(&list[0].0);
        for pair in list.windows(2) {
            let (prev, whole) = (&pair[0].0, pair[0].1);
            let at = playlist.iter().position(|m| m == prev).unwrap();
            let want = if whole {
                playlist[(at + 1) % playlist.len()]
            } else {
                prev.as_str()
            };
            assert_eq!(pair[1].0, want, "{campaign}: {list:?}");
        }
    }
    for s in slots.iter().step_by(97) {
        assert_eq!(w.at(s.start).show, s.show, "{s:?}");
        assert_eq!(
            w.at(s.end - TimeDelta::milliseconds(1)).show,
            s.show,
            "{s:?}"
        );
    }
    w.check_until(slots.iter().step_by(331).map(|s| s.start));
}

#[test]
fn a_message_plays_only_inside_its_validity_window() {
    // m1 is valid 08:00–09:00 local; m2 always. One all-day campaign.
    let mut c = cat(&[("m1", 1), ("m2", 1)]);
    c.2.insert(
        "m1",
        (
            Some(at("2026-03-02T08:00:00+07:00")),
            Some(at("2026-03-02T09:00:00+07:00")),
        ),
    );
    let w = World::new(
        vec![camp(
            "day",
            json!({"messages":[{"id":"m1","dwell_s":10},{"id":"m2","dwell_s":10}],
                   "start":"2026-03-02","end":"2026-03-02"}),
        )],
        c,
    );
    // Before and after the window only m2 plays, and the decision made
    // just before an edge ends at that edge.
    w.check(&[
        ("2026-03-02T07:59:59+07:00", "day/m2 1/1"),
        ("2026-03-02T09:00:00+07:00", "day/m2 1/1"),
        ("2026-03-02T09:30:00+07:00", "day/m2 1/1"),
    ]);
    assert_eq!(
        w.at(at("2026-03-02T07:59:59+07:00")).until,
        Some(at("2026-03-02T08:00:00+07:00"))
    );
    let inside = w.at(at("2026-03-02T08:59:55+07:00"));
    assert_eq!(inside.until, Some(at("2026-03-02T09:00:00+07:00")));
    // Inside, the two take turns every 10 s.
    let shows: Vec<String> = w.shows("2026-03-02T08:00:00+07:00", "2026-03-02T08:00:30+07:00");
    assert!(
        shows.iter().any(|s| s.ends_with("day/m1 1/1"))
            && shows.iter().any(|s| s.ends_with("day/m2 1/1")),
        "{shows:?}"
    );
    // The timeline never shows m1 outside 08:00–09:00.
    for s in w.slots(
        at("2026-03-02T07:00:00+07:00"),
        at("2026-03-02T10:00:00+07:00"),
        10_000,
    ) {
        if short(&s.show) == "day/m1 1/1" {
            assert!(
                s.start >= at("2026-03-02T08:00:00+07:00")
                    && s.end <= at("2026-03-02T09:00:00+07:00"),
                "{s:?}"
            );
        }
    }
    // A message alone whose window has passed leaves the panel blank.
    let mut c = cat(&[("m1", 1)]);
    c.2.insert("m1", (None, Some(at("2026-03-02T09:00:00+07:00"))));
    let alone = World::new(
        vec![camp(
            "day",
            json!({"messages":[{"id":"m1","dwell_s":10}],"start":"2026-03-02"}),
        )],
        c,
    );
    let before = alone.at(at("2026-03-02T08:30:00+07:00"));
    assert_eq!(short(&before.show), "day/m1 1/1");
    assert_eq!(before.until, Some(at("2026-03-02T09:00:00+07:00")));
    assert_eq!(alone.show("2026-03-02T09:00:00+07:00"), "blank");
}

/// `windows` lists the stretches a span overlaps (the calendar's
/// occurrences), at most `max`; `phase_at` says upcoming, running or ended.
#[test]
fn windows_in_a_span_and_the_phase_of_a_campaign() {
    let morning = camp(
        "morning",
        json!({"messages":[{"id":"m1","dwell_s":10}],"cron":"0 7 * * *","duration_s":3600,
               "start":"2026-03-02","end":"2026-03-04"}),
    );
    let w = |h: u32, d: u32| {
        (
            at(&format!("2026-03-0{d}T{h:02}:00:00+07:00")),
            at(&format!("2026-03-0{d}T{:02}:00:00+07:00", h + 1)),
        )
    };
    // The span opens inside the first window; the dates stop the third.
    let all = morning.windows(
        at("2026-03-02T07:30:00+07:00"),
        at("2026-03-09T00:00:00+07:00"),
        10,
    );
    assert_eq!(all, vec![w(7, 2), w(7, 3), w(7, 4)]);
    let two = morning.windows(
        at("2026-03-01T00:00:00+07:00"),
        at("2026-03-09T00:00:00+07:00"),
        2,
    );
    assert_eq!(two, vec![w(7, 2), w(7, 3)]);
    // A span ending as a window opens does not take it in.
    assert!(morning
        .windows(
            at("2026-03-02T08:00:00+07:00"),
            at("2026-03-03T07:00:00+07:00"),
            10
        )
        .is_empty());
    use super::campaign::Phase;
    assert_eq!(
        morning.phase_at(at("2026-03-01T12:00:00+07:00")),
        Phase::Upcoming {
            next: at("2026-03-02T07:00:00+07:00")
        }
    );
    assert_eq!(
        morning.phase_at(at("2026-03-03T07:59:00+07:00")),
        Phase::Running
    );
    assert_eq!(
        morning.phase_at(at("2026-03-04T08:00:00+07:00")),
        Phase::Ended
    );
}
