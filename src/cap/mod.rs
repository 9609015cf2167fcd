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

/// Why a document was refused. Each text is a sentence for the sender's
/// operator; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error("the document is larger than {} KiB: a CAP warning is a few KiB", limit / 1024)]
    TooLarge { limit: usize },
    #[error("the document is not well-formed XML: {0}")]
    Xml(String),
    #[error("the document declares a DTD (<!DOCTYPE>): CAP documents have none, and DTDs carry entity expansion and external entities, so it is refused")]
    Dtd,
    #[error("the document uses the entity &{0}; which CAP does not define: only &amp; &lt; &gt; &apos; &quot; and character references are accepted")]
    Entity(String),
    #[error(
        "{0}: send a CAP 1.2 document (<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">)"
    )]
    NotCap(String),
    #[error("the root element's namespace {0:?} is not CAP: use urn:oasis:names:tc:emergency:cap:1.2 (1.1 and 1.0 are also read)")]
    Namespace(String),
    #[error("the document is not valid CAP: {0}")]
    Invalid(String),
    #[error("the {field} date {value} is out of range: dates must fall in 2000–2100")]
    Date { field: String, value: String },
    #[error("sender {0:?} is not on this source's allowlist: add it to \"senders\" in cap.json if it should be accepted")]
    Sender(String),
}

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
