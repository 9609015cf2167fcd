//! MQTT 3.1.1 packets on a byte stream, for the broker gateway and the
//! server link's guard: rumqttc's own packet code (`mqttbytes`) behind a
//! size bound, plus one thing it lacks. A PUBLISH over the bound can be
//! skipped as it streams past — its topic and packet id kept, its payload
//! never buffered — instead of ending the connection.
//!
//! Bytes in, packets out: no I/O here (the sockets are in `relay`).

use bytes::{Buf, BytesMut};
use rumqttc::mqttbytes::{self, v4::Packet, QoS};
use tokio_util::codec::{Decoder, Encoder};

/// What came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Packet(Packet),
    /// A PUBLISH over the bound, skipped (see [`Codec::skipping_large_publishes`]).
    Skipped(Skipped),
}

/// What is known of a skipped PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub topic: String,
    pub qos: QoS,
    /// 0 for QoS 0.
    pub pkid: u16,
    /// The packet's remaining length (topic, packet id and payload).
    pub size: usize,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed MQTT packet: {0}")]
    Malformed(mqttbytes::Error),
    #[error("an MQTT packet of {size} bytes is over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

/// Decodes packets of at most `limit` bytes (remaining length); encodes any.
#[derive(Debug, Clone)]
pub(crate) struct Codec {
    limit: usize,
    skip_large_publishes: bool,
    /// Bytes of a skipped packet still to discard.
    to_discard: usize,
}

impl Codec {
    /// A larger packet is an error (the connection should end), as with
    /// Mosquitto's `max_packet_size`.
    pub(crate) fn new(limit: usize) -> Codec {
        Codec {
            limit,
            skip_large_publishes: false,
            to_discard: 0,
        }
    }

    /// A larger PUBLISH is skipped and reported as [`Item::Skipped`]; any
    /// other larger packet is still an error.
    pub(crate) fn skipping_large_publishes(limit: usize) -> Codec {
        Codec {
            skip_large_publishes: true,
            ..Codec::new(limit)
        }
    }

    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Reads a large PUBLISH's topic and packet id once they are buffered,
    /// then discards the rest as it arrives.
    fn skip_publish(&mut self, src: &mut BytesMut, size: usize) -> Result<Option<Item>, WireError> {
        let malformed = || WireError::Malformed(mqttbytes::Error::MalformedPacket);
        let header_len = 1
            + src[1..]
                .iter()
                .take(4)
                .position(|b| b & 0x80 == 0)
                .ok_or_else(malformed)?
            + 1;
        let qos = mqttbytes::qos((src[0] >> 1) & 3).map_err(WireError::Malformed)?;
        let topic_at = header_len + 2;
        if src.len() < topic_at {
            src.reserve(topic_at - src.len());
            return Ok(None);
        }
        let topic_len = usize::from(u16::from_be_bytes([src[header_len], src[header_len + 1]]));
        let pkid_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
        let known = topic_at + topic_len + pkid_len;
        if known > header_len + size {
            return Err(malformed());
        }
        if src.len() < known {
            src.reserve(known - src.len());
            return Ok(None);
        }
        let topic = String::from_utf8_lossy(&src[topic_at..topic_at + topic_len]).into_owned();
        let pkid = if pkid_len == 0 {
            0
        } else {
            u16::from_be_bytes([src[known - 2], src[known - 1]])
        };
        let total = header_len + size;
        let now = total.min(src.len());
        src.advance(now);
        self.to_discard = total - now;
        Ok(Some(Item::Skipped(Skipped {
            topic,
            qos,
            pkid,
            size,
        })))
    }
}

impl Decoder for Codec {
    type Item = Item;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, WireError> {
        if self.to_discard > 0 {
            let n = self.to_discard.min(src.len());
            src.advance(n);
            self.to_discard -= n;
            if self.to_discard > 0 {
                return Ok(None);
            }
        }
        match mqttbytes::check(src.iter(), self.limit) {
            Ok(_) => Packet::read(src, self.limit)
                .map(|p| Some(Item::Packet(p)))
                .map_err(WireError::Malformed),
            Err(mqttbytes::Error::InsufficientBytes(n)) => {
                src.reserve(n);
                Ok(None)
            }
            Err(mqttbytes::Error::PayloadSizeLimitExceeded(size)) => {
                if self.skip_large_publishes && src[0] >> 4 == 3 {
                    self.skip_publish(src, size)
                } else {
                    Err(WireError::TooLarge {
                        size,
                        limit: self.limit,
                    })
                }
            }
            Err(e) => Err(WireError::Malformed(e)),
        }
    }
}

impl Encoder<Packet> for Codec {
    type Error = WireError;

    fn encode(&mut self, p: Packet, dst: &mut BytesMut) -> Result<(), WireError> {
        p.write(dst, usize::MAX).map_err(WireError::Malformed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::{PubAck, Publish};

    fn bytes_of(packets: &[Packet]) -> BytesMut {
        let mut b = BytesMut::new();
        let mut c = Codec::new(0);
        for p in packets {
            c.encode(p.clone(), &mut b).unwrap();
        }
        b
    }

    fn publish(topic: &str, qos: QoS, pkid: u16, len: usize) -> Packet {
        let mut p = Publish::new(topic, qos, vec![7u8; len]);
        p.pkid = pkid;
        Packet::Publish(p)
    }

    /// Feeds `wire` in pieces of `step` bytes, as a socket would.
    fn decode_in_steps(c: &mut Codec, wire: &[u8], step: usize) -> Vec<Item> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some(item) = c.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        out
    }

    #[test]
    fn packets_within_the_limit_round_trip() {
        let ps = [
            publish("bangtin/panels/p1/ack", QoS::AtLeastOnce, 9, 10),
            Packet::PubAck(PubAck::new(9)),
            Packet::PingReq,
        ];
        let wire = bytes_of(&ps);
        for step in [1, 3, wire.len()] {
            let got = decode_in_steps(&mut Codec::new(100), &wire, step);
            let want: Vec<Item> = ps.iter().cloned().map(Item::Packet).collect();
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn a_large_publish_is_skipped_without_buffering_it_and_the_next_packet_follows() {
        let wire = bytes_of(&[
            publish("bangtin/panels/x/status", QoS::AtLeastOnce, 5, 100_000),
            publish("bangtin/panels/x/status", QoS::AtMostOnce, 0, 50_000),
            publish("bangtin/panels/x/ack", QoS::AtLeastOnce, 6, 3),
        ]);
        for step in [1, 7, 4096, wire.len()] {
            let mut c = Codec::skipping_large_publishes(1024);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut most = 0;
            for chunk in wire.chunks(step) {
                buf.extend_from_slice(chunk);
                while let Some(item) = c.decode(&mut buf).unwrap() {
                    got.push(item);
                }
                most = most.max(buf.len());
            }
            assert!(most <= 4096 + 1024, "step {step}: {most} bytes buffered");
            let topic = "bangtin/panels/x/status".to_string();
            assert_eq!(
                got,
                [
                    Item::Skipped(Skipped {
                        topic: topic.clone(),
                        qos: QoS::AtLeastOnce,
                        pkid: 5,
                        size: 2 + topic.len() + 2 + 100_000,
                    }),
                    Item::Skipped(Skipped {
                        topic: topic.clone(),
                        qos: QoS::AtMostOnce,
                        pkid: 0,
                        size: 2 + topic.len() + 50_000,
                    }),
                    Item::Packet(publish("bangtin/panels/x/ack", QoS::AtLeastOnce, 6, 3)),
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn a_large_packet_is_an_error_unless_it_is_a_publish_being_skipped() {
        let wire = bytes_of(&[publish("t", QoS::AtLeastOnce, 1, 2000)]);
        let mut buf = BytesMut::from(&wire[..]);
        assert!(matches!(
            Codec::new(1024).decode(&mut buf),
            Err(WireError::TooLarge { limit: 1024, .. })
        ));
        let mut sub = rumqttc::mqttbytes::v4::Subscribe::new("x".repeat(3000), QoS::AtLeastOnce);
        sub.pkid = 1;
        let mut buf = bytes_of(&[Packet::Subscribe(sub)]);
        assert!(matches!(
            Codec::skipping_large_publishes(1024).decode(&mut buf),
            Err(WireError::TooLarge { .. })
        ));
        // A topic length running past the packet's end.
        let mut buf = BytesMut::from(&[0x32u8, 0x80, 0x10, 0xff, 0xff, b'a'][..]);
        assert!(matches!(
            Codec::skipping_large_publishes(1024).decode(&mut buf),
            Err(WireError::Malformed(_))
        ));
    }
}
