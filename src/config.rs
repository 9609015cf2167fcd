//! Command line and environment, parsed once into a validated [`Config`].
//!
//! Two stages, as in ripgrep: [`ServeArgs`] holds the raw flags and
//! environment variables exactly as docs/api.md ("Running the server")
//! names them; then
//! [`ServeArgs::into_config`] checks every value and yields a [`Config`].
//! Nothing deeper in the crate reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono_tz::Tz;

use crate::domain::Invalid;
use crate::i18n::{Lang, Reason};

/// Raw `bangtin serve` flags; each has an environment variable too.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// HTTP listen address.
    #[arg(long, env = "BANGTIN_HTTP", default_value = "127.0.0.1:8080")]
    pub http: String,
    /// External broker, `mqtt://[user:pass@]host:port` or `mqtts://…`; absent = embedded broker.
    #[arg(long, env = "BANGTIN_MQTT")]
    pub mqtt: Option<String>,
    /// Where the embedded broker listens when no --mqtt is given.
    #[arg(long, env = "BANGTIN_BROKER_LISTEN", default_value = "127.0.0.1:1883")]
    pub broker_listen: String,
    /// Data directory: content in DIR/content, campaigns in DIR/schedules.
    #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
    pub data: PathBuf,
    /// Where the store is kept: absent = the files under --data;
    /// `postgres://user[:pass]@host[:port]/db` = PostgreSQL, which two servers may share.
    #[arg(long, env = "BANGTIN_STORE")]
    pub store: Option<String>,
    /// First level of every MQTT topic.
    #[arg(long, env = "BANGTIN_TOPIC_ROOT", default_value = "bangtin")]
    pub topic_root: String,
    /// Time zone for schedules and brightness unless a campaign names its own.
    #[arg(long, env = "BANGTIN_TZ", default_value = "Asia/Ho_Chi_Minh")]
    pub tz: String,
    /// Token file (hashed tokens with roles); default DIR/secrets/tokens.json.
    #[arg(long, env = "BANGTIN_TOKENS")]
    pub tokens: Option<PathBuf>,
    /// Let the last editor of a message approve it too (one-person offices).
    #[arg(long, env = "BANGTIN_ALLOW_SELF_APPROVAL", default_value_t = false)]
    pub allow_self_approval: bool,
    /// Seconds a controller keeps showing a frame past its planned end when it
    /// hears nothing more from the server (then it blanks).
    #[arg(long, env = "BANGTIN_FRAME_GRACE_S", default_value_t = 300)]
    pub frame_grace_s: u32,
    /// Seconds of the schedule each MQTT panel is sent ahead as a signed
    /// offline bundle (played by a controller that loses the broker);
    /// 0 = no bundles. At most 7 days.
    #[arg(long, env = "BANGTIN_BUNDLE_HORIZON_S", default_value_t = 21_600,
          value_parser = clap::value_parser!(u32).range(0..=604_800))]
    pub bundle_horizon_s: u32,
    /// CA certificate (PEM) for an mqtts:// broker.
    #[arg(long, env = "BANGTIN_MQTT_CA")]
    pub mqtt_ca: Option<PathBuf>,
    /// Client certificate (PEM) for an mqtts:// broker.
    #[arg(long, env = "BANGTIN_MQTT_CERT")]
    pub mqtt_cert: Option<PathBuf>,
    /// Client key (PEM) for an mqtts:// broker.
    #[arg(long, env = "BANGTIN_MQTT_KEY")]
    pub mqtt_key: Option<PathBuf>,
    /// Ed25519 signing key (PEM, from `bangtin keys generate`); when set every frame is signed.
    #[arg(long, env = "BANGTIN_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Where Huidu cards that dial the server (4G, behind NAT) connect,
    /// IP:PORT; off unless set.
    #[arg(long, env = "BANGTIN_HUIDU_LISTEN")]
    pub huidu_listen: Option<String>,
    /// Memory the server may use: MiB, or with a unit (512M, 1G). Caches
    /// and image work are bounded by shares of it.
    #[arg(long, env = "BANGTIN_MEMORY_BUDGET", default_value = "512M")]
    pub memory_budget: String,
    /// Open HTTP connections allowed, all clients together.
    #[arg(long, env = "BANGTIN_MAX_CONNECTIONS", default_value_t = crate::api::server::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Open HTTP connections allowed from one client address (IPv6: one /64).
    #[arg(long, env = "BANGTIN_MAX_CONNECTIONS_PER_IP", default_value_t = crate::api::server::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
    /// Seconds a client has to send a request's headers (also the most a
    /// kept-alive connection stays idle).
    #[arg(long, env = "BANGTIN_HEADER_TIMEOUT_S", default_value_t = crate::api::server::DEFAULT_HEADER_TIMEOUT.as_secs())]
    pub header_timeout_s: u64,
    /// Seconds a signed-in session lasts without a request of its person's
    /// (a page's own polling does not count); at most 12 hours.
    #[arg(long, env = "BANGTIN_SESSION_IDLE_S", default_value_t = 1800,
          value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub session_idle_s: u32,
    /// Reverse proxies (their addresses) whose `X-Forwarded-For` names the
    /// client: sign-in limits then count the person's own address, and a
    /// proxy's connections are capped only by `--max-connections`.
    /// Repeat the flag, or give a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "BANGTIN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
}

/// The bootstrap admin token comes only from the environment, never a flag
/// (flags show up in `ps`).
pub const ADMIN_TOKEN_ENV: &str = "BANGTIN_ADMIN_TOKEN";

/// Validated configuration for `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address (`--http`).
    pub http: SocketAddr,
    /// External broker URL, `mqtt://` or `mqtts://`; `None` = run the embedded broker.
    pub mqtt: Option<String>,
    /// Where the embedded broker listens when [`Config::mqtt`] is `None`.
    pub broker_listen: SocketAddr,
    /// The data directory; only `store` knows its layout.
    pub data: PathBuf,
    /// The PostgreSQL store's URL (`--store`); `None` = the files under [`Config::data`].
    pub store: Option<String>,
    /// First level(s) of every MQTT topic, checked by [`crate::mqtt::topics::validate_root`].
    pub topic_root: String,
    /// Time zone for schedules and brightness unless a campaign names its own.
    pub tz: Tz,
    /// The token file (hashed tokens with roles); `--tokens` or DIR/secrets/tokens.json.
    pub tokens_file: PathBuf,
    /// Bootstrap admin token from [`ADMIN_TOKEN_ENV`], at least 8 characters;
    /// `None` if unset or empty.
    pub admin_token: Option<String>,
    /// Whether the last editor of a message may approve it too.
    pub allow_self_approval: bool,
    /// Seconds a controller keeps a frame past its planned end without news from the server.
    pub frame_grace_s: u32,
    /// Seconds of schedule in each panel's offline bundle; 0 = none.
    pub bundle_horizon_s: u32,
    /// CA certificate (PEM) for an `mqtts://` broker.
    pub mqtt_ca: Option<PathBuf>,
    /// Client certificate (PEM) for an `mqtts://` broker.
    pub mqtt_cert: Option<PathBuf>,
    /// Client key (PEM) for an `mqtts://` broker.
    pub mqtt_key: Option<PathBuf>,
    /// Ed25519 signing key (PEM); when set every frame is signed.
    pub signing_key: Option<PathBuf>,
    /// Listener for Huidu cards that dial in (4G, behind NAT); `None` = off.
    pub huidu_listen: Option<SocketAddr>,
    /// Bytes (see `memory::Budget`).
    pub memory_budget: u64,
    /// Open HTTP connections allowed, all clients together (at least 1).
    pub max_connections: usize,
    /// Open HTTP connections allowed from one client address, IPv6 by /64 (at least 1).
    pub max_connections_per_ip: usize,
    /// Time a client has to send a request's headers, also the longest
    /// keep-alive idle (1 s to 1 h).
    pub header_timeout: std::time::Duration,
    /// How long a signed-in session lasts without a request of its person's.
    pub session_idle: chrono::Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

fn addr(what: &str, s: &str) -> Result<SocketAddr, Invalid> {
    s.parse().map_err(|_| {
        Invalid::new(Reason::NotAnAddress {
            flag: what.to_string(),
            shown: s.chars().take(80).collect(),
        })
    })
}

impl ServeArgs {
    /// Checks every value and yields the configuration; `admin_token` is
    /// [`ADMIN_TOKEN_ENV`]'s value. An [`Invalid`] names the flag and how to
    /// fix it.
    pub fn into_config(self, admin_token: Option<String>) -> Result<Config, Invalid> {
        let http = addr("--http", &self.http)?;
        let broker_listen = addr("--broker-listen", &self.broker_listen)?;
        crate::mqtt::topics::validate_root(&self.topic_root)?;
        let tz: Tz = crate::schedule::parse_tz(&self.tz)?;
        if let Some(m) = &self.mqtt {
            m.parse::<crate::mqtt::BrokerUrl>()?;
        }
        let admin_token = admin_token.filter(|t| !t.is_empty());
        if let Some(t) = &admin_token {
            if t.len() < 8 {
                return Err(Invalid::new(Reason::AdminTokenShort {
                    env: ADMIN_TOKEN_ENV.to_string(),
                }));
            }
        }
        let huidu_listen = self
            .huidu_listen
            .as_deref()
            .map(|a| addr("--huidu-listen", a))
            .transpose()?;
        let memory_budget = crate::memory::parse_size(&self.memory_budget)
            .filter(|b| *b >= crate::memory::MIN_BUDGET)
            .ok_or_else(|| {
                Invalid::new(Reason::MemoryBudget {
                    shown: self.memory_budget.chars().take(40).collect(),
                    min_mib: crate::memory::MIN_BUDGET >> 20,
                })
            })?;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|a| {
                a.trim().parse().map_err(|_| {
                    Invalid::new(Reason::NotAnAddress {
                        flag: "--trusted-proxy".to_string(),
                        shown: a.chars().take(80).collect(),
                    })
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, Invalid>>()?;
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return Err(Invalid::new(Reason::MaxConnections));
        }
        if !(1..=3600).contains(&self.header_timeout_s) {
            return Err(Invalid::new(Reason::HeaderTimeout));
        }
        if let Some(url) = &self.store {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(Invalid::new(Reason::BadStoreUrl));
            }
        }
        let tokens_file = self
            .tokens
            .unwrap_or_else(|| crate::store::tokens_file(&self.data));
        Ok(Config {
            http,
            mqtt: self.mqtt,
            broker_listen,
            data: self.data,
            store: self.store,
            topic_root: self.topic_root,
            tz,
            tokens_file,
            admin_token,
            allow_self_approval: self.allow_self_approval,
            frame_grace_s: self.frame_grace_s,
            bundle_horizon_s: self.bundle_horizon_s,
            mqtt_ca: self.mqtt_ca,
            mqtt_cert: self.mqtt_cert,
            mqtt_key: self.mqtt_key,
            signing_key: self.signing_key,
            huidu_listen,
            memory_budget,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_s),
            session_idle: chrono::Duration::seconds(self.session_idle_s.into()),
            trusted_proxies,
        })
    }
}

/// A refusal as the person at the terminal reads it: a sentence from the
/// catalogue in their locale's language ([`Lang::from_locale`]), anything
/// else (an I/O failure, say) as `anyhow` prints it, in English.
pub fn terminal_refusal(e: &anyhow::Error) -> String {
    use crate::domain::Refusal;
    use crate::store::import::ImportError;
    use crate::store::StoreError;
    let lang = Lang::from_locale(|v| std::env::var(v).ok());
    if let Some(i) = e.downcast_ref::<ImportError>() {
        // The file the rows are in, when the caller named it.
        let file = e
            .chain()
            .next()
            .map(|c| c.to_string())
            .filter(|c| *c != i.to_string());
        let said = match file {
            Some(f) => format!("{f}: {}", i.render(lang)),
            None => i.render(lang),
        };
        return match lang {
            Lang::Vi => format!("Lỗi: {said}"),
            Lang::En => format!("Error: {said}"),
        };
    }
    let text = e.downcast_ref::<Invalid>().map(|i| &i.0).or_else(|| {
        match e.downcast_ref::<StoreError>()? {
            StoreError::Conflict(t) | StoreError::Refused(Refusal::UnknownRef(t)) => Some(t),
            StoreError::Refused(Refusal::Invalid(i)) => Some(&i.0),
            _ => None,
        }
    });
    match text {
        Some(t) => match lang {
            Lang::Vi => format!("Lỗi: {}", t.render(Lang::Vi)),
            Lang::En => format!("Error: {}", t.render(Lang::En)),
        },
        None => format!("Error: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ServeArgs,
    }

    #[test]
    fn trusted_proxies_are_addresses() {
        let c = T::parse_from(["x"]).a.into_config(None).unwrap();
        assert!(
            c.trusted_proxies.is_empty(),
            "no proxy trusted unless named"
        );
        let c = T::parse_from([
            "x",
            "--trusted-proxy",
            "127.0.0.1,::1",
            "--trusted-proxy",
            "127.0.0.2",
        ])
        .a
        .into_config(None)
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        let e = T::parse_from(["x", "--trusted-proxy", "proxy.local"])
            .a
            .into_config(None)
            .unwrap_err();
        assert!(format!("{e:?}").contains("trusted-proxy"), "{e:?}");
    }

    #[test]
    fn defaults_match_the_api_document() {
        let c = T::parse_from(["x"]).a.into_config(None).unwrap();
        assert_eq!(c.http.to_string(), "127.0.0.1:8080");
        assert_eq!(c.broker_listen.to_string(), "127.0.0.1:1883");
        assert_eq!(c.topic_root, "bangtin");
        assert_eq!(c.tz, chrono_tz::Asia::Ho_Chi_Minh);
        assert!(c.mqtt.is_none());
        assert!(c.huidu_listen.is_none(), "no Huidu listener unless asked");
        let c = T::parse_from(["x", "--huidu-listen", "0.0.0.0:10001"])
            .a
            .into_config(None)
            .unwrap();
        assert_eq!(c.huidu_listen.unwrap().to_string(), "0.0.0.0:10001");
        assert!(T::parse_from(["x", "--huidu-listen", "10001"])
            .a
            .into_config(None)
            .is_err());
        assert_eq!(c.memory_budget, 512 << 20);
        assert_eq!((c.max_connections, c.max_connections_per_ip), (4096, 256));
        assert_eq!(c.header_timeout.as_secs(), 10);
        let c = T::parse_from(["x", "--memory-budget", "1G"])
            .a
            .into_config(None)
            .unwrap();
        assert_eq!(c.memory_budget, 1 << 30);
    }

    #[test]
    fn bad_values_are_refused_with_a_sentence() {
        let e = T::parse_from(["x", "--http", "nope"]).a.into_config(None);
        assert!(e.unwrap_err().to_string().contains("IP:PORT"));
        assert!(T::parse_from(["x", "--tz", "Mars/Base"])
            .a
            .into_config(None)
            .is_err());
        assert!(T::parse_from(["x", "--topic-root", "a/#"])
            .a
            .into_config(None)
            .is_err());
        assert!(T::parse_from(["x", "--mqtt", "http://x"])
            .a
            .into_config(None)
            .is_err());
        assert!(T::parse_from(["x"])
            .a
            .into_config(Some("short".into()))
            .is_err());
        for bad in ["64M", "lots"] {
            let e = T::parse_from(["x", "--memory-budget", bad])
                .a
                .into_config(None);
            assert!(e.unwrap_err().to_string().contains("512M"), "{bad}");
        }
    }
}
