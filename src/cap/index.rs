//! An index of CAP documents as feeds publish them: an ATOM feed whose
//! entries link to CAP documents, or an RSS channel whose items do. Only
//! the links are read; DTDs are refused as for CAP documents.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::CapError;

/// What a polled URL returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Polled {
    /// A CAP document itself.
    Document,
    /// An index: the entries' links, in the order given.
    Index(Vec<String>),
}

/// Tells a CAP document from an ATOM/RSS index and reads the index's
/// links (ATOM: each entry's `<link href>`, preferring one typed
/// `application/cap+xml`; RSS: each item's `<link>` or enclosure).
pub(crate) fn read(bytes: &[u8]) -> Result<Polled, CapError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
        .map_err(|e| CapError::Xml(format!("the feed is not UTF-8 ({e})")))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut links = Vec::new();
    // The current entry's candidate links: (is typed CAP, href).
    let mut entry: Vec<(bool, String)> = Vec::new();
    let mut item_link = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| CapError::Xml(format!("the feed is not well-formed XML: {e}")))?;
        match ev {
            Event::DocType(_) => return Err(CapError::Dtd),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = local(e.name().as_ref());
                if stack.is_empty() {
                    match name.as_str() {
                        "alert" => return Ok(Polled::Document),
                        "feed" | "rss" | "RDF" => {}
                        other => {
                            return Err(CapError::NotCap(format!(
                                "the feed's root element is <{other}>, neither CAP, ATOM nor RSS"
                            )))
                        }
                    }
                }
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                };
                let in_entry = stack.iter().any(|s| s == "entry" || s == "item");
                if in_entry && (name == "link" || name == "enclosure") {
                    if let Some(href) = attr("href").or_else(|| attr("url")) {
                        let typed = attr("type").is_some_and(|t| t.contains("cap"));
                        entry.push((typed, href));
                    }
                }
                if matches!(ev, Event::Start(_)) {
                    stack.push(name);
                }
            }
            Event::Text(t) if in_item_link(&stack) => {
                item_link.push_str(t.xml_content(quick_xml::XmlVersion::Implicit1_0).trim());
            }
            // `&amp;` in a link's text comes as its own event, between texts.
            Event::GeneralRef(r) if in_item_link(&stack) => {
                let text = crate::xml_text::resolve(&r).ok_or_else(|| {
                    CapError::Xml(format!(
                        "the feed uses an unknown entity &{};",
                        r.xml10_content()
                    ))
                })?;
                item_link.push_str(&text);
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if name == "link" && !item_link.is_empty() {
                    entry.push((false, std::mem::take(&mut item_link)));
                }
                if name == "entry" || name == "item" {
                    let best = entry
                        .iter()
                        .find(|(typed, _)| *typed)
                        .or_else(|| entry.first())
                        .map(|(_, h)| h.clone());
                    links.extend(best);
                    entry.clear();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Polled::Index(links))
}

/// Inside an RSS item's `<link>` element.
fn in_item_link(stack: &[String]) -> bool {
    stack.last().is_some_and(|s| s == "link") && stack.iter().any(|s| s == "item")
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom_and_rss_indexes_give_their_links() {
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>
            <entry><id>1</id><link rel="alternate" href="https://x/page/1"/><link href="/cap/1.xml" type="application/cap+xml"/></entry>
            <entry><id>2</id><link href="https://x/cap/2.xml"/></entry></feed>"#;
        assert_eq!(
            read(atom.as_bytes()).unwrap(),
            Polled::Index(vec!["/cap/1.xml".into(), "https://x/cap/2.xml".into()])
        );
        let rss = r#"<rss version="2.0"><channel><title>x</title><link>https://x/</link>
            <item><title>a</title><link>https://x/cap/a.xml</link></item></channel></rss>"#;
        assert_eq!(
            read(rss.as_bytes()).unwrap(),
            Polled::Index(vec!["https://x/cap/a.xml".into()])
        );
        // Escaped query strings come back as the URL they stand for, from
        // an attribute and from element text alike.
        let atom = r#"<feed><entry><link href="/cap?a=1&amp;b=2"/></entry></feed>"#;
        let rss =
            r#"<rss><channel><item><link>/cap?a=1&amp;b=2&#38;c=3</link></item></channel></rss>"#;
        assert_eq!(
            read(atom.as_bytes()).unwrap(),
            Polled::Index(vec!["/cap?a=1&b=2".into()])
        );
        assert_eq!(
            read(rss.as_bytes()).unwrap(),
            Polled::Index(vec!["/cap?a=1&b=2&c=3".into()])
        );
        let doc = r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"#;
        assert_eq!(read(doc.as_bytes()).unwrap(), Polled::Document);
        assert_eq!(read(b"<!DOCTYPE feed []><feed/>"), Err(CapError::Dtd));
        assert!(matches!(read(b"<html/>"), Err(CapError::NotCap(_))));
    }
}
