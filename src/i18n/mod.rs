//! Every sentence a person reads from the server, in Vietnamese (the
//! default) and English. The core returns typed reasons ([`Reason`],
//! [`CronText`]); [`catalogue`] renders one in a [`Lang`]; the HTTP edge
//! picks the language from the request's `Accept-Language`
//! ([`Lang::from_accept_language`]). Pure: no clock, disk, env or network.
//!
//! [`Text`] is what an error carries: a reason from the catalogue, or a
//! sentence not yet in it (`Plain`, the same in every language). The test
//! `plain_sentences_do_not_grow` in `catalogue.rs` counts, per file, where
//! such sentences are still made, so a new one fails the build's tests.

pub(crate) mod catalogue;

pub(crate) use catalogue::{AddressWhy, CapNote, CronPart, CronText, CronWhy, Kind, Reason};

/// A language the server speaks (in settings files: `"vi"`, `"en"`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// The language an `Accept-Language` header prefers among those we
    /// speak, by q-value (ties: the first listed); Vietnamese when it
    /// names neither, or is absent.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |v| v.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "vi" => Lang::Vi,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Vi, |(_, l)| l)
    }

    /// The language of the command line, from `BANGTIN_LANG`, then the
    /// POSIX locale variables in their order of precedence (`LC_ALL`,
    /// `LC_MESSAGES`, `LANG`): English for `en…`, Vietnamese otherwise
    /// (also for `C` and `POSIX`, which say nothing of a language).
    pub fn from_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
        let set = ["BANGTIN_LANG", "LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|v| var(v).filter(|s| !s.is_empty()));
        match set {
            Some(s) if s.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    /// The tag for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// What an error says: a reason from the catalogue, or a sentence that is
/// not in it yet (shown as is in every language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Says(Box<Reason>),
    Plain(String),
}

impl Text {
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Text::Says(r) => r.render(lang),
            Text::Plain(s) => s.clone(),
        }
    }
}

/// Logs read English; the command line renders its refusals itself in
/// [`Lang::from_locale`].
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl From<Reason> for Text {
    fn from(r: Reason) -> Self {
        Text::Says(Box::new(r))
    }
}
impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::Plain(s)
    }
}
impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::Plain(s.to_string())
    }
}

thread_local! {
    /// The reason the last value was refused while JSON was read on this
    /// thread: serde carries only a string, so the edge takes the reason
    /// back from here to render it in the reader's language.
    static REFUSED: std::cell::RefCell<Option<Text>> = const { std::cell::RefCell::new(None) };
}

/// Keeps why a value (an id, a colour, a target) was refused while JSON
/// was read, and gives the refusal back for serde's error string.
pub(crate) fn refused_while_reading(e: crate::domain::Invalid) -> crate::domain::Invalid {
    REFUSED.with(|r| *r.borrow_mut() = Some(e.0.clone()));
    e
}

/// The refusal kept by [`refused_while_reading`] if serde's error
/// `said` is that refusal's (its English sentence), else `None`; the slot
/// is emptied either way.
pub(crate) fn take_refused(said: &str) -> Option<Text> {
    REFUSED
        .with(|r| r.borrow_mut().take())
        .filter(|t| said.contains(&t.render(Lang::En)))
}

/// `s` folded for search: lower case, Vietnamese marks dropped, đ as d,
/// so "son tra" finds "Sơn Trà" and "nghi loc" finds "Nghi Lộc".
pub(crate) fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.to_lowercase()
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_speaks_the_locales_language_and_vietnamese_otherwise() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Lang::from_locale(env(&[])), Lang::Vi);
        assert_eq!(Lang::from_locale(env(&[("LANG", "C.UTF-8")])), Lang::Vi);
        assert_eq!(Lang::from_locale(env(&[("LANG", "en_US.UTF-8")])), Lang::En);
        assert_eq!(
            Lang::from_locale(env(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "vi_VN.UTF-8")])),
            Lang::Vi
        );
        assert_eq!(
            Lang::from_locale(env(&[("LANG", "vi_VN"), ("BANGTIN_LANG", "en")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale(env(&[("LC_ALL", ""), ("LANG", "en_GB")])),
            Lang::En
        );
    }

    fn matches(haystack: &str, needle: &str) -> bool {
        fold(haystack).contains(&fold(needle))
    }

    #[test]
    fn accept_language_honours_q_values_and_defaults_to_vietnamese() {
        let l = |h: Option<&str>| Lang::from_accept_language(h);
        assert_eq!(l(None), Lang::Vi);
        assert_eq!(l(Some("")), Lang::Vi);
        assert_eq!(l(Some("fr-FR,de")), Lang::Vi);
        assert_eq!(l(Some("en")), Lang::En);
        assert_eq!(l(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(l(Some("vi-VN,vi;q=0.9,en;q=0.8")), Lang::Vi);
        assert_eq!(l(Some("vi;q=0.4, en;q=0.8")), Lang::En);
        assert_eq!(l(Some("en;q=0, vi")), Lang::Vi);
        assert_eq!(l(Some("fr, en;q=0.5")), Lang::En);
        assert_eq!(l(Some("en;q=bogus")), Lang::Vi);
        assert_eq!(l(Some("EN-gb")), Lang::En);
    }

    #[test]
    fn a_value_refused_while_reading_json_keeps_its_reason() {
        let body = r#"{"id": "Hải Châu", "name": "Hải Châu"}"#.as_bytes();
        let e = serde_json::from_slice::<crate::domain::Group>(body).unwrap_err();
        let why = take_refused(&e.to_string()).expect("the id's own reason");
        assert!(
            why.render(Lang::Vi).contains("không phải mã hợp lệ"),
            "{why:?}"
        );
        // Taken once; and never for an error that is not its own.
        assert_eq!(take_refused(&e.to_string()), None);
        let _ = serde_json::from_slice::<crate::domain::Group>(body);
        assert_eq!(take_refused("expected value at line 1 column 1"), None);
    }

    #[test]
    fn folding_finds_places_without_their_marks() {
        assert!(matches("Sơn Trà", "son tra"));
        assert!(matches("Nghi Lộc", "nghi loc"));
        assert!(matches("Thành phố Vinh", "THANH PHO"));
        assert!(matches("Đô Lương", "do luong"));
        assert!(matches("Cửa Lò", "cửa lò"));
        assert!(!matches("Hải Châu", "son tra"));
        assert_eq!(fold("ĐƯỜNG"), "duong");
    }
}
