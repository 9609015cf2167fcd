//! bangtin's own alerts as CAP 1.2, and the ATOM feed that lists them, for
//! the commune loudspeaker systems and other public displays that follow
//! the same warnings. Pure: the alerts, what is known of their area and
//! the time zone are arguments.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use quick_xml::escape::escape;

use super::Warning;
use crate::domain::Alert;

/// Who bangtin is in the documents it publishes.
pub(crate) struct Publisher<'a> {
    /// CAP `<sender>` (no spaces or commas), e.g. `bangtin@ubnd.nghean.gov.vn`.
    pub sender: &'a str,
    /// CAP `<senderName>`, e.g. the communications office's name.
    pub sender_name: &'a str,
    /// The absolute URL of `/public` on this server, for links.
    pub base: &'a str,
    pub tz: Tz,
}

/// What is known of where an alert applies.
pub(crate) struct Where<'a> {
    /// The areas' description (district names, or the warning's own).
    pub desc: String,
    /// Administrative unit codes of the panels it reaches.
    pub units: Vec<String>,
    /// The CAP warning it came from, if any (its shapes and wording).
    pub warning: Option<&'a Warning>,
}

/// The CAP identifier of an alert (and of its cancellation).
pub(crate) fn identifier(a: &Alert) -> String {
    format!("bangtin-{}", a.id)
}

fn time(d: DateTime<Utc>, tz: Tz) -> String {
    d.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn el(out: &mut String, indent: &str, name: &str, value: &str) {
    out.push_str(&format!("{indent}<{name}>{}</{name}>\n", escape(value)));
}

/// The alert as a CAP 1.2 document: `Alert` while it is on, `Cancel`
/// (referencing the alert) once an operator or a Cancel ended it.
pub(crate) fn alert_document(a: &Alert, at: &Where<'_>, p: &Publisher<'_>) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n");
    alert_head(&mut x, a, p);
    x.push_str("  <info>\n");
    alert_info(&mut x, a, at, p);
    x.push_str("    <area>\n");
    alert_area(&mut x, at);
    x.push_str("    </area>\n  </info>\n</alert>\n");
    x
}

/// The `<alert>` elements before `<info>`.
fn alert_head(x: &mut String, a: &Alert, p: &Publisher<'_>) {
    let i = "  ";
    let id = identifier(a);
    let (identifier, sent, msg_type) = match a.cancelled_at {
        Some(c) => (format!("{id}-cancel"), c, "Cancel"),
        None => (id.clone(), a.created_at, "Alert"),
    };
    el(x, i, "identifier", &identifier);
    el(x, i, "sender", p.sender);
    el(x, i, "sent", &time(sent, p.tz));
    el(x, i, "status", "Actual");
    el(x, i, "msgType", msg_type);
    el(x, i, "scope", "Public");
    if a.cancelled_at.is_some() {
        el(
            x,
            i,
            "references",
            &format!("{},{id},{}", p.sender, time(a.created_at, p.tz)),
        );
    }
}

/// The `<info>` elements before `<area>`: the warning's own category,
/// event and grading where the alert came from one, else defaults.
fn alert_info(x: &mut String, a: &Alert, at: &Where<'_>, p: &Publisher<'_>) {
    let info = at.warning.and_then(|w| w.info.as_ref());
    let ii = "    ";
    el(x, ii, "language", "vi-VN");
    let cats = info
        .map(|i| i.categories.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| vec!["Safety".into()]);
    for c in cats {
        el(x, ii, "category", &c);
    }
    let graded = [
        ("event", info.map(|i| i.event.as_str()), "Cảnh báo khẩn"),
        ("urgency", info.map(|i| i.urgency.as_str()), "Immediate"),
        ("severity", info.map(|i| i.severity.as_str()), "Unknown"),
        ("certainty", info.map(|i| i.certainty.as_str()), "Unknown"),
    ];
    for (name, value, default) in graded {
        el(x, ii, name, value.unwrap_or(default));
    }
    el(x, ii, "effective", &time(a.created_at, p.tz));
    el(x, ii, "expires", &time(a.ends_at, p.tz));
    el(x, ii, "senderName", p.sender_name);
    let headline: String = a.body.text.chars().take(160).collect();
    el(x, ii, "headline", &headline);
    el(x, ii, "description", &a.body.text);
    if let Some(ins) = info.and_then(|i| i.instruction.as_deref()) {
        el(x, ii, "instruction", ins);
    }
    if let Some(w) = at.warning {
        x.push_str(&format!(
            "{ii}<parameter><valueName>CapOriginal</valueName><value>{}</value></parameter>\n",
            escape(format!(
                "{},{},{}",
                w.sender,
                w.identifier,
                time(w.sent, p.tz)
            ))
        ));
        if let Some(r) = w.risk {
            x.push_str(&format!(
                "{ii}<parameter><valueName>CapDoRuiRo</valueName><value>{r}</value></parameter>\n"
            ));
        }
    }
}

/// The `<area>` elements: the description, the warning's shapes, and the
/// administrative unit codes of the panels reached.
fn alert_area(x: &mut String, at: &Where<'_>) {
    let iii = "      ";
    el(
        x,
        iii,
        "areaDesc",
        if at.desc.is_empty() { "—" } else { &at.desc },
    );
    for area in at.warning.iter().flat_map(|w| &w.areas) {
        for ring in &area.polygons {
            let pts: Vec<String> = ring
                .iter()
                .map(|p| format!("{},{}", p.lat, p.lon))
                .collect();
            el(x, iii, "polygon", &pts.join(" "));
        }
        for c in &area.circles {
            el(
                x,
                iii,
                "circle",
                &format!("{},{} {}", c.center.lat, c.center.lon, c.radius_km),
            );
        }
    }
    for u in &at.units {
        x.push_str(&format!(
            "{iii}<geocode><valueName>MaDVHC</valueName><value>{}</value></geocode>\n",
            escape(u)
        ));
    }
}

/// An ATOM feed of alerts, newest first: each entry links to its CAP
/// document (`{base}/alerts/{id}.xml`, typed `application/cap+xml`).
pub(crate) fn alerts_atom(alerts: &[&Alert], p: &Publisher<'_>, updated: DateTime<Utc>) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    el(&mut x, "  ", "id", &format!("{}/alerts.atom", p.base));
    el(
        &mut x,
        "  ",
        "title",
        &format!("Cảnh báo khẩn – {}", p.sender_name),
    );
    el(&mut x, "  ", "updated", &updated.to_rfc3339());
    x.push_str(&format!(
        "  <link rel=\"self\" href=\"{}/alerts.atom\"/>\n",
        escape(p.base)
    ));
    x.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        escape(p.sender_name)
    ));
    for a in alerts {
        let when = a.cancelled_at.unwrap_or(a.created_at);
        x.push_str("  <entry>\n");
        el(
            &mut x,
            "    ",
            "id",
            &format!(
                "urn:bangtin:{}{}",
                identifier(a),
                if a.cancelled_at.is_some() {
                    "-cancel"
                } else {
                    ""
                }
            ),
        );
        let title: String = a.body.text.chars().take(120).collect();
        el(
            &mut x,
            "    ",
            "title",
            &if a.cancelled_at.is_some() {
                format!("Đã huỷ: {title}")
            } else {
                title
            },
        );
        el(&mut x, "    ", "updated", &when.to_rfc3339());
        el(&mut x, "    ", "summary", &a.body.text);
        x.push_str(&format!(
            "    <link rel=\"alternate\" type=\"application/cap+xml\" href=\"{}/alerts/{}.xml\"/>\n  </entry>\n",
            escape(p.base),
            a.id
        ));
    }
    x.push_str("</feed>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AlertBody, Id, Target};

    #[test]
    fn an_alert_is_a_cap_document_bangtin_itself_reads() {
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let mut a = Alert {
            id: Id::parse("alert-1").unwrap(),
            body: AlertBody {
                text: "BÃO SỐ 9 <khẩn> & sơ tán".into(),
                targets: vec![Target::All],
                duration_s: 3600,
            },
            created_by: "op".into(),
            created_at: t0,
            ends_at: t0 + chrono::Duration::hours(1),
            cancelled_at: None,
        };
        let p = Publisher {
            sender: "bangtin@nghean.gov.vn",
            sender_name: "Sở TT&TT Nghệ An",
            base: "https://x/public",
            tz: chrono_tz::Asia::Ho_Chi_Minh,
        };
        let at = Where {
            desc: "Thành phố Vinh".into(),
            units: vec!["412".into()],
            warning: None,
        };
        let doc = super::super::parse(alert_document(&a, &at, &p).as_bytes()).unwrap();
        assert_eq!(
            (doc.identifier.as_str(), doc.msg_type),
            ("bangtin-alert-1", super::super::MsgType::Alert)
        );
        let info = &doc.infos[0];
        assert_eq!(info.headline.as_deref(), Some("BÃO SỐ 9 <khẩn> & sơ tán"));
        assert_eq!(
            (info.language.as_str(), info.expires),
            ("vi-VN", Some(a.ends_at))
        );
        assert_eq!(info.areas[0].geocodes[0].value, "412");
        a.cancelled_at = Some(t0 + chrono::Duration::minutes(5));
        let cancel = super::super::parse(alert_document(&a, &at, &p).as_bytes()).unwrap();
        assert_eq!(cancel.msg_type, super::super::MsgType::Cancel);
        assert_eq!(cancel.references[0].identifier, "bangtin-alert-1");
        let feed = alerts_atom(&[&a], &p, t0);
        assert_eq!(
            super::super::index::read(feed.as_bytes()).unwrap(),
            super::super::index::Polled::Index(vec!["https://x/public/alerts/alert-1.xml".into()])
        );
    }
}
