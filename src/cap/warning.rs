//! What bangtin does with a CAP document: the warning record, and the
//! decision taken when a document arrives ([`decide`]) or when an operator
//! deploys or dismisses a held warning ([`Warning::deploy`],
//! [`Warning::dismiss`]). Pure: the panels, the earlier warnings and the
//! time are arguments; the store applies what comes out, under its write
//! lock, and turns each [`Phase`] into an ordinary alert.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::area::panel_in_area;
use super::config::{fill, Action, CapConfig, Rule};
use super::doc::{Area, Document, Info, MsgType};
use super::CapError;
use crate::domain::{Id, Panel, Refusal, MAX_ALERT_CHARS, MAX_ALERT_S};
use crate::i18n::{CapNote, Reason};

/// Where a warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for an operator: deploy or dismiss.
    Held,
    /// On the signs as alerts (until they end).
    Deployed,
    /// An operator chose not to deploy it.
    Dismissed,
    /// Kept for the record only (rules, status, no panel, a Cancel itself).
    Logged,
    /// Ended by the sender's Cancel.
    Cancelled,
    /// Superseded by the sender's Update.
    Replaced,
    /// Arrived after its `expires`, or expired while held.
    Expired,
}

/// One stretch of wording on the signs: before onset, during, after expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phase {
    /// `before`, `during` or `after`.
    pub wording: String,
    pub text: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Where the words on the signs came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextSource {
    /// The document's Vietnamese `<info>`.
    Document,
    /// The template for the event (its first event name).
    Template(String),
    /// Typed by the operator who deployed it.
    Operator,
    /// None yet: no Vietnamese `<info>` and no template for the event.
    None,
}

/// A CAP document as bangtin keeps it (`state/cap/warnings/{id}.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// From the sender and identifier ([`key`]).
    pub id: Id,
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<Utc>,
    pub msg_type: MsgType,
    pub status: String,
    pub received_at: DateTime<Utc>,
    /// The feed's name, or `post:TOKEN-NAME`.
    pub source: String,
    /// SHA-256 of the document as received (its archived copy).
    pub document: String,
    /// The `<info>` used (Vietnamese when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// Every area of the document (drawn on the map).
    #[serde(default)]
    pub areas: Vec<Area>,
    /// Natural-disaster risk level (1–5), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<u8>,
    pub panels: Vec<Id>,
    pub text_source: TextSource,
    pub phases: Vec<Phase>,
    pub action: Action,
    /// The rule that decided (its name, or its number in the set).
    pub rule: String,
    pub state: State,
    #[serde(default)]
    pub alerts: Vec<Id>,
    /// Earlier warnings this Update or Cancel refers to (known ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why (no panel in the area, no Vietnamese text, …): typed, so that
    /// each reader gets the sentences in their language.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "CapNote::read_list"
    )]
    pub notes: Vec<CapNote>,
}

impl Warning {
    /// When the warning stops applying.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        self.info.as_ref().and_then(|i| i.expires)
    }

    /// Whether a held warning can no longer be deployed.
    pub fn lapsed(&self, now: DateTime<Utc>) -> bool {
        self.expires().is_some_and(|e| e <= now)
            || (!self.phases.is_empty() && self.phases.iter().all(|p| p.until <= now))
    }

    /// An operator's click on a held warning: its phases from `now`, with
    /// `text` (if given) as the wording during the warning. Refused unless
    /// the warning is held and not lapsed, and has text and panels.
    pub fn deploy(
        &mut self,
        by: &str,
        text: Option<String>,
        now: DateTime<Utc>,
        default_duration_s: u32,
    ) -> Result<(), Refusal> {
        self.check_held(now)?;
        if self.panels.is_empty() {
            return Err(refuse(Reason::CapNothingToDeploy));
        }
        if let Some(t) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
            let until = self
                .expires()
                .unwrap_or(now + Duration::seconds(i64::from(default_duration_s)));
            self.phases = vec![Phase {
                wording: "during".into(),
                text: clip(&t),
                from: now,
                until: until.min(now + Duration::seconds(i64::from(MAX_ALERT_S))),
            }];
            self.text_source = TextSource::Operator;
        }
        if self.phases.is_empty() {
            return Err(refuse(Reason::CapNoText));
        }
        self.phases.retain(|p| p.until > now);
        for p in &mut self.phases {
            p.from = p.from.max(now);
        }
        self.state = State::Deployed;
        self.decided_by = Some(by.to_string());
        self.decided_at = Some(now);
        Ok(())
    }

    /// An operator's click: do not deploy this held warning.
    pub fn dismiss(&mut self, by: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
        if self.state != State::Held {
            return Err(refuse(Reason::CapNotHeld {
                state: state_name(self.state).into(),
            }));
        }
        self.state = State::Dismissed;
        self.decided_by = Some(by.to_string());
        self.decided_at = Some(now);
        Ok(())
    }

    /// Refused unless the warning is held and not past its expiry (the
    /// store answers this one as a conflict: someone else was quicker, or
    /// time ran out).
    pub fn check_held(&self, now: DateTime<Utc>) -> Result<(), Refusal> {
        if self.state != State::Held {
            return Err(refuse(Reason::CapNotHeld {
                state: state_name(self.state).into(),
            }));
        }
        if self.lapsed(now) {
            return Err(refuse(Reason::CapLapsed));
        }
        Ok(())
    }
}

fn refuse(why: Reason) -> Refusal {
    Refusal::Invalid(crate::domain::Invalid::new(why))
}

pub(crate) fn state_name(s: State) -> &'static str {
    match s {
        State::Held => "held",
        State::Deployed => "deployed",
        State::Dismissed => "dismissed",
        State::Logged => "logged",
        State::Cancelled => "cancelled",
        State::Replaced => "replaced",
        State::Expired => "expired",
    }
}

/// The record id of the message `identifier` from `sender`: CAP makes the
/// pair unique, so a repeated document finds its record.
pub(crate) fn key(sender: &str, identifier: &str) -> Id {
    let h = Sha256::digest(format!("{sender}\n{identifier}").as_bytes());
    Id::parse(&format!("cap-{}", &hex::encode(h)[..20])).expect("a valid id")
}

/// Where a document came from and how it is to be judged.
pub(crate) struct Intake<'a> {
    pub config: &'a CapConfig,
    /// The rule set's name.
    pub rules: &'a str,
    /// Accepted senders; empty accepts any.
    pub senders: &'a [String],
    pub source: &'a str,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// What a document changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// The sender sent this identifier before: nothing changes.
    Duplicate(Id),
    /// A new record; `end` are earlier warnings it ends, with their new
    /// state (their alerts are cancelled).
    Record {
        warning: Box<Warning>,
        end: Vec<(Id, State)>,
    },
}

/// Decides what a parsed document does, given the panels and the earlier
/// warnings (`known`).
pub(crate) fn decide<'p>(
    doc: &Document,
    document_sha: &str,
    intake: &Intake<'_>,
    panels: impl Iterator<Item = &'p Panel>,
    known: &dyn Fn(&Id) -> Option<Warning>,
) -> Result<Decision, CapError> {
    let now = intake.now;
    let id = key(&doc.sender, &doc.identifier);
    if known(&id).is_some() {
        return Ok(Decision::Duplicate(id));
    }
    if !intake.senders.is_empty() && !intake.senders.iter().any(|s| s == &doc.sender) {
        return Err(CapError::Sender(doc.sender.clone()));
    }
    let config = intake.config;
    let info = doc
        .infos
        .iter()
        .find(|i| i.is_vietnamese())
        .or_else(|| doc.infos.first())
        .cloned();
    let mut areas: Vec<Area> = info.as_ref().map(|i| i.areas.clone()).unwrap_or_default();
    if areas.is_empty() {
        areas = doc.infos.iter().flat_map(|i| i.areas.clone()).collect();
    }
    let mut notes = Vec::new();
    let mut matched: Vec<Id> = panels
        .filter(|p| {
            areas
                .iter()
                .any(|a| panel_in_area(p, a, &config.unit_code_names))
        })
        .map(|p| p.id.clone())
        .collect();
    matched.sort();
    let risk = info.as_ref().and_then(|i| risk_level(config, i));
    let (rule, action) = match &info {
        Some(i) => rule_for(config.rule_set(intake.rules).unwrap_or_default(), i),
        None => ("no <info>".to_string(), Action::Log),
    };
    let references = own_references(doc, known, &mut notes);
    let (text_source, phases) = match &info {
        Some(i) => wording(config, i, doc, risk, intake.tz, now),
        None => (TextSource::None, vec![]),
    };
    let expired = info
        .as_ref()
        .and_then(|i| i.expires)
        .is_some_and(|e| e <= now);
    let (action, state) = settle(
        doc,
        action,
        Outlook {
            expired,
            no_panel: matched.is_empty(),
            no_text: phases.is_empty(),
        },
        &mut notes,
    );
    let end = ends(doc, state, &references, known);
    let warning = Warning {
        id,
        sender: doc.sender.clone(),
        identifier: doc.identifier.clone(),
        sent: doc.sent,
        msg_type: doc.msg_type,
        status: doc.status.clone(),
        received_at: now,
        source: intake.source.to_string(),
        document: document_sha.to_string(),
        info,
        areas,
        risk,
        panels: matched,
        text_source,
        phases,
        action,
        rule,
        state,
        alerts: Vec::new(),
        references,
        replaced_by: None,
        decided_by: (state != State::Held).then(|| "rules".to_string()),
        decided_at: (state != State::Held).then_some(now),
        notes,
    };
    Ok(Decision::Record {
        warning: Box::new(warning),
        end,
    })
}

/// The earlier warnings a document names that it may change: only the
/// sender's own, and only those received. Each one skipped is noted.
fn own_references(
    doc: &Document,
    known: &dyn Fn(&Id) -> Option<Warning>,
    notes: &mut Vec<CapNote>,
) -> Vec<Id> {
    let mut references = Vec::new();
    for r in &doc.references {
        if r.sender != doc.sender {
            notes.push(CapNote::ForeignReference {
                identifier: r.identifier.clone(),
                sender: r.sender.clone(),
            });
            continue;
        }
        let rid = key(&r.sender, &r.identifier);
        if known(&rid).is_some() {
            references.push(rid);
        } else {
            notes.push(CapNote::UnknownReference {
                identifier: r.identifier.clone(),
            });
        }
    }
    references
}

/// What, besides its rule, keeps a warning off the signs.
struct Outlook {
    /// It had expired when it arrived.
    expired: bool,
    /// No panel stands in its area.
    no_panel: bool,
    /// No Vietnamese wording could be made.
    no_text: bool,
}

/// The action and state a document ends in: its rule's, unless its
/// status, scope, type or [`Outlook`] says otherwise (noted).
fn settle(
    doc: &Document,
    action: Action,
    outlook: Outlook,
    notes: &mut Vec<CapNote>,
) -> (Action, State) {
    let state = match action {
        Action::Auto => State::Deployed,
        Action::Hold => State::Held,
        Action::Log => State::Logged,
    };
    if doc.status != "Actual" {
        notes.push(CapNote::NotActual {
            status: doc.status.clone(),
        });
        (Action::Log, State::Logged)
    } else if doc.scope != "Public" && doc.msg_type != MsgType::Cancel {
        notes.push(CapNote::NotPublic {
            scope: doc.scope.clone(),
        });
        (Action::Log, State::Logged)
    } else if matches!(
        doc.msg_type,
        MsgType::Cancel | MsgType::Ack | MsgType::Error
    ) {
        (Action::Log, State::Logged)
    } else if outlook.expired {
        notes.push(CapNote::Expired);
        (action, State::Expired)
    } else if outlook.no_panel && state != State::Logged {
        notes.push(CapNote::NoPanel);
        (action, State::Logged)
    } else if outlook.no_text && state == State::Deployed {
        notes.push(CapNote::NoText);
        (action, State::Held)
    } else {
        (action, state)
    }
}

/// The earlier warnings a document ends, with their new state. A held
/// Update leaves the live warning up until an operator deploys the
/// update; held earlier warnings are stale either way.
fn ends(
    doc: &Document,
    state: State,
    references: &[Id],
    known: &dyn Fn(&Id) -> Option<Warning>,
) -> Vec<(Id, State)> {
    let end_state = match doc.msg_type {
        MsgType::Cancel if doc.status == "Actual" => Some(State::Cancelled),
        MsgType::Update if doc.status == "Actual" && state != State::Held => Some(State::Replaced),
        _ => None,
    };
    if let Some(s) = end_state {
        references.iter().map(|r| (r.clone(), s)).collect()
    } else if doc.msg_type == MsgType::Update {
        references
            .iter()
            .filter(|r| known(r).is_some_and(|w| w.state == State::Held))
            .map(|r| (r.clone(), State::Replaced))
            .collect()
    } else {
        Vec::new()
    }
}

/// The first rule of the set that matches, and its action; a warning no
/// rule matches is held.
fn rule_for(rules: &[Rule], i: &Info) -> (String, Action) {
    let any = |list: &[String], v: &str| {
        list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v))
    };
    for (n, r) in rules.iter().enumerate() {
        let ok = any(&r.event, &i.event)
            && (r.category.is_empty() || i.categories.iter().any(|c| any(&r.category, c)))
            && any(&r.severity, &i.severity)
            && any(&r.urgency, &i.urgency)
            && any(&r.certainty, &i.certainty);
        if ok {
            return (
                r.name.clone().unwrap_or_else(|| format!("rule {}", n + 1)),
                r.action,
            );
        }
    }
    ("no rule matched".into(), Action::Hold)
}

/// The risk level: the document's own parameter, else the severity map.
pub(crate) fn risk_level(config: &CapConfig, i: &Info) -> Option<u8> {
    let own = config
        .risk_parameter
        .as_deref()
        .and_then(|p| i.parameter(p))
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|l| (1..=5).contains(l));
    own.or_else(|| config.risk_levels.get(&i.severity).copied())
}

/// The text on the signs and when each wording shows.
fn wording(
    config: &CapConfig,
    i: &Info,
    doc: &Document,
    risk: Option<u8>,
    tz: Tz,
    now: DateTime<Utc>,
) -> (TextSource, Vec<Phase>) {
    let cap = Duration::seconds(i64::from(MAX_ALERT_S));
    let expires = i
        .expires
        .unwrap_or(now + Duration::seconds(i64::from(config.default_duration_s)));
    let phase = |wording: &str, text: String, from: DateTime<Utc>, until: DateTime<Utc>| Phase {
        wording: wording.into(),
        text: clip(&text),
        from,
        until: until.min(from + cap),
    };
    if i.is_vietnamese() {
        let head = i.headline.clone().unwrap_or_else(|| i.event.clone());
        let text = match i
            .instruction
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(ins) => format!("{}. {}", head.trim().trim_end_matches('.'), ins),
            None => head,
        };
        return (
            TextSource::Document,
            vec![phase("during", text, now, expires)],
        );
    }
    let Some(t) = config
        .templates
        .iter()
        .find(|t| t.events.iter().any(|e| e.eq_ignore_ascii_case(&i.event)))
    else {
        return (TextSource::None, vec![]);
    };
    let fmt = |d: Option<DateTime<Utc>>| {
        d.map(|d| d.with_timezone(&tz).format("%H:%M %d/%m").to_string())
            .unwrap_or_default()
    };
    let value = |name: &str| -> String {
        match name {
            "headline" => i.headline.clone().unwrap_or_default(),
            "event" => i.event.clone(),
            "area" => i.area_desc(),
            "onset" => fmt(i.onset.or(i.effective).or(Some(doc.sent))),
            "expires" => fmt(i.expires),
            "risk" => risk.map(|r| r.to_string()).unwrap_or_default(),
            "severity" => i.severity.clone(),
            "sender" => i.sender_name.clone().unwrap_or_else(|| doc.sender.clone()),
            "instruction" => i.instruction.clone().unwrap_or_default(),
            "description" => i.description.clone().unwrap_or_default(),
            _ => String::new(),
        }
    };
    let mut phases = Vec::new();
    let mut start = now;
    if let (Some(before), Some(onset)) = (&t.before, i.onset) {
        if onset > now {
            phases.push(phase("before", fill(before, value), now, onset));
            start = onset;
        }
    }
    if start < expires {
        phases.push(phase("during", fill(&t.during, value), start, expires));
    }
    if let Some(after) = &t.after {
        phases.push(phase(
            "after",
            fill(after, value),
            expires,
            expires + Duration::seconds(i64::from(t.after_s)),
        ));
    }
    phases.retain(|p| p.until > p.from);
    (TextSource::Template(t.events[0].clone()), phases)
}

/// Text cut to what an alert may carry, at a word where it can.
fn clip(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= MAX_ALERT_CHARS {
        return s;
    }
    let cut: String = s.chars().take(MAX_ALERT_CHARS - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(sp) if sp > cut.len() / 2 => cut[..sp].to_string(),
        _ => cut,
    };
    format!("{cut}…")
}
