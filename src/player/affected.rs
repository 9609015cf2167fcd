//! Which panels a store change may affect, from two snapshots.
//!
//! The snapshot's maps share structure between versions, so their
//! difference is found without visiting what they share: a write that adds
//! one panel to 10,000 costs a few lookups here, not a pass over the fleet.
//! A panel is affected when it changed itself, or when a campaign or alert
//! that targets it (before or after the change) changed, or a message that
//! such a campaign lists (before or after) changed.

use std::collections::BTreeSet;

use imbl::ordmap::DiffItem;

use crate::domain::{Id, Target};
use crate::store::Snapshot;

/// The panels to re-decide after a change.
#[derive(Debug, PartialEq, Eq)]
pub enum Affected {
    /// Every panel (a change that targets `all`).
    All,
    /// These panels (some may have been removed).
    Panels(BTreeSet<Id>),
}

/// The panels whose decisions may differ between `before` and `after` (the rule
/// is in the module's header).
pub fn affected(before: &Snapshot, after: &Snapshot) -> Affected {
    let mut panels: BTreeSet<Id> = before
        .panels
        .diff(&after.panels)
        .map(|d| diff_key(&d).clone())
        .collect();
    let mut targets: Vec<&Target> = Vec::new();
    for d in before.campaigns.diff(&after.campaigns) {
        for c in diff_values(&d) {
            targets.extend(&c.body.targets);
        }
    }
    for d in before.alerts.diff(&after.alerts) {
        for a in diff_values(&d) {
            targets.extend(&a.body.targets);
        }
    }
    let messages: BTreeSet<&Id> = before
        .messages
        .diff(&after.messages)
        .map(|d| diff_key(&d))
        .collect();
    if !messages.is_empty() {
        for c in before.campaigns.values().chain(after.campaigns.values()) {
            if c.body.messages.iter().any(|m| messages.contains(&m.id)) {
                targets.extend(&c.body.targets);
            }
        }
    }
    let mut groups: BTreeSet<&str> = BTreeSet::new();
    for t in targets {
        match t {
            Target::All => return Affected::All,
            Target::Panel(id) => {
                panels.insert(id.clone());
            }
            Target::Group(g) => {
                groups.insert(g);
            }
        }
    }
    if !groups.is_empty() {
        // Membership after the change; a panel whose groups changed is in
        // `panels` already.
        panels.extend(
            after
                .panels
                .values()
                .filter(|p| p.groups.iter().any(|g| groups.contains(g.as_str())))
                .map(|p| p.id.clone()),
        );
    }
    Affected::Panels(panels)
}

fn diff_key<'a, K, V>(d: &DiffItem<'a, 'a, K, V>) -> &'a K {
    match d {
        DiffItem::Add(k, _) | DiffItem::Remove(k, _) => k,
        DiffItem::Update { new: (k, _), .. } => k,
    }
}

/// The old and the new value of a changed entry (one of them when it was
/// added or removed).
fn diff_values<'a, K, V>(d: &DiffItem<'a, 'a, K, V>) -> Vec<&'a V> {
    match d {
        DiffItem::Add(_, v) | DiffItem::Remove(_, v) => vec![v],
        DiffItem::Update {
            old: (_, o),
            new: (_, n),
        } => vec![o, n],
    }
}
