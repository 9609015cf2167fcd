//! Huidu LED controllers: the protocols, as pure codecs.
//!
//! Two families of Huidu cards hang on Vietnamese streets:
//!
//! - **Full-colour cards** (HDPlayer generation: HD-A/C/D/E series) speak
//!   Huidu's "SDK 2.0" over TCP: `len:u16le, cmd:u16le, payload` packets
//!   ([`packet`]), XML commands inside them ([`sdk`]), a file transfer for
//!   media ([`transfer`]), and the client-side protocol machine for one card
//!   ([`session`]): handshake, device info, upload the frame as a PNG, a
//!   program with one full-screen image area, brightness, clock, heartbeat.
//! - **HD2020-generation single/dual-colour cards** take realtime bitmaps in
//!   "HT" packets ([`realtime`]).
//!
//! Everything here is sans-IO: bytes in, events and bytes out. No socket, no
//! clock (time is an argument), no disk. The next layer owns the sockets.
//! `docs/controllers.md` says where each fact comes from and which ones are
//! not confirmed on hardware.

pub mod packet;
pub mod realtime;
pub mod sdk;
pub mod session;
pub mod transfer;

#[cfg(test)]
mod golden;

use image::{Rgb, RgbImage};

use crate::domain::{Color, PixelFormat};
use crate::frame::Frame;

/// Everything that can go wrong talking to a Huidu card. The sentences are
/// for the technician reading the panel's status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A packet's length field exceeds [`packet::MAX_PACKET`].
    #[error("the card sent a packet of {len} bytes, more than the {max} allowed; the connection is dropped")]
    Oversized {
        /// The length field, in bytes (header included).
        len: usize,
        /// The largest packet accepted, in bytes.
        max: usize,
    },
    /// A packet's length field is below the 4-byte header it counts.
    #[error("the card sent a packet whose length field says {len}, less than its own 4-byte header; the connection is dropped")]
    Undersized {
        /// The length field, in bytes.
        len: usize,
    },
    /// A packet or reply is shorter than its fixed fields.
    #[error("a {what} packet needs at least {need} bytes but has {got}")]
    Truncated {
        /// Which packet was being read (e.g. "version answer").
        what: &'static str,
        /// Bytes the fields read so far require, header included.
        need: usize,
        /// Bytes the packet has, header included.
        got: usize,
    },
    /// The card answered with another command code than the one awaited.
    #[error("expected {expected} from the card, got command 0x{got:04x}")]
    Unexpected {
        /// What was awaited, in words.
        expected: &'static str,
        /// The command code received (see [`packet::cmd`]).
        got: u16,
    },
    /// An XML fragment does not continue where the previous one ended, or
    /// runs past the announced total.
    #[error(
        "an XML fragment does not fit: offset {offset} + {len} bytes against a total of {total}"
    )]
    Fragment {
        /// The document's announced size, in bytes.
        total: u32,
        /// Where the fragment says it starts, in bytes.
        offset: u32,
        /// The fragment's XML bytes.
        len: usize,
    },
    /// An XML document announces more than [`packet::MAX_XML`] bytes.
    #[error("an XML command of {total} bytes is larger than the {max} allowed")]
    XmlTooLong {
        /// The announced size, in bytes.
        total: usize,
        /// The largest document reassembled, in bytes.
        max: usize,
    },
    /// The XML parser's complaint about a document.
    #[error("the XML is not well formed: {0}")]
    Xml(String),
    /// The XML declares a DOCTYPE or entities (refused: entity expansion
    /// attacks).
    #[error("the XML carries a DOCTYPE or entity declaration, which is refused")]
    XmlDtd,
    /// An SDK answer lacks an element or attribute bangtin needs.
    #[error("the card's reply to {method} lacks {what}")]
    Missing {
        /// The SDK method answered (e.g. `GetDeviceInfo`).
        method: String,
        /// What is missing, in words.
        what: &'static str,
    },
    /// An SDK answer's `result` is not `kSuccess`.
    #[error("the card refused {method}: {result}")]
    Refused {
        /// The SDK method refused.
        method: String,
        /// The card's `result` attribute, as sent (a vendor status name).
        result: String,
    },
    /// The card sent `kErrorAnswer` with a status code.
    #[error("the card answered with error {code} ({})", error_name(*.code))]
    Card {
        /// Huidu status code (see [`error_name`]).
        code: u16,
    },
    /// The card refused a file transfer step.
    #[error("the card refused the file {name}: status {status} ({})", error_name(*.status))]
    File {
        /// The file's name on the card.
        name: String,
        /// Huidu status code (see [`error_name`]).
        status: u16,
    },
    /// The card claims to hold more of a file than the file has, so the
    /// upload cannot resume.
    #[error("the card says it already holds {exist} bytes of {name}, which has only {size}")]
    Resume {
        /// The file's name on the card.
        name: String,
        /// Bytes the card says it already has.
        exist: u64,
        /// The file's size, in bytes.
        size: u64,
    },
    /// The card's screen is not the panel's size, so the picture would be
    /// cropped or padded.
    #[error("the card reports {card_width}x{card_height} but the frame is {width}x{height}; set the panel's size to the card's screen size in HDPlayer")]
    SizeMismatch {
        /// Frame width, in pixels.
        width: u32,
        /// Frame height, in pixels.
        height: u32,
        /// Screen width the card reports in `GetDeviceInfo`, in pixels.
        card_width: u32,
        /// Screen height the card reports in `GetDeviceInfo`, in pixels.
        card_height: u32,
    },
    /// An awaited answer did not come in time.
    #[error("the card did not answer {waiting} within {secs} s")]
    Timeout {
        /// What was awaited, in words.
        waiting: &'static str,
        /// The time allowed, in seconds.
        secs: u64,
    },
    /// The session or connection is closed; nothing more can be sent.
    #[error("the connection to the card is closed")]
    Closed,
    /// The BTF1 frame cannot be turned into what the card takes (short data,
    /// PNG that does not decode or is the wrong size).
    #[error("the frame cannot be sent to this card: {0}")]
    Frame(String),
    /// An HD2020 realtime packet or reply is malformed or refused.
    #[error("HD2020 packet: {0}")]
    Hd2020(String),
}

impl Error {
    /// The sentence a technician reads on the wall, from the catalogue:
    /// what the card did and what to do; a broken packet keeps the
    /// decoder's words as its detail.
    pub fn reason(&self) -> crate::i18n::Reason {
        use crate::i18n::Reason;
        match self {
            Error::Refused { method, result } => Reason::CardRefused {
                method: method.clone(),
                result: result.clone(),
            },
            Error::Card { code } => Reason::CardStatus {
                code: *code,
                name: error_name(*code).into(),
            },
            Error::File { name, status } => Reason::CardFileRefused {
                file: name.clone(),
                status: *status,
                name: error_name(*status).into(),
            },
            Error::SizeMismatch {
                width,
                height,
                card_width,
                card_height,
            } => Reason::CardSize {
                width: *width,
                height: *height,
                card_width: *card_width,
                card_height: *card_height,
            },
            Error::Timeout { waiting, secs } => Reason::CardTimeout {
                waiting: (*waiting).into(),
                secs: *secs,
            },
            Error::Closed => Reason::CardClosed,
            Error::Frame(detail) => Reason::FrameNotForCard {
                detail: detail.clone(),
            },
            other => Reason::CardProtocol {
                detail: other.to_string(),
            },
        }
    }
}

/// Huidu's status codes (`kSuccess` = 0 …), as named in the vendor SDKs.
const ERROR_NAMES: &[&str] = &[
    "kSuccess",
    "kWriteFinish",
    "kProcessError",
    "kVersionTooLow",
    "kDeviceOccupa",
    "kFileOccupa",
    "kReadFileExcessive",
    "kInvalidPacketLen",
    "kInvalidParam",
    "kNotSpaceToSave",
    "kCreateFileFailed",
    "kWriteFileFailed",
    "kReadFileFailed",
    "kInvalidFileData",
    "kFileContentError",
    "kOpenFileFailed",
    "kSeekFileFailed",
    "kRenameFailed",
    "kFileNotFound",
    "kFileNotFinish",
    "kXmlCmdTooLong",
    "kInvalidXmlIndex",
    "kParseXmlFailed",
    "kInvalidMethod",
    "kMemoryFailed",
    "kSystemError",
    "kUnsupportVideo",
    "kNotMediaFile",
    "kParseVideoFailed",
    "kUnsupportFrameRate",
    "kUnsupportResolution",
    "kUnsupportFormat",
    "kUnsupportDuration",
    "kDownloadFileFailed",
    "kScreenNodeIsNull",
    "kNodeExist",
    "kNodeNotExist",
    "kPluginNotExist",
    "kCheckLicenseFailed",
    "kNotFoundWifiModule",
    "kTestWifiUnsuccessful",
    "kRunningError",
    "kUnsupportMethod",
    "kInvalidGUID",
];

/// The vendor's name for a status code, or "unknown".
pub fn error_name(code: u16) -> &'static str {
    ERROR_NAMES.get(code as usize).copied().unwrap_or("unknown")
}

/// What a panel's frame looks like on the glass, at panel size: lit mono
/// pixels in the panel's LED colour. This is the picture a full-colour card
/// is given (as a PNG) and what a simulator must show back.
pub fn glass(frame: &Frame<'_>, led: Color) -> Result<RgbImage, Error> {
    let (w, h) = (
        u32::from(frame.header.width),
        u32::from(frame.header.height),
    );
    let short = || Error::Frame("its data is shorter than its size".into());
    match frame.header.format {
        PixelFormat::Mono1 => {
            let stride = w.div_ceil(8) as usize;
            if frame.data.len() < stride * h as usize {
                return Err(short());
            }
            Ok(RgbImage::from_fn(w, h, |x, y| {
                let byte = frame.data[y as usize * stride + x as usize / 8];
                if byte & (0x80 >> (x % 8)) != 0 {
                    Rgb(led.0)
                } else {
                    Rgb([0, 0, 0])
                }
            }))
        }
        PixelFormat::Rgb888 => RgbImage::from_raw(w, h, frame.data[..].to_vec()).ok_or_else(short),
        PixelFormat::Rgb565 => {
            if frame.data.len() < 2 * (w * h) as usize {
                return Err(short());
            }
            Ok(RgbImage::from_fn(w, h, |x, y| {
                let i = 2 * (y * w + x) as usize;
                let v = u16::from_le_bytes([frame.data[i], frame.data[i + 1]]);
                let (r, g, b) = ((v >> 11) & 0x1f, (v >> 5) & 0x3f, v & 0x1f);
                Rgb([
                    ((r * 255 + 15) / 31) as u8,
                    ((g * 255 + 31) / 63) as u8,
                    ((b * 255 + 15) / 31) as u8,
                ])
            }))
        }
        PixelFormat::Png => {
            let bad = |e: image::ImageError| Error::Frame(format!("its PNG does not decode: {e}"));
            let mut reader = image::ImageReader::with_format(
                std::io::Cursor::new(frame.data),
                image::ImageFormat::Png,
            );
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(w);
            limits.max_image_height = Some(h);
            reader.limits(limits);
            let img = reader.decode().map_err(bad)?.to_rgb8();
            if img.dimensions() != (w, h) {
                return Err(Error::Frame("its PNG is not the frame's size".into()));
            }
            Ok(img)
        }
    }
}

/// The PNG file a full-colour card is given for a frame.
pub fn png_for_frame(frame: &Frame<'_>, led: Color) -> Result<Vec<u8>, Error> {
    Ok(crate::render::png_bytes(&glass(frame, led)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{decode, encode, Header};

    fn frame_bytes(format: PixelFormat, w: u16, h: u16, data: &[u8]) -> Vec<u8> {
        let header = Header {
            format,
            brightness: 255,
            width: w,
            height: h,
            flags: 0,
            seq: 1,
            valid_until: 0,
        };
        encode(&header, data)
    }

    #[test]
    fn glass_of_every_pixel_format() {
        let mono = frame_bytes(PixelFormat::Mono1, 10, 1, &[0b1000_0000, 0b0100_0000]);
        let g = glass(&decode(&mono).unwrap(), Color::AMBER).unwrap();
        assert_eq!(g.get_pixel(0, 0).0, Color::AMBER.0);
        assert_eq!(g.get_pixel(9, 0).0, Color::AMBER.0);
        assert_eq!(g.get_pixel(1, 0).0, [0, 0, 0]);

        let white_red = [0xff, 0xff, 0x00, 0xf8];
        let g = glass(
            &decode(&frame_bytes(PixelFormat::Rgb565, 2, 1, &white_red)).unwrap(),
            Color::WHITE,
        )
        .unwrap();
        assert_eq!(g.as_raw(), &[255, 255, 255, 255, 0, 0]);

        let rgb = RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8 * 80, y as u8 * 100, 7]));
        let png = crate::render::png_bytes(&rgb);
        let g = glass(
            &decode(&frame_bytes(PixelFormat::Png, 3, 2, &png)).unwrap(),
            Color::WHITE,
        )
        .unwrap();
        assert_eq!(g, rgb);
        let wrong = glass(
            &decode(&frame_bytes(PixelFormat::Png, 4, 2, &png)).unwrap(),
            Color::WHITE,
        );
        assert!(wrong.is_err());
        let back = image::load_from_memory(
            &png_for_frame(
                &decode(&frame_bytes(PixelFormat::Rgb888, 3, 2, rgb.as_raw())).unwrap(),
                Color::WHITE,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(back.to_rgb8(), rgb);
    }
}
