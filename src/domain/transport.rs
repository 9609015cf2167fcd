//! How a panel's frames reach its sign: bangtin's own MQTT controllers
//! (the default), a Huidu full-colour card over SDK 2.0, or an HD2020
//! single/dual-colour card taking realtime bitmaps.
//!
//! Values only: an address is checked for its shape (host and port), never
//! resolved or dialled here.

use serde::{Deserialize, Serialize};

use super::{Invalid, PixelFormat};
use crate::i18n::AddressWhy;

/// The Huidu SDK port a card listens on (vendor library default).
pub const HUIDU_PORT: u16 = 10001;

/// Longest device id accepted (Huidu's look like `C16-19-A0001`).
const MAX_DEVICE_ID: usize = 64;

/// How frames are delivered to a panel. Absent in JSON means MQTT, so
/// panels written before transports existed read and write unchanged.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Transport {
    /// A bangtin controller subscribed to the panel's MQTT topic.
    #[default]
    Mqtt,
    /// A Huidu full-colour card (HDPlayer generation), SDK 2.0 over TCP.
    Huidu {
        /// The card's Device ID as HDPlayer shows it (and the card reports).
        device_id: String,
        /// `host:port` (or `host`, port 10001) when bangtin dials the card;
        /// absent when the card dials bangtin's Huidu listener.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// An HD2020-generation card in realtime-bitmap mode; bangtin dials it.
    Hd2020 {
        /// `host:port` of the card.
        address: String,
        /// The card's LEDs: `single` (one colour, most P10 signs), `dual`
        /// (red and green) or `full`.
        #[serde(default)]
        color_type: ColorType,
    },
}

/// The LEDs of an HD2020-generation card.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ColorType {
    /// One LED colour (most P10 signs): a pixel is on or off.
    #[default]
    Single,
    /// Red and green LEDs.
    Dual,
    /// Red, green and blue LEDs, one bit each.
    Full,
}

impl Transport {
    /// Whether frames go over MQTT to a bangtin controller (the default, omitted in JSON).
    pub fn is_mqtt(&self) -> bool {
        matches!(self, Transport::Mqtt)
    }

    /// `mqtt`, `huidu` or `hd2020`: what the dashboard shows.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Mqtt => "mqtt",
            Transport::Huidu { .. } => "huidu",
            Transport::Hd2020 { .. } => "hd2020",
        }
    }

    /// Checks the values, and what the transport asks of the panel.
    pub fn validate(&self, width: u16, format: PixelFormat) -> Result<(), Invalid> {
        match self {
            Transport::Mqtt => Ok(()),
            Transport::Huidu { device_id, address } => {
                validate_device_id(device_id)?;
                if let Some(a) = address {
                    host_port(a, Some(HUIDU_PORT))?;
                }
                Ok(())
            }
            Transport::Hd2020 { address, .. } => {
                host_port(address, None)?;
                if !width.is_multiple_of(8) {
                    return Err(Invalid::new(crate::i18n::Reason::Hd2020Width { width }));
                }
                if format != PixelFormat::Mono1 {
                    return Err(Invalid::new(crate::i18n::Reason::Hd2020Mono {
                        format: format.name(),
                    }));
                }
                Ok(())
            }
        }
    }
}

/// A Huidu Device ID: 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
pub fn validate_device_id(id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= MAX_DEVICE_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(crate::i18n::Reason::BadDeviceId {
            shown: id.chars().take(80).collect(),
            max: MAX_DEVICE_ID,
        }))
    }
}

/// Splits `host:port` (IPv6 in brackets); `default` fills a missing port.
/// The host is an IP address or a DNS name; nothing is resolved.
pub fn host_port(s: &str, default: Option<u16>) -> Result<(String, u16), Invalid> {
    let bad = |why: AddressWhy| {
        Invalid::new(crate::i18n::Reason::BadHostPort {
            shown: s.chars().take(80).collect(),
            why,
            default_port: default,
        })
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| bad(AddressWhy::Ipv6Unclosed))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad(AddressWhy::NotIpv6));
        }
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad(AddressWhy::AfterIpv6)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad(AddressWhy::BadPort)),
        },
        None => default.ok_or_else(|| bad(AddressWhy::PortMissing))?,
    };
    let is_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !(is_name || s.starts_with('[')) {
        return Err(bad(AddressWhy::NotAHost));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_means_mqtt_and_json_shapes_are_tagged() {
        let t: Transport = serde_json::from_str(r#"{"kind":"mqtt"}"#).unwrap();
        assert!(t.is_mqtt());
        let h: Transport =
            serde_json::from_str(r#"{"kind":"huidu","device_id":"C16-19-A0001"}"#).unwrap();
        assert_eq!(
            h,
            Transport::Huidu {
                device_id: "C16-19-A0001".into(),
                address: None
            }
        );
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"kind":"huidu","device_id":"C16-19-A0001"}"#
        );
        let d: Transport =
            serde_json::from_str(r#"{"kind":"hd2020","address":"10.0.0.9:5005"}"#).unwrap();
        assert_eq!(
            d,
            Transport::Hd2020 {
                address: "10.0.0.9:5005".into(),
                color_type: ColorType::Single
            }
        );
        for bad in [
            r#"{"kind":"lora"}"#,
            r#"{"kind":"huidu"}"#,
            r#"{"kind":"huidu","device_id":"x","port":1}"#,
            r#"{"device_id":"x"}"#,
            r#"{"kind":"hd2020","address":"h:1","color_type":"rgb"}"#,
        ] {
            assert!(serde_json::from_str::<Transport>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_are_checked() {
        let huidu = |id: &str, a: Option<&str>| Transport::Huidu {
            device_id: id.into(),
            address: a.map(str::to_string),
        };
        assert!(huidu("C16-19-A0001", None)
            .validate(128, PixelFormat::Rgb888)
            .is_ok());
        assert!(huidu("C16-19-A0001", Some("card.example.vn"))
            .validate(128, PixelFormat::Mono1)
            .is_ok());
        for (id, a) in [
            ("", None),
            ("C16 19", None),
            ("Đ1", None),
            ("C16", Some("1.2.3.4:0")),
            ("C16", Some("1.2.3.4:99999")),
            ("C16", Some("bad host:1")),
            ("C16", Some("[::1")),
            ("C16", Some("-x-:1")),
        ] {
            assert!(
                huidu(id, a).validate(64, PixelFormat::Mono1).is_err(),
                "{id} {a:?}"
            );
        }
        assert_eq!(
            host_port("192.168.1.50", Some(HUIDU_PORT)).unwrap(),
            ("192.168.1.50".into(), 10001)
        );
        assert_eq!(host_port("[::1]:7", None).unwrap(), ("::1".into(), 7));
        let e = host_port("1.2.3.4", None).unwrap_err();
        assert!(e.to_string().contains("port is missing"), "{e}");

        let hd = |a: &str| Transport::Hd2020 {
            address: a.into(),
            color_type: ColorType::Dual,
        };
        assert!(hd("10.1.1.1:5005").validate(64, PixelFormat::Mono1).is_ok());
        assert!(hd("10.1.1.1").validate(64, PixelFormat::Mono1).is_err());
        let e = hd("10.1.1.1:5005")
            .validate(60, PixelFormat::Mono1)
            .unwrap_err();
        assert!(e.to_string().contains("multiple of 8"), "{e}");
        assert!(hd("10.1.1.1:5005")
            .validate(64, PixelFormat::Rgb888)
            .is_err());
    }
}
