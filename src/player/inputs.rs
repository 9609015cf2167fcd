//! What `resolve` and `timeline` need besides a panel and an instant: the
//! compiled campaigns, the live (not cancelled) alerts and the catalog of
//! approved messages with their page counts and validity windows. Built once per store snapshot
//! generation ([`Schedules::current`]) and shared, as an `Arc`, by the
//! player and the API's timeline.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::renditions::Renditions;
use crate::domain::{Alert, Id, Panel, Profile};
use crate::schedule::{self, Catalog, CompiledCampaign, Decision, Slot};
use crate::store::{Snapshot, Store};

/// The schedule inputs of one snapshot.
pub struct ScheduleInputs {
    /// The store snapshot they were built from.
    pub snapshot: Arc<Snapshot>,
    /// Every campaign that compiles (the store refused the others).
    pub campaigns: Arc<Vec<CompiledCampaign>>,
    /// Alerts not cancelled; `resolve` decides which are on at an instant.
    pub alerts: Arc<Vec<Alert>>,
    /// The server's time zone (campaigns without their own).
    pub tz: Tz,
    store: Arc<Store>,
    renditions: Arc<Renditions>,
}

impl ScheduleInputs {
    /// What `panel` shows at `now`.
    pub fn resolve(&self, panel: &Panel, now: DateTime<Utc>) -> Decision {
        schedule::resolve(panel, &self.campaigns, &self.alerts, self, self.tz, now)
    }

    /// What `panel` shows between `from` and `to`, at most `max` slots.
    pub fn timeline(
        &self,
        panel: &Panel,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max: usize,
    ) -> Vec<Slot> {
        schedule::timeline(
            panel,
            &self.campaigns,
            &self.alerts,
            self,
            self.tz,
            from,
            to,
            max,
        )
    }
}

/// The catalog: approved messages only, paged by their (cached) renders.
impl Catalog for ScheduleInputs {
    fn pages(&self, message: &Id, profile: &Profile) -> Option<u32> {
        let m = self.snapshot.messages.get(message)?;
        if !m.playable() {
            return None;
        }
        match self.renditions.message(&self.store, m, profile) {
            Ok(r) => Some(r.pages.len() as u32),
            Err(e) => {
                tracing::warn!(message = %message, "message skipped: {e}");
                None
            }
        }
    }
    fn alert_pages(&self, alert: &Alert, profile: &Profile) -> u32 {
        self.renditions.alert(alert, profile).pages.len() as u32
    }
    fn window(&self, message: &Id) -> schedule::Window {
        self.snapshot
            .messages
            .get(message)
            .map_or((None, None), |m| (m.body.valid_from, m.body.valid_until))
    }
}

/// Builds [`ScheduleInputs`] at most once per store generation.
pub struct Schedules {
    store: Arc<Store>,
    renditions: Arc<Renditions>,
    tz: Tz,
    current: Mutex<Option<Arc<ScheduleInputs>>>,
}

impl Schedules {
    /// Nothing built yet: the inputs of a generation are built when first asked
    /// for ([`Schedules::current`]).
    pub fn new(store: Arc<Store>, renditions: Arc<Renditions>, tz: Tz) -> Schedules {
        Schedules {
            store,
            renditions,
            tz,
            current: Mutex::new(None),
        }
    }

    /// The inputs of the store's current snapshot.
    pub fn current(&self) -> Arc<ScheduleInputs> {
        let snap = self.store.snapshot();
        let mut current = self.current.lock().expect("schedule inputs");
        if let Some(c) = current
            .as_ref()
            .filter(|c| c.snapshot.generation == snap.generation)
        {
            return c.clone();
        }
        let next = Arc::new(self.build(snap, current.as_deref()));
        self.renditions.sweep(&next.snapshot);
        *current = Some(next.clone());
        next
    }

    /// Compiles what changed since `prev`; keeps what did not (the maps are
    /// persistent: an untouched map is the same map).
    fn build(&self, snap: Arc<Snapshot>, prev: Option<&ScheduleInputs>) -> ScheduleInputs {
        let campaigns = match prev {
            Some(p) if p.snapshot.campaigns.ptr_eq(&snap.campaigns) => p.campaigns.clone(),
            _ => Arc::new(compile_all(&snap, self.tz)),
        };
        let alerts = match prev {
            Some(p) if p.snapshot.alerts.ptr_eq(&snap.alerts) => p.alerts.clone(),
            _ => Arc::new(
                snap.alerts
                    .values()
                    .filter(|a| a.cancelled_at.is_none())
                    .cloned()
                    .collect(),
            ),
        };
        ScheduleInputs {
            snapshot: snap,
            campaigns,
            alerts,
            tz: self.tz,
            store: self.store.clone(),
            renditions: self.renditions.clone(),
        }
    }
}

/// Compiles every campaign the store holds; the store already refused
/// invalid ones, so a failure here is logged and the campaign skipped.
fn compile_all(snap: &Snapshot, tz: Tz) -> Vec<CompiledCampaign> {
    snap.campaigns
        .values()
        .filter_map(|c| match schedule::compile_in(c, tz) {
            Ok(cc) => Some(cc),
            Err(e) => {
                tracing::error!(campaign = %c.id, "campaign skipped: {e}");
                None
            }
        })
        .collect()
}
