//! The OpenAPI 3.1 description of the JSON API, served at `GET /api/v1/openapi.json`.
//!
//! Nothing here lists routes: [`document_value`] builds the route table
//! (`routes::declare`) and takes the document it collected from each handler's
//! `#[utoipa::path]` attribute, with the schemas derived from the request and answer types
//! (`#[derive(ToSchema)]` in this crate, and on `model`'s records behind its `openapi`
//! feature). This module adds what is common to every operation: the title, the server,
//! the bearer scheme required unless an operation is public.
//!
//! `.ci/check-openapi` writes the document with the `OPENAPI_OUT` test below and validates it
//! with `openapi-spec-validator`.

use std::sync::OnceLock;

use axum::Json;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi};
use utoipa::{Modify, OpenApi as _};

use crate::auth::AuthContext;
use crate::routes::{Table, declare};

/// The document without operations: info, server, security.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Commander API",
        description = "The master's JSON API. Authenticate with `POST /api/v1/auth/login`, or create an API token for scripts with `POST /api/v1/tokens`, and send the token as `Authorization: Bearer TOKEN`. Errors are `{\"error\": \"...\"}`.",
        license(name = "Apache-2.0"),
    ),
    servers((url = "/")),
    security(("bearer" = [])),
    modifiers(&Bearer),
)]
struct Base;

/// Adds the `bearer` security scheme.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT or cmdr_ API token")
            .description(Some(
                "A session token from `POST /api/v1/auth/login`, or an API token from `POST /api/v1/tokens` (`cmdr_…`), limited to its scope: `read` (GET), `operate` (also node, container, image and task operations) or `admin` (also data management and API tokens).",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Components::new)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document before any route is declared.
pub(crate) fn base() -> OpenApi {
    Base::openapi()
}

/// The whole document, built once from the route table.
pub fn document_value() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let (_, _, openapi) = declare(Table::new(None)).into_parts();
            serde_json::to_value(&openapi).unwrap_or_default()
        })
        .clone()
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "get /api/v1/openapi.json",
    tag = "system",
    summary = "This document.",
    responses(
        (status = 200, description = "Done.", body = Value, content_type = "application/json"),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn document(_ctx: AuthContext) -> Json<Value> {
    Json(document_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the document to the file named by `OPENAPI_OUT`, for `.ci/check-openapi`.
    #[test]
    fn write_document_when_asked() {
        let doc = document_value();
        assert_eq!(doc["openapi"], "3.1.0");
        if let Some(out) = std::env::var_os("OPENAPI_OUT") {
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            if let Err(e) = std::fs::write(&out, text) {
                panic!("cannot write {}: {e}", out.to_string_lossy());
            }
        }
    }

    /// The schemas come from the types: a JSON field of an answer type is a property of its
    /// component schema, so renaming the field changes the document.
    #[test]
    fn schemas_follow_the_rust_types() {
        let doc = document_value();
        let schemas = &doc["components"]["schemas"];
        let token = serde_json::to_value(crate::auth::json::TokenReply {
            token: "t".into(),
            expires_at_ms: 1,
            expires_at: None,
        })
        .unwrap_or_default();
        let fields: Vec<&String> = token
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(fields.len(), 3);
        for field in fields {
            assert!(
                schemas["Token"]["properties"].get(field).is_some(),
                "Token has no {field}: {}",
                schemas["Token"]
            );
        }
        // Records of the model, through its `openapi` feature.
        for (schema, field) in [
            ("TaskRecord", "finished_ms"),
            ("AlertRecord", "resolution"),
            ("CompactReport", "scheduled"),
            ("Node", "last_seen_ms"),
            ("AuditEntry", "at_ms"),
        ] {
            assert!(
                schemas[schema]["properties"].get(field).is_some(),
                "{schema}.{field}: {}",
                schemas[schema]
            );
        }
        // Enums keep their serde names.
        let lang = schemas["Lang"].to_string();
        assert!(lang.contains("zh-CN"), "{lang}");
    }
}
