//! The alarm settings (`store::alarms` keeps them in the data directory):
//! thresholds by default, by group and by panel, who is told and how,
//! quiet hours and the digest. Values only; checked by [`AlarmConfig::check`].

use std::collections::BTreeMap;

use chrono::{Duration, NaiveTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::core::{Span, Thresholds};
use super::text::Lang;
use crate::domain::{Invalid, Panel};
use crate::i18n::Reason;

/// Ten minutes, the default offline threshold.
pub(crate) const DEFAULT_AFTER_S: u64 = 600;
/// Two minutes clear before an outage is over.
pub(crate) const DEFAULT_RECOVER_S: u64 = 120;
/// The longest threshold accepted: a week.
const MAX_S: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmConfig {
    /// Seconds a controller may be offline before the alarm (default 600).
    pub offline_after_s: u64,
    /// Seconds a frame may wait for its acknowledgement (default 600).
    pub unconfirmed_after_s: u64,
    /// Seconds a condition must stay clear before the outage is over and
    /// the recovery notice goes (default 120). A link that drops again
    /// sooner is the same incident.
    pub recover_after_s: u64,
    /// Overrides by panel group (the strictest of a panel's groups applies).
    pub groups: BTreeMap<String, Override>,
    /// Overrides by panel id (before its groups').
    pub panels: BTreeMap<String, Override>,
    pub webhook: Option<Webhook>,
    pub email: Option<Email>,
    /// Local times `HH:MM` (or `HH:MM:SS`); non-urgent notices are held
    /// while inside, until the end or the digest, whichever comes first.
    /// May wrap past midnight.
    pub quiet_hours: Option<QuietHours>,
    /// Local time of the daily digest of non-urgent alarms.
    pub digest_at: String,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            offline_after_s: DEFAULT_AFTER_S,
            unconfirmed_after_s: DEFAULT_AFTER_S,
            recover_after_s: DEFAULT_RECOVER_S,
            groups: BTreeMap::new(),
            panels: BTreeMap::new(),
            webhook: None,
            email: None,
            quiet_hours: None,
            digest_at: "07:00".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Override {
    pub offline_after_s: Option<u64>,
    pub unconfirmed_after_s: Option<u64>,
    /// Urgent alarms are delivered during quiet hours too.
    pub urgent: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` address that receives a POST per notice.
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Bangtin-Signature` header. Never
    /// shown by the API; omitted on a PUT: the stored one is kept.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// STARTTLS, required (the default): the message never goes in clear.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    /// Never shown by the API; omitted on a PUT: the stored one is kept.
    #[serde(default)]
    pub password: Option<String>,
    /// `Tên <dia-chi@vi.du>` or a bare address.
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub language: Lang,
    /// A PEM file of extra CA certificates to trust (a private mail
    /// server's own CA), besides the system's.
    #[serde(default)]
    pub ca_file: Option<String>,
}

fn default_port() -> u16 {
    587
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

/// `HH:MM` or `HH:MM:SS`.
pub(crate) fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

/// What one panel is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelLimits {
    pub thresholds: Thresholds,
    pub urgent: bool,
}

impl AlarmConfig {
    /// A sentence naming the first wrong value.
    pub fn check(&self) -> Result<(), Invalid> {
        let secs = |field: &str, v: u64| {
            if (1..=MAX_S).contains(&v) {
                Ok(())
            } else {
                Err(Invalid::new(Reason::AlarmSeconds {
                    field: field.to_string(),
                    max: MAX_S,
                    value: v,
                }))
            }
        };
        secs("offline_after_s", self.offline_after_s)?;
        secs("unconfirmed_after_s", self.unconfirmed_after_s)?;
        secs("recover_after_s", self.recover_after_s)?;
        for (scope, map) in [("groups", &self.groups), ("panels", &self.panels)] {
            for (name, o) in map {
                for (field, v) in [
                    ("offline_after_s", o.offline_after_s),
                    ("unconfirmed_after_s", o.unconfirmed_after_s),
                ] {
                    if let Some(v) = v {
                        secs(&format!("{scope}.{name}.{field}"), v)?;
                    }
                }
            }
        }
        if let Some(w) = &self.webhook {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(Invalid::new(Reason::AlarmWebhookUrl {
                    shown: w.url.chars().take(200).collect(),
                }));
            }
        }
        if let Some(e) = &self.email {
            if e.host.trim().is_empty() {
                return Err(Invalid::new(Reason::AlarmEmailHost));
            }
            if e.to.is_empty() {
                return Err(Invalid::new(Reason::AlarmEmailTo));
            }
            if let Some(a) = e.to.iter().chain([&e.from]).find(|a| !a.contains('@')) {
                return Err(Invalid::new(Reason::NotAnEmail {
                    shown: a.chars().take(120).collect(),
                }));
            }
        }
        let times = self
            .quiet_hours
            .iter()
            .flat_map(|q| [("quiet_hours.start", &q.start), ("quiet_hours.end", &q.end)])
            .chain([("digest_at", &self.digest_at)]);
        for (field, v) in times {
            if parse_time(v).is_none() {
                return Err(Invalid::new(Reason::LocalTime {
                    field: field.to_string(),
                    shown: v.chars().take(40).collect(),
                }));
            }
        }
        Ok(())
    }

    pub fn quiet(&self) -> Option<Span> {
        let q = self.quiet_hours.as_ref()?;
        Some(Span {
            start: parse_time(&q.start)?,
            end: parse_time(&q.end)?,
        })
    }

    pub fn digest_time(&self) -> NaiveTime {
        parse_time(&self.digest_at).unwrap_or(NaiveTime::MIN)
    }

    /// The panel's own override, else the strictest of its groups', else
    /// the defaults. Urgent if the panel or any of its groups says so.
    pub fn limits_for(&self, panel: &Panel) -> PanelLimits {
        let own = self.panels.get(panel.id.as_str());
        let groups: Vec<&Override> = panel
            .groups
            .iter()
            .filter_map(|g| self.groups.get(g))
            .collect();
        let pick = |f: fn(&Override) -> Option<u64>, default: u64| {
            own.and_then(f)
                .or_else(|| groups.iter().filter_map(|o| f(o)).min())
                .unwrap_or(default)
        };
        let urgent = own
            .and_then(|o| o.urgent)
            .unwrap_or_else(|| groups.iter().any(|o| o.urgent == Some(true)));
        PanelLimits {
            thresholds: Thresholds {
                offline_after: Duration::seconds(
                    pick(|o| o.offline_after_s, self.offline_after_s) as i64
                ),
                unconfirmed_after: Duration::seconds(pick(
                    |o| o.unconfirmed_after_s,
                    self.unconfirmed_after_s,
                ) as i64),
                recover_after: Duration::seconds(self.recover_after_s as i64),
            },
            urgent,
        }
    }

    /// The shortest `unconfirmed_after` any panel has (the default, or a
    /// panel's or group's own): a frame younger than this is not yet late
    /// anywhere.
    pub fn shortest_unconfirmed_after(&self) -> Duration {
        let own = self.panels.values().chain(self.groups.values());
        let s = own
            .filter_map(|o| o.unconfirmed_after_s)
            .fold(self.unconfirmed_after_s, u64::min);
        Duration::seconds(s as i64)
    }

    /// The same settings with the secrets taken out (for the API).
    pub fn without_secrets(&self) -> AlarmConfig {
        let mut c = self.clone();
        if let Some(w) = &mut c.webhook {
            w.secret = None;
        }
        if let Some(e) = &mut c.email {
            e.password = None;
        }
        c
    }

    /// `self` as sent by a PUT, with the secrets it left out taken from
    /// `stored` (an empty string clears one).
    pub fn keeping_secrets(mut self, stored: &AlarmConfig) -> AlarmConfig {
        if let (Some(w), Some(old)) = (&mut self.webhook, &stored.webhook) {
            if w.secret.is_none() {
                w.secret = old.secret.clone();
            }
        }
        if let (Some(e), Some(old)) = (&mut self.email, &stored.email) {
            if e.password.is_none() {
                e.password = old.password.clone();
            }
        }
        for s in [
            self.webhook.as_mut().map(|w| &mut w.secret),
            self.email.as_mut().map(|e| &mut e.password),
        ]
        .into_iter()
        .flatten()
        {
            if s.as_deref() == Some("") {
                *s = None;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(id: &str, groups: &[&str]) -> Panel {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "width": 64, "height": 16, "format": "mono1",
            "groups": groups,
        }))
        .unwrap()
    }

    #[test]
    fn a_panel_override_beats_its_groups_and_the_strictest_group_wins() {
        let c: AlarmConfig = serde_json::from_value(serde_json::json!({
            "groups": {
                "cho": {"offline_after_s": 300},
                "xa": {"offline_after_s": 900, "urgent": true},
            },
            "panels": {"p2": {"offline_after_s": 60, "urgent": false}},
        }))
        .unwrap();
        c.check().unwrap();
        let p1 = c.limits_for(&panel("p1", &["cho", "xa"]));
        assert_eq!(p1.thresholds.offline_after, Duration::seconds(300));
        assert_eq!(p1.thresholds.unconfirmed_after, Duration::seconds(600));
        assert!(p1.urgent);
        let p2 = c.limits_for(&panel("p2", &["xa"]));
        assert_eq!(p2.thresholds.offline_after, Duration::seconds(60));
        assert!(!p2.urgent);
        let p3 = c.limits_for(&panel("p3", &[]));
        assert_eq!(p3.thresholds.offline_after, Duration::seconds(600));
    }

    #[test]
    fn the_shortest_wait_for_an_ack_is_below_every_panels_own() {
        let c: AlarmConfig = serde_json::from_value(serde_json::json!({
            "groups": {"cho": {"unconfirmed_after_s": 240}},
            "panels": {"p2": {"unconfirmed_after_s": 90}, "p3": {"offline_after_s": 60}},
        }))
        .unwrap();
        let shortest = c.shortest_unconfirmed_after();
        assert_eq!(shortest, Duration::seconds(90));
        for p in [
            panel("p1", &["cho"]),
            panel("p2", &["cho"]),
            panel("p4", &[]),
        ] {
            assert!(c.limits_for(&p).thresholds.unconfirmed_after >= shortest);
        }
        assert_eq!(
            AlarmConfig::default().shortest_unconfirmed_after(),
            Duration::seconds(DEFAULT_AFTER_S as i64)
        );
    }

    #[test]
    fn wrong_values_are_named() {
        let mut c = AlarmConfig {
            offline_after_s: 0,
            ..Default::default()
        };
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("offline_after_s"));
        c.offline_after_s = 60;
        c.quiet_hours = Some(QuietHours {
            start: "25:00".into(),
            end: "06:00".into(),
        });
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("quiet_hours.start"));
    }

    #[test]
    fn secrets_are_never_shown_and_kept_when_left_out() {
        let stored = AlarmConfig {
            webhook: Some(Webhook {
                url: "http://127.0.0.1/h".into(),
                secret: Some("k".into()),
            }),
            ..Default::default()
        };
        let shown = stored.without_secrets();
        assert_eq!(shown.webhook.as_ref().unwrap().secret, None);
        assert_eq!(shown.clone().keeping_secrets(&stored), stored);
        let mut cleared = shown;
        cleared.webhook.as_mut().unwrap().secret = Some(String::new());
        assert_eq!(
            cleared.keeping_secrets(&stored).webhook.unwrap().secret,
            None
        );
    }
}
