//! The signage vocabulary: panels, messages, assets, campaigns, alerts, roles.
//!
//! Plain data with serde shapes that match the API (docs: `/api/v1/openapi.json`)
//! and the files in `content/` and `schedules/`. This module validates values
//! (ids, colours, sizes) and, in `rules`, holds the workflow's rules (four
//! eyes, back to draft on edit, what a campaign or alert must name), but
//! knows nothing of HTTP, MQTT, the disk or the clock.

mod rules;
mod transport;

pub mod diff;

pub use rules::{check_targets, Known, Policy, Refusal, MAX_ALERT_CHARS};
pub use transport::{host_port, validate_device_id, ColorType, Transport, HUIDU_PORT};

use std::fmt;
use std::str::FromStr;

use crate::i18n::{Reason, Text};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// JSON Schema for a string type with a pattern (ids, colours, targets).
macro_rules! string_schema {
    ($t:ty, $name:literal, $pattern:literal, $desc:literal) => {
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "pattern": $pattern, "description": $desc})
            }
        }
    };
}

string_schema!(
    Id,
    "Id",
    "^[a-z0-9][a-z0-9-]{0,63}$",
    "lowercase letters, digits and '-', 1 to 64"
);
string_schema!(Color, "Color", "^#[0-9a-fA-F]{6}$", "#rrggbb");
string_schema!(
    Target,
    "Target",
    "^(all|group:[a-z0-9][a-z0-9-]{0,63}|[a-z0-9][a-z0-9-]{0,63})$",
    "a panel id, group:NAME or all"
);

/// Largest panel side we accept, in pixels. Bigger than any LED billboard a
/// province runs, small enough that a frame stays well under MQTT limits.
pub const MAX_PANEL_SIDE: u16 = 1024;
/// Smallest panel side: a single P10 module is 32×16.
pub const MIN_PANEL_SIDE: u16 = 8;

/// Why a value was refused: a reason from the message catalogue (a
/// sentence a person can act on, in their language).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub Text);

impl Invalid {
    /// A refusal with this reason or sentence.
    pub fn new(msg: impl Into<Text>) -> Self {
        Invalid(msg.into())
    }
}

/// An identifier of a panel, message, campaign, alert or token name:
/// `[a-z0-9][a-z0-9-]{0,63}`. Safe to use as a file name and an MQTT topic
/// level, which is why nothing else is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// Checks `s` against the id rule; refused with the text shown (at most 80 characters).
    pub fn parse(s: &str) -> Result<Id, Invalid> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
        if ok {
            Ok(Id(s.to_string()))
        } else {
            let shown: String = s.chars().take(80).collect();
            Err(Invalid::new(Reason::InvalidId { shown }))
        }
    }
    /// The id as written (already valid).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A readable id from a title: Vietnamese letters folded to ASCII, at
    /// most 40 characters of it, then `-` and six base-36 digits of
    /// `entropy` (2 billion tails: ids from one title meet rarely, and the
    /// store draws again when they do).
    pub fn from_title(title: &str, entropy: u64) -> Id {
        let mut slug = String::new();
        for c in unicode_normalization::UnicodeNormalization::nfd(title.to_lowercase().as_str()) {
            let c = match c {
                'đ' => 'd',
                c if c.is_ascii_alphanumeric() => c,
                c if unicode_normalization::char::is_combining_mark(c) => continue,
                _ => '-',
            };
            if c == '-' && (slug.is_empty() || slug.ends_with('-')) {
                continue;
            }
            slug.push(c);
            if slug.len() >= 40 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        let tail = base36(entropy, ID_TAIL_DIGITS);
        let s = if slug.is_empty() {
            tail
        } else {
            format!("{slug}-{tail}")
        };
        Id::parse(&s).expect("a slug and a base-36 tail make a valid id")
    }

    /// An alert's id: the second it was sent and 32 bits of `entropy`.
    pub fn for_alert(now: DateTime<Utc>, entropy: u32) -> Id {
        Id::parse(&format!(
            "alert-{}-{entropy:08x}",
            now.format("%Y%m%d-%H%M%S")
        ))
        .expect("a valid alert id")
    }
}

/// Random digits at the end of an id made from a title.
const ID_TAIL_DIGITS: u32 = 6;

/// The low `digits` base-36 digits of `n`, most significant first.
fn base36(mut n: u64, digits: u32) -> String {
    let mut out = vec![b'0'; digits as usize];
    for d in out.iter_mut().rev() {
        *d = char::from_digit((n % 36) as u32, 36).expect("base 36") as u8;
        n /= 36;
    }
    String::from_utf8(out).expect("ascii digits")
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Id {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Id::parse(s)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).map_err(|e| serde::de::Error::custom(crate::i18n::refused_while_reading(e)))
    }
}

/// How a panel wants its pixels (docs/protocol.md: byte 4 of a frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// One bit per pixel, rows padded to whole bytes: lit or dark.
    Mono1,
    /// 16 bits per pixel, little-endian 5-6-5.
    Rgb565,
    /// 24 bits per pixel, red, green, blue.
    Rgb888,
    /// A PNG file of the panel's size (controllers that decode PNG).
    Png,
}

impl PixelFormat {
    /// The format's code in byte 4 of a BTF1 header (1–4).
    pub fn code(self) -> u8 {
        match self {
            PixelFormat::Mono1 => 1,
            PixelFormat::Rgb565 => 2,
            PixelFormat::Rgb888 => 3,
            PixelFormat::Png => 4,
        }
    }
    /// The format a header's byte 4 names; `None` for an unknown code.
    pub fn from_code(c: u8) -> Option<PixelFormat> {
        Some(match c {
            1 => PixelFormat::Mono1,
            2 => PixelFormat::Rgb565,
            3 => PixelFormat::Rgb888,
            4 => PixelFormat::Png,
            _ => return None,
        })
    }
    /// The format's name in JSON and on the command line (`mono1`, …).
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Mono1 => "mono1",
            PixelFormat::Rgb565 => "rgb565",
            PixelFormat::Rgb888 => "rgb888",
            PixelFormat::Png => "png",
        }
    }
}

impl FromStr for PixelFormat {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "mono1" => PixelFormat::Mono1,
            "rgb565" => PixelFormat::Rgb565,
            "rgb888" => PixelFormat::Rgb888,
            "png" => PixelFormat::Png,
            _ => {
                return Err(Invalid::new(Reason::UnknownPixelFormat {
                    shown: s.chars().take(40).collect(),
                }))
            }
        })
    }
}

/// A colour written `#rrggbb` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub [u8; 3]);

impl Color {
    /// All three channels full: what a colour panel lights for plain text.
    pub const WHITE: Color = Color([255, 255, 255]);
    /// All channels off: the default background.
    pub const BLACK: Color = Color([0, 0, 0]);
    /// The usual red of a P10 sign, used when a mono panel names no colour.
    pub const LED_RED: Color = Color([0xff, 0x20, 0x00]);
    /// Amber (#ffb000), the other usual colour of mono LED modules.
    pub const AMBER: Color = Color([0xff, 0xb0, 0x00]);

    /// Parses `#rrggbb` (either case); refused with the text shown.
    pub fn parse(s: &str) -> Result<Color, Invalid> {
        let bad = || {
            Invalid::new(Reason::NotAColour {
                shown: s.chars().take(40).collect(),
            })
        };
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let v = u32::from_str_radix(hex, 16).map_err(|_| bad())?;
        Ok(Color([(v >> 16) as u8, (v >> 8) as u8, v as u8]))
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Color::parse(&s)
            .map_err(|e| serde::de::Error::custom(crate::i18n::refused_while_reading(e)))
    }
}

/// What a renderer needs to know about a panel: its size, format and, for
/// mono panels, the colour its LEDs light in (used only in previews).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Pixels across, `MIN_PANEL_SIDE`–`MAX_PANEL_SIDE`.
    pub width: u16,
    /// Pixels down, `MIN_PANEL_SIDE`–`MAX_PANEL_SIDE`.
    pub height: u16,
    /// How the panel wants its pixels.
    pub format: PixelFormat,
    /// The colour a mono panel's LEDs light in (previews only).
    pub color: Color,
}

impl Profile {
    /// A profile of that size and format, in the usual LED red; refused when a
    /// side is out of range.
    pub fn new(width: u16, height: u16, format: PixelFormat) -> Result<Profile, Invalid> {
        for (name, v) in [("width", width), ("height", height)] {
            if !(MIN_PANEL_SIDE..=MAX_PANEL_SIDE).contains(&v) {
                return Err(Invalid::new(Reason::PanelSide {
                    side: name,
                    value: v,
                    lo: MIN_PANEL_SIDE,
                    hi: MAX_PANEL_SIDE,
                }));
            }
        }
        Ok(Profile {
            width,
            height,
            format,
            color: Color::LED_RED,
        })
    }
}

/// A wall-clock time of day as (hour, minute).
pub type HourMinute = (u32, u32);

/// Day and night brightness. The panel uses `day` from `day_starts` until
/// `night_starts` (local wall-clock times in the server's time zone), and
/// `night` otherwise. 0–255, carried in byte 5 of every frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Brightness {
    /// Brightness from `day_starts` on, 0–255.
    pub day: u8,
    /// Brightness from `night_starts` on, 0–255.
    pub night: u8,
    /// Local time `HH:MM` the day level starts (default 06:00).
    #[serde(default = "default_day_starts")]
    pub day_starts: String,
    /// Local time `HH:MM` the night level starts (default 18:00).
    #[serde(default = "default_night_starts")]
    pub night_starts: String,
}

fn default_day_starts() -> String {
    "06:00".into()
}
fn default_night_starts() -> String {
    "18:00".into()
}

impl Default for Brightness {
    fn default() -> Self {
        Brightness {
            day: 255,
            night: 96,
            day_starts: default_day_starts(),
            night_starts: default_night_starts(),
        }
    }
}

impl Brightness {
    /// The two switch times as (hour, minute), validated.
    pub fn switch_times(&self) -> Result<(HourMinute, HourMinute), Invalid> {
        fn hm(s: &str, what: &str) -> Result<(u32, u32), Invalid> {
            let bad = || {
                Invalid::new(Reason::NotATime {
                    which: what.to_string(),
                    shown: s.chars().take(40).collect(),
                })
            };
            let (h, m) = s.split_once(':').ok_or_else(bad)?;
            let h: u32 = h.parse().map_err(|_| bad())?;
            let m: u32 = m.parse().map_err(|_| bad())?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            Ok((h, m))
        }
        Ok((
            hm(&self.day_starts, "day_starts")?,
            hm(&self.night_starts, "night_starts")?,
        ))
    }
}

/// A panel as stored and as the API shows it (without the live fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// The panel's id: its file name, MQTT topic level and client id.
    pub id: Id,
    /// What people call the panel, 1 to 200 characters.
    pub name: String,
    /// Pixels across.
    pub width: u16,
    /// Pixels down.
    pub height: u16,
    /// How the sign wants its pixels.
    pub format: PixelFormat,
    /// The groups (districts, wards, corridors) the panel belongs to; targets name them.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Colour of a mono panel's LEDs, for previews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// Day/night brightness policy; absent means the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brightness: Option<Brightness>,
    /// How frames reach the sign; absent means MQTT.
    #[serde(default, skip_serializing_if = "Transport::is_mqtt")]
    pub transport: Transport,
    /// Where the panel stands (WGS 84), for warnings drawn as polygons
    /// and circles, and the map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The administrative units the panel stands in (Vietnam's official
    /// unit codes: province, district, commune), for warnings addressed
    /// by unit code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
}

/// A point on the map, in degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude, −90 to 90 degrees.
    pub lat: f64,
    /// Longitude, −180 to 180 degrees.
    pub lon: f64,
}

impl Location {
    /// Refuses a point off the globe's ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(-90.0..=90.0).contains(&self.lat) || !(-180.0..=180.0).contains(&self.lon) {
            return Err(Invalid::new(Reason::NotOnEarth {
                lat: self.lat.to_string(),
                lon: self.lon.to_string(),
            }));
        }
        Ok(())
    }
}

/// An administrative unit code: 1 to 8 digits (province "40", district
/// "412", commune "16681").
pub fn validate_unit(u: &str) -> Result<(), Invalid> {
    if (1..=8).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Invalid::new(Reason::InvalidUnit {
            shown: u.chars().take(40).collect(),
        }))
    }
}

impl Panel {
    /// Checks every field: size and format, name, groups, brightness times,
    /// location, unit codes, transport.
    pub fn validate(&self) -> Result<(), Invalid> {
        Profile::new(self.width, self.height, self.format)?;
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(Invalid::new(Reason::PanelName));
        }
        for g in &self.groups {
            validate_group(g)?;
        }
        if let Some(b) = &self.brightness {
            let (day, night) = b.switch_times()?;
            if day == night {
                return Err(Invalid::new(Reason::SameBrightnessTimes {
                    at: b.day_starts.clone(),
                }));
            }
        }
        if let Some(l) = &self.location {
            l.validate()?;
        }
        if self.units.len() > 16 {
            return Err(Invalid::new(Reason::TooManyUnits));
        }
        for u in &self.units {
            validate_unit(u)?;
        }
        self.transport.validate(self.width, self.format)
    }
    /// What the renderer needs of the panel (mono panels without a colour light red).
    pub fn profile(&self) -> Profile {
        Profile {
            width: self.width,
            height: self.height,
            format: self.format,
            color: self.color.unwrap_or(Color::LED_RED),
        }
    }
    /// The panel's brightness policy, or the default when it names none.
    pub fn brightness_policy(&self) -> Brightness {
        self.brightness.clone().unwrap_or_default()
    }
}

/// Longest display name of a group.
pub const MAX_GROUP_NAME_CHARS: usize = 100;

/// A group of panels (a district, ward or corridor): its id is the slug
/// panels and targets name (`group:tp-vinh`); its name is what people read,
/// with diacritics ("Thành phố Vinh").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The slug panels and targets name (`group:ID`).
    pub id: Id,
    /// The name people read, with diacritics.
    pub name: String,
}

impl Group {
    /// Checks the id as a group id and the display name.
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_group(self.id.as_str())?;
        validate_group_name(&self.name).map(|_| ())
    }
}

/// A group's display name, trimmed: 1 to [`MAX_GROUP_NAME_CHARS`]
/// characters, no control characters.
pub fn validate_group_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_GROUP_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Invalid::new(Reason::GroupName {
            max: MAX_GROUP_NAME_CHARS,
        }));
    }
    Ok(name.to_string())
}

/// Group names (districts, wards, corridors) follow the id pattern so that
/// `group:NAME` targets are unambiguous.
pub fn validate_group(g: &str) -> Result<(), Invalid> {
    Id::parse(g).map(|_| ()).map_err(|_| {
        Invalid::new(Reason::InvalidGroup {
            shown: g.chars().take(80).collect(),
        })
    })
}

/// A group's id read as words, until groups get display names of their
/// own: "hai-chau" → "Hai Chau".
pub fn group_label(g: &str) -> String {
    g.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Horizontal alignment of text lines.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// Lines start at the left edge.
    Left,
    /// Lines centred (the default).
    #[default]
    Center,
    /// Lines end at the right edge.
    Right,
}

/// How an image is fitted to a panel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Whole image visible, letterboxed with the background colour.
    #[default]
    Contain,
    /// Panel filled, the image's centre kept, edges cropped.
    Cover,
    /// Panel filled, aspect ratio ignored.
    Stretch,
}

/// Where the caption text goes when a message has both an image and text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Caption {
    /// A text band below the image.
    #[default]
    Below,
    /// A text band above the image.
    Above,
    /// Text drawn over the bottom of the image on a solid band.
    Over,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
/// How a message is drawn; every field absent means the renderer's default.
#[serde(deny_unknown_fields)]
pub struct Style {
    /// Text colour; absent: white. On mono panels only its lightness
    /// counts (lit or dark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// Background colour; absent: black.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Color>,
    /// Alignment of text lines; absent: centred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub align: Option<Align>,
    /// How an image fills the panel; absent: contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<Fit>,
    /// Where text goes beside an image; absent: below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<Caption>,
}

/// Where a message stands in the four-eyes workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Written or edited, waiting for an approver; never shown on a panel.
    Draft,
    /// Approved (by someone other than its last editor, unless
    /// self-approval is on); campaigns may play it.
    Approved,
}

/// The part of a message its author writes (the POST/PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// What staff call the message, 1 to 200 characters (not drawn).
    pub title: String,
    /// The text drawn on the panel, up to `MAX_TEXT_CHARS` characters; needs text or an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Asset id (content hash) of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How it is drawn.
    #[serde(default)]
    pub style: Style,
    /// The first instant the message may reach a panel (RFC 3339); absent:
    /// from its approval on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    /// The instant the message leaves every panel for good (RFC 3339);
    /// absent: no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// Longest message text we accept, in characters. A sign is read in
/// seconds; this bound is about abuse, not style.
pub const MAX_TEXT_CHARS: usize = 4000;

impl MessageBody {
    /// Checks title, text or image, text length, the image's id and the validity window.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return Err(Invalid::new(Reason::MessageTitle));
        }
        let text = self.text.as_deref().unwrap_or("");
        if text.trim().is_empty() && self.image.is_none() {
            return Err(Invalid::new(Reason::MessageEmpty));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(Invalid::new(Reason::MessageTooLong {
                max: MAX_TEXT_CHARS,
            }));
        }
        if let Some(a) = &self.image {
            validate_asset_id(a)?;
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if from >= until {
                return Err(Invalid::new(Reason::ValidityWindow));
            }
        }
        Ok(())
    }

    /// Whether `now` is inside the validity window (`valid_from`
    /// inclusive, `valid_until` exclusive).
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }

    /// The first edge of the validity window after `now`, if any: when
    /// [`MessageBody::valid_at`] may answer differently.
    pub fn next_validity_edge(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        [self.valid_from, self.valid_until]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min()
    }
}

/// Asset ids are the lowercase hex SHA-256 of the file's bytes.
pub fn validate_asset_id(a: &str) -> Result<(), Invalid> {
    if a.len() == 64
        && a.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Invalid::new(Reason::InvalidAssetId {
            shown: a.chars().take(80).collect(),
        }))
    }
}

/// Longest display name of an image, in characters.
pub const MAX_ASSET_NAME_CHARS: usize = 200;

/// An image's display name, trimmed and NFC-normalised: 1 to 200
/// characters, no control characters, no path (only the file's own name
/// is kept from `C:\Ảnh\bão.png` or `anh/bao.png`).
pub fn asset_name(raw: &str) -> Result<String, Invalid> {
    use unicode_normalization::UnicodeNormalization;
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = base.trim().nfc().collect();
    if name.is_empty() || name.chars().count() > MAX_ASSET_NAME_CHARS {
        return Err(Invalid::new(Reason::ImageName {
            max: MAX_ASSET_NAME_CHARS,
        }));
    }
    if name.chars().any(char::is_control) {
        return Err(Invalid::new(Reason::ImageNameControl));
    }
    Ok(name)
}

/// A stored message: the author's body plus workflow fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// The message's id.
    pub id: Id,
    /// What its author wrote (flattened into the same JSON object).
    #[serde(flatten)]
    pub body: MessageBody,
    /// Draft or approved: only approved messages reach a panel.
    pub status: MessageStatus,
    /// Bumped on every edit; part of the render cache key.
    pub version: u64,
    /// Who wrote the first version.
    pub created_by: String,
    /// When the first version was written.
    pub created_at: DateTime<Utc>,
    /// The last principal who wrote the message (four-eyes rule).
    pub updated_by: String,
    /// When the current version was written.
    pub updated_at: DateTime<Utc>,
    /// Who approved the current version (absent while a draft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When the current version was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// The version that was last approved, kept through later edits (the
    /// approval desk diffs the edit in front of the approver against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_approved: Option<u64>,
    /// Why an approver sent this version back; cleared by the next edit,
    /// which puts the message back in the approval queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
}

/// An approver's "not like this": who, when, which version and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Who sent the version back.
    pub by: String,
    /// When it was sent back.
    pub at: DateTime<Utc>,
    /// The version rejected.
    pub version: u64,
    /// What the author should change (1 to [`MAX_COMMENT_CHARS`]
    /// characters, NFC).
    pub comment: String,
}

/// One version of a message as it was written: its body, who wrote it
/// and when, and what an approver said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageVersion {
    /// The version's number, from 1.
    pub version: u64,
    /// The body as that version had it.
    #[serde(flatten)]
    pub body: MessageBody,
    /// Who wrote this version.
    pub by: String,
    /// When this version was written.
    pub at: DateTime<Utc>,
    /// Who approved this version, if anyone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When this version was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// Why this version was sent back, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
}

impl Message {
    /// The message's current version as a history entry.
    pub fn as_version(&self) -> MessageVersion {
        MessageVersion {
            version: self.version,
            body: self.body.clone(),
            by: self.updated_by.clone(),
            at: self.updated_at,
            approved_by: self.approved_by.clone(),
            approved_at: self.approved_at,
            rejection: self.rejection.clone(),
        }
    }
}

/// Longest rejection comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A rejection comment, trimmed and NFC-normalised: 1 to
/// [`MAX_COMMENT_CHARS`] characters.
pub fn reject_comment(raw: &str) -> Result<String, Invalid> {
    use unicode_normalization::UnicodeNormalization;
    let c: String = raw.trim().nfc().collect();
    if c.is_empty() || c.chars().count() > MAX_COMMENT_CHARS {
        return Err(Invalid::new(Reason::RejectComment {
            max: MAX_COMMENT_CHARS,
        }));
    }
    Ok(c)
}

/// Stored facts about an uploaded image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Lowercase hex SHA-256 of the file's bytes (its file name in the store).
    pub id: String,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Size of the uploaded file, bytes.
    pub bytes: u64,
    /// The file's media type (`image/png`, `image/jpeg`, …).
    pub content_type: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// What people call the image (the uploaded file's name, editable);
    /// absent on images uploaded without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who a campaign or alert is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every panel (`all`).
    All,
    /// The panels of one group (`group:ID`).
    Group(String),
    /// One panel, by its id.
    Panel(Id),
}

impl Target {
    /// Parses `all`, `group:ID` or a panel id; refused with the text shown.
    pub fn parse(s: &str) -> Result<Target, Invalid> {
        if s == "all" {
            Ok(Target::All)
        } else if let Some(g) = s.strip_prefix("group:") {
            validate_group(g)?;
            Ok(Target::Group(g.to_string()))
        } else {
            Id::parse(s).map(Target::Panel).map_err(|_| {
                Invalid::new(Reason::InvalidTarget {
                    shown: s.chars().take(80).collect(),
                })
            })
        }
    }
    /// Whether the target names `panel` (itself, one of its groups, or all).
    pub fn matches(&self, panel: &Panel) -> bool {
        match self {
            Target::All => true,
            Target::Group(g) => panel.groups.iter().any(|pg| pg == g),
            Target::Panel(id) => &panel.id == id,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Group(g) => write!(f, "group:{g}"),
            Target::Panel(p) => write!(f, "{p}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Target::parse(&s)
            .map_err(|e| serde::de::Error::custom(crate::i18n::refused_while_reading(e)))
    }
}

/// One message in a campaign's playlist and how long each of its pages stays up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistItem {
    /// The message's id.
    pub id: Id,
    /// Seconds each page of the message stays up, 1 to `MAX_DWELL_S`.
    pub dwell_s: u32,
}

/// Longest dwell we accept: a day. Longer is surely a typo.
pub const MAX_DWELL_S: u32 = 86_400;

/// The campaign body as POSTed and as stored in `schedules/{id}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBody {
    /// What staff call the campaign, 1 to 200 characters.
    pub name: String,
    /// The playlist (1 to 100 messages), played in turn while the
    /// campaign runs.
    pub messages: Vec<PlaylistItem>,
    /// The panels it plays on; each must match at least one panel.
    pub targets: Vec<Target>,
    /// When windows open (cron, 5 to 7 fields or `@daily`…); absent:
    /// active all day from `start` to `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// How long each cron window stays open, seconds, 1 to 2,678,400 (31
    /// days); required with `cron`, refused without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
    /// First local date it runs; absent: no start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    /// Last local date it runs (inclusive); absent: no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    /// Higher wins a panel; campaigns of equal priority take turns.
    pub priority: i32,
    /// IANA zone of its dates and cron; absent: the server's (`--tz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// The campaign's id (its file name in `schedules/`).
    pub id: Id,
    /// What the scheduler wrote (flattened into the same JSON object).
    #[serde(flatten)]
    pub body: CampaignBody,
    /// Who saved it last (absent in hand-written files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When it was saved last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Longest emergency alert: three days (a typhoon's passage).
pub const MAX_ALERT_S: u32 = 3 * 86_400;

/// The part of an alert an operator writes (the POST body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertBody {
    /// The text drawn, 1 to 500 characters.
    pub text: String,
    /// The panels it pre-empts, as for campaigns.
    pub targets: Vec<Target>,
    /// How long it stays on, seconds, 1 to `MAX_ALERT_S`.
    pub duration_s: u32,
}

/// An emergency alert: pre-empts every campaign on its targets until `ends_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// The alert's id.
    pub id: Id,
    /// What the operator wrote (flattened into the same JSON object).
    #[serde(flatten)]
    pub body: AlertBody,
    /// Who sent it (for an official warning, whoever or whatever deployed it).
    pub created_by: String,
    /// When it went on: the start of its time on the glass.
    pub created_at: DateTime<Utc>,
    /// When it lapses: `created_at` plus `duration_s`.
    pub ends_at: DateTime<Utc>,
    /// Set when an operator cancels the alert before it lapses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Alert {
    /// Whether the alert is on the glass at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.cancelled_at.is_none() && self.created_at <= now && now < self.ends_at
    }
}

/// What a principal may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Writes, edits and deletes messages; uploads images.
    Editor,
    /// Approves messages, or sends them back with a comment.
    Approver,
    /// Creates, replaces and deletes campaigns.
    Scheduler,
    /// Sends and cancels alerts; deploys official warnings.
    Operator,
    /// Everything the others may, and panels, tokens, accounts and the
    /// audit trail.
    Admin,
    /// A machine that delivers official warnings (`POST /api/v1/cap`).
    Feed,
}

impl Role {
    /// Every role, in the order the API lists them.
    pub const ALL: [Role; 6] = [
        Role::Editor,
        Role::Approver,
        Role::Scheduler,
        Role::Operator,
        Role::Admin,
        Role::Feed,
    ];

    /// The role's name in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Scheduler => "scheduler",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Feed => "feed",
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                Invalid::new(Reason::UnknownRole {
                    shown: s.chars().take(40).collect(),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_documented_pattern() {
        for ok in ["a", "p10-hai-chau-01", "0", &"a".repeat(64)] {
            assert!(Id::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "A",
            "a_b",
            "../etc",
            "a/b",
            "a\0",
            &"a".repeat(65),
            "pаnel",
            "a.b",
        ] {
            assert!(Id::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_from_titles_are_readable_and_valid() {
        let id = Id::from_title("Tiêm chủng đầy đủ cho trẻ em!", 0);
        assert_eq!(id.as_str(), "tiem-chung-day-du-cho-tre-em-000000");
        let tail = |e| Id::from_title("Đường", e).as_str().to_string();
        assert_eq!(tail(35), "duong-00000z");
        assert_eq!(tail(36u64.pow(6) - 1), "duong-zzzzzz");
        assert_ne!(tail(1), tail(2));
        // Long or symbol-only titles still give valid ids.
        let long = Id::from_title(&"Thông báo ".repeat(20), u64::MAX);
        assert!(long.as_str().len() <= 47, "{long}");
        assert_eq!(Id::from_title("!!!", 36).as_str(), "000010");
        let a = Id::for_alert(DateTime::from_timestamp(1_790_000_000, 0).unwrap(), 0xbeef);
        assert_eq!(a.as_str(), "alert-20260921-141320-0000beef");
    }

    #[test]
    fn colours_round_trip() {
        let c = Color::parse("#FF2000").unwrap();
        assert_eq!(c, Color([255, 32, 0]));
        assert_eq!(c.to_string(), "#ff2000");
        assert!(Color::parse("ff2000").is_err());
        assert!(Color::parse("#ff20").is_err());
        assert!(Color::parse("#gg2000").is_err());
    }

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse("all").unwrap(), Target::All);
        assert_eq!(
            Target::parse("group:hai-chau").unwrap(),
            Target::Group("hai-chau".into())
        );
        assert!(Target::parse("group:").is_err());
        assert!(Target::parse("group:../x").is_err());
        assert!(Target::parse("Panel 1").is_err());
    }

    #[test]
    fn message_needs_text_or_image() {
        let mut m = MessageBody {
            title: "t".into(),
            text: None,
            image: None,
            style: Style::default(),
            valid_from: None,
            valid_until: None,
        };
        assert!(m.validate().is_err());
        m.text = Some("Xin chào".into());
        assert!(m.validate().is_ok());
    }

    #[test]
    fn panel_json_shape_matches_the_api_document() {
        let p: Panel = serde_json::from_str(
            r##"{"id":"p1","name":"Cổng UBND","width":128,"height":32,"format":"mono1","groups":["hai-chau"],"color":"#ff2000"}"##,
        )
        .unwrap();
        assert_eq!(p.profile().format, PixelFormat::Mono1);
        assert!(p.validate().is_ok());
        let bad: Panel = serde_json::from_str(
            r##"{"id":"p1","name":"x","width":5000,"height":32,"format":"mono1"}"##,
        )
        .unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn day_and_night_must_start_at_different_times() {
        let p = |day: &str, night: &str| -> Panel {
            serde_json::from_value(serde_json::json!({
                "id": "p1", "name": "x", "width": 64, "height": 16, "format": "mono1",
                "brightness": {"day": 200, "night": 40, "day_starts": day, "night_starts": night}
            }))
            .unwrap()
        };
        assert!(p("06:00", "18:00").validate().is_ok());
        let e = p("07:30", "07:30").validate().unwrap_err();
        assert!(e.to_string().contains("both 07:30"), "{e}");
    }
}

#[cfg(test)]
mod serde_shape_tests {
    use super::*;

    #[test]
    fn stored_message_and_campaign_round_trip() {
        let m: Message = serde_json::from_value(serde_json::json!({
            "id": "m1", "title": "t", "text": "Xin chào", "style": {"align": "left"},
            "status": "approved", "version": 2, "created_by": "a", "created_at": "2026-01-01T00:00:00Z",
            "updated_by": "a", "updated_at": "2026-01-01T00:00:00Z", "approved_by": "b"
        }))
        .unwrap();
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let bad = serde_json::from_value::<Message>(serde_json::json!({
            "id": "m1", "title": "t", "text": "x", "status": "draft", "version": 1, "created_by": "a",
            "created_at": "2026-01-01T00:00:00Z", "updated_by": "a", "updated_at": "2026-01-01T00:00:00Z",
            "colour": "#ffffff"
        }));
        assert!(bad.is_err(), "unknown fields in stored files are mistakes");
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "n", "messages": [{"id": "m1", "dwell_s": 8}], "targets": ["all"],
            "cron": "0 7 * * 1-5", "duration_s": 3600, "priority": 1
        }))
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Campaign>(&serde_json::to_string(&c).unwrap()).unwrap(),
            c
        );
        assert!(serde_json::from_value::<CampaignBody>(serde_json::json!({
            "name": "n", "messages": [], "targets": ["all"], "priority": 1, "prio": 2
        }))
        .is_err());
    }
}
