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
    #[error("the card sent a packet of {len} bytes, more than the {max} allowed; the connection is dropped")]
    Oversized { len: usize, max: usize },
    #[error("the card sent a packet whose length field says {len}, less than its own 4-byte header; the connection is dropped")]
    Undersized { len: usize },
    #[error("a {what} packet needs at least {need} bytes but has {got}")]
    Truncated {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("expected {expected} from the card, got command 0x{got:04x}")]
    Unexpected { expected: &'static str, got: u16 },
    #[error(
        "an XML fragment does not fit: offset {offset} + {len} bytes against a total of {total}"
    )]
    Fragment { total: u32, offset: u32, len: usize },
    #[error("an XML command of {total} bytes is larger than the {max} allowed")]
    XmlTooLong { total: usize, max: usize },
    #[error("the XML is not well formed: {0}")]
    Xml(String),
    #[error("the XML carries a DOCTYPE or entity declaration, which is refused")]
    XmlDtd,
    #[error("the card's reply to {method} lacks {what}")]
    Missing { method: String, what: &'static str },
    #[error("the card refused {method}: {result}")]
    Refused { method: String, result: String },
    #[error("the card answered with error {code} ({})", error_name(*.code))]
    Card { code: u16 },
    #[error("the card refused the file {name}: status {status} ({})", error_name(*.status))]
    File { name: String, status: u16 },
    #[error("the card says it already holds {exist} bytes of {name}, which has only {size}")]
    Resume { name: String, exist: u64, size: u64 },
    #[error("the card reports {card_width}x{card_height} but the frame is {width}x{height}; set the panel's size to the card's screen size in HDPlayer")]
    SizeMismatch {
        width: u32,
        height: u32,
        card_width: u32,
        card_height: u32,
    },
    #[error("the card did not answer {waiting} within {secs} s")]
    Timeout { waiting: &'static str, secs: u64 },
    #[error("the connection to the card is closed")]
    Closed,
    #[error("the frame cannot be sent to this card: {0}")]
    Frame(String),
    #[error("HD2020 packet: {0}")]
    Hd2020(String),
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
