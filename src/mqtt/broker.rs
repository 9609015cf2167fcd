//! The embedded broker: rumqttd in-process on its own threads, for one
//! office or a pilot (up to a few hundred panels). Retained messages live in
//! memory only; after a restart the server republishes every frame anyway.
//!
//! rumqttd authenticates but has no topic ACLs, so it listens only on a
//! loopback port chosen at start, taking one user whose password is drawn
//! at random for this process and never stored: the server's own link
//! connects there (through its size guard, not the gateway). Everyone else — controllers, operators' tools —
//! comes through the [`gateway`] on the public listener,
//! which checks credentials and topics and relays to rumqttd with that
//! internal login.
//!
//! rumqttd has no shutdown API: the broker lives until the process exits.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use rumqttc::mqttbytes::v4::Login;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::gateway::{self, Authenticate, Gateway};
use super::{BrokerUrl, Counters, MqttError, FRAME_PACKET};

/// Connections the router accepts: thousands of controllers and the server.
const MAX_CONNECTIONS: usize = 20_000;
/// The one user rumqttd knows.
const INTERNAL_USER: &str = "bangtin-internal";

fn config(listen: SocketAddr, password: &str) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        // rumqttd's limit is on the remaining length (topic, packet id,
        // payload): the gateway lets nothing larger through, and the
        // server's link reads anything up to it.
        max_payload_size: FRAME_PACKET,
        max_inflight_count: 500,
        auth: Some(HashMap::from([(
            INTERNAL_USER.to_string(),
            password.to_string(),
        )])),
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "bangtin-embedded".into(),
        listen,
        tls: None,
        // The stock config sleeps between accepts; thousands of controllers
        // reconnecting at once after a power cut should not queue for that.
        next_connection_delay_ms: 0,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: MAX_CONNECTIONS,
            max_outgoing_packet_count: 200,
            // Each subscription filter keeps its own in-memory log of
            // segments. Frames are superseded at once, so keep it short:
            // a few MiB per controller at most, even with 1.5 MiB frames.
            max_segment_size: 1024 * 1024,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Config::default()
    }
}

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    /// The public listener: the gateway.
    pub listen: SocketAddr,
    /// rumqttd itself on its loopback port, with the internal login: where
    /// the server's own link connects. Never give it to anyone else.
    pub internal: BrokerUrl,
}

/// Starts rumqttd on a free loopback port and returns once it accepts TCP
/// connections.
fn start_rumqttd(password: &str) -> Result<SocketAddr, MqttError> {
    let fail = |e: std::io::Error| {
        MqttError::Broker(format!("the embedded MQTT broker cannot start: {e}"))
    };
    // Bound and released: rumqttd binds it itself a moment later.
    let addr = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(fail)?;
    let cfg = config(addr, password);
    let thread = std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = Broker::new(cfg);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(fail)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if thread.is_finished() {
            return Err(MqttError::Broker(
                "the embedded MQTT broker stopped at once".into(),
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(addr);
        }
        if Instant::now() > deadline {
            return Err(MqttError::Broker(format!(
                "the embedded MQTT broker did not start listening on {addr} within 10 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the embedded broker: rumqttd on a private loopback port and the
/// gateway on `listen`, which admits whom `auth` accepts and confines each
/// panel's controller to its own topics under `topic_root`. Returns once
/// both accept connections, or with an error naming the problem (port
/// taken, …). The gateway runs on the current Tokio runtime.
pub fn start_embedded_broker(
    listen: SocketAddr,
    topic_root: &str,
    auth: Arc<dyn Authenticate>,
    counters: Arc<Counters>,
) -> Result<EmbeddedBroker, MqttError> {
    if listen.port() == 0 {
        return Err(MqttError::Broker(
            "the embedded broker needs a fixed port (--broker-listen), not port 0".into(),
        ));
    }
    let public = TcpListener::bind(listen).map_err(|e| {
        MqttError::Broker(format!(
            "the embedded MQTT broker cannot listen on {listen}: {e}; free the port, choose another with --broker-listen, or use an external broker with --mqtt"
        ))
    })?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| MqttError::Broker("the embedded MQTT broker needs a Tokio runtime".into()))?;
    let public = {
        let _in = runtime.enter();
        public
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(public))
            .map_err(|e| MqttError::Broker(format!("the MQTT gateway cannot start: {e}")))?
    };
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let password = hex::encode(secret);
    let upstream = start_rumqttd(&password)?;
    runtime.spawn(gateway::serve(
        public,
        Gateway {
            root: topic_root.to_string(),
            auth,
            upstream,
            internal_login: Login {
                username: INTERNAL_USER.into(),
                password: password.clone(),
            },
            counters,
        },
    ));
    tracing::info!(%listen, "embedded MQTT broker accepting connections (credentials and per-panel ACL enforced)");
    Ok(EmbeddedBroker {
        listen,
        internal: BrokerUrl {
            host: upstream.ip().to_string(),
            port: upstream.port(),
            tls: false,
            username: Some(INTERNAL_USER.into()),
            password: Some(password),
        },
    })
}
