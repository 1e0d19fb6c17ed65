//! Errors of the operations API and their HTTP statuses.
//!
//! Every error answers `{"error": "..."}`; a bad argument adds `"field"`, the request field
//! at fault as the client named it (`ports[1]`, `labels.app`, the query parameter `tail`).
//!
//! | failure                                         | status |
//! |-------------------------------------------------|--------|
//! | bad argument (checked on the master or slave)   | 400    |
//! | a safety rule refused it (pid 1 without `force`, bind mount outside the roots) | 403 |
//! | unknown node, task, process, container, image, network or volume | 404 |
//! | conflict (name taken, container not running, cancelled) | 409 |
//! | the master failed                               | 500    |
//! | the slave or its engine failed, bad answer, session lost | 502 |
//! | node offline (answered at once), old protocol, queue full, no Docker Engine | 503 |
//! | the slave gave up at the deadline, or did not answer before it | 504 |

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::ops::OpFailure;
use serde::Serialize;

/// The HTTP status of a failure (see the module table and [`OpFailure::http_status`]).
pub fn failure_status(failure: &OpFailure) -> StatusCode {
    StatusCode::from_u16(failure.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An operations API error: status, message and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsError {
    /// The status to answer with.
    pub status: StatusCode,
    /// The message of `{"error": ...}`.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
}

impl OpsError {
    /// An error with a status and a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// A bad argument (400) naming `field`.
    pub fn bad(field: &str, message: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("invalid `{field}`: {message}"),
            field: Some(field.to_owned()),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<OpFailure> for OpsError {
    fn from(failure: OpFailure) -> Self {
        let status = failure_status(&failure);
        let field = match &failure {
            OpFailure::Op(e) => e.field.clone(),
            _ => None,
        };
        if status.is_server_error() {
            tracing::warn!(%status, "operation failed: {failure}");
        }
        Self {
            status,
            message: failure.to_string(),
            field,
        }
    }
}

impl From<protocol::ops::validate::ValidationError> for OpsError {
    fn from(e: protocol::ops::validate::ValidationError) -> Self {
        Self::bad(&e.field, e.message)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for OpsError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.message,
            field: self.field.as_deref(),
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::ops::{ErrorKind, OpError};

    #[test]
    fn every_failure_has_its_status() {
        let cases = [
            (OpFailure::UnknownNode(1), 404),
            (OpFailure::Offline(1), 503),
            (
                OpFailure::OldProtocol {
                    node: 1,
                    version: 1,
                },
                503,
            ),
            (OpFailure::Busy(1), 503),
            (OpFailure::TimedOut, 504),
            (OpFailure::Failed("x".into()), 502),
            (OpFailure::NotFound("x".into()), 404),
            (OpFailure::Unavailable("x".into()), 503),
            (OpFailure::Internal("x".into()), 500),
        ];
        for (failure, status) in cases {
            assert_eq!(failure_status(&failure).as_u16(), status, "{failure:?}");
        }
        let kinds = [
            (ErrorKind::InvalidArgument, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Refused, 403),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Cancelled, 409),
            (ErrorKind::Failed, 502),
        ];
        for (kind, status) in kinds {
            let f = OpFailure::Op(OpError::new(kind, "x"));
            assert_eq!(failure_status(&f).as_u16(), status, "{kind:?}");
        }
        let e = OpsError::from(OpFailure::Op(OpError::invalid("ports[0]", "bad")));
        assert_eq!(
            (e.status.as_u16(), e.field.as_deref()),
            (400, Some("ports[0]"))
        );
        assert!(e.message.contains("ports[0]"), "{}", e.message);
    }

    /// Finding 6: a container form asking for the host's network is answered 400, naming
    /// `network` (the route checks the form with this validator before anything is sent).
    #[test]
    fn host_network_is_a_400_naming_the_field() {
        let form = protocol::ops::docker::ContainerCreate {
            image: "busybox:latest".into(),
            network: Some("host".into()),
            ..Default::default()
        };
        let e = OpsError::from(protocol::ops::validate::container_create(&form).unwrap_err());
        assert_eq!(
            (e.status.as_u16(), e.field.as_deref()),
            (400, Some("network"))
        );
    }
}
