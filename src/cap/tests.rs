//! The CAP core against documents written as a forecasting agency writes
//! them (`tests/fixtures/cap/`), with the time as an argument.

use super::warning::TextSource;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::config::{Action, CapConfig};
use super::*;
use crate::domain::{Id, Location, Panel};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 20, 1, 0, 0).unwrap()
}

/// A fixture with its times filled in relative to `now`.
pub(crate) fn fixture(text: &str, now: DateTime<Utc>) -> String {
    let t = |d: DateTime<Utc>| {
        d.with_timezone(&TZ)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    text.replace("$SENT", &t(now - Duration::minutes(5)))
        .replace("$REFSENT", &t(now - Duration::minutes(5)))
        .replace("$ONSET", &t(now + Duration::hours(2)))
        .replace("$EXPIRES", &t(now + Duration::hours(12)))
        .replace("$PAST", &t(now - Duration::hours(1)))
}

pub(crate) const STORM: &str = include_str!("../../tests/fixtures/cap/storm-vi.xml");
pub(crate) const UPDATE: &str = include_str!("../../tests/fixtures/cap/storm-update.xml");
pub(crate) const CANCEL: &str = include_str!("../../tests/fixtures/cap/storm-cancel.xml");
pub(crate) const RAIN: &str = include_str!("../../tests/fixtures/cap/rain-polygon-vi.xml");
pub(crate) const FLOOD: &str = include_str!("../../tests/fixtures/cap/flood-en.xml");
pub(crate) const EXPIRED: &str = include_str!("../../tests/fixtures/cap/expired.xml");
pub(crate) const STRANGER: &str = include_str!("../../tests/fixtures/cap/stranger.xml");

fn panel(id: &str, units: &[&str], at: Option<(f64, f64)>) -> Panel {
    let mut p: Panel = serde_json::from_value(serde_json::json!({
        "id": id, "name": id, "width": 128, "height": 32, "format": "mono1"
    }))
    .unwrap();
    p.units = units.iter().map(|u| u.to_string()).collect();
    p.location = at.map(|(lat, lon)| Location { lat, lon });
    p
}

/// Nghệ An: Vinh (412), Cửa Lò (413), Nghi Lộc (429, two panels west of
/// 105.65° E and two east of it), Diễn Châu (434, no location).
pub(crate) fn province() -> Vec<Panel> {
    vec![
        panel("vinh-1", &["40", "412", "16681"], Some((18.67, 105.69))),
        panel("vinh-2", &["40", "412"], Some((18.68, 105.67))),
        panel("cualo-1", &["40", "413"], Some((18.79, 105.72))),
        panel("nghiloc-west-1", &["40", "429"], Some((18.80, 105.58))),
        panel("nghiloc-west-2", &["40", "429"], Some((18.75, 105.62))),
        panel("nghiloc-east-1", &["40", "429"], Some((18.80, 105.70))),
        panel("nghiloc-east-2", &["40", "429"], Some((18.76, 105.68))),
        panel("dienchau-1", &["40", "434"], None),
    ]
}

fn config(json: serde_json::Value) -> CapConfig {
    let c: CapConfig = serde_json::from_value(json).unwrap();
    c.validate().unwrap();
    c
}

fn auto() -> CapConfig {
    config(serde_json::json!({
        "rule_sets": {"default": [
            {"name": "typhoons and storms at once", "event": ["Bão", "Typhoon"], "severity": ["Extreme", "Severe"], "action": "auto"},
            {"name": "floods", "event": ["Flood"], "action": "auto"},
            {"action": "hold"}
        ]},
        "templates": [{
            "events": ["Flood"],
            "before": "SẮP CÓ LŨ từ {onset}: {area}",
            "during": "LŨ – cấp độ rủi ro {risk}: {area}. Hết hiệu lực {expires}",
            "after": "Lũ đã qua. Theo dõi thông báo của chính quyền",
            "after_s": 3600
        }]
    }))
}

/// Receives `text` at `now` with `config`, given the earlier warnings.
fn receive(
    text: &str,
    config: &CapConfig,
    senders: &[String],
    earlier: &[Warning],
    now: DateTime<Utc>,
) -> Result<Decision, CapError> {
    let doc = parse(fixture(text, now).as_bytes())?;
    let intake = Intake {
        config,
        rules: "default",
        senders,
        source: "test",
        tz: TZ,
        now,
    };
    let panels = province();
    decide(&doc, "sha", &intake, panels.iter(), &|id: &Id| {
        earlier.iter().find(|w| &w.id == id).cloned()
    })
}

fn record(d: Decision) -> (Warning, Vec<(Id, State)>) {
    match d {
        Decision::Record { warning, end } => (*warning, end),
        other => panic!("expected a record, got {other:?}"),
    }
}

fn ids(w: &Warning) -> Vec<&str> {
    w.panels.iter().map(Id::as_str).collect()
}

#[test]
fn a_vietnamese_storm_warning_for_two_districts_by_unit_code() {
    let (w, end) = record(receive(STORM, &CapConfig::default(), &[], &[], now()).unwrap());
    assert_eq!(ids(&w), ["cualo-1", "vinh-1", "vinh-2"]);
    assert_eq!(w.text_source, TextSource::Document);
    assert_eq!(w.info.as_ref().unwrap().language, "vi-VN");
    assert_eq!(
        w.phases[0].text,
        "Bão số 9 đổ bộ Vinh và Cửa Lò, gió giật cấp 14. Không ra khỏi nhà. Tránh xa bờ biển và cửa sông"
    );
    assert_eq!(
        (w.phases[0].from, w.phases[0].until),
        (now(), now() + Duration::hours(12))
    );
    assert_eq!(w.risk, Some(4), "the document's own risk level");
    // The default rules hold everything for an operator.
    assert_eq!((w.action, w.state), (Action::Hold, State::Held));
    assert!(end.is_empty());
    // With an auto rule it deploys.
    let (w, _) = record(receive(STORM, &auto(), &[], &[], now()).unwrap());
    assert_eq!(
        (w.action, w.state, w.rule.as_str()),
        (Action::Auto, State::Deployed, "typhoons and storms at once")
    );
}

#[test]
fn a_polygon_that_cuts_a_district_in_half() {
    let (w, _) = record(receive(RAIN, &auto(), &[], &[], now()).unwrap());
    assert_eq!(ids(&w), ["nghiloc-west-1", "nghiloc-west-2"]);
    assert_eq!(w.risk, Some(3), "Severe maps to 3");
    assert_eq!(w.state, State::Held, "no auto rule for Mưa lớn");
}

#[test]
fn an_english_warning_is_worded_by_its_template() {
    let (w, _) = record(receive(FLOOD, &auto(), &[], &[], now()).unwrap());
    assert_eq!(ids(&w), ["vinh-1", "vinh-2"], "a 5 km circle around Vinh");
    assert_eq!(w.text_source, TextSource::Template("Flood".into()));
    let words: Vec<(&str, &str)> = w
        .phases
        .iter()
        .map(|p| (p.wording.as_str(), p.text.as_str()))
        .collect();
    // Times in Vietnam's time zone: now is 08:00 there, onset 10:00, expires 20:00.
    assert_eq!(
        words,
        [
            ("before", "SẮP CÓ LŨ từ 10:00 20/09: Lam river banks, Vinh"),
            (
                "during",
                "LŨ – cấp độ rủi ro 3: Lam river banks, Vinh. Hết hiệu lực 20:00 20/09"
            ),
            ("after", "Lũ đã qua. Theo dõi thông báo của chính quyền"),
        ]
    );
    let spans: Vec<_> = w
        .phases
        .iter()
        .map(|p| (p.from - now(), p.until - now()))
        .collect();
    assert_eq!(
        spans,
        [
            (Duration::zero(), Duration::hours(2)),
            (Duration::hours(2), Duration::hours(12)),
            (Duration::hours(12), Duration::hours(13)),
        ]
    );
    assert_eq!(w.state, State::Deployed);
    // Without a template there is no Vietnamese text: held, never auto.
    let mut no_template = auto();
    no_template.templates.clear();
    let (w, _) = record(receive(FLOOD, &no_template, &[], &[], now()).unwrap());
    assert_eq!((w.text_source, w.state), (TextSource::None, State::Held));
    assert!(w.phases.is_empty());
}

#[test]
fn an_update_replaces_and_a_cancel_ends() {
    let (mut storm, _) = record(receive(STORM, &auto(), &[], &[], now()).unwrap());
    storm.alerts = vec![Id::parse("a1").unwrap()];
    let later = now() + Duration::minutes(30);
    let (update, end) = record(receive(UPDATE, &auto(), &[], &[storm.clone()], later).unwrap());
    assert_eq!(end, [(storm.id.clone(), State::Replaced)]);
    assert_eq!(update.references, [storm.id.clone()]);
    assert_eq!(update.state, State::Deployed);
    assert_eq!(update.panels.len(), 7, "Vinh, Cửa Lò and all of Nghi Lộc");
    // Held by the rules, the update leaves the live warning up.
    let (held, end) =
        record(receive(UPDATE, &CapConfig::default(), &[], &[storm.clone()], later).unwrap());
    assert_eq!((held.state, end.len()), (State::Held, 0));
    // The cancel ends the update.
    let (cancel, end) =
        record(receive(CANCEL, &auto(), &[], &[storm, update.clone()], later).unwrap());
    assert_eq!(end, [(update.id, State::Cancelled)]);
    assert_eq!(cancel.state, State::Logged);
}

#[test]
fn a_cancel_from_another_sender_changes_nothing() {
    let (storm, _) = record(receive(STORM, &auto(), &[], &[], now()).unwrap());
    let forged = CANCEL
        .replace(
            "<sender>canhbao@nchmf.gov.vn</sender>",
            "<sender>x@example.org</sender>",
        )
        .replace("NCHMF-2026-BAO-09-002", "NCHMF-2026-BAO-09-001");
    let (w, end) = record(receive(&forged, &auto(), &[], &[storm], now()).unwrap());
    assert!(end.is_empty());
    assert!(
        matches!(w.notes[0], crate::i18n::CapNote::ForeignReference { .. }),
        "{:?}",
        w.notes
    );
}

#[test]
fn an_expired_warning_is_kept_and_never_deployed() {
    let (w, _) = record(receive(EXPIRED, &auto(), &[], &[], now()).unwrap());
    assert_eq!(w.state, State::Expired);
}

#[test]
fn a_repeated_identifier_changes_nothing() {
    let (storm, _) = record(receive(STORM, &auto(), &[], &[], now()).unwrap());
    let again = receive(STORM, &auto(), &[], std::slice::from_ref(&storm), now()).unwrap();
    assert_eq!(again, Decision::Duplicate(storm.id));
}

#[test]
fn a_sender_off_the_allowlist_is_refused() {
    let allow = vec!["canhbao@nchmf.gov.vn".to_string()];
    assert_eq!(
        receive(STRANGER, &auto(), &allow, &[], now()),
        Err(CapError::Sender("someone@example.org".into()))
    );
    assert!(receive(STORM, &auto(), &allow, &[], now()).is_ok());
}

#[test]
fn severity_maps_to_the_configured_risk_levels() {
    let mut c = auto();
    c.risk_levels.insert("Severe".into(), 5);
    let (w, _) = record(receive(FLOOD, &c, &[], &[], now()).unwrap());
    assert_eq!(w.risk, Some(5));
    assert!(
        w.phases[1].text.contains("cấp độ rủi ro 5"),
        "{}",
        w.phases[1].text
    );
}

#[test]
fn tests_exercises_and_restricted_warnings_are_logged_only() {
    let drill = STORM.replace("<status>Actual</status>", "<status>Exercise</status>");
    let (w, _) = record(receive(&drill, &auto(), &[], &[], now()).unwrap());
    assert_eq!((w.action, w.state), (Action::Log, State::Logged));
    let restricted = STORM.replace(
        "<scope>Public</scope>",
        "<scope>Restricted</scope><restriction>Ban chỉ huy PCTT</restriction>",
    );
    let (w, _) = record(receive(&restricted, &auto(), &[], &[], now()).unwrap());
    assert_eq!((w.action, w.state), (Action::Log, State::Logged));
    assert_eq!(
        w.notes[0],
        crate::i18n::CapNote::NotPublic {
            scope: "Restricted".into()
        }
    );
}

#[test]
fn an_operator_deploys_or_dismisses_a_held_warning() {
    let (mut w, _) = record(receive(STORM, &CapConfig::default(), &[], &[], now()).unwrap());
    let later = now() + Duration::minutes(3);
    w.clone().dismiss("op", later).unwrap();
    w.deploy("op", None, later, 3600).unwrap();
    assert_eq!((w.state, w.phases[0].from), (State::Deployed, later));
    assert!(w
        .deploy("op", None, later, 3600)
        .unwrap_err()
        .to_string()
        .contains("not held"));
    // No text: the operator writes it.
    let mut c = auto();
    c.templates.clear();
    let (mut w, _) = record(receive(FLOOD, &c, &[], &[], now()).unwrap());
    let e = w
        .clone()
        .deploy("op", None, later, 3600)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no Vietnamese text"), "{e}");
    w.deploy(
        "op",
        Some("LŨ SÔNG LAM – tránh xa bờ sông".into()),
        later,
        3600,
    )
    .unwrap();
    assert_eq!(w.text_source, TextSource::Operator);
    // Past its expiry a held warning cannot be deployed.
    let (mut w, _) = record(receive(STORM, &CapConfig::default(), &[], &[], now()).unwrap());
    let e = w
        .deploy("op", None, now() + Duration::hours(13), 3600)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expired"), "{e}");
}

/// A document refused the way `ok` expects, with a sentence.
fn refused(what: &str, text: &str, ok: impl Fn(&CapError) -> bool) {
    match parse(text.as_bytes()) {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => {
            assert!(ok(&e), "{what}: {e:?}");
            assert!(
                e.to_string().len() > 30,
                "{what}: a sentence, not a code: {e}"
            );
        }
    }
}

/// The billion-laughs document: ten levels of ten-fold entities.
pub(crate) fn billion_laughs() -> String {
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    format!("<?xml version=\"1.0\"?><!DOCTYPE alert [{dtd}]><alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&lol9;</alert>")
}

/// Every bad document gets its own clear error.
#[test]
fn bad_documents_are_refused_with_a_reason() {
    let good = fixture(STORM, now());
    refused(
        "malformed",
        &good.replace("</identifier>", "</identifer>"),
        |e| matches!(e, CapError::Xml(_)),
    );
    refused("billion laughs", &billion_laughs(), |e| {
        matches!(e, CapError::Dtd)
    });
    let xxe = good
        .replace(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
        )
        .replace(
            "<scope>Public</scope>",
            "<scope>Public</scope><note>&xxe;</note>",
        );
    refused("external entity", &xxe, |e| matches!(e, CapError::Dtd));
    let undeclared = good.replace(
        "<scope>Public</scope>",
        "<scope>Public</scope><note>&xxe;</note>",
    );
    refused(
        "undeclared entity",
        &undeclared,
        |e| matches!(e, CapError::Entity(n) if n == "xxe"),
    );
    refused(
        "wrong namespace",
        &good.replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:example:cap"),
        |e| matches!(e, CapError::Namespace(n) if n == "urn:example:cap"),
    );
    refused(
        "not an alert",
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
        |e| matches!(e, CapError::NotCap(_)),
    );
    let open =
        fixture(RAIN, now()).replace("18.70,105.65 18.70,105.50", "18.70,105.65 18.71,105.50");
    refused(
        "polygon that does not close",
        &open,
        |e| matches!(e, CapError::Invalid(m) if m.to_lowercase().contains("polygon")),
    );
    let e = good.find("<expires>").unwrap() + 9;
    let far = format!("{}2150{}", &good[..e], &good[e + 4..]);
    refused(
        "date out of range",
        &far,
        |e| matches!(e, CapError::Date { field, .. } if field == "expires"),
    );
    refused(
        "too large",
        &format!("{good}{}", " ".repeat(xml::MAX_DOC_BYTES)),
        |e| matches!(e, CapError::TooLarge { .. }),
    );
    let update = fixture(UPDATE, now());
    let (a, b) = (
        update.find("<references>").unwrap(),
        update.find("</references>").unwrap() + 13,
    );
    let orphan = format!("{}{}", &update[..a], &update[b..]);
    refused(
        "update without references",
        &orphan,
        |e| matches!(e, CapError::Invalid(m) if m.contains("references")),
    );
}

#[test]
fn cap_1_1_documents_are_read_too() {
    let old = fixture(STORM, now()).replace("cap:1.2", "cap:1.1");
    let d = parse(old.as_bytes()).unwrap();
    assert_eq!(d.infos.len(), 2);
    assert_eq!(d.msg_type, MsgType::Alert);
}
