//! The one error shape of the HTTP API:
//! `{"error": "short_code", "message": "a sentence a person can act on"}`.
//! The sentence is a catalogue reason ([`crate::i18n`]) rendered in the
//! language the request prefers (`Accept-Language`; Vietnamese by default).
//! Internal causes are logged, never sent to clients. Some errors add
//! fields a program can use instead of the sentence (`extra`, e.g. the
//! campaigns that use a message).

use warp::http::StatusCode;

use crate::domain::{Invalid, Refusal};
use crate::i18n::{Kind, Reason, Text};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Text,
    /// More fields for the error body (an object), beside `error` and
    /// `message`.
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Text>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }
    /// The same error with more fields in its body.
    pub(crate) fn with(mut self, extra: serde_json::Value) -> ApiError {
        self.extra = Some(extra);
        self
    }
    pub(crate) fn bad_request(message: impl Into<Text>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
    pub(crate) fn unprocessable(message: impl Into<Text>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }
    pub(crate) fn not_found(message: impl Into<Text>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub(crate) fn forbidden(message: impl Into<Text>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub(crate) fn conflict(message: impl Into<Text>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub(crate) fn internal(context: &str, cause: impl std::fmt::Display) -> ApiError {
        tracing::error!("{context}: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            Reason::Internal,
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::bad_request(e.0)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let message = match &r {
            Refusal::Invalid(i) => i.0.clone(),
            Refusal::UnknownRef(t) => t.clone(),
            Refusal::FourEyes { by } => Reason::FourEyes { by: by.clone() }.into(),
            Refusal::StaleVersion { read, current } => Reason::StaleVersion {
                read: *read,
                current: *current,
            }
            .into(),
            Refusal::NotWaiting { id } => Reason::NotWaitingForApproval { id: id.clone() }.into(),
        };
        match r {
            Refusal::Invalid(_) => ApiError::bad_request(message),
            // References to things that do not exist are well-formed but unusable.
            Refusal::UnknownRef(_) => ApiError::unprocessable(message),
            Refusal::FourEyes { .. } => ApiError::new(StatusCode::CONFLICT, "four_eyes", message),
            // Under If-Match the handler answers 412 instead.
            Refusal::StaleVersion { .. } => {
                ApiError::new(StatusCode::CONFLICT, "version_conflict", message)
            }
            Refusal::NotWaiting { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not_waiting", message)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => ApiError::not_found(Reason::NotFound {
                kind: Kind::from_word(kind),
                id,
            }),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::InUse {
                message,
                kind,
                users,
            } => {
                let list: Vec<_> = users
                    .into_iter()
                    .map(|(id, name)| {
                        let label = if kind == "messages" { "title" } else { "name" };
                        serde_json::json!({"id": id, label: name})
                    })
                    .collect();
                let mut extra = serde_json::Map::new();
                extra.insert(kind.to_string(), list.into());
                ApiError::conflict(message).with(extra.into())
            }
            StoreError::Refused(r) => r.into(),
            e @ StoreError::DiskFull { .. } => logged(
                e,
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                Reason::DiskFull,
            ),
            e @ StoreError::ReadOnly { .. } => logged(
                e,
                StatusCode::SERVICE_UNAVAILABLE,
                "read_only",
                Reason::ReadOnly,
            ),
            e @ (StoreError::Io { .. } | StoreError::Corrupt(_)) => ApiError::internal("saving", e),
            // Not a failure: the person must look before doing it again.
            e @ StoreError::OutcomeUnknown { .. } => logged(
                e,
                StatusCode::SERVICE_UNAVAILABLE,
                "outcome_unknown",
                Reason::SaveOutcomeUnknown,
            ),
        }
    }
}

/// A store failure told in a sentence of its own; its cause is logged.
fn logged(e: StoreError, status: StatusCode, code: &'static str, why: Reason) -> ApiError {
    tracing::error!("{e}");
    ApiError::new(status, code, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_read_only_disks_are_507_and_503_with_a_sentence() {
        let p = std::path::PathBuf::from("/data/x.json");
        let full = ApiError::from(StoreError::DiskFull { path: p.clone() });
        assert_eq!((full.status.as_u16(), full.code), (507, "disk_full"));
        let en = |e: &ApiError| e.message.render(crate::i18n::Lang::En);
        assert!(en(&full).contains("nothing was saved"));
        assert!(!en(&full).contains("/data"), "no server paths to clients");
        let ro = ApiError::from(StoreError::ReadOnly { path: p });
        assert_eq!((ro.status.as_u16(), ro.code), (503, "read_only"));
        assert!(en(&ro).contains("nothing was saved"));
    }

    #[test]
    fn a_change_whose_outcome_is_unknown_is_503_asking_to_check_first() {
        let e = ApiError::from(StoreError::OutcomeUnknown {
            source: std::io::Error::other("connection closed"),
        });
        assert_eq!((e.status.as_u16(), e.code), (503, "outcome_unknown"));
        let en = e.message.render(crate::i18n::Lang::En);
        assert!(
            en.contains("not known whether the change was saved"),
            "{en}"
        );
        assert!(
            !en.contains("connection closed"),
            "no driver text to clients"
        );
        let vi = e.message.render(crate::i18n::Lang::Vi);
        assert!(
            vi.contains("chưa biết thay đổi đã được lưu hay chưa"),
            "{vi}"
        );
    }
}
