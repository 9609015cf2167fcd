//! Turning a rendered page into a frame for one panel: the next seq (never
//! reused, across restarts), `valid_until`, the BTF1 header around the
//! cached page and CRC — or the BTZ1 coding a controller that opted in
//! decodes ([`Compressor`]) — and the Ed25519 signature when a key is set
//! (once, over the bytes that go out).

use std::io;

use chrono::{DateTime, Utc};

use super::compress::Compressor;
use super::renditions::PageOut;
use super::Shared;
use crate::domain::{Id, Profile, Transport};
use crate::frame::{self, Header};
use crate::store::seq::SeqAllocator;
use crate::store::Store;

/// How frames are stamped, from the configuration.
pub struct FrameSettings {
    /// Seconds a controller keeps showing a frame past its planned end when
    /// it hears nothing more (then it blanks).
    pub grace_s: u32,
    /// When set, every frame is signed.
    pub signer: Option<ed25519_dalek::SigningKey>,
    /// Threads that sign frames (up to 4); 0: as many as the machine has
    /// cores; 1: none, the player signs each frame itself.
    pub signing_threads: usize,
}

/// When a frame stops being valid, as decided for it.
pub(super) enum Validity {
    /// A blank frame: valid until replaced (`valid_until` 0).
    Forever,
    /// An alert: valid exactly until the alert ends, no grace.
    Until(DateTime<Utc>),
    /// A message: until the end of its dwell (or the next refresh, if
    /// sooner), plus the grace margin.
    Planned(DateTime<Utc>),
}

/// The transport `panel`'s frame goes over, which decides its coding and
/// signing (over the broker, MQTT) or not (a vendor card): the store's
/// word now, not that of the player's inputs (`planned`), which may be
/// from before the panel moved. The frame carries it, and
/// `Transports::route` delivers it only while the panel still has it.
/// A frame for a vendor card forgets what the panel's MQTT controller
/// decodes and holds ([`Shared::off_the_broker`]).
pub(super) fn transport_now(
    store: &Store,
    shared: &Shared,
    panel: &Id,
    planned: &Transport,
) -> Transport {
    let now = store
        .snapshot()
        .panels
        .get(panel)
        .map(|p| p.transport.clone());
    let via = now.unwrap_or_else(|| planned.clone());
    if !via.is_mqtt() {
        shared.off_the_broker(panel);
    }
    via
}

pub(super) struct Stamper {
    seq: SeqAllocator,
    settings: FrameSettings,
    coder: Compressor,
}

/// What goes into one frame's header besides the seq.
pub(super) struct Stamp<'a> {
    pub profile: &'a Profile,
    pub brightness: u8,
    pub flags: u16,
    pub valid_until: u64,
    pub page: &'a PageOut,
    /// Whether it goes to a controller on the broker (MQTT), which checks
    /// the signature and may decode BTZ1; vendor cards take only the
    /// pixels, so their frames are BTF1, not signed.
    pub mqtt: bool,
}

impl Stamper {
    pub(super) fn new(seq: SeqAllocator, settings: FrameSettings, coder: Compressor) -> Stamper {
        Stamper {
            seq,
            settings,
            coder,
        }
    }

    /// This server took the lead: forgets which pages were coded for
    /// whom ([`Compressor::forget_sent`]) and reads the sequence marks
    /// again, so that its frames may go out ([`SeqAllocator::took_lead`]).
    pub(super) fn took_lead(&mut self) {
        self.coder.forget_sent();
        if let Err(e) = self.seq.took_lead() {
            tracing::error!("cannot read the frame sequence numbers after taking the lead: {e}");
        }
    }

    /// The key frames (and bundles) are signed with, if any.
    pub(super) fn signer(&self) -> Option<&ed25519_dalek::SigningKey> {
        self.settings.signer.as_ref()
    }

    /// Unix seconds for the header's `valid_until`.
    pub(super) fn valid_until(&self, v: Validity) -> u64 {
        let secs = match v {
            Validity::Forever => return 0,
            Validity::Until(t) => t.timestamp(),
            Validity::Planned(t) => t.timestamp() + i64::from(self.settings.grace_s),
        };
        secs.max(0) as u64
    }

    /// Reserves seqs for many panels with one durable write (before a
    /// pass that publishes to all of them).
    pub(super) fn reserve(&mut self, panels: &[&str]) {
        if let Err(e) = self.seq.reserve(panels) {
            tracing::error!("cannot reserve frame sequence numbers: {e}");
        }
    }

    /// The frame's seq and bytes, and whether it is to be signed (the
    /// signature is appended by the player's [`super::outbox::Outbox`],
    /// which has the key: on worker threads when it can).
    pub(super) fn stamp(&mut self, panel: &Id, s: Stamp<'_>) -> io::Result<(u32, Vec<u8>, bool)> {
        let seq = self.seq.next(panel.as_str())?;
        let mut header = Header {
            format: s.profile.format,
            brightness: s.brightness,
            width: s.profile.width,
            height: s.profile.height,
            flags: s.flags,
            seq,
            valid_until: s.valid_until,
        };
        let sign = s.mqtt && self.settings.signer.is_some();
        if sign {
            header.flags |= frame::FLAG_SIGNED;
        }
        let coded = s
            .mqtt
            .then(|| self.coder.code(panel, &header, &s.page.data, s.page.crc))
            .flatten();
        let v = coded.unwrap_or_else(|| frame::encode_with_crc(&header, &s.page.data, s.page.crc));
        Ok((seq, v, sign))
    }
}
