//! Text in XML that arrives as a reference (`&amp;`, `&#233;`): the XML
//! reader used here hands each one over as its own event, between texts.
//! Only the five predefined entities and character references have a
//! meaning without a DTD, and the documents read here may not have one.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::BytesRef;

/// The text `r` stands for, or `None` for an entity only a DTD could
/// define (or a character reference to no character).
pub(crate) fn resolve(r: &BytesRef<'_>) -> Option<String> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Some(c.to_string()),
        Ok(None) => resolve_predefined_entity(&r.xml10_content()).map(str::to_string),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_entities_and_character_references() {
        let r = |s: &str| resolve(&BytesRef::new(s.to_string()));
        assert_eq!(r("amp").as_deref(), Some("&"));
        assert_eq!(r("quot").as_deref(), Some("\""));
        assert_eq!(r("#233").as_deref(), Some("é"));
        assert_eq!(r("#x1EA1").as_deref(), Some("ạ"));
        assert_eq!(r("nbsp"), None, "an HTML entity needs a DTD");
        assert_eq!(r("#0"), None);
    }
}
