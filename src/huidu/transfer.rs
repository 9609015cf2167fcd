//! SDK 2.0 file upload (`kFileStartAsk` … `kFileEndAnswer`).
//!
//! 1. `FileStartAsk`: MD5 as 32 hex characters and a NUL (33 bytes), size
//!    (i64le), type (i16le), the file name in UTF-8 and a NUL.
//! 2. `FileStartAnswer`: status (u16le) and how many bytes of a file with
//!    that MD5 the card already holds (i64le) — the resume offset.
//! 3. `FileContentAsk` packets from that offset on. The card does not answer
//!    them (vendor C# library: "发送文件内容下位机没有返回").
//! 4. `FileEndAsk`; `FileEndAnswer` carries the status: the card checks
//!    the MD5 of what it received.
//!
//! When the card already holds the whole file it skips straight to step 4,
//! as the vendor's C++ library does.

use md5::{Digest, Md5};

use super::packet::{cmd, expect, Fields, Packet, CHUNK};
use super::Error;

/// `HFileType`: what the card does with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum FileKind {
    /// A picture (bangtin sends PNG).
    Image = 0,
    /// A video clip.
    Video = 1,
    /// A font file.
    Font = 2,
    /// Card firmware.
    Firmware = 3,
    /// FPGA configuration.
    FpgaConfig = 4,
    /// Card settings file.
    SettingConfig = 5,
}

/// Lower-case hex MD5, as the card expects it.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// The `FileStartAsk` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStart {
    /// MD5 of the file as 32 lower-case hex characters (sent NUL-terminated, 33 bytes).
    pub md5: String,
    /// File size in bytes (i64le on the wire).
    pub size: u64,
    /// `HFileType` code (i16le), e.g. [`FileKind::Image`] as u16.
    pub kind: u16,
    /// File name on the card, UTF-8 (sent NUL-terminated).
    pub name: String,
}

impl FileStart {
    /// The `kFileStartAsk` packet.
    pub fn encode(&self) -> Packet {
        let mut p = Vec::with_capacity(33 + 8 + 2 + self.name.len() + 1);
        let mut md5 = [0u8; 33];
        let n = self.md5.len().min(32);
        md5[..n].copy_from_slice(&self.md5.as_bytes()[..n]);
        p.extend_from_slice(&md5);
        p.extend_from_slice(&self.size.to_le_bytes());
        p.extend_from_slice(&self.kind.to_le_bytes());
        p.extend_from_slice(self.name.as_bytes());
        p.push(0);
        Packet::new(cmd::FILE_START_ASK, p)
    }

    /// Reads a `kFileStartAsk` (what a card or simulator receives).
    pub fn decode(p: &Packet) -> Result<FileStart, Error> {
        expect(p, cmd::FILE_START_ASK, "a file start")?;
        if p.payload.len() < 33 {
            return Err(Error::Truncated {
                what: "file start",
                need: 4 + 33 + 10,
                got: p.wire_len(),
            });
        }
        let md5 = until_nul(&p.payload[..33]);
        let mut f = Fields::new("file start", &p.payload[33..]);
        let size = f.u64()?;
        let kind = f.u16()?;
        let name = until_nul(f.rest());
        Ok(FileStart {
            md5,
            size,
            kind,
            name,
        })
    }
}

fn until_nul(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `FileStartAnswer` / `FileEndAnswer` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAnswer {
    /// Huidu status code, 0 = `kSuccess` (see [`super::error_name`]).
    pub status: u16,
    /// Bytes the card already holds (start answer only).
    pub exist: u64,
}

impl FileAnswer {
    /// The `kFileStartAnswer` packet: status and `exist`.
    pub fn encode_start(&self) -> Packet {
        let mut p = self.status.to_le_bytes().to_vec();
        p.extend_from_slice(&self.exist.to_le_bytes());
        Packet::new(cmd::FILE_START_ANSWER, p)
    }

    /// The `kFileEndAnswer` packet: status only.
    pub fn encode_end(&self) -> Packet {
        Packet::new(cmd::FILE_END_ANSWER, self.status.to_le_bytes().to_vec())
    }

    /// Reads a `kFileStartAnswer`; a refusal may lack the size (`exist` is then 0).
    pub fn decode_start(p: &Packet) -> Result<FileAnswer, Error> {
        expect(p, cmd::FILE_START_ANSWER, "the file start answer")?;
        let mut f = Fields::new("file start answer", &p.payload);
        let status = f.u16()?;
        // A refusal may come without the size.
        let exist = if status == 0 || f.remaining() >= 8 {
            f.u64()?
        } else {
            0
        };
        Ok(FileAnswer { status, exist })
    }

    /// Reads a `kFileEndAnswer`; `exist` is 0.
    pub fn decode_end(p: &Packet) -> Result<FileAnswer, Error> {
        expect(p, cmd::FILE_END_ANSWER, "the file end answer")?;
        let status = Fields::new("file end answer", &p.payload).u16()?;
        Ok(FileAnswer { status, exist: 0 })
    }
}

/// `kWriteFinish`: also a success at the end of a transfer.
const WRITE_FINISH: u16 = 1;

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// `FileStartAsk` not yet sent.
    New,
    /// Waiting for `FileStartAnswer`.
    Starting,
    /// Content and `FileEndAsk` sent; waiting for `FileEndAnswer`.
    Ending {
        /// Offset, in bytes, the content was sent from (0 unless the card
        /// already held part of the file).
        resumed_at: u64,
    },
    /// The card accepted the file (`FileEndAnswer` status 0 or `kWriteFinish`).
    Done,
}

/// One file's upload, driven by the card's answers.
#[derive(Debug, Clone)]
pub struct Upload {
    name: String,
    data: Vec<u8>,
    md5: String,
    kind: FileKind,
    state: UploadState,
}

impl Upload {
    /// A new upload of `data` named `name` on the card; the MD5 is computed here.
    pub fn new(name: impl Into<String>, data: Vec<u8>, kind: FileKind) -> Upload {
        let md5 = md5_hex(&data);
        Upload {
            name: name.into(),
            data,
            md5,
            kind,
            state: UploadState::New,
        }
    }

    /// The file's name on the card.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's MD5 as 32 lower-case hex characters.
    pub fn md5(&self) -> &str {
        &self.md5
    }

    /// Where the upload stands.
    pub fn state(&self) -> UploadState {
        self.state
    }

    /// The `FileStartAsk` to send first.
    pub fn start(&mut self) -> Packet {
        self.state = UploadState::Starting;
        FileStart {
            md5: self.md5.clone(),
            size: self.data.len() as u64,
            kind: self.kind as u16,
            name: self.name.clone(),
        }
        .encode()
    }

    /// Takes the `FileStartAnswer`; returns the content packets (from the
    /// resume offset) and the `FileEndAsk`, to send in that order.
    pub fn on_start_answer(&mut self, p: &Packet) -> Result<Vec<Packet>, Error> {
        let a = FileAnswer::decode_start(p)?;
        if a.status != 0 {
            self.state = UploadState::Done;
            return Err(Error::File {
                name: self.name.clone(),
                status: a.status,
            });
        }
        let size = self.data.len() as u64;
        if a.exist > size {
            self.state = UploadState::Done;
            return Err(Error::Resume {
                name: self.name.clone(),
                exist: a.exist,
                size,
            });
        }
        let mut out: Vec<Packet> = self.data[a.exist as usize..]
            .chunks(CHUNK)
            .map(|c| Packet::new(cmd::FILE_CONTENT_ASK, c.to_vec()))
            .collect();
        out.push(Packet::new(cmd::FILE_END_ASK, Vec::new()));
        self.state = UploadState::Ending {
            resumed_at: a.exist,
        };
        Ok(out)
    }

    /// Takes the `FileEndAnswer`.
    pub fn on_end_answer(&mut self, p: &Packet) -> Result<(), Error> {
        let a = FileAnswer::decode_end(p)?;
        self.state = UploadState::Done;
        if a.status == 0 || a.status == WRITE_FINISH {
            Ok(())
        } else {
            Err(Error::File {
                name: self.name.clone(),
                status: a.status,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_answer(status: u16, exist: u64) -> Packet {
        FileAnswer { status, exist }.encode_start()
    }

    #[test]
    fn file_start_layout_matches_the_vendor_structs() {
        let mut up = Upload::new("a.png", b"hello".to_vec(), FileKind::Image);
        let wire = up.start().encode();
        // len, cmd, 33 bytes MD5+NUL, i64 size, i16 type, name, NUL: the
        // vendor's HFileStartAsk (47-byte head) and its C# library's
        // GetUploadFileStartAsk.
        assert_eq!(wire.len(), 47 + 5 + 1);
        assert_eq!(&wire[..4], &[53, 0, 0x01, 0x80]);
        assert_eq!(&wire[4..36], b"5d41402abc4b2a76b9719d911017c592");
        assert_eq!(wire[36], 0);
        assert_eq!(&wire[37..45], &5u64.to_le_bytes());
        assert_eq!(&wire[45..47], &[0, 0]);
        assert_eq!(&wire[47..], b"a.png\0");
        let back = FileStart::decode(&up.start()).unwrap();
        assert_eq!(back.name, "a.png");
        assert_eq!(back.size, 5);
    }

    #[test]
    fn content_is_chunked_from_the_resume_offset() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| i as u8).collect();
        let mut up = Upload::new("f.png", data.clone(), FileKind::Image);
        up.start();
        let packets = up.on_start_answer(&start_answer(0, 0)).unwrap();
        assert_eq!(packets.len(), 4);
        assert!(packets[..3].iter().all(|p| p.cmd == cmd::FILE_CONTENT_ASK));
        assert_eq!(packets[3], Packet::new(cmd::FILE_END_ASK, vec![]));
        let sent: Vec<u8> = packets[..3]
            .iter()
            .flat_map(|p| p.payload.clone())
            .collect();
        assert_eq!(sent, data);

        // Resume: the card already holds CHUNK + 3 bytes.
        let mut up = Upload::new("f.png", data.clone(), FileKind::Image);
        up.start();
        let packets = up
            .on_start_answer(&start_answer(0, CHUNK as u64 + 3))
            .unwrap();
        let sent: Vec<u8> = packets.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(sent, data[CHUNK + 3..]);
        assert_eq!(
            up.state(),
            UploadState::Ending {
                resumed_at: CHUNK as u64 + 3
            }
        );

        // Already whole: only the end.
        let mut up = Upload::new("f.png", data.clone(), FileKind::Image);
        up.start();
        let packets = up
            .on_start_answer(&start_answer(0, data.len() as u64))
            .unwrap();
        assert_eq!(packets, vec![Packet::new(cmd::FILE_END_ASK, vec![])]);
    }

    #[test]
    fn refusals_become_errors() {
        let mut up = Upload::new("f.png", vec![1, 2, 3], FileKind::Image);
        up.start();
        assert_eq!(
            up.on_start_answer(&Packet::new(cmd::FILE_START_ANSWER, vec![9, 0])),
            Err(Error::File {
                name: "f.png".into(),
                status: 9
            })
        );
        let mut up = Upload::new("f.png", vec![1, 2, 3], FileKind::Image);
        up.start();
        assert!(up.on_start_answer(&start_answer(0, 4)).is_err());
        let mut up = Upload::new("f.png", vec![1, 2, 3], FileKind::Image);
        up.start();
        up.on_start_answer(&start_answer(0, 0)).unwrap();
        // Wrong MD5 on the card's side: kFileContentError.
        let end = FileAnswer {
            status: 14,
            exist: 0,
        }
        .encode_end();
        let err = up.on_end_answer(&end).unwrap_err();
        assert!(err.to_string().contains("kFileContentError"), "{err}");
        let mut up = Upload::new("f.png", vec![1, 2, 3], FileKind::Image);
        up.start();
        up.on_start_answer(&start_answer(0, 0)).unwrap();
        up.on_end_answer(
            &FileAnswer {
                status: 1,
                exist: 0,
            }
            .encode_end(),
        )
        .unwrap();
    }
}
