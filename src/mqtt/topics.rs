//! Topic names (docs/protocol.md, "Topics"). The only place that spells them.
//!
//! A topic root may have several levels (`city/bangtin`) but no wildcards;
//! panel ids are always [`Id`]s, so a panel level never contains `/`, `+`
//! or `#`.

use crate::domain::{Id, Invalid};

/// What a controller publishes under its panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `{root}/panels/{panel}/status`, retained JSON.
    Status,
    /// `{root}/panels/{panel}/ack`, proof of play.
    Ack,
    /// `{root}/panels/{panel}/snapshot`, what the glass shows, on request.
    Snapshot,
}

/// Checks a topic root: non-empty, no wildcards, no empty levels, no NUL.
pub fn validate_root(root: &str) -> Result<(), Invalid> {
    let ok = !root.is_empty()
        && root.len() <= 200
        && !root.contains(['+', '#', '\0'])
        && root.split('/').all(|level| !level.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(crate::i18n::Reason::BadTopicRoot {
            shown: root.chars().take(80).collect(),
        }))
    }
}

/// Where the server publishes a panel's current frame (retained).
pub fn frame(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/frame")
}

/// Where the server publishes a panel's offline bundle (retained).
pub fn bundle(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/bundle")
}

/// Where a controller publishes whether it is online (retained, Last Will).
pub fn status(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/status")
}

/// Where a controller acknowledges a frame on the glass.
pub fn ack(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/ack")
}

/// Where the server asks a controller for a snapshot of its glass (not
/// retained: a request is an event).
pub fn snapshot_request(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/snapshot/request")
}

/// Where a controller answers with what its glass shows.
pub fn snapshot(root: &str, panel: &Id) -> String {
    format!("{root}/panels/{panel}/snapshot")
}

/// Every topic a panel's controller reads (subscribes to): its frame, its
/// offline bundle, its snapshot requests. The embedded broker's ACL and
/// `bangtin broker-config`'s Mosquitto ACL and bridges are built from this
/// one list.
pub fn controller_reads(root: &str, panel: &Id) -> [String; 3] {
    [
        frame(root, panel),
        bundle(root, panel),
        snapshot_request(root, panel),
    ]
}

/// Every topic a panel's controller writes: status, acks, snapshots.
pub fn controller_writes(root: &str, panel: &Id) -> [String; 3] {
    [status(root, panel), ack(root, panel), snapshot(root, panel)]
}

/// [`controller_reads`] and [`controller_writes`] for every panel at once
/// (the panel level a `+`).
pub fn every_controller(root: &str) -> ([String; 3], [String; 3]) {
    // `+` is not an id: build one panel's topics and put `+` in its level.
    let x = Id::parse("x").expect("a valid id");
    let any = |t: String| t.replacen("/panels/x/", "/panels/+/", 1);
    (
        controller_reads(root, &x).map(any),
        controller_writes(root, &x).map(any),
    )
}

/// The server's own `online` / `offline` (retained, Last Will).
pub fn server_status(root: &str) -> String {
    format!("{root}/server/status")
}

/// Subscription filters the server uses for controllers' reports.
pub fn status_filter(root: &str) -> String {
    format!("{root}/panels/+/status")
}

/// The filter for every panel's acks.
pub fn ack_filter(root: &str) -> String {
    format!("{root}/panels/+/ack")
}

/// The filter for every panel's snapshots.
pub fn snapshot_filter(root: &str) -> String {
    format!("{root}/panels/+/snapshot")
}

/// Splits an inbound topic into panel and kind. `None` for anything else,
/// including panel levels that are not valid ids.
pub fn parse_inbound(root: &str, topic: &str) -> Option<(Id, Kind)> {
    let rest = topic.strip_prefix(root)?.strip_prefix("/panels/")?;
    let (panel, kind) = rest.split_once('/')?;
    let kind = match kind {
        "status" => Kind::Status,
        "ack" => Kind::Ack,
        "snapshot" => Kind::Snapshot,
        _ => return None,
    };
    Some((Id::parse(panel).ok()?, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_protocol_document() {
        let p = Id::parse("hc-01").unwrap();
        assert_eq!(frame("bangtin", &p), "bangtin/panels/hc-01/frame");
        assert_eq!(status("bangtin", &p), "bangtin/panels/hc-01/status");
        assert_eq!(ack("bangtin", &p), "bangtin/panels/hc-01/ack");
        assert_eq!(server_status("bangtin"), "bangtin/server/status");
        assert_eq!(
            snapshot_request("bangtin", &p),
            "bangtin/panels/hc-01/snapshot/request"
        );
        assert_eq!(snapshot("bangtin", &p), "bangtin/panels/hc-01/snapshot");
    }

    #[test]
    fn inbound_topics_parse_and_bad_ids_are_refused() {
        let p = Id::parse("p1").unwrap();
        assert_eq!(
            parse_inbound("bangtin", "bangtin/panels/p1/status"),
            Some((p.clone(), Kind::Status))
        );
        assert_eq!(
            parse_inbound("a/b", "a/b/panels/p1/ack"),
            Some((p, Kind::Ack))
        );
        for bad in [
            "bangtin/panels/p1/frame",
            "bangtin/panels/P1/status",
            "bangtin/panels//status",
            "bangtin/panels/p1/x/status",
            "bangtinx/panels/p1/status",
            "other/panels/p1/status",
            "bangtin/server/status",
            "bangtin/panels/-a/ack",
            "bangtin/panels/p1/snapshot/request",
        ] {
            assert_eq!(parse_inbound("bangtin", bad), None, "{bad}");
        }
    }

    #[test]
    fn roots_are_checked() {
        for ok in ["bangtin", "vn/da-nang/bangtin"] {
            assert!(validate_root(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/+", "#", "a//b", "/a", "a/"] {
            assert!(validate_root(bad).is_err(), "{bad:?}");
        }
    }
}
