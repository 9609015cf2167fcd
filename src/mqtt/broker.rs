//! The embedded broker: rumqttd in-process on its own threads, for one
//! office or a pilot (up to a few hundred panels). Retained messages live in
//! memory only; after a restart the server republishes every frame anyway.
//!
//! rumqttd has no shutdown API: the broker lives until the process exits.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::{MqttError, DEFAULT_MAX_PACKET};

/// Connections the router accepts: thousands of controllers and the server.
const MAX_CONNECTIONS: usize = 20_000;

fn config(listen: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        // rumqttd counts the topic and 4 bytes on top of the payload.
        max_payload_size: DEFAULT_MAX_PACKET + 1024,
        max_inflight_count: 500,
        auth: None,
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

/// Starts the embedded broker on `listen` and returns once it accepts TCP
/// connections, or with an error naming the problem (port taken, …).
pub fn start_embedded_broker(listen: SocketAddr) -> Result<(), MqttError> {
    if listen.port() == 0 {
        return Err(MqttError::Broker(
            "the embedded broker needs a fixed port (--broker-listen), not port 0".into(),
        ));
    }
    // rumqttd only logs a bind failure from its own thread; find out here.
    match TcpListener::bind(listen) {
        Ok(l) => drop(l),
        Err(e) => {
            return Err(MqttError::Broker(format!(
                "the embedded MQTT broker cannot listen on {listen}: {e}; free the port, choose another with --broker-listen, or use an external broker with --mqtt"
            )))
        }
    }
    let cfg = config(listen);
    let thread = std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = Broker::new(cfg);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| MqttError::Broker(format!("cannot start the broker thread: {e}")))?;
    let probe = if listen.ip().is_unspecified() {
        let lo = match listen {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        SocketAddr::new(lo, listen.port())
    } else {
        listen
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if thread.is_finished() {
            return Err(MqttError::Broker(format!(
                "the embedded MQTT broker stopped at once: is {listen} already in use?"
            )));
        }
        if TcpStream::connect_timeout(&probe, Duration::from_millis(200)).is_ok() {
            tracing::info!(%listen, "embedded MQTT broker accepting connections");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(MqttError::Broker(format!(
                "the embedded MQTT broker did not start listening on {listen} within 10 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
