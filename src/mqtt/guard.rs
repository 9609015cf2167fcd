//! The server link's guard. rumqttc answers a packet over its size limit
//! by dropping the connection, and a retained message is delivered again
//! on every reconnect: one oversized status from anyone who can publish
//! cut the server off its broker for good (five reconnects a second, acks
//! lost, every panel republished each time).
//!
//! So the link's rumqttc client connects to this relay, in-process on a
//! loopback port, and the relay dials the real broker (doing the TLS, if
//! any). It passes the server's own packets through and skips any message
//! to the server over [`REPORT_PACKET`] bytes as it streams past:
//! acknowledged to the broker, logged with its topic and size, counted in
//! [`Counters::dropped`] — and the link stays up. The server subscribes
//! only to controllers' reports, which are a few hundred bytes.
//!
//! Only the link can use the relay: its CONNECT must carry a client id
//! drawn at random for this process, which the relay replaces with the
//! real one. Anyone else on the host is closed at once (the relay would
//! otherwise lend them the server's TLS client certificate).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use rumqttc::mqttbytes::v4::{Packet, PubAck};
use rumqttc::mqttbytes::QoS;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::relay::{relay, Policy, Verdict};
use super::wire::{Codec, Item};
use super::{Counters, MqttError};

/// Largest message delivered to the server: reports are at most
/// [`super::MAX_REPORT`] bytes; anything this much larger is skipped unread.
pub(crate) const REPORT_PACKET: usize = 64 * 1024;
const CONNECT_WAIT: Duration = Duration::from_secs(10);
/// Under rumqttc's 5 s connection timeout, so a dead broker is reported
/// by the relay closing, not by rumqttc giving up on it.
const DIAL_WAIT: Duration = Duration::from_secs(4);

/// Where the link connects, and as whom.
pub(crate) struct Guard {
    pub addr: SocketAddr,
    /// The client id the link must send (random; replaced by the real one).
    pub client_id: String,
}

/// The real broker.
struct Upstream {
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    client_id: String,
    /// Largest packet the link sends (a frame).
    max_packet: usize,
    counters: Arc<Counters>,
    /// Consecutive failures to reach it, so an outage is logged once and
    /// then every 20th attempt, not every few seconds.
    failures: AtomicU32,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl Upstream {
    async fn dial(&self) -> Result<Box<dyn Stream>, String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let Some(cfg) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| format!("{:?} is not a TLS server name: {e}", self.host))?;
        let tls = rumqttc::tokio_rustls::TlsConnector::from(cfg.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Ok(Box::new(tls))
    }
}

/// Starts the relay towards `host:port` (TLS with `tls`) on a loopback
/// port (needs a Tokio runtime).
pub(crate) fn start(
    host: &str,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    client_id: &str,
    max_packet: usize,
    counters: Arc<Counters>,
) -> Result<Guard, MqttError> {
    let fail = |e: std::io::Error| MqttError::Broker(format!("cannot start the MQTT link: {e}"));
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    let addr = listener.local_addr().map_err(fail)?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| MqttError::Broker("the MQTT link needs a Tokio runtime".into()))?;
    let listener = {
        let _in = runtime.enter();
        TcpListener::from_std(listener).map_err(fail)?
    };
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let guard = Guard {
        addr,
        client_id: format!("link-{}", hex::encode(nonce)),
    };
    let upstream = Arc::new(Upstream {
        host: host.to_string(),
        port,
        tls,
        client_id: client_id.to_string(),
        max_packet,
        counters,
        failures: AtomicU32::new(0),
    });
    let expected = guard.client_id.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (upstream, expected) = (upstream.clone(), expected.clone());
            tokio::spawn(async move { link(&upstream, &expected, stream).await });
        }
    });
    Ok(guard)
}

/// One connection of the link, from its CONNECT to its end.
async fn link(up: &Upstream, expected: &str, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (r, w) = tokio::io::split(stream);
    let mut client_in = FramedRead::new(r, Codec::new(REPORT_PACKET));
    let client_out = FramedWrite::new(w, Codec::new(0));
    let mut connect = match tokio::time::timeout(CONNECT_WAIT, client_in.next()).await {
        Ok(Some(Ok(Item::Packet(Packet::Connect(c))))) if c.client_id == expected => c,
        _ => return,
    };
    let broker = match tokio::time::timeout(DIAL_WAIT, up.dial()).await {
        Ok(Ok(s)) => s,
        other => {
            let why = match other {
                Ok(Err(e)) => e,
                _ => format!("no answer within {DIAL_WAIT:?}"),
            };
            let n = up.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(20) {
                tracing::warn!(broker = %format!("{}:{}", up.host, up.port), failures = n, "the MQTT broker cannot be reached: {why}");
            }
            return;
        }
    };
    up.failures.store(0, Ordering::Relaxed);
    let (br, bw) = tokio::io::split(broker);
    let broker_in = FramedRead::new(br, Codec::skipping_large_publishes(REPORT_PACKET));
    let mut broker_out = FramedWrite::new(bw, Codec::new(0));
    connect.client_id = up.client_id.clone();
    if broker_out.send(Packet::Connect(connect)).await.is_err() {
        return;
    }
    client_in.decoder_mut().set_limit(up.max_packet);
    let why = relay(
        client_in,
        client_out,
        broker_in,
        broker_out,
        &Skipper {
            counters: &up.counters,
        },
    )
    .await;
    tracing::debug!("MQTT link connection ended: {why}");
}

/// Passes everything, except messages to the server too large to be reports.
struct Skipper<'a> {
    counters: &'a Counters,
}

impl Policy for Skipper<'_> {
    fn upward(&self, p: Packet) -> Verdict {
        Verdict::Forward(p)
    }

    fn downward(&self, item: Item) -> Verdict {
        match item {
            Item::Packet(p) => Verdict::Forward(p),
            Item::Skipped(s) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    topic = %s.topic,
                    bytes = s.size,
                    "dropped an MQTT message of {} bytes on {}: messages to the server are at most {REPORT_PACKET} bytes; the link stays up",
                    s.size,
                    s.topic
                );
                match s.qos {
                    QoS::AtMostOnce => Verdict::Drop,
                    QoS::AtLeastOnce => Verdict::Reply(Packet::PubAck(PubAck::new(s.pkid))),
                    // The server subscribes at QoS 1: a broker never sends it QoS 2.
                    QoS::ExactlyOnce => {
                        Verdict::Close(format!("the broker sent a QoS 2 message on {}", s.topic))
                    }
                }
            }
        }
    }
}
