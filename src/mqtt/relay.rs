//! Relaying MQTT between a client and a broker packet by packet, with a
//! [`Policy`] deciding each packet's fate. The embedded broker's gateway
//! (topic ACLs) and the server link's guard (oversized reports skipped)
//! are two policies over this one loop.
//!
//! The two directions run side by side, each writing only to its own
//! destination, so a slow reader on one side never stalls the other
//! direction (a single loop writing both ways can deadlock against a
//! broker that is itself blocked writing to us). A packet the policy
//! answers itself (a PUBACK for a dropped publish, a SUBACK) crosses to
//! the other direction's writer over a small channel.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rumqttc::mqttbytes::v4::Packet;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::wire::{Codec, Item};

/// What to do with one packet.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Pass it on.
    Forward(Packet),
    /// Do not pass it on; answer its sender with this instead.
    Reply(Packet),
    /// Do not pass it on.
    Drop,
    /// End the connection, for this reason.
    Close(String),
}

pub(crate) trait Policy: Send + Sync {
    /// A packet from the client, on its way to the broker.
    fn upward(&self, p: Packet) -> Verdict;
    /// A packet (or a skipped publish) from the broker, on its way to the client.
    fn downward(&self, item: Item) -> Verdict;
    /// Asked every [`RECHECK`]; false ends the connection (a credential
    /// rotated or revoked since the CONNECT).
    fn still_allowed(&self) -> bool {
        true
    }
}

/// How often [`Policy::still_allowed`] is asked.
pub(crate) const RECHECK: Duration = Duration::from_secs(5);

/// Answers waiting to cross to the other direction; a sender that fills
/// this is not reading its replies, and waits.
const REPLIES: usize = 16;

pub(crate) type In<R> = FramedRead<R, Codec>;
pub(crate) type Out<W> = FramedWrite<W, Codec>;

/// One direction: read from `from`, let `decide` judge, write forwarded
/// packets to `to` and answers to `replies`; also write what the other
/// direction sends over `crossing`. Returns why it ended.
async fn pump<R, W>(
    from: &mut In<R>,
    to: &mut Out<W>,
    replies: mpsc::Sender<Packet>,
    mut crossing: mpsc::Receiver<Packet>,
    decide: impl Fn(Item) -> Verdict,
    recheck: Option<&dyn Policy>,
    side: &str,
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut tick = tokio::time::interval(RECHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    // Packets are written out together: flushed once nothing more is
    // ready to read (or the writer's buffer is full), not one write each
    // (a change sends thousands of frames back to back).
    let mut unflushed = false;
    loop {
        let verdict = tokio::select! {
            biased;
            Some(p) = crossing.recv() => Verdict::Forward(p),
            _ = tick.tick(), if recheck.is_some() => {
                if recheck.is_some_and(|p| !p.still_allowed()) {
                    return "its credential was rotated or revoked".into();
                }
                continue;
            }
            item = from.next() => match item {
                None => Verdict::Close(format!("the {side} closed the connection")),
                Some(Err(e)) => Verdict::Close(format!("from the {side}: {e}")),
                Some(Ok(item)) => decide(item),
            },
            flushed = to.flush(), if unflushed => {
                if let Err(e) = flushed {
                    return format!("passing on what the {side} sent: {e}");
                }
                unflushed = false;
                continue;
            }
        };
        match verdict {
            Verdict::Forward(p) => {
                if let Err(e) = to.feed(p).await {
                    return format!("passing on what the {side} sent: {e}");
                }
                unflushed = true;
            }
            Verdict::Reply(p) => {
                if replies.send(p).await.is_err() {
                    return "the other direction ended".into();
                }
            }
            Verdict::Drop => {}
            Verdict::Close(why) => {
                // What was passed on before goes out first, if it can soon.
                if unflushed {
                    let _ = tokio::time::timeout(FINAL_FLUSH, to.flush()).await;
                }
                return why;
            }
        }
    }
}

/// Relays between a client and a broker until either closes or errs, or
/// the policy ends it; returns why. Dropping the halves closes both
/// connections.
pub(crate) async fn relay<CR, CW, BR, BW>(
    mut client_in: In<CR>,
    mut client_out: Out<CW>,
    mut broker_in: In<BR>,
    mut broker_out: Out<BW>,
    policy: &dyn Policy,
) -> String
where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    BR: AsyncRead + Unpin,
    BW: AsyncWrite + Unpin,
{
    let (to_client_tx, to_client_rx) = mpsc::channel(REPLIES);
    let (to_broker_tx, to_broker_rx) = mpsc::channel(REPLIES);
    let up = pump(
        &mut client_in,
        &mut broker_out,
        to_client_tx,
        to_broker_rx,
        |item| match item {
            Item::Packet(p) => policy.upward(p),
            Item::Skipped(s) => Verdict::Close(format!(
                "the client sent a {}-byte publish on {}",
                s.size, s.topic
            )),
        },
        Some(policy),
        "client",
    );
    let down = pump(
        &mut broker_in,
        &mut client_out,
        to_broker_tx,
        to_client_rx,
        |item| policy.downward(item),
        None,
        "broker",
    );
    let why = tokio::select! {
        why = up => why,
        why = down => why,
    };
    // The direction that did not end may hold packets passed on but not
    // yet written (an ack on its way): they go out, if they can at once.
    let _ = tokio::time::timeout(FINAL_FLUSH, async {
        let _ = client_out.flush().await;
        let _ = broker_out.flush().await;
    })
    .await;
    why
}

/// How long a relay that ends waits to write out what it passed on.
const FINAL_FLUSH: Duration = Duration::from_millis(500);
