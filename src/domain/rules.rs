//! The workflow's rules as methods of the vocabulary: what creating,
//! editing and approving a message, saving a campaign and sending an alert
//! must satisfy. The store calls these inside its write lock on every
//! write, so no path can skip them; the API only maps a [`Refusal`] to a
//! status and its sentence.
//!
//! Pure like the rest of `domain`: the time is an argument (`now`), and the
//! rest of the data is asked through [`Known`].

use chrono::{DateTime, Duration, Utc};

use super::{
    Alert, AlertBody, Campaign, Id, Invalid, Message, MessageBody, MessageStatus, Target,
    MAX_ALERT_S,
};
use crate::i18n::{Reason, Text};

/// Why a change was refused. Each variant's text is a sentence a person
/// can act on; the API picks the status from the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A value is malformed or out of range.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Well-formed, but names a panel, group, message or image that does
    /// not exist.
    #[error("{0}")]
    UnknownRef(Text),
    /// The four-eyes rule: the last editor may not approve.
    #[error("four-eyes rule: {by:?} last edited this message, so someone else must approve it")]
    FourEyes {
        /// The approver, who is also the last editor.
        by: String,
    },
    /// The approver reviewed another version than the one stored now.
    #[error("this message changed since you read it: you reviewed version {read} and it is now version {current}; read it again and approve what it says now")]
    StaleVersion {
        /// The version the approver reviewed.
        read: u64,
        /// The version stored now.
        current: u64,
    },
    /// Only a message waiting for approval can be rejected.
    #[error("message {id:?} is approved, not waiting for approval")]
    NotWaiting {
        /// The message.
        id: String,
    },
}

/// What a rule needs to know about the rest of the data: whether the
/// things a record names exist. The store answers from its snapshot.
pub trait Known {
    /// Whether a panel has this id.
    fn has_panel(&self, id: &Id) -> bool;
    /// Whether some panel is in this group.
    fn has_group(&self, group: &str) -> bool;
    /// Whether a message has this id.
    fn has_message(&self, id: &Id) -> bool;
    /// Whether an uploaded image has this asset id.
    fn has_asset(&self, id: &str) -> bool;
}

/// How approvals work on this server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Whether the last editor may approve their own edit (off by default:
    /// the four-eyes rule).
    pub allow_self_approval: bool,
}

impl MessageBody {
    /// Values and references: [`MessageBody::validate`], and the image must
    /// be an uploaded asset.
    pub fn check(&self, known: &impl Known) -> Result<(), Refusal> {
        self.validate()?;
        match &self.image {
            Some(a) if !known.has_asset(a) => Err(Refusal::UnknownRef(
                Reason::UnknownImage { id: a.clone() }.into(),
            )),
            _ => Ok(()),
        }
    }
}

impl Message {
    /// A new message: a draft at version 1, written by `by`.
    pub fn new(
        id: Id,
        body: MessageBody,
        by: &str,
        now: DateTime<Utc>,
        known: &impl Known,
    ) -> Result<Message, Refusal> {
        body.check(known)?;
        Ok(Message {
            id,
            body,
            status: MessageStatus::Draft,
            version: 1,
            created_by: by.to_string(),
            created_at: now,
            updated_by: by.to_string(),
            updated_at: now,
            approved_by: None,
            approved_at: None,
            last_approved: None,
            rejection: None,
        })
    }

    /// Replaces the body. Any edit is a new version that needs a fresh
    /// approval: the message goes back to draft. A refused edit changes
    /// nothing.
    pub fn edit(
        &mut self,
        body: MessageBody,
        by: &str,
        now: DateTime<Utc>,
        known: &impl Known,
    ) -> Result<(), Refusal> {
        body.check(known)?;
        self.body = body;
        self.version += 1;
        self.status = MessageStatus::Draft;
        self.approved_by = None;
        self.approved_at = None;
        self.rejection = None;
        self.updated_by = by.to_string();
        self.updated_at = now;
        Ok(())
    }

    /// Approves the message for panels. `read` is the version the approver
    /// reviewed, when they say: another version is refused, so nobody
    /// approves text they have not seen. The last editor may not approve
    /// (unless the policy allows it). Approving an approved message changes
    /// nothing. A refusal changes nothing.
    /// The four-eyes rule: someone other than its last editor approves,
    /// unless the policy allows approving one's own edit.
    pub fn may_be_approved_by(&self, by: &str, policy: Policy) -> bool {
        self.updated_by != by || policy.allow_self_approval
    }

    /// Approves the message as `by`, at `now`: refused when `read` (the
    /// version reviewed, if the approver named one) is not the version
    /// stored, or by the four-eyes rule under `policy`. Approving an
    /// approved message changes nothing. A refusal changes nothing.
    pub fn approve(
        &mut self,
        by: &str,
        read: Option<u64>,
        now: DateTime<Utc>,
        policy: Policy,
    ) -> Result<(), Refusal> {
        self.check_read(read)?;
        if self.status == MessageStatus::Approved {
            return Ok(());
        }
        if !self.may_be_approved_by(by, policy) {
            return Err(Refusal::FourEyes { by: by.to_string() });
        }
        self.status = MessageStatus::Approved;
        self.approved_by = Some(by.to_string());
        self.approved_at = Some(now);
        self.last_approved = Some(self.version);
        self.rejection = None;
        Ok(())
    }

    /// Sends the message back to its author with `comment` (see
    /// [`super::reject_comment`]). Only a draft can be rejected; `read`
    /// is the version the approver reviewed, as for approving. The message
    /// stays a draft, out of the approval queue, until it is edited.
    /// Rejecting again replaces the comment. A refusal changes nothing.
    pub fn reject(
        &mut self,
        by: &str,
        read: Option<u64>,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check_read(read)?;
        if self.status == MessageStatus::Approved {
            return Err(Refusal::NotWaiting {
                id: self.id.to_string(),
            });
        }
        let comment = super::reject_comment(comment)?;
        self.rejection = Some(super::Rejection {
            by: by.to_string(),
            at: now,
            version: self.version,
            comment,
        });
        Ok(())
    }

    /// Refuses when the approver says they read another version than the
    /// one stored now.
    fn check_read(&self, read: Option<u64>) -> Result<(), Refusal> {
        match read.filter(|r| *r != self.version) {
            Some(read) => Err(Refusal::StaleVersion {
                read,
                current: self.version,
            }),
            None => Ok(()),
        }
    }

    /// Whether the message waits for an approver: a draft not sent back.
    pub fn waiting(&self) -> bool {
        self.status == MessageStatus::Draft && self.rejection.is_none()
    }

    /// Whether the message may reach a panel: only approved messages do.
    pub fn playable(&self) -> bool {
        self.status == MessageStatus::Approved
    }
}

/// Most targets a campaign or an alert may list (groups name more).
pub(super) const MAX_TARGETS: usize = 1000;

/// Every target must match something that exists now, once, and there
/// are at most `MAX_TARGETS`.
pub fn check_targets(targets: &[Target], known: &impl Known) -> Result<(), Refusal> {
    check_targets_within(targets, known, MAX_TARGETS)
}

/// [`check_targets`] with at most `max` targets.
fn check_targets_within(targets: &[Target], known: &impl Known, max: usize) -> Result<(), Refusal> {
    if targets.is_empty() {
        return Err(Invalid::new(Reason::NoTargets).into());
    }
    if targets.len() > max {
        return Err(Invalid::new(Reason::TooManyTargets {
            n: targets.len(),
            max,
        })
        .into());
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(t) = targets.iter().find(|t| !seen.insert(*t)) {
        return Err(Invalid::new(Reason::TargetTwice {
            target: t.to_string(),
        })
        .into());
    }
    for t in targets {
        let exists = match t {
            Target::All => true,
            Target::Panel(id) => known.has_panel(id),
            Target::Group(g) => known.has_group(g),
        };
        if !exists {
            return Err(Refusal::UnknownRef(
                Reason::UnknownTarget {
                    target: t.to_string(),
                }
                .into(),
            ));
        }
    }
    Ok(())
}

impl Campaign {
    /// References: every message in the playlist and every target exists.
    /// (Its values, cron and time zone included, are the schedule
    /// compiler's to check: `schedule::compile`.)
    pub fn check_refs(&self, known: &impl Known) -> Result<(), Refusal> {
        if let Some(m) = self
            .body
            .messages
            .iter()
            .find(|m| !known.has_message(&m.id))
        {
            return Err(Refusal::UnknownRef(
                Reason::UnknownCampaignMessage {
                    id: m.id.to_string(),
                }
                .into(),
            ));
        }
        check_targets(&self.body.targets, known)
    }
}

/// Longest alert text: an alert must be read at a glance.
pub const MAX_ALERT_CHARS: usize = 500;

impl AlertBody {
    /// Text read at a glance, a bounded duration, targets that exist.
    pub fn check(&self, known: &impl Known) -> Result<(), Refusal> {
        self.check_within(known, MAX_TARGETS)
    }

    /// [`AlertBody::check`] with at most `max_targets` targets.
    fn check_within(&self, known: &impl Known, max_targets: usize) -> Result<(), Refusal> {
        let n = self.text.trim().chars().count();
        if n == 0 || n > MAX_ALERT_CHARS {
            return Err(Invalid::new(Reason::AlertText {
                max: MAX_ALERT_CHARS,
            })
            .into());
        }
        if self.duration_s == 0 || self.duration_s > MAX_ALERT_S {
            return Err(Invalid::new(Reason::AlertDuration { max: MAX_ALERT_S }).into());
        }
        check_targets_within(&self.targets, known, max_targets)
    }
}

impl Alert {
    /// A new alert, on from `now` for its duration.
    pub fn new(
        id: Id,
        body: AlertBody,
        by: &str,
        now: DateTime<Utc>,
        known: &impl Known,
    ) -> Result<Alert, Refusal> {
        body.check(known)?;
        Ok(Alert::checked(id, body, by, now))
    }

    /// An alert the server makes from an official warning. Its targets
    /// are the districts and panels the warning's area holds, as many as
    /// there are: the limit on listed targets bounds what a person sends
    /// through the API, not the panels a storm covers. Everything else is
    /// checked as for [`Alert::new`].
    pub fn for_warning(
        id: Id,
        body: AlertBody,
        by: &str,
        now: DateTime<Utc>,
        known: &impl Known,
    ) -> Result<Alert, Refusal> {
        body.check_within(known, usize::MAX)?;
        Ok(Alert::checked(id, body, by, now))
    }

    fn checked(id: Id, body: AlertBody, by: &str, now: DateTime<Utc>) -> Alert {
        Alert {
            id,
            ends_at: now + Duration::seconds(i64::from(body.duration_s)),
            body,
            created_by: by.to_string(),
            created_at: now,
            cancelled_at: None,
        }
    }

    /// Cancels the alert (the first cancellation's time is kept).
    pub fn cancel(&mut self, now: DateTime<Utc>) {
        self.cancelled_at.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PlaylistItem, Style};

    /// A world with panel p1 in group d1, message m1 and one image.
    struct World;
    const IMAGE: &str = "1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714";

    impl Known for World {
        fn has_panel(&self, id: &Id) -> bool {
            id.as_str() == "p1"
        }
        fn has_group(&self, group: &str) -> bool {
            group == "d1"
        }
        fn has_message(&self, id: &Id) -> bool {
            id.as_str() == "m1"
        }
        fn has_asset(&self, id: &str) -> bool {
            id == IMAGE
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    fn body(text: &str) -> MessageBody {
        MessageBody {
            title: "Tiêm chủng".into(),
            text: Some(text.into()),
            image: None,
            style: Style::default(),
            valid_from: None,
            valid_until: None,
        }
    }

    fn draft(by: &str) -> Message {
        Message::new(Id::parse("m1").unwrap(), body("Thứ hai"), by, t(0), &World).unwrap()
    }

    const FOUR_EYES: Policy = Policy {
        allow_self_approval: false,
    };

    /// A person lists at most MAX_TARGETS targets; an alert the server
    /// makes from an official warning lists as many as its area holds,
    /// each still one that exists, once.
    #[test]
    fn a_warnings_alert_may_list_more_targets_than_a_person() {
        struct Province;
        impl Known for Province {
            fn has_panel(&self, id: &Id) -> bool {
                id.as_str().starts_with('p')
            }
            fn has_group(&self, _: &str) -> bool {
                false
            }
            fn has_message(&self, _: &Id) -> bool {
                false
            }
            fn has_asset(&self, _: &str) -> bool {
                false
            }
        }
        let many = AlertBody {
            text: "Bão số 5".into(),
            targets: (0..=MAX_TARGETS)
                .map(|i| Target::Panel(Id::parse(&format!("p{i}")).unwrap()))
                .collect(),
            duration_s: 600,
        };
        let id = || Id::parse("a1").unwrap();
        assert!(matches!(
            Alert::new(id(), many.clone(), "lan", t(0), &Province),
            Err(Refusal::Invalid(_))
        ));
        let a = Alert::for_warning(id(), many.clone(), "cap:nchmf", t(0), &Province).unwrap();
        assert_eq!(a.body.targets.len(), MAX_TARGETS + 1);
        let mut twice = many;
        twice.targets.push(Target::Panel(Id::parse("p0").unwrap()));
        assert!(Alert::for_warning(id(), twice, "cap:nchmf", t(0), &Province).is_err());
    }

    #[test]
    fn a_new_message_is_a_draft_and_not_playable() {
        let m = draft("lan");
        assert_eq!((m.status, m.version), (MessageStatus::Draft, 1));
        assert_eq!(
            (m.created_by.as_str(), m.updated_by.as_str()),
            ("lan", "lan")
        );
        assert!(!m.playable(), "nothing reaches a panel unless approved");
    }

    #[test]
    fn only_an_approved_message_is_playable() {
        let mut m = draft("lan");
        m.approve("hung", None, t(1), FOUR_EYES).unwrap();
        assert!(m.playable());
        m.edit(body("Thứ ba"), "lan", t(2), &World).unwrap();
        assert!(!m.playable(), "an edited message waits for a new approval");
    }

    #[test]
    fn an_edit_sets_the_message_back_to_draft() {
        let mut m = draft("lan");
        m.approve("hung", None, t(1), FOUR_EYES).unwrap();
        assert_eq!(m.status, MessageStatus::Approved);
        m.edit(body("Thứ ba"), "mai", t(2), &World).unwrap();
        assert_eq!((m.status, m.version), (MessageStatus::Draft, 2));
        assert_eq!((m.approved_by.as_ref(), m.approved_at), (None, None));
        assert_eq!((m.updated_by.as_str(), m.updated_at), ("mai", t(2)));
        assert_eq!(m.created_by, "lan", "the author stays the author");
    }

    #[test]
    fn a_refused_edit_changes_nothing() {
        let mut m = draft("lan");
        m.approve("hung", None, t(1), FOUR_EYES).unwrap();
        let before = m.clone();
        let mut bad = body("");
        assert!(matches!(
            m.edit(bad.clone(), "mai", t(2), &World),
            Err(Refusal::Invalid(_))
        ));
        bad.image = Some("ab".repeat(32));
        assert!(matches!(
            m.edit(bad, "mai", t(2), &World),
            Err(Refusal::UnknownRef(_))
        ));
        assert_eq!(m, before);
    }

    #[test]
    fn a_rejection_keeps_the_comment_until_the_next_edit() {
        let mut m = draft("lan");
        assert!(m.waiting());
        // A comment is required, and bounded.
        for bad in ["", "   ", &"x".repeat(1001)] {
            assert!(matches!(
                m.reject("hung", None, bad, t(1)),
                Err(Refusal::Invalid(_))
            ));
        }
        assert_eq!(
            m.reject("hung", Some(7), "Sửa ngày", t(1)),
            Err(Refusal::StaleVersion {
                read: 7,
                current: 1
            })
        );
        assert!(m.waiting(), "a refused rejection changes nothing");
        m.reject("hung", Some(1), "  Sửa ngày họp thành thứ Hai. ", t(1))
            .unwrap();
        let r = m.rejection.clone().unwrap();
        assert_eq!(
            (r.by.as_str(), r.at, r.version, r.comment.as_str()),
            ("hung", t(1), 1, "Sửa ngày họp thành thứ Hai.")
        );
        assert!(!m.waiting() && !m.playable());
        // The author's edit puts it back in the queue.
        m.edit(body("Thứ hai, 7 giờ"), "lan", t(2), &World).unwrap();
        assert!(m.waiting() && m.rejection.is_none());
        assert_eq!(m.version, 2);
        m.approve("hung", Some(2), t(3), FOUR_EYES).unwrap();
        assert_eq!(m.last_approved, Some(2));
        // An approved message is not waiting: nothing to reject.
        assert!(matches!(
            m.reject("hung", None, "muộn", t(4)),
            Err(Refusal::NotWaiting { .. })
        ));
        // The last approved version is kept through the next edit.
        m.edit(body("Thứ ba"), "lan", t(5), &World).unwrap();
        assert_eq!((m.version, m.last_approved), (3, Some(2)));
    }

    #[test]
    fn a_validity_window_is_checked_and_bounds_playing_time() {
        let mut b = body("Hạn nộp hồ sơ");
        b.valid_from = Some(t(100));
        b.valid_until = Some(t(100));
        assert!(b.validate().is_err(), "an empty window is refused");
        b.valid_until = Some(t(200));
        b.validate().unwrap();
        assert!(!b.valid_at(t(99)) && b.valid_at(t(100)) && b.valid_at(t(199)));
        assert!(!b.valid_at(t(200)), "valid_until is exclusive");
        assert_eq!(b.next_validity_edge(t(0)), Some(t(100)));
        assert_eq!(b.next_validity_edge(t(100)), Some(t(200)));
        assert_eq!(b.next_validity_edge(t(200)), None);
        // Old files and bodies without a window: always valid.
        let old: MessageBody =
            serde_json::from_value(serde_json::json!({"title": "t", "text": "x"})).unwrap();
        assert!(old.valid_at(t(0)) && old.next_validity_edge(t(0)).is_none());
        let with: MessageBody = serde_json::from_value(serde_json::json!({
            "title": "t", "text": "x", "valid_until": "2026-12-01T07:00:00+07:00"
        }))
        .unwrap();
        assert_eq!(
            with.valid_until.unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
    }

    #[test]
    fn the_approver_is_never_the_last_editor() {
        let mut m = draft("lan");
        assert_eq!(
            m.approve("lan", None, t(1), FOUR_EYES),
            Err(Refusal::FourEyes { by: "lan".into() })
        );
        assert_eq!(m.status, MessageStatus::Draft);
        // Someone else edits: now the author may approve, the editor not.
        m.edit(body("Thứ ba"), "mai", t(2), &World).unwrap();
        assert!(matches!(
            m.approve("mai", None, t(3), FOUR_EYES),
            Err(Refusal::FourEyes { .. })
        ));
        m.approve("lan", None, t(3), FOUR_EYES).unwrap();
        assert_eq!(m.approved_by.as_deref(), Some("lan"));
        let sentence = Refusal::FourEyes { by: "lan".into() }.to_string();
        assert!(sentence.contains("someone else must approve"), "{sentence}");
    }

    #[test]
    fn the_last_editor_approves_only_when_self_approval_is_on() {
        let mut m = draft("solo");
        let on = Policy {
            allow_self_approval: true,
        };
        m.approve("solo", None, t(1), on).unwrap();
        assert_eq!(
            (m.status, m.approved_by.as_deref(), m.approved_at),
            (MessageStatus::Approved, Some("solo"), Some(t(1)))
        );
    }

    #[test]
    fn approval_names_the_version_reviewed() {
        let mut m = draft("lan");
        m.edit(body("Thứ ba"), "lan", t(1), &World).unwrap();
        m.edit(body("Thứ tư"), "lan", t(2), &World).unwrap();
        let read = m.version;
        m.edit(body("Thứ năm"), "lan", t(3), &World).unwrap();
        let before = m.clone();
        let refused = m.approve("hung", Some(read), t(4), FOUR_EYES);
        assert_eq!(
            refused,
            Err(Refusal::StaleVersion {
                read: 3,
                current: 4
            })
        );
        assert_eq!(m, before, "a refused approval changes nothing");
        let sentence = refused.unwrap_err().to_string();
        assert!(sentence.contains("changed since you read it"), "{sentence}");
        m.approve("hung", Some(4), t(4), FOUR_EYES).unwrap();
        assert!(m.playable());
        // Even an approved message refuses a stale version.
        assert!(matches!(
            m.approve("hung", Some(3), t(5), FOUR_EYES),
            Err(Refusal::StaleVersion { .. })
        ));
    }

    #[test]
    fn approving_twice_keeps_the_first_approval() {
        let mut m = draft("lan");
        m.approve("hung", None, t(1), FOUR_EYES).unwrap();
        let first = m.clone();
        m.approve("lan", None, t(2), FOUR_EYES).unwrap();
        assert_eq!(m, first);
    }

    #[test]
    fn campaigns_name_what_exists() {
        let c = |messages: &[&str], targets: &[&str]| Campaign {
            id: Id::parse("c1").unwrap(),
            body: crate::domain::CampaignBody {
                name: "C".into(),
                messages: messages
                    .iter()
                    .map(|m| PlaylistItem {
                        id: Id::parse(m).unwrap(),
                        dwell_s: 8,
                    })
                    .collect(),
                targets: targets.iter().map(|t| Target::parse(t).unwrap()).collect(),
                cron: None,
                duration_s: None,
                start: None,
                end: None,
                priority: 1,
                tz: None,
            },
            updated_by: None,
            updated_at: None,
        };
        assert_eq!(
            c(&["m1"], &["p1", "group:d1", "all"]).check_refs(&World),
            Ok(())
        );
        for (bad, why) in [
            (c(&["m2"], &["p1"]), "unknown message"),
            (c(&["m1"], &["p2"]), "unknown panel"),
            (c(&["m1"], &["group:d2"]), "unknown group"),
        ] {
            assert!(
                matches!(bad.check_refs(&World), Err(Refusal::UnknownRef(_))),
                "{why}"
            );
        }
        assert!(matches!(
            c(&["m1"], &[]).check_refs(&World),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn alerts_are_short_bounded_and_aimed_at_panels() {
        let a = |text: &str, targets: &[&str], duration_s| AlertBody {
            text: text.into(),
            targets: targets.iter().map(|t| Target::parse(t).unwrap()).collect(),
            duration_s,
        };
        let ok = Alert::new(
            Id::parse("a1").unwrap(),
            a("BÃO SỐ 9", &["group:d1"], 600),
            "op",
            t(0),
            &World,
        )
        .unwrap();
        assert_eq!((ok.created_at, ok.ends_at), (t(0), t(600)));
        assert!(ok.active_at(t(599)) && !ok.active_at(t(600)));
        for (body, why) in [
            (a(" ", &["all"], 60), "blank"),
            (a(&"x".repeat(MAX_ALERT_CHARS + 1), &["all"], 60), "long"),
            (a("x", &["all"], 0), "no duration"),
            (a("x", &["all"], MAX_ALERT_S + 1), "too long"),
            (a("x", &[], 60), "no targets"),
            (a("x", &["p1", "all", "p1"], 60), "a duplicate"),
            (a("x", &vec!["all"; 10_000], 60), "10,000 duplicates"),
        ] {
            assert!(
                matches!(body.check(&World), Err(Refusal::Invalid(_))),
                "{why}"
            );
        }
        assert!(matches!(
            a("x", &["group:d2"], 60).check(&World),
            Err(Refusal::UnknownRef(_))
        ));
        let mut cancelled = ok.clone();
        cancelled.cancel(t(10));
        cancelled.cancel(t(20));
        assert_eq!(cancelled.cancelled_at, Some(t(10)));
        assert!(!cancelled.active_at(t(11)));
    }
}
