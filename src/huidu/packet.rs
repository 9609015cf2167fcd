//! SDK 2.0 framing: every TCP packet is `len:u16le, cmd:u16le, payload`,
//! where `len` counts the whole packet, its own four header bytes included
//! (the vendor demo sends the version ask as `08 00 01 20 …`).
//!
//! [`Decoder`] cuts a byte stream into packets across partial reads and
//! refuses a length above [`MAX_PACKET`]: a peer that sends one is broken or
//! hostile, and the caller drops the connection. [`Reassembler`] joins the
//! fragments of an XML command (`total:u32le, offset:u32le, chunk`).

use super::Error;

/// The 4-byte `len, cmd` header.
pub const HEADER_LEN: usize = 4;
/// `len, cmd, total, offset` in front of every XML fragment.
pub const SDK_HEADER_LEN: usize = 12;
/// The vendor demo's receive buffer (`MAX_TCP_PACKET = 9 * 1024`): no packet
/// is longer.
pub const MAX_PACKET: usize = 9 * 1024;
/// XML bytes per fragment and file bytes per content packet. The vendor's
/// C# library uses 8000 (`_maxContentLength`); its demo and C++ library go
/// up to 9204 and 9200. 8000 is below every receiver's limit.
pub const CHUNK: usize = 8000;
/// Largest XML command reassembled (a program tree is a few KiB).
pub const MAX_XML: usize = 1 << 20;

/// Command codes (vendor names `kTcpHeartbeatAsk` … `kFileEndAnswer`).
pub mod cmd {
    /// `kTcpHeartbeatAsk`: sent when the link is idle; empty payload.
    pub const HEARTBEAT_ASK: u16 = 0x005f;
    /// `kTcpHeartbeatAnswer`: the reply to a heartbeat.
    pub const HEARTBEAT_ANSWER: u16 = 0x0060;
    /// `kErrorAnswer`: a u16le Huidu status code instead of the awaited answer.
    pub const ERROR_ANSWER: u16 = 0x2000;
    /// `kSDKServiceAsk`: the first packet, the client's transport version (u32le).
    pub const SERVICE_ASK: u16 = 0x2001;
    /// `kSDKServiceAnswer`: the card's transport version (u32le), maybe a u16le status.
    pub const SERVICE_ANSWER: u16 = 0x2002;
    /// `kSDKCmdAsk`: one fragment of an XML command.
    pub const SDK_ASK: u16 = 0x2003;
    /// `kSDKCmdAnswer`: one fragment of the card's XML answer.
    pub const SDK_ANSWER: u16 = 0x2004;
    /// Sent by cards with GPS on their own; never awaited.
    pub const GPS_INFO_ANSWER: u16 = 0x3007;
    /// `kFileStartAsk`: md5, size, type and name of a file about to be sent.
    pub const FILE_START_ASK: u16 = 0x8001;
    /// `kFileStartAnswer`: status and the bytes of the file the card already holds.
    pub const FILE_START_ANSWER: u16 = 0x8002;
    /// `kFileContentAsk`: a chunk of the file's bytes; not answered.
    pub const FILE_CONTENT_ASK: u16 = 0x8003;
    /// `kFileContentAnswer`: named by the vendor, but cards do not answer
    /// content packets; never awaited.
    pub const FILE_CONTENT_ANSWER: u16 = 0x8004;
    /// `kFileEndAsk`: the whole file is sent (empty payload).
    pub const FILE_END_ASK: u16 = 0x8005;
    /// `kFileEndAnswer`: status after the file is written (0, or 1 `kWriteFinish`).
    pub const FILE_END_ANSWER: u16 = 0x8006;
}

/// The transport version bangtin announces: the vendor demo's and C#
/// library's `TCP_VERSION` (newer vendor SDKs send 0x1000007 or 0x1000009;
/// cards answer with their own).
pub const TCP_VERSION: u32 = 0x0100_0005;

/// One packet: a command code and its payload (without the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Command code, one of [`cmd`].
    pub cmd: u16,
    /// The payload after the 4-byte header.
    pub payload: Vec<u8>,
}

impl Packet {
    /// A packet of command `cmd` carrying `payload`.
    pub fn new(cmd: u16, payload: Vec<u8>) -> Packet {
        Packet { cmd, payload }
    }

    /// The packet on the wire. Panics if the payload is longer than a
    /// packet can be: callers chunk at [`CHUNK`].
    pub fn encode(&self) -> Vec<u8> {
        let len = HEADER_LEN + self.payload.len();
        assert!(
            len <= MAX_PACKET,
            "packet of {len} bytes exceeds MAX_PACKET"
        );
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&self.cmd.to_le_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// `len` of a packet this long would be: payload + header.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// Cuts a byte stream into packets. Feed it whatever the socket gave.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Appends bytes as read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, `None` if more bytes are needed, or an error
    /// for a length no card sends (the stream cannot be trusted after it).
    pub fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        if self.buf.len() < 2 {
            return Ok(None);
        }
        let len = usize::from(u16::from_le_bytes([self.buf[0], self.buf[1]]));
        if len > MAX_PACKET {
            return Err(Error::Oversized {
                len,
                max: MAX_PACKET,
            });
        }
        if len < HEADER_LEN {
            return Err(Error::Undersized { len });
        }
        if self.buf.len() < len {
            return Ok(None);
        }
        let cmd = u16::from_le_bytes([self.buf[2], self.buf[3]]);
        let payload = self.buf[HEADER_LEN..len].to_vec();
        self.buf.drain(..len);
        Ok(Some(Packet { cmd, payload }))
    }

    /// Bytes held that do not yet make a packet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Little-endian reader over a payload, with typed errors for short ones.
pub(crate) struct Fields<'a> {
    what: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Fields<'a> {
        Fields { what, bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at + n;
        if end > self.bytes.len() {
            return Err(Error::Truncated {
                what: self.what,
                need: HEADER_LEN + end,
                got: HEADER_LEN + self.bytes.len(),
            });
        }
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.bytes[self.at..];
        self.at = self.bytes.len();
        s
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// `kSDKServiceAsk`: the first packet, announcing the transport version.
pub fn version_ask(version: u32) -> Packet {
    Packet::new(cmd::SERVICE_ASK, version.to_le_bytes().to_vec())
}

/// `kSDKServiceAnswer`: the card's transport version and, on cards that
/// send it (the vendor demo expects 10 bytes), a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionAnswer {
    /// The card's transport version (e.g. `0x0100_0005`).
    pub version: u32,
    /// A u16le status, sent by cards that send a 10-byte answer.
    pub status: Option<u16>,
}

impl VersionAnswer {
    /// Reads a `kSDKServiceAnswer`; any other command is [`Error::Unexpected`].
    pub fn decode(p: &Packet) -> Result<VersionAnswer, Error> {
        expect(p, cmd::SERVICE_ANSWER, "the version answer")?;
        let mut f = Fields::new("version answer", &p.payload);
        let version = f.u32()?;
        let status = if f.remaining() >= 2 {
            Some(f.u16()?)
        } else {
            None
        };
        Ok(VersionAnswer { version, status })
    }

    /// The packet a card (or a simulator) sends.
    pub fn encode(&self) -> Packet {
        let mut payload = self.version.to_le_bytes().to_vec();
        if let Some(s) = self.status {
            payload.extend_from_slice(&s.to_le_bytes());
        }
        Packet::new(cmd::SERVICE_ANSWER, payload)
    }
}

/// `kErrorAnswer`: a bare status code instead of the expected answer.
pub fn error_code(p: &Packet) -> Result<u16, Error> {
    expect(p, cmd::ERROR_ANSWER, "an error answer")?;
    Fields::new("error answer", &p.payload).u16()
}

pub(crate) fn expect(p: &Packet, want: u16, expected: &'static str) -> Result<(), Error> {
    if p.cmd == want {
        Ok(())
    } else {
        Err(Error::Unexpected {
            expected,
            got: p.cmd,
        })
    }
}

/// One fragment of an XML command or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Size of the whole XML document, in bytes (u32le).
    pub total: u32,
    /// Where this chunk starts in the document, in bytes (u32le).
    pub offset: u32,
    /// The chunk's XML bytes.
    pub chunk: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// Reads a fragment's `total, offset` header; the rest is the chunk.
    pub fn decode(p: &'a Packet) -> Result<Fragment<'a>, Error> {
        let mut f = Fields::new("XML fragment", &p.payload);
        let total = f.u32()?;
        let offset = f.u32()?;
        Ok(Fragment {
            total,
            offset,
            chunk: f.rest(),
        })
    }
}

/// An XML document as `kSDKCmdAsk` (or, for a card, `kSDKCmdAnswer`)
/// packets of at most `chunk` XML bytes each.
pub fn fragments(command: u16, xml: &[u8], chunk: usize) -> Vec<Packet> {
    assert!(chunk > 0 && SDK_HEADER_LEN + chunk <= MAX_PACKET);
    let total = xml.len() as u32;
    xml.chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let mut payload = Vec::with_capacity(8 + part.len());
            payload.extend_from_slice(&total.to_le_bytes());
            payload.extend_from_slice(&((i * chunk) as u32).to_le_bytes());
            payload.extend_from_slice(part);
            Packet::new(command, payload)
        })
        .collect()
}

/// Joins XML fragments. TCP keeps them in order, so each must start where
/// the previous one ended; anything else is an error.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
    total: Option<u32>,
}

impl Reassembler {
    /// An empty reassembler, awaiting the first fragment.
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Adds a fragment; returns the whole document once it is complete.
    pub fn push(&mut self, frag: &Fragment<'_>) -> Result<Option<Vec<u8>>, Error> {
        let bad = || Error::Fragment {
            total: frag.total,
            offset: frag.offset,
            len: frag.chunk.len(),
        };
        if frag.total as usize > MAX_XML {
            self.reset();
            return Err(Error::XmlTooLong {
                total: frag.total as usize,
                max: MAX_XML,
            });
        }
        if self.total.is_some_and(|t| t != frag.total) || frag.offset as usize != self.buf.len() {
            self.reset();
            return Err(bad());
        }
        if self.buf.len() + frag.chunk.len() > frag.total as usize {
            self.reset();
            return Err(bad());
        }
        self.total = Some(frag.total);
        self.buf.extend_from_slice(frag.chunk);
        if self.buf.len() == frag.total as usize {
            self.total = None;
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        Ok(None)
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.total = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut Decoder) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(p) = d.next_packet().unwrap() {
            out.push(p);
        }
        out
    }

    #[test]
    fn version_ask_matches_the_vendor_demo() {
        // huidutech/sdk fullcolor/demo/csharp/RemoteServer/SDKClient.cs
        // SendVersionAsk: len 8, cmd kSDKServiceAsk, version 0x1000005.
        assert_eq!(
            version_ask(TCP_VERSION).encode(),
            [0x08, 0x00, 0x01, 0x20, 0x05, 0x00, 0x00, 0x01]
        );
    }

    #[test]
    fn decoder_handles_partial_reads_byte_by_byte() {
        let mut wire = version_ask(TCP_VERSION).encode();
        wire.extend(Packet::new(cmd::HEARTBEAT_ASK, vec![]).encode());
        wire.extend(fragments(cmd::SDK_ASK, b"<sdk/>", CHUNK)[0].encode());
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d));
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].cmd, cmd::SERVICE_ASK);
        assert_eq!(got[1], Packet::new(cmd::HEARTBEAT_ASK, vec![]));
        assert_eq!(Fragment::decode(&got[2]).unwrap().chunk, b"<sdk/>");
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn decoder_refuses_oversized_and_undersized_lengths() {
        let mut d = Decoder::new();
        d.push(&[0x01, 0x24, 0x03, 0x20]); // 0x2401 = 9217
        assert_eq!(
            d.next_packet(),
            Err(Error::Oversized {
                len: 9217,
                max: MAX_PACKET
            })
        );
        let mut d = Decoder::new();
        d.push(&[0x00, 0x24, 0x03, 0x20]); // exactly 9216: waits for the rest
        assert_eq!(d.next_packet(), Ok(None));
        let mut d = Decoder::new();
        d.push(&[0x02, 0x00, 0x05, 0x20]);
        assert_eq!(d.next_packet(), Err(Error::Undersized { len: 2 }));
    }

    #[test]
    fn fragments_split_at_the_chunk_and_reassemble() {
        let xml: Vec<u8> = (0..(2 * CHUNK + 17))
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let packets = fragments(cmd::SDK_ASK, &xml, CHUNK);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0].wire_len(), SDK_HEADER_LEN + CHUNK);
        assert!(packets.iter().all(|p| p.wire_len() <= MAX_PACKET));
        assert_eq!(packets[2].wire_len(), SDK_HEADER_LEN + 17);
        let mut r = Reassembler::new();
        let mut done = None;
        for p in &packets {
            let f = Fragment::decode(p).unwrap();
            assert_eq!(f.total as usize, xml.len());
            done = r.push(&f).unwrap();
        }
        assert_eq!(done.unwrap(), xml);
        // Exactly one chunk: one packet.
        assert_eq!(fragments(cmd::SDK_ASK, &xml[..CHUNK], CHUNK).len(), 1);
    }

    #[test]
    fn reassembler_refuses_gaps_overruns_and_huge_totals() {
        let mut r = Reassembler::new();
        let gap = Fragment {
            total: 10,
            offset: 4,
            chunk: b"abcd",
        };
        assert!(matches!(r.push(&gap), Err(Error::Fragment { .. })));
        let over = Fragment {
            total: 3,
            offset: 0,
            chunk: b"abcd",
        };
        assert!(matches!(r.push(&over), Err(Error::Fragment { .. })));
        let huge = Fragment {
            total: (MAX_XML + 1) as u32,
            offset: 0,
            chunk: b"a",
        };
        assert!(matches!(r.push(&huge), Err(Error::XmlTooLong { .. })));
    }

    #[test]
    fn version_answer_with_and_without_status() {
        let p = Packet::new(cmd::SERVICE_ANSWER, vec![5, 0, 0, 1, 0, 0]);
        let a = VersionAnswer::decode(&p).unwrap();
        assert_eq!(a.version, TCP_VERSION);
        assert_eq!(a.status, Some(0));
        assert_eq!(a.encode(), p);
        let short = Packet::new(cmd::SERVICE_ANSWER, vec![7, 0, 0, 1]);
        assert_eq!(VersionAnswer::decode(&short).unwrap().status, None);
        assert!(matches!(
            VersionAnswer::decode(&Packet::new(cmd::SERVICE_ANSWER, vec![1])),
            Err(Error::Truncated { .. })
        ));
    }
}
