//! The gate in front of the CAP parser: a document is screened here before
//! `oasiscap` sees it. CAP has no DTD, so any `<!DOCTYPE>` is refused; with
//! no DTD no entity can be declared, so there is nothing to expand (the
//! billion-laughs bomb) and nothing to fetch (external entities). References
//! other than the five predefined entities and character references are
//! refused too, as are deep nesting and a root that is not a CAP `<alert>`.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::CapError;

/// Largest CAP document accepted, in bytes. Real warnings are a few KiB;
/// embedded resources (`<derefUri>`) can make them larger, not this large.
pub(crate) const MAX_DOC_BYTES: usize = 2 << 20;

/// Deepest element nesting accepted (a CAP document is five deep).
const MAX_DEPTH: usize = 32;

/// The namespaces of CAP 1.0, 1.1 and 1.2.
pub(crate) const NAMESPACES: [&str; 3] = [
    "http://www.incident.com/cap/1.0",
    "urn:oasis:names:tc:emergency:cap:1.1",
    "urn:oasis:names:tc:emergency:cap:1.2",
];

/// The document as text, once it has passed the screen.
pub(crate) fn screen(bytes: &[u8]) -> Result<&str, CapError> {
    if bytes.len() > MAX_DOC_BYTES {
        return Err(CapError::TooLarge {
            limit: MAX_DOC_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CapError::Xml(format!("the document is not UTF-8 ({e})")))?;
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut root_seen = false;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| CapError::Xml(format!("{e} (near byte {at})")))?;
        match event {
            Event::DocType(_) => return Err(CapError::Dtd),
            Event::GeneralRef(r) => {
                let name: &str = &r;
                if !r.is_char_ref() && !matches!(name, "amp" | "lt" | "gt" | "apos" | "quot") {
                    return Err(CapError::Entity(name.chars().take(40).collect()));
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                if depth == 0 {
                    if root_seen {
                        return Err(CapError::Xml("more than one root element".into()));
                    }
                    root_seen = true;
                    check_root(e)?;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(CapError::Xml(format!(
                            "elements are nested deeper than {MAX_DEPTH} levels"
                        )));
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(CapError::Xml("the document has no elements".into()));
    }
    if depth != 0 {
        return Err(CapError::Xml("the document ends inside an element".into()));
    }
    Ok(text)
}

/// The root must be `<alert>` (with or without a prefix) in a CAP namespace.
fn check_root(e: &quick_xml::events::BytesStart<'_>) -> Result<(), CapError> {
    let name = e.name().as_ref().to_string();
    let (prefix, local) = match name.split_once(':') {
        Some((p, l)) => (Some(p.to_string()), l.to_string()),
        None => (None, name.clone()),
    };
    if local != "alert" {
        return Err(CapError::NotCap(format!(
            "the root element is <{}>, not a CAP <alert>",
            name.chars().take(40).collect::<String>()
        )));
    }
    let wanted = match &prefix {
        Some(p) => format!("xmlns:{p}"),
        None => "xmlns".to_string(),
    };
    let ns = e
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == wanted)
        .map(|a| a.value.to_string());
    match ns {
        Some(ns) if NAMESPACES.contains(&ns.trim()) => Ok(()),
        Some(ns) => Err(CapError::Namespace(ns.chars().take(80).collect())),
        None => Err(CapError::Namespace(String::new())),
    }
}
