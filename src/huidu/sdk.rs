//! SDK 2.0 XML: the commands bangtin sends and the replies it reads.
//!
//! A request is `<sdk guid="…"><in method="…">…</in></sdk>`, a reply
//! `<sdk guid="…"><out method="…" result="kSuccess">…</out></sdk>`. The
//! `guid` is the session's: the card hands it out in its answer to
//! `GetIFVersion` (which is sent with the placeholder `##GUID`).
//!
//! Written with quick-xml's writer (so names and values are escaped) and
//! read with its pull parser. A DOCTYPE is refused outright and only the
//! five predefined entities and character references are accepted, so no
//! entity expansion can happen.

use chrono::NaiveDateTime;
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::{Reader, Writer, XmlVersion};

use super::Error;

/// The guid placeholder for the first command of a connection.
pub const PLACEHOLDER_GUID: &str = "##GUID";
/// The SDK version bangtin asks for (vendor docs: "现在使用 1000000").
pub const IF_VERSION: &str = "1000000";
/// `result` of a successful reply.
pub const SUCCESS: &str = "kSuccess";

/// One element inside `<out>` (or `<in>`), in document order, with its
/// depth below `<out>` (1 = direct child) and its attributes, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Nesting below `<out>`/`<in>`: 1 = direct child.
    pub depth: usize,
    /// Element name, e.g. `screen`.
    pub name: String,
    /// Attributes as `(name, value)` in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Text directly inside the element, unescaped and trimmed.
    pub text: String,
}

impl Element {
    /// The value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed SDK document (a reply, or for a card a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The session guid from the `<sdk guid>` attribute.
    pub guid: String,
    /// `in` for a request, `out` for a reply.
    pub direction: String,
    /// The `method` attribute, e.g. `GetDeviceInfo`.
    pub method: String,
    /// `result` of a reply; `None` on a request.
    pub result: Option<String>,
    /// Every element below `<in>`/`<out>`, in document order.
    pub elements: Vec<Element>,
}

impl Document {
    /// The first element with this name, anywhere below `<in>`/`<out>`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.name == name)
    }

    /// `attr` of the first `element`, or an error naming what is missing.
    pub fn required(&self, element: &str, attr: &'static str) -> Result<&str, Error> {
        self.find(element)
            .and_then(|e| e.attr(attr))
            .ok_or_else(|| Error::Missing {
                method: self.method.clone(),
                what: attr,
            })
    }

    /// Ok when the card said `kSuccess`.
    pub fn check(&self) -> Result<(), Error> {
        match self.result.as_deref() {
            Some(SUCCESS) => Ok(()),
            Some(other) => Err(Error::Refused {
                method: self.method.clone(),
                result: other.to_string(),
            }),
            None => Err(Error::Missing {
                method: self.method.clone(),
                what: "result",
            }),
        }
    }
}

fn xml_err(e: impl std::fmt::Display) -> Error {
    Error::Xml(e.to_string())
}

fn attrs_of(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, Error> {
    e.attributes()
        .map(|a| {
            let a = a.map_err(xml_err)?;
            let key = a.key.as_ref().to_string();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(xml_err)?;
            Ok((key, value.into_owned()))
        })
        .collect()
}

fn name_of(e: &BytesStart<'_>) -> Result<String, Error> {
    Ok(e.name().as_ref().to_string())
}

/// Parses an SDK document. The root must be `<sdk guid>` with exactly one
/// `<in method>` or `<out method>` child.
pub fn parse(xml: &[u8]) -> Result<Document, Error> {
    let xml = xml.strip_prefix(b"\xef\xbb\xbf").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(xml_err)?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut doc: Option<Document> = None;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = name_of(e)?;
            open_element(&mut doc, stack.len(), &name, attrs_of(e)?)?;
            if !empty {
                stack.push(name);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                if stack.len() > 2 {
                    let s = t.xml_content(XmlVersion::Implicit1_0);
                    push_text(&mut doc, s.trim());
                } else if !t.xml_content(XmlVersion::Implicit1_0).trim().is_empty() {
                    return Err(Error::Xml("text outside the command".into()));
                }
            }
            Event::CData(t) => {
                let s = t.into_inner().into_owned();
                push_text(&mut doc, &s);
            }
            Event::GeneralRef(r) => {
                let text = crate::xml_text::resolve(&r)
                    .ok_or_else(|| Error::Xml("unknown entity reference".into()))?;
                push_text(&mut doc, &text);
            }
            Event::DocType(_) => return Err(Error::XmlDtd),
            Event::Eof => break,
            _ => {}
        }
    }
    let doc = doc.ok_or_else(|| Error::Xml("no <sdk> element".into()))?;
    if !stack.is_empty() {
        return Err(Error::Xml("the document ends inside an element".into()));
    }
    if doc.direction.is_empty() {
        return Err(Error::Xml("no <in> or <out> element".into()));
    }
    Ok(doc)
}

/// An element opening at `depth`: the root `<sdk guid>`, then one `<in>`
/// or `<out>` naming the method, then the command's own elements.
fn open_element(
    doc: &mut Option<Document>,
    depth: usize,
    name: &str,
    attrs: Vec<(String, String)>,
) -> Result<(), Error> {
    let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (depth, doc.as_mut()) {
        (0, None) if name == "sdk" => {
            *doc = Some(Document {
                guid: get("guid").unwrap_or_default(),
                direction: String::new(),
                method: String::new(),
                result: None,
                elements: Vec::new(),
            });
        }
        (0, _) => return Err(Error::Xml(format!("unexpected root element <{name}>"))),
        (1, Some(d)) => {
            if !d.direction.is_empty() || (name != "in" && name != "out") {
                return Err(Error::Xml(format!("unexpected element <{name}> in <sdk>")));
            }
            d.method = get("method").unwrap_or_default();
            d.result = get("result");
            d.direction = name.to_string();
        }
        (depth, Some(d)) => d.elements.push(Element {
            depth: depth - 1,
            name: name.to_string(),
            attrs,
            text: String::new(),
        }),
        (_, None) => return Err(Error::Xml("no <sdk> element".into())),
    }
    Ok(())
}

fn push_text(doc: &mut Option<Document>, s: &str) {
    if let Some(e) = doc.as_mut().and_then(|d| d.elements.last_mut()) {
        e.text.push_str(s);
    }
}

type Xml = Writer<Vec<u8>>;
type Io = std::io::Result<()>;

/// `<?xml …?><sdk guid><{tag} {attrs}>…</{tag}></sdk>`.
fn envelope(
    guid: &str,
    tag: &str,
    attrs: &[(&str, &str)],
    body: impl FnOnce(&mut Xml) -> Io,
) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    let result: Io = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.create_element("sdk")
            .with_attribute(("guid", guid))
            .write_inner_content(|w| {
                w.create_element(tag)
                    .with_attributes(attrs.iter().copied())
                    .write_inner_content(body)?;
                Ok(())
            })?;
        Ok(())
    })();
    result.expect("writing XML into memory cannot fail");
    w.into_inner()
}

/// Builds a request `<sdk guid><in method>…</in></sdk>`.
pub fn request(guid: &str, method: &str, body: impl FnOnce(&mut Xml) -> Io) -> Vec<u8> {
    envelope(guid, "in", &[("method", method)], body)
}

/// Builds a reply `<sdk guid><out method result>…</out></sdk>`.
pub fn reply(guid: &str, method: &str, result: &str, body: impl FnOnce(&mut Xml) -> Io) -> Vec<u8> {
    envelope(guid, "out", &[("method", method), ("result", result)], body)
}

fn empty(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) -> Io {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_empty()?;
    Ok(())
}

/// `GetIFVersion`, the first XML command; its reply carries the guid.
pub fn get_if_version() -> Vec<u8> {
    request(PLACEHOLDER_GUID, "GetIFVersion", |w| {
        empty(w, "version", &[("value", IF_VERSION)])
    })
}

/// `GetDeviceInfo`: id, model and screen size.
pub fn get_device_info(guid: &str) -> Vec<u8> {
    request(guid, "GetDeviceInfo", |_| Ok(()))
}

/// What bangtin needs to know about a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The card's id, from `<device id>` in `GetDeviceInfo`.
    pub id: String,
    /// Card model from `<device model>`; empty if the card omits it.
    pub model: String,
    /// Screen width in pixels, from `<screen width>`.
    pub width: u32,
    /// Screen height in pixels, from `<screen height>`.
    pub height: u32,
}

impl DeviceInfo {
    /// From a `GetDeviceInfo` reply: `<device id model/>` and
    /// `<screen width height/>`.
    pub fn from_reply(doc: &Document) -> Result<DeviceInfo, Error> {
        doc.check()?;
        let number = |what: &'static str| -> Result<u32, Error> {
            doc.required("screen", what)?
                .trim()
                .parse()
                .map_err(|_| Error::Missing {
                    method: doc.method.clone(),
                    what,
                })
        };
        Ok(DeviceInfo {
            id: doc.required("device", "id")?.to_string(),
            model: doc
                .find("device")
                .and_then(|d| d.attr("model"))
                .unwrap_or_default()
                .to_string(),
            width: number("width")?,
            height: number("height")?,
        })
    }
}

/// A program of one full-screen area showing one uploaded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProgram {
    /// Area and screen width in pixels (the panel's, equal to the card's screen).
    pub width: u32,
    /// Area and screen height in pixels.
    pub height: u32,
    /// Name of the uploaded file on the card.
    pub file: String,
    /// Its MD5, lower-case hex; also seeds the program's guids so the same
    /// frame always yields the same program.
    pub md5: String,
    /// `timeStamps` of the screen (the caller's; this module has no clock).
    pub stamp: u64,
}

/// `AddProgram`: replaces every program on the card with `p`.
pub fn add_image_program(guid: &str, p: &ImageProgram) -> Vec<u8> {
    let (w, h) = (p.width.to_string(), p.height.to_string());
    let stamp = p.stamp.to_string();
    let id = |kind: &str| format!("bangtin-{kind}-{}", &p.md5[..p.md5.len().min(16)]);
    let (program, area, image) = (id("program"), id("area"), id("image"));
    request(guid, "AddProgram", |x| {
        x.create_element("screen")
            .with_attribute(("timeStamps", stamp.as_str()))
            .write_inner_content(|x| {
                x.create_element("program")
                    .with_attributes([
                        ("type", "normal"),
                        ("id", "0"),
                        ("guid", program.as_str()),
                        ("name", "bangtin"),
                    ])
                    .write_inner_content(|x| {
                        empty(x, "playControl", &[("count", "1"), ("disabled", "false")])?;
                        x.create_element("area")
                            .with_attributes([("guid", area.as_str()), ("alpha", "255")])
                            .write_inner_content(|x| {
                                empty(
                                    x,
                                    "rectangle",
                                    &[("x", "0"), ("y", "0"), ("width", &w), ("height", &h)],
                                )?;
                                x.create_element("resources").write_inner_content(|x| {
                                    x.create_element("image")
                                        .with_attributes([
                                            ("guid", image.as_str()),
                                            ("fit", "stretch"),
                                        ])
                                        .write_inner_content(|x| {
                                            empty(
                                                x,
                                                "effect",
                                                &[
                                                    ("in", "0"),
                                                    ("inSpeed", "0"),
                                                    ("out", "0"),
                                                    ("outSpeed", "0"),
                                                    ("duration", "100"),
                                                ],
                                            )?;
                                            empty(x, "file", &[("name", &p.file), ("md5", &p.md5)])
                                        })?;
                                    Ok(())
                                })?;
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    })
}

/// A BTF1 brightness (0–255) as the card's percentage (1–100; 0 would be
/// "off" on some firmware, and blanking is the frame's job).
pub fn brightness_percent(level: u8) -> u8 {
    ((u32::from(level) * 100 + 127) / 255).clamp(1, 100) as u8
}

/// `SetLuminancePloy` in fixed mode at `percent`. The sensor values are the
/// vendor's defaults; some firmware ignores the command without them.
pub fn set_luminance(guid: &str, percent: u8) -> Vec<u8> {
    let value = percent.clamp(1, 100).to_string();
    request(guid, "SetLuminancePloy", |w| {
        empty(w, "mode", &[("value", "default")])?;
        empty(w, "default", &[("value", &value)])?;
        empty(w, "sensor", &[("min", "1"), ("max", "100"), ("time", "10")])?;
        w.create_element("ploy").write_inner_content(|_| Ok(()))?;
        Ok(())
    })
}

/// The card's name for Vietnam's time zone (Windows display-name form, as
/// in the vendor demo's `(UTC+08:00)Beijing,…`).
pub const TIMEZONE_VIETNAM: &str = "(UTC+07:00)Bangkok,Hanoi,Jakarta";

/// `SetTimeInfo`: sets the card's clock to `local` (wall-clock time in
/// `timezone`), with no automatic sync.
pub fn set_time(guid: &str, local: NaiveDateTime, timezone: &str) -> Vec<u8> {
    let time = local.format("%Y-%m-%d %H:%M:%S").to_string();
    request(guid, "SetTimeInfo", |w| {
        empty(w, "timezone", &[("value", timezone)])?;
        empty(w, "summer", &[("enable", "false")])?;
        empty(w, "sync", &[("value", "none")])?;
        empty(w, "time", &[("value", &time)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_doc_if_version_reply_parses() {
        // The vendor's SDK documentation (SDK版本协商反馈), verbatim.
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"f7b3b451c4f3cf3310e2d6714fbb50e8\">\n  \t<out method=\"GetIFVersion\" result=\"kSuccess\">\n\t\t<version value=\"1000000\"/>\n  \t</out>\n</sdk>\n";
        let d = parse(xml.as_bytes()).unwrap();
        assert_eq!(d.guid, "f7b3b451c4f3cf3310e2d6714fbb50e8");
        assert_eq!(d.method, "GetIFVersion");
        assert_eq!(d.direction, "out");
        d.check().unwrap();
        assert_eq!(d.required("version", "value").unwrap(), "1000000");
    }

    #[test]
    fn requests_round_trip_through_the_parser() {
        let d = parse(&get_if_version()).unwrap();
        assert_eq!(
            (d.guid.as_str(), d.direction.as_str(), d.method.as_str()),
            ("##GUID", "in", "GetIFVersion")
        );
        assert_eq!(d.required("version", "value").unwrap(), IF_VERSION);
        let p = ImageProgram {
            width: 192,
            height: 96,
            file: "a&b\"<c>.png".into(),
            md5: "0123456789abcdef0123456789abcdef".into(),
            stamp: 42,
        };
        let d = parse(&add_image_program("g-1", &p)).unwrap();
        assert_eq!(d.method, "AddProgram");
        assert_eq!(d.required("file", "name").unwrap(), p.file);
        assert_eq!(d.required("rectangle", "width").unwrap(), "192");
        assert_eq!(d.required("screen", "timeStamps").unwrap(), "42");
        let image = d.find("image").unwrap();
        assert_eq!(image.depth, 5);
        let d = parse(&set_luminance("g", 40)).unwrap();
        assert_eq!(d.required("default", "value").unwrap(), "40");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(7, 5, 9)
            .unwrap();
        let d = parse(&set_time("g", t, TIMEZONE_VIETNAM)).unwrap();
        assert_eq!(d.required("time", "value").unwrap(), "2026-03-01 07:05:09");
    }

    #[test]
    fn device_info_reads_id_and_screen() {
        let xml = reply("g", "GetDeviceInfo", SUCCESS, |w| {
            empty(
                w,
                "device",
                &[("cpu", "x"), ("model", "HD-C16"), ("id", "C16-21-00017")],
            )?;
            empty(
                w,
                "screen",
                &[("width", "192"), ("height", "96"), ("rotation", "0")],
            )
        });
        let info = DeviceInfo::from_reply(&parse(&xml).unwrap()).unwrap();
        assert_eq!(
            info,
            DeviceInfo {
                id: "C16-21-00017".into(),
                model: "HD-C16".into(),
                width: 192,
                height: 96
            }
        );
        let missing = reply("g", "GetDeviceInfo", SUCCESS, |w| {
            empty(w, "device", &[("id", "x")])
        });
        assert!(matches!(
            DeviceInfo::from_reply(&parse(&missing).unwrap()),
            Err(Error::Missing { what: "width", .. })
        ));
        let refused = reply("g", "GetDeviceInfo", "kInvalidGUID", |_| Ok(()));
        assert_eq!(
            DeviceInfo::from_reply(&parse(&refused).unwrap()),
            Err(Error::Refused {
                method: "GetDeviceInfo".into(),
                result: "kInvalidGUID".into()
            })
        );
    }

    #[test]
    fn dtd_entities_and_garbage_are_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE sdk [<!ENTITY a "aaaa">]><sdk guid="&a;"><out method="x" result="kSuccess"/></sdk>"#;
        assert_eq!(parse(bomb), Err(Error::XmlDtd));
        let unknown = br#"<sdk guid="g"><out method="x" result="kSuccess"><a>&a;</a></out></sdk>"#;
        assert!(matches!(parse(unknown), Err(Error::Xml(_))));
        for garbage in [
            &b"not xml at all"[..],
            b"<sdk guid='g'><out method='x'>",
            b"<other/>",
            b"<sdk guid='g'/>",
            b"<sdk><out method='a'/><out method='b'/></sdk>",
            b"\xff\xfe<sdk/>",
        ] {
            assert!(matches!(parse(garbage), Err(Error::Xml(_))), "{garbage:?}");
        }
        // The UTF-8 BOM that .NET writers put in front is accepted.
        let bom = b"\xef\xbb\xbf<sdk guid='g'><out method='m' result='kSuccess'/></sdk>";
        assert_eq!(parse(bom).unwrap().method, "m");
    }

    #[test]
    fn brightness_maps_to_percent() {
        assert_eq!(brightness_percent(255), 100);
        assert_eq!(brightness_percent(128), 50);
        assert_eq!(brightness_percent(0), 1);
    }
}
