//! Mosquitto configuration for a province whose signs connect to district
//! brokers bridged to one provincial broker (docs/DEPLOYMENT.md).
//!
//! Pure: text from data. The province file ([`Plan`]) names the
//! provincial broker and one district broker per district group; the
//! panels come from the data directory; passwords and salts are
//! arguments. [`write`](mod@write) is the edge that reads the files, draws the
//! secrets and writes the result (`bangtin broker-config`).
//!
//! What it produces, per broker: `mosquitto.conf`, `passwd` (Mosquitto's
//! PBKDF2-SHA512 `$7$` lines, as `mosquitto_passwd` writes them) and `acl`
//! (one block per panel: it reads only its own frame and snapshot
//! requests and writes only its own status, ack and snapshot), and the
//! controllers' `PANEL PASSWORD` lines. A district's bridge section
//! subscribes, on the provincial broker, to its own panels' frames and
//! snapshot requests only (frames down), and carries every report its
//! signs publish up (status, acks, snapshots), with a persistent session
//! on both sides so messages wait while the uplink is down.
//!
//! With `"tls": true` in the province file every listener is TLS and every
//! bridge verifies the provincial broker: [`render`] is handed the
//! province's CA certificate and each broker's certificate and key
//! ([`Certificates`], made by the edge) and writes them beside the
//! configuration.

pub mod write;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::Deserialize;

use crate::domain::{Id, Invalid, Panel};
use crate::i18n::Reason;
use crate::mqtt::topics;

/// The server's user on the provincial broker (all topics under the root).
pub const SERVER_USER: &str = crate::mqtt::SERVER_USER;
/// Operators' tools: read everything under the root, on every broker.
pub const OPS_USER: &str = "bangtin-ops";
/// Mosquitto's PBKDF2 iteration count (`mosquitto_passwd`'s default).
const PBKDF2_ROUNDS: u32 = 101;
/// Mosquitto's salt length for `$7$` hashes, bytes.
pub const SALT_LEN: usize = 12;
/// The largest packet on every broker: the server's 4 MiB frame limit.
const MAX_PACKET: usize = crate::mqtt::DEFAULT_MAX_PACKET;
/// Messages a client's queue holds at least (Mosquitto's default).
const MIN_QUEUE: usize = 1000;

/// The province file (`--province FILE`, JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// First level(s) of every topic, as the server's `--topic-root`
    /// (default `bangtin`).
    #[serde(default = "default_root")]
    pub topic_root: String,
    /// The provincial broker: bangtin's own, and the bridges' other end.
    pub province: Place,
    /// One broker per district group; none: one broker for the province.
    #[serde(default)]
    pub districts: Vec<District>,
    /// Every listener speaks TLS (its port is then a TLS port, 8883 by
    /// convention) and every client verifies the broker against the
    /// province's CA: what a province whose signs reach their brokers over
    /// the internet (4G) needs, so that passwords and frames never cross
    /// it in clear.
    #[serde(default)]
    pub tls: bool,
    /// How many bangtin servers talk to the provincial broker (two on one
    /// PostgreSQL store, docs/DEPLOYMENT.md): each is given a user of its
    /// own (the broker makes a client's id its user name, so two servers
    /// on one user would take each other's connection over and over).
    #[serde(default = "one_server")]
    pub servers: u32,
}

/// The most servers a province file may name ([`Plan::servers`]).
pub const MAX_SERVERS: u32 = 8;

fn one_server() -> u32 {
    1
}

/// Server `n`'s user on the provincial broker (1-based): [`SERVER_USER`]
/// for the first, `bangtin-server-2`… for the others.
pub fn server_user(n: u32) -> String {
    match n {
        1 => SERVER_USER.to_string(),
        n => format!("{SERVER_USER}-{n}"),
    }
}

/// Server `n`'s environment file under the output directory:
/// `bangtin.env` for the first, `bangtin-2.env`… for the others.
pub fn env_file_name(n: u32) -> String {
    match n {
        1 => "bangtin.env".to_string(),
        n => format!("bangtin-{n}.env"),
    }
}

fn default_root() -> String {
    "bangtin".into()
}

fn default_port() -> u16 {
    1883
}

/// Where a broker runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// The address clients dial: bangtin and the district bridges for the
    /// provincial broker, the signs for a district's.
    pub host: String,
    /// The port clients dial and it listens on (default 1883).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The listener's address; absent: every interface.
    #[serde(default)]
    pub bind: Option<String>,
    /// Where this broker's files are installed on its machine; absent:
    /// where `broker-config` writes them.
    #[serde(default)]
    pub config_dir: Option<String>,
    /// Mosquitto's persistence directory; absent: `{config_dir}/data`.
    #[serde(default)]
    pub data_dir: Option<String>,
}

/// A district broker: the panels of one group connect to it
/// (`{"group": "tp-vinh", "broker": {"host": …}}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// The group whose panels connect to this broker.
    pub group: Id,
    /// The district broker (`"broker"` in the file).
    #[serde(rename = "broker")]
    pub place: Place,
}

/// Which broker each MQTT panel connects to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Panels in no district group: they connect to the provincial broker.
    pub province: Vec<Id>,
    /// Each district's panels, in the plan's order.
    pub districts: Vec<Vec<Id>>,
}

/// The name of a district's bridge user (and client id) on the provincial
/// broker. A `.` never appears in a panel id, so it names no panel.
pub fn bridge_user(group: &Id) -> String {
    format!("bridge.{group}")
}

/// A value written into a configuration line: non-empty, no spaces, no
/// control characters (a line break would add a line of its own).
fn check_value(field: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::new(Reason::BrokerConfigValue {
            field: field.to_string(),
            shown: value.chars().take(80).collect(),
        }));
    }
    Ok(())
}

impl Plan {
    /// Checks the values that go into configuration lines, and that no
    /// district is listed twice.
    pub fn check(&self) -> Result<(), Invalid> {
        topics::validate_root(&self.topic_root)?;
        check_value("topic_root", &self.topic_root)?;
        let mut places = vec![("province", self.province.clone())];
        places.extend(self.districts.iter().map(|d| ("district", d.place.clone())));
        for (what, p) in &places {
            check_value(&format!("{what}.host"), &p.host)?;
            for (field, v) in [
                ("bind", &p.bind),
                ("config_dir", &p.config_dir),
                ("data_dir", &p.data_dir),
            ] {
                if let Some(v) = v {
                    check_value(&format!("{what}.{field}"), v)?;
                }
            }
        }
        if !(1..=MAX_SERVERS).contains(&self.servers) {
            return Err(Invalid::new(Reason::BrokerServers {
                given: self.servers,
            }));
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.districts {
            if !seen.insert(&d.group) {
                return Err(Invalid::new(Reason::DistrictTwice {
                    group: d.group.to_string(),
                }));
            }
        }
        Ok(())
    }

    /// Places panels: a panel in a district's group connects to that
    /// district's broker, one in none to the provincial broker. Panels on
    /// other transports (Huidu cards) are left out. A panel in two
    /// districts' groups is refused.
    pub fn assign<'a>(
        &self,
        panels: impl IntoIterator<Item = &'a Panel>,
    ) -> Result<Layout, Invalid> {
        let mut layout = Layout {
            province: Vec::new(),
            districts: vec![Vec::new(); self.districts.len()],
        };
        for p in panels.into_iter().filter(|p| p.transport.is_mqtt()) {
            // Every server user a province file may ask for, and the
            // operators': a panel's user of that name would share it.
            if p.id.as_str() == OPS_USER
                || (1..=MAX_SERVERS).any(|n| server_user(n) == p.id.as_str())
            {
                return Err(Invalid::new(Reason::ReservedUserPanel {
                    user: p.id.to_string(),
                }));
            }
            let mut home = None;
            for (i, d) in self.districts.iter().enumerate() {
                if p.groups.iter().any(|g| g == d.group.as_str()) {
                    if let Some(first) = home {
                        let first: &District = &self.districts[first];
                        return Err(Invalid::new(Reason::PanelInTwoDistricts {
                            panel: p.id.to_string(),
                            first: first.group.to_string(),
                            second: d.group.to_string(),
                        }));
                    }
                    home = Some(i);
                }
            }
            match home {
                Some(i) => layout.districts[i].push(p.id.clone()),
                None => layout.province.push(p.id.clone()),
            }
        }
        Ok(layout)
    }

    /// Every user name that needs a password, sorted.
    pub fn users(&self, layout: &Layout) -> Vec<String> {
        let mut users: Vec<String> = (1..=self.servers).map(server_user).collect();
        users.push(OPS_USER.to_string());
        users.extend(self.districts.iter().map(|d| bridge_user(&d.group)));
        users.extend(layout.province.iter().map(Id::to_string));
        users.extend(layout.districts.iter().flatten().map(Id::to_string));
        users.sort();
        users.dedup();
        users
    }
}

/// The PEM texts of a TLS province ([`Plan::tls`]): the CA certificate
/// every client trusts and each broker's own certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificates {
    /// The province's CA certificate.
    pub ca: String,
    /// Per broker, in [`render`]'s order (the province, then each district
    /// of the plan): its certificate (issued by the CA, naming its `host`)
    /// and its private key.
    pub brokers: Vec<(String, String)>,
}

/// The CA certificate's file under the output directory (the edge keeps
/// its key beside it); clients and the server are given this file.
pub const CA_FILE: &str = "ca/ca.pem";

/// A file to write, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Where, relative to the output directory (`province/acl`, …).
    pub path: String,
    /// What it holds.
    pub text: String,
    /// Holds passwords or their hashes: written readable by its owner only.
    pub secret: bool,
}

/// A password as a Mosquitto `password_file` hash: `$7$` (PBKDF2 with
/// HMAC-SHA512), 101 rounds, the salt and the 64-byte hash in base64.
pub fn mosquitto_hash(password: &str, salt: &[u8; SALT_LEN]) -> String {
    let mut hash = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), salt, PBKDF2_ROUNDS, &mut hash);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "$7${PBKDF2_ROUNDS}${}${}",
        b64.encode(salt),
        b64.encode(hash)
    )
}

/// One broker's files, being written.
struct Broker<'a> {
    name: String,
    place: Place,
    panels: &'a [Id],
    /// Users other than panels, with their ACL lines.
    others: Vec<(String, Vec<String>)>,
}

/// Everything to write: per broker `mosquitto.conf`, `passwd`, `acl` and
/// `controllers.txt`, and `bangtin.env` (the server's `BANGTIN_MQTT`).
/// `out` is where the files land (the default `config_dir`);
/// `passwords` must hold every user of [`Plan::users`]; `certs` one
/// certificate per broker when the plan asks for TLS; `salt` draws a
/// fresh salt per hash.
pub fn render(
    plan: &Plan,
    layout: &Layout,
    out: &str,
    passwords: &BTreeMap<String, String>,
    certs: Option<&Certificates>,
    salt: &mut dyn FnMut() -> [u8; SALT_LEN],
) -> Result<Vec<File>, Invalid> {
    plan.check()?;
    check_value("out", out)?;
    let certs = match (plan.tls, certs) {
        (true, Some(c)) => {
            assert_eq!(
                c.brokers.len(),
                1 + plan.districts.len(),
                "a certificate per broker"
            );
            Some(c)
        }
        (true, None) => panic!("a TLS plan is rendered with its certificates"),
        (false, _) => None,
    };
    let root = &plan.topic_root;
    let brokers = brokers(plan, layout);
    let total: usize = layout.districts.iter().map(Vec::len).sum();
    let mut files = Vec::new();
    for (i, b) in brokers.iter().enumerate() {
        // The first broker is the province's; the others are districts'.
        let district = i.checked_sub(1).map(|d| &plan.districts[d]);
        let conf = Conf {
            out,
            total,
            tls: certs.is_some(),
        };
        files.push(mosquitto_conf(plan, b, district, conf, passwords));
        files.push(passwd_file(b, passwords, salt));
        files.push(acl_file(root, b));
        files.push(controllers_file(b, passwords, certs.is_some()));
        if let Some(c) = certs {
            files.extend(tls_files(b, &c.ca, &c.brokers[i]));
        }
    }
    for n in 1..=plan.servers {
        files.push(env_file(plan, n, out, passwords, certs.is_some()));
    }
    Ok(files)
}

/// What every broker's `mosquitto.conf` needs to know besides the broker.
#[derive(Clone, Copy)]
struct Conf<'a> {
    /// Where the files land (the default `config_dir`).
    out: &'a str,
    /// Panels in every district together.
    total: usize,
    /// Listeners and bridges over TLS.
    tls: bool,
}

/// `mqtts` over TLS, else `mqtt`.
fn scheme(tls: bool) -> &'static str {
    if tls {
        "mqtts"
    } else {
        "mqtt"
    }
}

/// Server `n`'s `bangtin.env` ([`env_file_name`]): where it dials the
/// provincial broker, as its own user (and, over TLS, the CA it trusts).
fn env_file(
    plan: &Plan,
    n: u32,
    out: &str,
    passwords: &BTreeMap<String, String>,
    tls: bool,
) -> File {
    let user = server_user(n);
    let mut env = format!(
        "BANGTIN_MQTT={}://{user}:{}@{}:{}\nBANGTIN_TOPIC_ROOT={}\n",
        scheme(tls),
        password(passwords, &user),
        host_in_url(&plan.province.host),
        plan.province.port,
        plan.topic_root
    );
    if tls {
        let _ = writeln!(
            env,
            "BANGTIN_MQTT_CA={}/{CA_FILE}",
            out.trim_end_matches('/')
        );
    }
    File {
        path: env_file_name(n),
        text: env,
        secret: true,
    }
}

/// A TLS broker's `ca.pem`, `server.pem` and `server.key` (the key
/// readable by its owner only).
fn tls_files(b: &Broker<'_>, ca: &str, (cert, key): &(String, String)) -> [File; 3] {
    let file = |name: &str, text: &str, secret| File {
        path: format!("{}/{name}", b.name),
        text: text.to_string(),
        secret,
    };
    [
        file("ca.pem", ca, false),
        file("server.pem", cert, false),
        file("server.key", key, true),
    ]
}

/// `user`'s password, which [`render`]'s caller must hold.
fn password<'a>(passwords: &'a BTreeMap<String, String>, user: &str) -> &'a str {
    passwords
        .get(user)
        .map(String::as_str)
        .expect("a password for every user of Plan::users")
}

/// The province's broker first, then one per district, each with its
/// panels and its other users: the server, the operators, and on the
/// province's the districts' bridges.
fn brokers<'a>(plan: &Plan, layout: &'a Layout) -> Vec<Broker<'a>> {
    let root = &plan.topic_root;
    let all = format!("{root}/#");
    let ops = (OPS_USER.to_string(), vec![format!("topic read {all}")]);
    let mut province_users: Vec<(String, Vec<String>)> = (1..=plan.servers)
        .map(|n| (server_user(n), vec![format!("topic readwrite {all}")]))
        .collect();
    province_users.push(ops.clone());
    let (reads, writes) = topics::every_controller(root);
    for d in &plan.districts {
        let mut lines: Vec<String> = reads.iter().map(|t| format!("topic read {t}")).collect();
        lines.extend(writes.iter().map(|t| format!("topic write {t}")));
        lines.push(format!(
            "topic write {}",
            notification_topic(root, &d.group)
        ));
        province_users.push((bridge_user(&d.group), lines));
    }
    let mut brokers = vec![Broker {
        name: "province".into(),
        place: plan.province.clone(),
        panels: &layout.province,
        others: province_users,
    }];
    for (d, panels) in plan.districts.iter().zip(&layout.districts) {
        brokers.push(Broker {
            name: d.group.to_string(),
            place: d.place.clone(),
            panels,
            others: vec![ops.clone()],
        });
    }
    brokers
}

/// A broker's `mosquitto.conf`: listener, limits, persistence and, for a
/// district's (`district`), its bridge to the province. `total` is the
/// number of panels in districts (the province queues for all of them).
fn mosquitto_conf(
    plan: &Plan,
    b: &Broker<'_>,
    district: Option<&District>,
    Conf { out, total, tls }: Conf<'_>,
    passwords: &BTreeMap<String, String>,
) -> File {
    let dir = b
        .place
        .config_dir
        .clone()
        .unwrap_or_else(|| format!("{}/{}", out.trim_end_matches('/'), b.name));
    let data = b
        .place
        .data_dir
        .clone()
        .unwrap_or_else(|| format!("{dir}/data"));
    // The province queues frames for a district whose uplink is down
    // (the newest is also retained) and the whole fleet's acks for the
    // server; a district queues its signs' reports, several per panel,
    // until the uplink is back.
    let queue = if district.is_none() {
        4 * (total + b.panels.len())
    } else {
        8 * b.panels.len()
    }
    .max(MIN_QUEUE);
    let mut conf = String::new();
    let role = if district.is_none() {
        "the provincial broker: bangtin connects here, district brokers bridge in"
    } else {
        "a district broker: its signs connect here; it bridges to the provincial broker"
    };
    let _ = writeln!(
        conf,
        "# Written by `bangtin broker-config`: {role}.\n# Change the province file and run it again rather than editing this.\n"
    );
    let _ = writeln!(
        conf,
        "per_listener_settings false\nallow_anonymous false\npassword_file {dir}/passwd\nacl_file {dir}/acl\n\n# Frames up to 1024x512 rgb888 plus header and signature; larger\n# packets disconnect their sender.\nmax_packet_size {MAX_PACKET}\n# Messages held per client while it is away (a bridge's whole district).\nmax_queued_messages {queue}\nmax_inflight_messages 100\n\n# Retained frames and statuses, and the bridges' sessions, survive a\n# restart.\npersistence true\npersistence_location {data}/\nautosave_interval 30\n"
    );
    let bind = b
        .place
        .bind
        .as_deref()
        .map_or(String::new(), |a| format!(" {a}"));
    let _ = writeln!(
        conf,
        "listener {}{bind}\n# A client id is its user name: nobody takes over a panel's session.\nuse_username_as_clientid true",
        b.place.port
    );
    if tls {
        let _ = writeln!(
            conf,
            "# TLS: clients verify this certificate (it names {}) against ca.pem.\ncertfile {dir}/server.pem\nkeyfile {dir}/server.key",
            b.place.host
        );
    }
    if let Some(d) = district {
        let cafile = tls.then(|| format!("{dir}/ca.pem"));
        bridge_section(
            &mut conf,
            plan,
            d,
            b.panels,
            password(passwords, &bridge_user(&d.group)),
            cafile.as_deref(),
        );
    }
    File {
        path: format!("{}/mosquitto.conf", b.name),
        text: conf,
        // A district's holds its bridge's password.
        secret: district.is_some(),
    }
}

/// A broker's `passwd`: every user's password hashed with a fresh salt.
fn passwd_file(
    b: &Broker<'_>,
    passwords: &BTreeMap<String, String>,
    salt: &mut dyn FnMut() -> [u8; SALT_LEN],
) -> File {
    let mut users: Vec<&str> = b.others.iter().map(|(u, _)| u.as_str()).collect();
    users.extend(b.panels.iter().map(Id::as_str));
    let mut passwd = String::new();
    for u in &users {
        let _ = writeln!(
            passwd,
            "{u}:{}",
            mosquitto_hash(password(passwords, u), &salt())
        );
    }
    File {
        path: format!("{}/passwd", b.name),
        text: passwd,
        secret: true,
    }
}

/// A broker's `acl`: its other users' lines, then a block per panel from
/// [`topics::controller_reads`] and [`topics::controller_writes`].
fn acl_file(root: &str, b: &Broker<'_>) -> File {
    let mut acl = String::from(
        "# Written by `bangtin broker-config`. Each panel (user name = panel id)\n# reads only its own frame, bundle and snapshot requests and writes only\n# its own status, ack and snapshot.\n",
    );
    for (user, lines) in &b.others {
        let _ = writeln!(acl, "\nuser {user}\n{}", lines.join("\n"));
    }
    for p in b.panels {
        let _ = write!(acl, "\nuser {p}\n");
        for t in topics::controller_reads(root, p) {
            let _ = writeln!(acl, "topic read {t}");
        }
        for t in topics::controller_writes(root, p) {
            let _ = writeln!(acl, "topic write {t}");
        }
    }
    File {
        path: format!("{}/acl", b.name),
        text: acl,
        secret: false,
    }
}

/// A broker's `controllers.txt`: `PANEL PASSWORD` lines, as `bangtin
/// controller --credentials` reads them.
fn controllers_file(b: &Broker<'_>, passwords: &BTreeMap<String, String>, tls: bool) -> File {
    let trust = if tls {
        ", trusting ca.pem (`--mqtt-ca`)"
    } else {
        ""
    };
    let mut creds = format!(
        "# PANEL PASSWORD for the controllers of {} ({}://{}:{}{trust}); `bangtin controller --credentials` reads this form.\n",
        b.name,
        scheme(tls),
        b.place.host,
        b.place.port
    );
    for p in b.panels {
        let _ = writeln!(creds, "{p} {}", password(passwords, p.as_str()));
    }
    File {
        path: format!("{}/controllers.txt", b.name),
        text: creds,
        secret: true,
    }
}

/// Where a district's bridge says whether it is up (`1`) or down (`0`),
/// on both brokers.
pub fn notification_topic(root: &str, group: &Id) -> String {
    format!("{root}/bridges/{group}/state")
}

fn host_in_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A district's `connection` section: frames and snapshot requests of its
/// own panels in, every report out, a persistent session both sides; over
/// TLS, verifying the provincial broker against `cafile`.
fn bridge_section(
    conf: &mut String,
    plan: &Plan,
    d: &District,
    panels: &[Id],
    password: &str,
    cafile: Option<&str>,
) {
    let root = &plan.topic_root;
    let user = bridge_user(&d.group);
    let p = &plan.province;
    let addr = if p.host.contains(':') {
        // Mosquitto reads an IPv6 bridge address as is, the port after it.
        format!("{} {}", p.host, p.port)
    } else {
        format!("{}:{}", p.host, p.port)
    };
    let _ = writeln!(
        conf,
        "\n# The uplink to the provincial broker. Messages wait on both sides while\n# it is down (cleansession false: a persistent session), and this broker\n# keeps serving its signs their retained frames meanwhile.\nconnection {user}\naddress {addr}\nbridge_protocol_version mqttv311\n# Tell the provincial broker this is a bridge: it then keeps the retain\n# flag of what it forwards (frames stay retained here) and sends nothing\n# back the way it came.\ntry_private true\ncleansession false\nremote_clientid {user}\nlocal_clientid {user}.local\nremote_username {user}\nremote_password {password}\nkeepalive_interval 20\nstart_type automatic\n# Reconnect after 1 s, backing off (with jitter) to at most 15 s.\nrestart_timeout 1 15\nnotifications true\nnotification_topic {}",
        notification_topic(root, &d.group)
    );
    if let Some(ca) = cafile {
        // Mosquitto then checks the provincial broker's certificate and
        // that it names the address dialled (bridge_insecure stays false).
        let _ = writeln!(conf, "# The uplink is TLS.\nbridge_cafile {ca}");
    }
    let _ = writeln!(conf, "\n# Up: every report this district's signs publish.");
    for t in topics::every_controller(root).1 {
        let _ = writeln!(conf, "topic {t} out 1");
    }
    let _ = writeln!(
        conf,
        "# Down: this district's panels' frames, bundles and snapshot requests only."
    );
    for panel in panels {
        for t in topics::controller_reads(root, panel) {
            let _ = writeln!(conf, "topic {t} in 1");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PixelFormat, Transport};

    fn panel(id: &str, groups: &[&str]) -> Panel {
        Panel {
            id: Id::parse(id).unwrap(),
            name: id.into(),
            width: 64,
            height: 32,
            format: PixelFormat::Mono1,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            color: None,
            brightness: None,
            transport: Transport::Mqtt,
            location: None,
            units: Vec::new(),
        }
    }

    fn plan() -> Plan {
        serde_json::from_str(
            r#"{"province": {"host": "10.0.0.1", "port": 1884},
                "districts": [
                  {"group": "tp-vinh", "broker": {"host": "10.0.1.1"}},
                  {"group": "cua-lo", "broker": {"host": "10.0.2.1", "port": 1990, "bind": "10.0.2.1",
                   "config_dir": "/etc/mosquitto/bangtin", "data_dir": "/var/lib/mosquitto"}}
                ]}"#,
        )
        .unwrap()
    }

    fn passwords(plan: &Plan, layout: &Layout) -> BTreeMap<String, String> {
        plan.users(layout)
            .into_iter()
            .map(|u| {
                let pw = format!("pw-{u}");
                (u, pw)
            })
            .collect()
    }

    fn files(plan: &Plan, panels: &[Panel]) -> BTreeMap<String, File> {
        let layout = plan.assign(panels).unwrap();
        let pw = passwords(plan, &layout);
        let certs = Certificates {
            ca: "CA".into(),
            brokers: (0..=plan.districts.len())
                .map(|i| (format!("CERT-{i}"), format!("KEY-{i}")))
                .collect(),
        };
        let mut n = 0u8;
        render(plan, &layout, "/out", &pw, Some(&certs), &mut || {
            n += 1;
            [n; SALT_LEN]
        })
        .unwrap()
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect()
    }

    /// Mosquitto's `$7$` form; the hash for "secret" with this salt was
    /// computed independently (Python's `hashlib.pbkdf2_hmac`), and the
    /// integration test signs in to a real Mosquitto with such hashes.
    #[test]
    fn hashes_are_mosquittos_pbkdf2_sha512() {
        let h = mosquitto_hash("secret", &[7; SALT_LEN]);
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(&parts[..3], ["", "7", "101"]);
        assert_eq!(parts[3], "BwcHBwcHBwcHBwcH");
        assert_eq!(parts[4].len(), 88, "64 bytes in base64 with padding");
        assert_eq!(parts[4], EXPECTED_SECRET_HASH);
        assert_ne!(h, mosquitto_hash("secret", &[8; SALT_LEN]));
    }

    const EXPECTED_SECRET_HASH: &str =
        "6ZQ2yRzvC8IBaKHF1SkHNXEXdjUM/JI6hteW8lTabANPHYldnRXh9Hz30Wfv77tWFerkNupf/aEFu58qFdtQfQ==";

    #[test]
    fn panels_go_to_their_districts_broker_or_the_provinces() {
        let plan = plan();
        let panels = [
            panel("a1", &["tp-vinh"]),
            panel("b1", &["cua-lo", "ven-bien"]),
            panel("c1", &["ven-bien"]),
            panel("a2", &["tp-vinh", "ven-bien"]),
        ];
        let layout = plan.assign(&panels).unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| Id::parse(s).unwrap()).collect::<Vec<_>>();
        assert_eq!(layout.province, ids(&["c1"]));
        assert_eq!(layout.districts, vec![ids(&["a1", "a2"]), ids(&["b1"])]);
        let mut huidu = panel("h1", &["tp-vinh"]);
        huidu.transport =
            serde_json::from_str(r#"{"kind":"huidu","device_id":"C16-19-A0001"}"#).unwrap();
        assert_eq!(plan.assign([&huidu]).unwrap().districts[0], vec![]);
        let e = plan
            .assign(&[panel("x1", &["cua-lo", "tp-vinh"])])
            .unwrap_err();
        assert!(
            matches!(&e.0, crate::i18n::Text::Says(r) if matches!(**r, Reason::PanelInTwoDistricts { .. })),
            "{e:?}"
        );
        assert_eq!(
            plan.users(&layout),
            [
                "a1",
                "a2",
                "b1",
                "bangtin-ops",
                "bangtin-server",
                "bridge.cua-lo",
                "bridge.tp-vinh",
                "c1"
            ]
        );
    }

    #[test]
    fn plans_with_unsafe_values_or_a_district_twice_are_refused() {
        let mut p = plan();
        p.province.host = "10.0.0.1\nallow_anonymous true".into();
        assert!(p.check().is_err());
        let mut p = plan();
        p.districts[1].place.data_dir = Some("/var/lib/my data".into());
        assert!(p.check().is_err());
        let mut p = plan();
        p.districts[1].group = Id::parse("tp-vinh").unwrap();
        assert!(p.check().is_err());
        let mut p = plan();
        p.topic_root = "a/#".into();
        assert!(p.check().is_err());
        assert!(plan().check().is_ok());
        assert!(serde_json::from_str::<Plan>(r#"{"province": {"host": "h", "prot": 1}}"#).is_err());
        assert!(serde_json::from_str::<Plan>(
            r#"{"province": {"host": "h"}, "districts": [{"group": "g", "broker": {"host": "d"}, "prot": 1}]}"#
        )
        .is_err());
    }

    /// With TLS each listener names its certificate and key, each bridge
    /// verifies the province against the CA, and the server and the
    /// controllers are told to dial mqtts and trust the CA.
    #[test]
    fn a_tls_province_verifies_every_broker() {
        let mut plan = plan();
        let plain = files(&plan, &[panel("a1", &["tp-vinh"])]);
        assert!(!plain["province/mosquitto.conf"].text.contains("certfile"));
        assert!(!plain.contains_key("province/server.key"));
        plan.tls = true;
        let f = files(&plan, &[panel("a1", &["tp-vinh"]), panel("c1", &[])]);
        let vinh = &f["tp-vinh/mosquitto.conf"].text;
        for line in [
            "listener 1883\n",
            "certfile /out/tp-vinh/server.pem\nkeyfile /out/tp-vinh/server.key\n",
            "address 10.0.0.1:1884\n",
            "bridge_cafile /out/tp-vinh/ca.pem\n",
        ] {
            assert!(vinh.contains(line), "{line:?} missing from\n{vinh}");
        }
        let province = &f["province/mosquitto.conf"].text;
        assert!(province.contains("certfile /out/province/server.pem\n"));
        assert!(!province.contains("bridge_cafile"));
        // The province first, then the districts in the plan's order.
        assert_eq!(f["province/server.pem"].text, "CERT-0");
        assert_eq!(f["tp-vinh/server.pem"].text, "CERT-1");
        assert_eq!(f["cua-lo/server.key"].text, "KEY-2");
        assert!(f["cua-lo/server.key"].secret);
        assert!(!f["cua-lo/server.pem"].secret);
        assert_eq!(f["cua-lo/ca.pem"].text, "CA");
        assert_eq!(
            f["bangtin.env"].text,
            "BANGTIN_MQTT=mqtts://bangtin-server:pw-bangtin-server@10.0.0.1:1884\nBANGTIN_TOPIC_ROOT=bangtin\nBANGTIN_MQTT_CA=/out/ca/ca.pem\n"
        );
        assert!(f["province/controllers.txt"]
            .text
            .contains("(mqtts://10.0.0.1:1884, trusting ca.pem (`--mqtt-ca`))"));
    }

    /// Two servers on one PostgreSQL store each get a user of their own
    /// on the provincial broker (it makes a client's id its user name:
    /// on one user they would take each other's connection over and
    /// over), with the server's rights, and an environment file each.
    #[test]
    fn two_servers_get_a_user_and_an_environment_file_each() {
        let mut plan = plan();
        plan.servers = 2;
        let f = files(&plan, &[panel("a1", &["tp-vinh"])]);
        let acl = &f["province/acl"].text;
        for user in ["bangtin-server", "bangtin-server-2"] {
            assert!(
                acl.contains(&format!("user {user}\ntopic readwrite bangtin/#\n")),
                "{user} in\n{acl}"
            );
            assert!(f["province/passwd"]
                .text
                .lines()
                .any(|l| l.starts_with(&format!("{user}:$7$"))));
        }
        assert!(f["bangtin.env"]
            .text
            .contains("://bangtin-server:pw-bangtin-server@"));
        assert!(f["bangtin-2.env"]
            .text
            .contains("://bangtin-server-2:pw-bangtin-server-2@"));
        assert!(f["bangtin-2.env"].secret);
        assert!(!f.contains_key("bangtin-3.env"));
        assert!(!f["tp-vinh/acl"].text.contains("bangtin-server"));
        // No panel may be named as a server (any of the eight a file may
        // ask for) or the operators' tools: it would share their user.
        for id in ["bangtin-server", "bangtin-server-8", "bangtin-ops"] {
            assert!(plan.assign(&[panel(id, &[])]).is_err(), "{id}");
        }
        assert!(plan.assign(&[panel("bangtin-server-9", &[])]).is_ok());
        for bad in [0, MAX_SERVERS + 1] {
            plan.servers = bad;
            assert!(plan.check().is_err(), "servers {bad}");
        }
    }

    #[test]
    fn a_district_bridges_its_own_frames_down_and_reports_up() {
        let f = files(
            &plan(),
            &[
                panel("a1", &["tp-vinh"]),
                panel("b1", &["cua-lo"]),
                panel("c1", &[]),
            ],
        );
        let conf = &f["tp-vinh/mosquitto.conf"].text;
        for line in [
            "password_file /out/tp-vinh/passwd",
            "acl_file /out/tp-vinh/acl",
            "persistence_location /out/tp-vinh/data/",
            "listener 1883\n",
            "connection bridge.tp-vinh",
            "address 10.0.0.1:1884",
            "cleansession false",
            "remote_username bridge.tp-vinh",
            "remote_password pw-bridge.tp-vinh",
            "topic bangtin/panels/+/status out 1",
            "topic bangtin/panels/+/ack out 1",
            "topic bangtin/panels/+/snapshot out 1",
            "topic bangtin/panels/a1/frame in 1",
            "topic bangtin/panels/a1/bundle in 1",
            "topic bangtin/panels/a1/snapshot/request in 1",
        ] {
            assert!(conf.contains(line), "{line:?} missing from\n{conf}");
        }
        assert!(!conf.contains("b1"), "another district's panel:\n{conf}");
        assert!(f["tp-vinh/mosquitto.conf"].secret);
        let cua_lo = &f["cua-lo/mosquitto.conf"].text;
        assert!(cua_lo.contains("listener 1990 10.0.2.1\n"));
        assert!(cua_lo.contains("password_file /etc/mosquitto/bangtin/passwd"));
        assert!(cua_lo.contains("persistence_location /var/lib/mosquitto/"));
        let province = &f["province/mosquitto.conf"].text;
        assert!(province.contains("listener 1884\n"));
        assert!(!province.contains("connection "));
        assert_eq!(
            f["bangtin.env"].text,
            "BANGTIN_MQTT=mqtt://bangtin-server:pw-bangtin-server@10.0.0.1:1884\nBANGTIN_TOPIC_ROOT=bangtin\n"
        );
    }

    #[test]
    fn each_panel_is_confined_and_bridges_may_only_relay() {
        let f = files(
            &plan(),
            &[
                panel("a1", &["tp-vinh"]),
                panel("a2", &["tp-vinh"]),
                panel("c1", &[]),
            ],
        );
        let acl = &f["tp-vinh/acl"].text;
        assert!(acl.contains(
            "\nuser a1\ntopic read bangtin/panels/a1/frame\ntopic read bangtin/panels/a1/bundle\ntopic read bangtin/panels/a1/snapshot/request\ntopic write bangtin/panels/a1/status\ntopic write bangtin/panels/a1/ack\ntopic write bangtin/panels/a1/snapshot\n"
        ), "{acl}");
        assert!(acl.contains("\nuser bangtin-ops\ntopic read bangtin/#\n"));
        assert!(
            !acl.contains("bangtin-server") && !acl.contains("c1"),
            "{acl}"
        );
        let province = &f["province/acl"].text;
        assert!(province.contains("\nuser bangtin-server\ntopic readwrite bangtin/#\n"));
        assert!(province.contains("\nuser c1\ntopic read bangtin/panels/c1/frame\n"));
        assert!(province.contains(
            "\nuser bridge.tp-vinh\ntopic read bangtin/panels/+/frame\ntopic read bangtin/panels/+/bundle\ntopic read bangtin/panels/+/snapshot/request\ntopic write bangtin/panels/+/status\ntopic write bangtin/panels/+/ack\ntopic write bangtin/panels/+/snapshot\ntopic write bangtin/bridges/tp-vinh/state\n"
        ), "{province}");
        // Users: each broker knows only its own panels.
        let users = |path: &str| {
            f[path]
                .text
                .lines()
                .map(|l| l.split(':').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(users("tp-vinh/passwd"), ["bangtin-ops", "a1", "a2"]);
        assert_eq!(
            users("province/passwd"),
            [
                "bangtin-server",
                "bangtin-ops",
                "bridge.tp-vinh",
                "bridge.cua-lo",
                "c1"
            ]
        );
        assert!(f["tp-vinh/passwd"].text.contains(":$7$101$"));
        assert_eq!(
            f["tp-vinh/controllers.txt"]
                .text
                .lines()
                .skip(1)
                .collect::<Vec<_>>(),
            ["a1 pw-a1", "a2 pw-a2"]
        );
        assert!(f["tp-vinh/controllers.txt"].secret && f["province/passwd"].secret);
        assert!(!f["province/acl"].secret);
    }
}
