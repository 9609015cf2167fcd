//! The MQTT edge: the only module that names rumqttc and rumqttd.
//!
//! - [`topics`]: topic names and parsing of controllers' reports.
//! - [`link`]: the server's connection ([`connect`]): one task owns the
//!   rumqttc event loop; [`Publisher`] handles queue frames onto it and
//!   [`Inbound`] events come back on a channel.
//! - [`broker`]: the embedded broker used when no `--mqtt` is given:
//!   rumqttd on a private loopback port behind [`gateway`], which owns the
//!   public listener and enforces credentials and per-panel topic ACLs.
//! - `guard`: the relay the server's link connects through, which skips
//!   oversized messages to the server instead of losing the connection.
//! - `relay` and `wire`: the packet-by-packet relay both use, over
//!   rumqttc's packet code with bounded sizes (sans-IO in `wire`).
//! - [`controller`]: a reference LED controller, also used by tests and the
//!   load test to simulate fleets.
//!
//! This module knows topics, QoS and the BTF1 frame's outer checks; it does
//! not know panels' schedules, the store, or HTTP. Who may connect is
//! asked of an [`Authenticate`] the caller provides.

pub mod broker;
pub mod controller;
pub mod gateway;
pub(crate) mod guard;
pub mod link;
pub(crate) mod relay;
pub(crate) mod tls;
pub mod topics;
pub(crate) mod wire;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::domain::Invalid;
use crate::i18n::AddressWhy;

pub use broker::{start_embedded_broker, EmbeddedBroker};
pub use gateway::{controller_user, Access, Authenticate, SERVER_USER};
pub use link::{connect, try_connect, Inbound, Publisher};

/// Largest MQTT packet we send or accept: the largest panel (1024×512
/// rgb888 = 1.5 MiB) plus header and signature fits with room to spare.
pub const DEFAULT_MAX_PACKET: usize = 4 * 1024 * 1024;

/// Largest packet the embedded broker carries (remaining length): a frame
/// of [`DEFAULT_MAX_PACKET`] and its topic.
pub const FRAME_PACKET: usize = DEFAULT_MAX_PACKET + 1024;

/// Largest status or ack payload, bytes. A real one is under 100; the
/// embedded broker refuses larger ones and the server drops them.
pub const MAX_REPORT: usize = 4096;

/// Largest snapshot a controller may publish: a BTF1 frame holding a PNG
/// of its glass. Under the server link's 64 KiB skip limit with its topic.
pub const MAX_SNAPSHOT: usize = 60 * 1024;

/// The most a controller may publish on `kind`'s topic.
pub fn report_limit(kind: topics::Kind) -> usize {
    match kind {
        topics::Kind::Status | topics::Kind::Ack => MAX_REPORT,
        topics::Kind::Snapshot => MAX_SNAPSHOT,
    }
}

/// What the MQTT edge refused or dropped, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages to the server it could not use and dropped: oversized,
    /// malformed, or on a topic it does not read.
    pub dropped: AtomicU64,
    /// Connections the embedded broker refused (no or wrong credential,
    /// client id not the panel's, not MQTT 3.1.1, too many clients).
    pub refused: AtomicU64,
    /// Publishes and subscriptions the embedded broker's ACL denied.
    pub denied: AtomicU64,
}

/// Why the broker link or the embedded broker could not do something.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The link is between connections; the player republishes every
    /// panel on the next [`Inbound::Connected`], so dropping is safe.
    #[error("not connected to the MQTT broker")]
    NotConnected,
    /// [`Publisher::shutdown`] ran, or the link task ended.
    #[error("the MQTT link is shut down")]
    Closed,
    /// A payload over the link's packet limit: not sent.
    #[error("frame of {size} bytes is larger than the MQTT packet limit of {limit} bytes")]
    TooLarge {
        /// The payload's size, bytes.
        size: usize,
        /// The link's largest packet, bytes.
        limit: usize,
    },
    /// The TLS files could not be read or used (the sentence says which).
    #[error("{0}")]
    Tls(String),
    /// The embedded broker could not start or is misconfigured (the
    /// sentence says why).
    #[error("{0}")]
    Broker(String),
}

/// Parsed `--mqtt` URL: `mqtt://[user[:pass]@]host[:port]` (port 1883) or
/// `mqtts://…` (port 8883). User and password are percent-decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (1883 or 8883 unless given).
    pub port: u16,
    /// `mqtts://`: TLS on the connection.
    pub tls: bool,
    /// The user name to connect with, if any.
    pub username: Option<String>,
    /// Its password (never printed by `Debug` or `Display`).
    pub password: Option<String>,
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Shown in logs: never the password.
impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let user = match &self.username {
            Some(u) => format!("{u}@"),
            None => String::new(),
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://{user}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for BrokerUrl {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: AddressWhy| {
            Invalid::new(crate::i18n::Reason::BadMqttUrl {
                shown: redact(s),
                why,
            })
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad(AddressWhy::NoScheme))?;
        let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => (false, 1883),
            "mqtts" | "ssl" => (true, 8883),
            _ => return Err(bad(AddressWhy::NotMqttScheme)),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad(AddressWhy::PathNotAllowed));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                let user = percent_decode(user).ok_or_else(|| bad(AddressWhy::BadUserEscape))?;
                if user.is_empty() {
                    return Err(bad(AddressWhy::EmptyUser));
                }
                let pass = pass
                    .map(|p| percent_decode(p).ok_or_else(|| bad(AddressWhy::BadPasswordEscape)))
                    .transpose()?;
                (Some(user), pass)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(AddressWhy::Ipv6Unclosed))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(AddressWhy::AfterIpv6))?,
                ),
            };
            (host, port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad(AddressWhy::HostMissing));
        }
        if host.contains(|c: char| c.is_whitespace() || c == '%') {
            return Err(bad(AddressWhy::HostBadChars));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(AddressWhy::BadPort)),
            },
        };
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
            username,
            password,
        })
    }
}

/// The URL with any password replaced, for error messages.
fn redact(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    match rest.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => s.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// PEM files for `mqtts://`. With no `ca`, the system's roots are trusted;
/// `cert` and `key` together enable client-certificate authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate(s) the broker's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// This client's certificate chain.
    pub cert: Option<PathBuf>,
    /// This client's private key.
    pub key: Option<PathBuf>,
}

/// Everything the server's link needs.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// The broker to connect to.
    pub url: BrokerUrl,
    /// TLS files, for `mqtts://`.
    pub tls: TlsFiles,
    /// The first level of every topic (`bangtin`).
    pub topic_root: String,
    /// The link's MQTT client id (unique per server process).
    pub client_id: String,
    /// Largest packet sent or accepted, bytes.
    pub max_packet: usize,
    /// Where dropped messages are counted.
    pub counters: Arc<Counters>,
}

impl LinkOptions {
    /// Defaults: topic root `bangtin`, client id `bangtin-server`, 4 MiB packets.
    pub fn new(url: BrokerUrl) -> LinkOptions {
        LinkOptions {
            url,
            tls: TlsFiles::default(),
            topic_root: "bangtin".into(),
            client_id: "bangtin-server".into(),
            max_packet: DEFAULT_MAX_PACKET,
            counters: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> BrokerUrl {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls_parse_with_defaults() {
        let u = url("mqtt://broker.local");
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("broker.local", 1883, false)
        );
        assert_eq!(u.username, None);
        let u = url("mqtts://10.0.0.5");
        assert_eq!((u.port, u.tls), (8883, true));
        let u = url("mqtt://srv:p%40ss%3Aw@127.0.0.1:1884/");
        assert_eq!(u.username.as_deref(), Some("srv"));
        assert_eq!(u.password.as_deref(), Some("p@ss:w"));
        assert_eq!(u.port, 1884);
        let u = url("mqtt://ng%C6%B0%E1%BB%9Di@h");
        assert_eq!(u.username.as_deref(), Some("người"));
        assert_eq!(u.password, None);
        let u = url("mqtt://[::1]:1999");
        assert_eq!((u.host.as_str(), u.port), ("::1", 1999));
        assert_eq!(u.to_string(), "mqtt://[::1]:1999");
    }

    #[test]
    fn bad_urls_are_explained_without_the_password() {
        for bad in [
            "broker:1883",
            "http://h",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://h:x",
            "mqtt://h/topic",
            "mqtt://u:%zz@h",
            "mqtt://:pw@h",
            "mqtt://[::1",
        ] {
            let e = bad.parse::<BrokerUrl>().unwrap_err().to_string();
            assert!(e.contains("mqtt://[user"), "{bad}: {e}");
        }
        let e = "mqtt://u:secret@h:x"
            .parse::<BrokerUrl>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        let u = url("mqtt://u:secret@h");
        assert!(!format!("{u} {u:?}").contains("secret"));
    }
}
