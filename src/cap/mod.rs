//! Official warnings in the Common Alerting Protocol (CAP 1.2, also 1.0
//! and 1.1): screening and parsing a document (`xml`, `doc`), which panels
//! stand in its area (`area`), what the office configured (`config`), and
//! what a document does: deploy, hold for an operator, log, replace or end
//! an earlier warning (`warning`).
//!
//! Pure like `domain`: no clock, no disk, no network. The time, the
//! panels and the earlier warnings are arguments; `store` keeps documents
//! and records and turns deployed warnings into alerts, `feeds` polls the
//! sources, `api::cap` takes posted documents and the operator's clicks.

pub(crate) mod area;
pub(crate) mod config;
pub(crate) mod doc;
pub(crate) mod index;
pub(crate) mod out;
pub(crate) mod warning;
pub(crate) mod xml;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use config::CapConfig;
pub(crate) use doc::{parse, MsgType};
pub(crate) use warning::{decide, Decision, Intake, State, Warning};

/// Why a document was refused; nothing was changed. Its sentence is the
/// catalogue's ([`CapError::reason`]); `Display` writes the English one
/// (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapError {
    /// Over `limit` bytes.
    TooLarge { limit: usize },
    /// Not well-formed XML (the parser's words).
    Xml(String),
    /// A `<!DOCTYPE>`: CAP has none, and DTDs carry entity expansion.
    Dtd,
    /// An entity CAP does not define (its name).
    Entity(String),
    /// Not a CAP `<alert>` (what was found).
    NotCap(String),
    /// The root element's namespace is not CAP's.
    Namespace(String),
    /// Not valid CAP (what is wrong).
    Invalid(String),
    /// A date outside 2000–2100.
    Date { field: String, value: String },
    /// A sender off the source's allowlist.
    Sender(String),
}

impl std::fmt::Display for CapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason().render(crate::i18n::Lang::En))
    }
}

impl std::error::Error for CapError {}

impl CapError {
    /// The refusal from the catalogue, for the reader's language.
    pub fn reason(&self) -> crate::i18n::Reason {
        use crate::i18n::Reason;
        match self {
            CapError::TooLarge { limit } => Reason::CapTooLarge { kib: limit / 1024 },
            CapError::Xml(detail) => Reason::CapNotXml {
                detail: detail.clone(),
            },
            CapError::Dtd => Reason::CapDtd,
            CapError::Entity(name) => Reason::CapEntity { name: name.clone() },
            CapError::NotCap(detail) => Reason::CapNotCap {
                detail: detail.clone(),
            },
            CapError::Namespace(ns) => Reason::CapNamespace { ns: ns.clone() },
            CapError::Invalid(detail) => Reason::CapInvalid {
                detail: detail.clone(),
            },
            CapError::Date { field, value } => Reason::CapDate {
                field: field.clone(),
                value: value.clone(),
            },
            CapError::Sender(sender) => Reason::CapSenderRefused {
                sender: sender.clone(),
            },
        }
    }
}
