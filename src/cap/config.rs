//! What an office configures for official warnings (`DIR/cap.json`, see
//! docs/cap.md): the polled feeds, the senders accepted on
//! `POST /api/v1/cap`, rule sets, Vietnamese templates per event, the
//! mapping of CAP severity to the province's natural-disaster risk levels
//! (cấp độ rủi ro thiên tai), the `<geocode>` names read as administrative
//! unit codes, and the optional map tiles of the dashboard.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Id, Invalid, MAX_ALERT_S};
use crate::i18n::Reason;

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deploy at once as an alert.
    Auto,
    /// Wait for an operator's one click (deploy or dismiss).
    Hold,
    /// Keep the record only.
    Log,
}

/// One rule: every list that is not empty must contain the warning's
/// value (case does not matter; `category` matches if any category does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urgency: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certainty: Vec<String>,
    pub action: Action,
}

/// Vietnamese wording for warnings whose document has no Vietnamese
/// `<info>`, chosen by the event's name. Placeholders: see [`PLACEHOLDERS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The `<event>` names this template is for (case does not matter).
    pub events: Vec<String>,
    /// Shown from arrival until `onset`, when the onset is still ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Shown from onset (or arrival) until `expires`.
    pub during: String,
    /// Shown for `after_s` seconds once the warning has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default)]
    pub after_s: u32,
}

/// A polled source: an ATOM or RSS index of CAP entries, or one CAP
/// document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// A short name (an id: lowercase letters, digits, '-').
    pub name: Id,
    pub url: String,
    #[serde(default = "default_interval")]
    pub interval_s: u32,
    /// Senders accepted from this feed; empty accepts any.
    #[serde(default)]
    pub senders: Vec<String>,
    /// The rule set applied to its warnings.
    #[serde(default = "default_rules")]
    pub rules: String,
}

/// Documents posted to `POST /api/v1/cap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Post {
    /// Senders accepted; empty accepts any (the `feed` token is the gate).
    #[serde(default)]
    pub senders: Vec<String>,
    #[serde(default = "default_rules")]
    pub rules: String,
}

impl Default for Post {
    fn default() -> Self {
        Post {
            senders: Vec::new(),
            rules: default_rules(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    #[serde(default)]
    pub feeds: Vec<Feed>,
    #[serde(default)]
    pub post: Post,
    /// Named rule sets; the first rule that matches decides. A warning no
    /// rule matches is held.
    #[serde(default = "default_rule_sets")]
    pub rule_sets: BTreeMap<String, Vec<Rule>>,
    #[serde(default)]
    pub templates: Vec<Template>,
    /// CAP severity → risk level (1–5) shown with the warning.
    #[serde(default = "default_risk_levels")]
    pub risk_levels: BTreeMap<String, u8>,
    /// An `<info>` `<parameter>` that carries the risk level itself, which
    /// then wins over the severity mapping.
    #[serde(default = "default_risk_parameter")]
    pub risk_parameter: Option<String>,
    /// `<geocode>` value names whose values are administrative unit codes.
    #[serde(default = "default_unit_code_names")]
    pub unit_code_names: Vec<String>,
    /// How long a warning without `<expires>` stays up.
    #[serde(default = "default_duration")]
    pub default_duration_s: u32,
    /// A tile URL with {z}/{x}/{y} for the dashboard's map; none draws the
    /// map from the panels and the warning's shapes alone (offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_tiles: Option<String>,
    /// How bangtin names itself in the CAP and feeds it publishes.
    #[serde(default)]
    pub publish: Publish,
}

/// bangtin as a CAP sender (`/public/alerts.atom`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// CAP `<sender>`: no spaces or commas, e.g. `bangtin@stttt.nghean.gov.vn`.
    #[serde(default = "default_sender")]
    pub sender: String,
    /// CAP `<senderName>` and the feeds' author.
    #[serde(default = "default_sender_name")]
    pub sender_name: String,
}

impl Default for Publish {
    fn default() -> Self {
        Publish {
            sender: default_sender(),
            sender_name: default_sender_name(),
        }
    }
}

fn default_sender() -> String {
    "bangtin".into()
}
fn default_sender_name() -> String {
    "Bảng tin điện tử".into()
}

fn default_interval() -> u32 {
    60
}
fn default_rules() -> String {
    "default".into()
}
fn default_rule_sets() -> BTreeMap<String, Vec<Rule>> {
    BTreeMap::from([(
        "default".to_string(),
        vec![Rule {
            name: Some("hold everything".into()),
            event: vec![],
            category: vec![],
            severity: vec![],
            urgency: vec![],
            certainty: vec![],
            action: Action::Hold,
        }],
    )])
}
fn default_risk_levels() -> BTreeMap<String, u8> {
    BTreeMap::from([
        ("Extreme".to_string(), 4),
        ("Severe".to_string(), 3),
        ("Moderate".to_string(), 2),
        ("Minor".to_string(), 1),
    ])
}
fn default_risk_parameter() -> Option<String> {
    Some("CapDoRuiRo".into())
}
fn default_unit_code_names() -> Vec<String> {
    vec!["MaDVHC".into()]
}
fn default_duration() -> u32 {
    6 * 3600
}

impl Default for CapConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("the defaults deserialize")
    }
}

/// The placeholders a template may use.
pub(crate) const PLACEHOLDERS: [&str; 10] = [
    "headline",
    "event",
    "area",
    "onset",
    "expires",
    "risk",
    "severity",
    "sender",
    "instruction",
    "description",
];

/// Shortest poll interval accepted.
pub(crate) const MIN_INTERVAL_S: u32 = 1;

impl CapConfig {
    /// Everything a file can get wrong, as one sentence.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut names = std::collections::BTreeSet::new();
        for f in &self.feeds {
            if !names.insert(f.name.as_str()) {
                return Err(Invalid::new(Reason::CapFeedTwice {
                    name: f.name.to_string(),
                }));
            }
            if !(f.url.starts_with("http://") || f.url.starts_with("https://")) {
                return Err(Invalid::new(Reason::CapFeedUrl {
                    feed: f.name.to_string(),
                    url: f.url.chars().take(200).collect(),
                }));
            }
            if f.interval_s < MIN_INTERVAL_S {
                return Err(Invalid::new(Reason::CapFeedInterval {
                    feed: f.name.to_string(),
                    min: MIN_INTERVAL_S,
                }));
            }
            self.known_rule_set(&f.rules, Some(f.name.as_str()))?;
        }
        self.known_rule_set(&self.post.rules, None)?;
        for (i, t) in self.templates.iter().enumerate() {
            if t.events.is_empty() {
                return Err(Invalid::new(Reason::CapTemplateNoEvents { n: i + 1 }));
            }
            for text in [Some(&t.during), t.before.as_ref(), t.after.as_ref()]
                .into_iter()
                .flatten()
            {
                check_placeholders(text, i + 1, &t.events[0])?;
            }
            if t.after.is_some() && (t.after_s == 0 || t.after_s > MAX_ALERT_S) {
                return Err(Invalid::new(Reason::CapTemplateAfter {
                    n: i + 1,
                    event: t.events[0].clone(),
                    max: MAX_ALERT_S,
                }));
            }
        }
        for (sev, level) in &self.risk_levels {
            if !(1..=5).contains(level) {
                return Err(Invalid::new(Reason::CapRiskLevel {
                    severity: sev.clone(),
                    level: *level,
                }));
            }
        }
        if self.default_duration_s == 0 || self.default_duration_s > MAX_ALERT_S {
            return Err(Invalid::new(Reason::CapDefaultDuration {
                max: MAX_ALERT_S,
            }));
        }
        let s = &self.publish.sender;
        if s.is_empty() || s.contains([' ', ',', '<', '&']) {
            return Err(Invalid::new(Reason::CapSender));
        }
        if let Some(t) = &self.map_tiles {
            if !(t.starts_with("https://") || t.starts_with("http://") || t.starts_with('/'))
                || !["{z}", "{x}", "{y}"].iter().all(|p| t.contains(p))
            {
                return Err(Invalid::new(Reason::CapMapTiles));
            }
        }
        Ok(())
    }

    /// The rules of the set `name`, if it is defined.
    pub fn rule_set(&self, name: &str) -> Option<&[Rule]> {
        self.rule_sets.get(name).map(Vec::as_slice)
    }

    /// Refuses a rule set name that is not defined (`feed` names who uses it).
    fn known_rule_set(&self, name: &str, feed: Option<&str>) -> Result<(), Invalid> {
        match self.rule_set(name) {
            Some(_) => Ok(()),
            None => Err(Invalid::new(Reason::UnknownRuleSet {
                name: name.to_string(),
                feed: feed.map(str::to_string),
            })),
        }
    }

    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.name.as_str() == name)
    }
}

/// Refuses `{name}` placeholders that are not in [`PLACEHOLDERS`], in
/// template `n` (for `event`).
fn check_placeholders(text: &str, n: usize, event: &str) -> Result<(), Invalid> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(Invalid::new(Reason::CapTemplateUnclosed {
                n,
                event: event.to_string(),
            }));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(Invalid::new(Reason::CapTemplatePlaceholder {
                n,
                event: event.to_string(),
                name: name.chars().take(40).collect(),
                known: PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", "),
            }));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// `text` with each `{name}` replaced by `value(name)`.
pub(crate) fn fill(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_everything_and_validate() {
        let c = CapConfig::default();
        c.validate().unwrap();
        assert_eq!(c.rule_set("default").unwrap()[0].action, Action::Hold);
        assert_eq!(c.risk_levels["Extreme"], 4);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |json: serde_json::Value| {
            let c: CapConfig = serde_json::from_value(json).unwrap();
            c.validate().unwrap_err().0.to_string()
        };
        let e = bad(serde_json::json!({"templates": [{"events": ["Bão"], "during": "{headlin}"}]}));
        assert!(e.contains("unknown placeholder {headlin}"), "{e}");
        let e =
            bad(serde_json::json!({"feeds": [{"name": "a", "url": "ftp://x", "interval_s": 60}]}));
        assert!(e.contains("http://"), "{e}");
        let e = bad(serde_json::json!({"post": {"rules": "strict"}}));
        assert!(e.contains("\"strict\""), "{e}");
        let e = bad(serde_json::json!({"risk_levels": {"Extreme": 9}}));
        assert!(e.contains("1 to 5"), "{e}");
    }

    #[test]
    fn fill_replaces_placeholders() {
        let s = fill("BÃO {event} – {area}", |n| n.to_uppercase());
        assert_eq!(s, "BÃO EVENT – AREA");
    }
}
