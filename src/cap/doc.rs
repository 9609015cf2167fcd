//! A CAP document as bangtin uses it: plain data read from `oasiscap`'s
//! types (CAP 1.0 and 1.1 upgraded to 1.2), with times in UTC and the
//! checks CAP leaves to the reader (dates in range). Serializable: the
//! warning record and the API show these shapes.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::{xml, CapError};

/// The years a date in a CAP document may fall in (as for schedules).
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// What kind of message a document is (CAP `msgType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum MsgType {
    Alert,
    Update,
    Cancel,
    Ack,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Circle {
    pub center: Point,
    /// Radius in kilometres (CAP's unit).
    pub radius_km: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Geocode {
    pub name: String,
    pub value: String,
}

/// One `<area>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Area {
    pub desc: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polygons: Vec<Vec<Point>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub circles: Vec<Circle>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geocodes: Vec<Geocode>,
}

/// One `<info>`: the warning in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Info {
    /// RFC 3066 code; CAP's default is `en-US`.
    pub language: String,
    pub categories: Vec<String>,
    pub event: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Geocode>,
    pub areas: Vec<Area>,
}

impl Info {
    /// Whether the block is written in Vietnamese (`vi`, `vi-VN`, …).
    pub fn is_vietnamese(&self) -> bool {
        let l = self.language.to_ascii_lowercase();
        l == "vi" || l.starts_with("vi-")
    }

    /// The areas' descriptions, joined for a sign.
    pub fn area_desc(&self) -> String {
        let v: Vec<&str> = self
            .areas
            .iter()
            .map(|a| a.desc.trim())
            .filter(|d| !d.is_empty())
            .collect();
        v.join(", ")
    }

    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }
}

/// A reference to an earlier message (`sender,identifier,sent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<Utc>,
}

/// A CAP document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Document {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<Utc>,
    /// `Actual`, `Exercise`, `System`, `Test` or `Draft`.
    pub status: String,
    pub msg_type: MsgType,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub infos: Vec<Info>,
}

/// Screens (`xml::screen`) and parses a CAP 1.0–1.2 document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Document, CapError> {
    let text = xml::screen(bytes)?;
    let parsed = text
        .parse::<oasiscap::Alert>()
        .map_err(|e| CapError::Invalid(clean(&e.to_string())))?;
    let a = parsed.into_latest();
    let sent = utc(a.sent, "sent")?;
    let msg_type = match a.message_type {
        oasiscap::v1dot2::MessageType::Alert => MsgType::Alert,
        oasiscap::v1dot2::MessageType::Update => MsgType::Update,
        oasiscap::v1dot2::MessageType::Cancel => MsgType::Cancel,
        oasiscap::v1dot2::MessageType::Ack => MsgType::Ack,
        oasiscap::v1dot2::MessageType::Error => MsgType::Error,
    };
    let mut references = Vec::new();
    if let Some(refs) = &a.references {
        for r in refs.iter() {
            references.push(Reference {
                sender: r.sender.as_str().to_string(),
                identifier: r.identifier.as_str().to_string(),
                sent: utc(r.sent, "references")?,
            });
        }
    }
    if matches!(msg_type, MsgType::Update | MsgType::Cancel) && references.is_empty() {
        return Err(CapError::Invalid(format!(
            "an {msg_type:?} must name the message it changes in <references>"
        )));
    }
    let infos = a.info.into_iter().map(info).collect::<Result<_, _>>()?;
    Ok(Document {
        identifier: a.identifier.as_str().to_string(),
        sender: a.sender.as_str().to_string(),
        sent,
        status: format!("{:?}", a.status),
        msg_type,
        scope: format!("{:?}", a.scope),
        references,
        note: a.note,
        infos,
    })
}

/// One `<info>` block, its times checked.
fn info(i: oasiscap::v1dot2::Info) -> Result<Info, CapError> {
    let opt = |d: Option<oasiscap::DateTime>, what: &str| d.map(|d| utc(d, what)).transpose();
    Ok(Info {
        language: i.language.as_option_str().unwrap_or("en-US").to_string(),
        categories: i.categories.iter().map(|c| format!("{c:?}")).collect(),
        event: i.event.trim().to_string(),
        urgency: format!("{:?}", i.urgency),
        severity: format!("{:?}", i.severity),
        certainty: format!("{:?}", i.certainty),
        effective: opt(i.effective, "effective")?,
        onset: opt(i.onset, "onset")?,
        expires: opt(i.expires, "expires")?,
        parameters: i
            .parameters
            .iter()
            .map(|(n, v)| Geocode {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        areas: i.areas.iter().map(area).collect(),
        sender_name: i.sender_name,
        headline: i.headline,
        description: i.description,
        instruction: i.instruction,
    })
}

/// One `<area>`: its description, shapes and geocodes.
fn area(ar: &oasiscap::v1dot2::Area) -> Area {
    let point = |pt: &oasiscap::geo::Point| Point {
        lat: pt.latitude(),
        lon: pt.longitude(),
    };
    Area {
        desc: ar.description.trim().to_string(),
        polygons: ar
            .polygons
            .iter()
            .map(|p| p.iter().map(point).collect())
            .collect(),
        circles: ar
            .circles
            .iter()
            .map(|c| Circle {
                center: point(&c.center),
                radius_km: c.radius,
            })
            .collect(),
        geocodes: ar
            .geocode
            .iter()
            .map(|(n, v)| Geocode {
                name: n.trim().to_string(),
                value: v.trim().to_string(),
            })
            .collect(),
    }
}

/// A CAP time in UTC, refused outside [`YEARS`].
fn utc(d: oasiscap::DateTime, what: &str) -> Result<DateTime<Utc>, CapError> {
    let d: chrono::DateTime<chrono::FixedOffset> = d.into();
    let d = d.with_timezone(&Utc);
    if !YEARS.contains(&d.year()) {
        return Err(CapError::Date {
            field: what.to_string(),
            value: d.to_rfc3339(),
        });
    }
    Ok(d)
}

/// The parser's message without the XML namespace noise it carries.
fn clean(s: &str) -> String {
    let s = s
        .replace("{urn:oasis:names:tc:emergency:cap:1.2;}cap:", "")
        .replace("{urn:oasis:names:tc:emergency:cap:1.1;}cap:", "")
        .replace("{http://www.incident.com/cap/1.0;}cap:", "")
        .replace(
            "shape not closed:",
            "a <polygon> does not close (its last point must repeat its first, as CAP requires):",
        );
    s.chars().take(300).collect()
}
