//! The OpenAPI 3.1 description of the JSON API, served at `GET /api/v1/openapi.json`.
//!
//! Written by hand as a table ([`OPERATIONS`]) plus shared schemas, so it reads like the API
//! it describes. A test (`web/tests/openapi.rs`) compares the documented method and path
//! pairs with the router's route table under `/api/`, so a new route without a description
//! (or a description without a route) fails the build's tests.

use axum::Json;
use serde_json::{Map, Value, json};

use crate::auth::AuthContext;

/// A query or path parameter: name, location (`query` or `path`), schema type, meaning.
pub type Param = (&'static str, &'static str, &'static str, &'static str);

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path, with `{name}` parameters as in the router.
    pub path: &'static str,
    /// Group.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Whether it needs no session.
    pub public: bool,
    /// Parameters.
    pub params: &'static [Param],
    /// Schema name of the JSON request body, or empty.
    pub body: &'static str,
    /// Success status.
    pub status: &'static str,
    /// Schema name of the success body (`#/components/schemas/...`), or a media type
    /// (containing `/`) for non-JSON answers, or empty for none.
    pub answer: &'static str,
}

const NODE: Param = ("node", "path", "integer", "Node id.");

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    op(
        "POST",
        "/api/v1/auth/register",
        "auth",
        "Create the first (administrator) account; refused with 403 once one exists.",
        true,
        &[],
        "Credentials",
        "201",
        "Registered",
    ),
    op(
        "POST",
        "/api/v1/auth/login",
        "auth",
        "Log in; the token is accepted as `Authorization: Bearer` on every route. Five failures from one address lock it out (429).",
        true,
        &[],
        "Credentials",
        "200",
        "Token",
    ),
    op(
        "POST",
        "/api/v1/auth/logout",
        "auth",
        "End this session; its token is refused afterwards.",
        false,
        &[],
        "",
        "200",
        "Status",
    ),
    op(
        "GET",
        "/api/v1/auth/me",
        "auth",
        "The signed-in user.",
        false,
        &[],
        "",
        "200",
        "Me",
    ),
    op(
        "POST",
        "/api/v1/auth/password",
        "auth",
        "Change the password; every session of the user ends and a new token is issued.",
        false,
        &[],
        "PasswordChange",
        "200",
        "Token",
    ),
    op(
        "PUT",
        "/api/v1/auth/language",
        "auth",
        "Set the console language of the user (`en` or `zh-CN`).",
        false,
        &[],
        "LanguageChange",
        "204",
        "",
    ),
    op(
        "GET",
        "/api/v1/health",
        "system",
        "Liveness check.",
        true,
        &[],
        "",
        "200",
        "Status",
    ),
    op(
        "GET",
        "/api/v1/openapi.json",
        "system",
        "This document.",
        false,
        &[],
        "",
        "200",
        "application/json",
    ),
    op(
        "GET",
        "/api/v1/nodes",
        "nodes",
        "Enrolled nodes ordered by id, optionally searched and cut; `X-Total-Count` has the count before `offset` and `limit`.",
        false,
        &[
            (
                "q",
                "query",
                "string",
                "Search term: id, host name, status, OS or agent version.",
            ),
            ("offset", "query", "integer", "Nodes to skip."),
            ("limit", "query", "integer", "Most nodes to answer."),
        ],
        "",
        "200",
        "NodeList",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}",
        "nodes",
        "One node.",
        false,
        &[NODE],
        "",
        "200",
        "Node",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/metrics",
        "metrics",
        "Stored samples of a node spread over a window (default the last 15 minutes).",
        false,
        &[
            NODE,
            ("from", "query", "integer", "Window start, Unix ms."),
            (
                "to",
                "query",
                "integer",
                "Window end, Unix ms (default now).",
            ),
            (
                "points",
                "query",
                "integer",
                "Most points, 1..=2000 (default 600).",
            ),
        ],
        "",
        "200",
        "History",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/metrics/stream",
        "metrics",
        "Server-Sent Events: a `sample` event (a ChartPoint) per heartbeat of the node; an `end` event when the session ended.",
        false,
        &[NODE],
        "",
        "200",
        "text/event-stream",
    ),
    op(
        "GET",
        "/api/v1/storage",
        "data",
        "On-disk size of the two databases.",
        false,
        &[],
        "",
        "200",
        "Storage",
    ),
    op(
        "POST",
        "/api/v1/data/compact",
        "data",
        "Measure what compaction reclaims (a compacted copy of each database, written while running and removed) and schedule the compaction of the live files for the master's next start. 409 while another data operation runs.",
        false,
        &[],
        "",
        "200",
        "CompactReport",
    ),
    op(
        "GET",
        "/api/v1/data/compact",
        "data",
        "Whether a compaction is scheduled for the next start, and how the last one went.",
        false,
        &[],
        "",
        "200",
        "CompactionStatus",
    ),
    op(
        "DELETE",
        "/api/v1/data/compact",
        "data",
        "Cancel the scheduled compaction.",
        false,
        &[],
        "",
        "200",
        "CompactionCancelled",
    ),
    op(
        "GET",
        "/api/v1/data/backup",
        "data",
        "Download a consistent copy of one database (an LMDB data file).",
        false,
        &[(
            "env",
            "query",
            "string",
            "`data` (default) or `performance`.",
        )],
        "",
        "200",
        "application/octet-stream",
    ),
    op(
        "POST",
        "/api/v1/data/reset",
        "data",
        "Delete metric samples or audit entries older than a number of days. User accounts are never reset.",
        false,
        &[],
        "ResetRequest",
        "200",
        "ResetAnswer",
    ),
    op(
        "GET",
        "/api/v1/audit",
        "audit",
        "The audit log, newest first.",
        false,
        &[
            ("user", "query", "string", "Only this user."),
            (
                "action",
                "query",
                "string",
                "Only this action or family (`auth`).",
            ),
            ("result", "query", "string", "`ok`, `failed` or `denied`."),
            (
                "since",
                "query",
                "string",
                "Not before: Unix ms or UTC `YYYY-MM-DD[THH:MM[:SS]]`.",
            ),
            ("until", "query", "string", "Not after, same forms."),
            (
                "before",
                "query",
                "string",
                "The `next` cursor of the previous page.",
            ),
            ("limit", "query", "integer", "1..=500, default 50."),
        ],
        "",
        "200",
        "AuditPage",
    ),
    op(
        "GET",
        "/api/v1/alerts",
        "alerts",
        "The alerts firing now and one page of the alert history (fired and resolved), newest first.",
        false,
        &[
            (
                "before",
                "query",
                "integer",
                "Only alerts with a smaller id: the `next` of the previous page.",
            ),
            (
                "limit",
                "query",
                "integer",
                "History entries, 0..=500 (default 50; 0: the active alerts only).",
            ),
        ],
        "",
        "200",
        "AlertList",
    ),
    op(
        "GET",
        "/api/v1/alerts/events",
        "alerts",
        "Server-Sent Events: first `active` (the alerts firing now, an array of Alert), then an `alert` event (an Alert) each time one fires or resolves; a fresh `active` after the client fell behind; `end` when the session ended.",
        false,
        &[],
        "",
        "200",
        "text/event-stream",
    ),
];

#[allow(clippy::too_many_arguments)]
const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    public: bool,
    params: &'static [Param],
    body: &'static str,
    status: &'static str,
    answer: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        public,
        params,
        body,
        status,
        answer,
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn schemas() -> Value {
    let int = json!({ "type": "integer" });
    let num = json!({ "type": ["number", "null"] });
    let text = json!({ "type": "string" });
    json!({
        "Error": obj(json!({ "error": text }), &["error"]),
        "Status": obj(json!({ "status": text }), &["status"]),
        "Credentials": obj(json!({ "username": text, "password": text }), &["username", "password"]),
        "Registered": obj(json!({ "username": text }), &["username"]),
        "Token": obj(json!({ "token": text, "expires_at_ms": int, "expires_at": text }), &["token"]),
        "Me": obj(json!({ "username": text, "lang": text, "session_expires_at_ms": int }), &["username"]),
        "PasswordChange": obj(json!({ "current_password": text, "new_password": text }), &["current_password", "new_password"]),
        "LanguageChange": obj(json!({ "lang": { "enum": ["en", "zh-CN"] } }), &["lang"]),
        "Node": obj(json!({
            "id": int, "hostname": text, "online": { "type": "boolean" },
            "revoked": { "type": "boolean" }, "last_seen_ms": { "type": ["integer", "null"] },
            "last_seen": { "type": ["string", "null"] }, "agent_version": text,
            "host": { "type": ["object", "null"], "description": "Host facts (OS, kernel, CPU, memory, disks, Docker version)." },
            "metrics": { "type": ["object", "null"], "description": "The latest metric sample." }
        }), &["id", "hostname", "online", "revoked"]),
        "NodeList": { "type": "array", "items": schema_ref("Node") },
        "ChartPoint": obj(json!({
            "t": int, "cpu": num, "load1": num, "mem_used": int, "mem_total": int,
            "swap_used": int, "swap_total": int, "rx": int, "tx": int, "tcp": int,
            "disks": { "type": "array", "items": obj(json!({ "mount": text, "used": int, "total": int }), &["mount"]) }
        }), &["t"]),
        "History": obj(json!({ "node": int, "from": int, "to": int, "points": { "type": "array", "items": schema_ref("ChartPoint") } }), &["node", "points"]),
        "Storage": obj(json!({ "data_bytes": int, "performance_bytes": int }), &["data_bytes", "performance_bytes"]),
        "CompactReport": obj(json!({ "envs": { "type": "array", "items": obj(json!({
            "env": { "enum": ["data", "performance"] }, "live_bytes": int,
            "compacted_bytes": int, "took_ms": int
        }), &["env"]) }, "scheduled": { "type": "boolean" } }), &["envs", "scheduled"]),
        "CompactionStatus": obj(json!({
            "scheduled": { "type": ["object", "null"], "properties": { "requested_at_ms": int } },
            "last": { "type": ["object", "null"], "properties": {
                "finished_at_ms": int,
                "envs": { "type": "array", "items": obj(json!({
                    "env": { "enum": ["data", "performance"] }, "before_bytes": int,
                    "after_bytes": int, "took_ms": int
                }), &["env"]) },
                "error": { "type": ["string", "null"] }
            } }
        }), &["scheduled", "last"]),
        "CompactionCancelled": obj(json!({ "cancelled": { "type": "boolean" } }), &["cancelled"]),
        "ResetRequest": obj(json!({
            "category": { "enum": ["samples", "audit"] },
            "older_than_days": { "type": "integer", "minimum": 0, "maximum": 36500 },
            "confirm": { "const": true }
        }), &["category", "older_than_days", "confirm"]),
        "ResetAnswer": obj(json!({ "category": text, "older_than_days": int, "removed": int }), &["category", "removed"]),
        "AuditPage": obj(json!({
            "entries": { "type": "array", "items": obj(json!({
                "id": text, "at_ms": int, "at": text, "user": text, "action": text,
                "target": text, "client": text, "result": { "enum": ["ok", "failed", "denied"] },
                "detail": text
            }), &["id", "at_ms", "action", "result"]) },
            "next": { "type": ["string", "null"] }
        }), &["entries", "next"]),
        "Alert": obj(json!({
            "id": int, "rule": { "enum": ["node_offline"] }, "node": int, "node_name": text,
            "state": { "enum": ["firing", "resolved"] }, "fired_ms": int,
            "resolved_ms": { "type": ["integer", "null"] },
            "resolution": { "enum": ["online", "revoked", null] }
        }), &["id", "rule", "node", "state", "fired_ms"]),
        "AlertList": obj(json!({
            "active": { "type": "array", "items": schema_ref("Alert") },
            "history": { "type": "array", "items": schema_ref("Alert") },
            "total": int,
            "next": { "type": ["integer", "null"] }
        }), &["active", "history", "total", "next"]),
    })
}

fn answer(op: &Operation) -> Value {
    let mut responses = Map::new();
    let ok = match op.answer {
        "" => json!({ "description": "Done." }),
        media if media.contains('/') => {
            json!({ "description": "Done.", "content": { media: { "schema": {} } } })
        }
        name => json!({
            "description": "Done.",
            "content": { "application/json": { "schema": schema_ref(name) } }
        }),
    };
    responses.insert(op.status.to_owned(), ok);
    let error = json!({
        "description": "An error; the body says what went wrong.",
        "content": { "application/json": { "schema": schema_ref("Error") } }
    });
    responses.insert("default".to_owned(), error);
    Value::Object(responses)
}

fn operation(op: &Operation) -> Value {
    let params: Vec<Value> = op
        .params
        .iter()
        .map(|(name, place, kind, description)| {
            json!({
                "name": name, "in": place, "required": *place == "path",
                "description": description, "schema": { "type": kind }
            })
        })
        .collect();
    let mut value = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": format!("{} {}", op.method.to_lowercase(), op.path),
        "parameters": params,
        "responses": answer(op),
    });
    if op.public {
        value["security"] = json!([]);
    }
    if !op.body.is_empty() {
        value["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema_ref(op.body) } }
        });
    }
    value
}

/// The whole document.
pub fn document_value() -> Value {
    let mut paths = Map::new();
    for op in all_operations() {
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.to_lowercase()] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Commander API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The master's JSON API. Authenticate with `POST /api/v1/auth/login` and send the token as `Authorization: Bearer TOKEN`. Errors are `{\"error\": \"...\"}`."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            },
            "schemas": all_schemas(),
        },
        "paths": paths,
    })
}

/// Every documented operation: [`OPERATIONS`] and the node operations of
/// [`crate::ops::openapi::operations`].
pub fn all_operations() -> impl Iterator<Item = &'static Operation> {
    OPERATIONS.iter().chain(crate::ops::openapi::operations())
}

fn all_schemas() -> Value {
    let mut all = schemas();
    if let (Value::Object(all), Value::Object(more)) = (&mut all, crate::ops::openapi::schemas()) {
        all.extend(more);
    }
    all
}

/// `GET /api/v1/openapi.json`.
pub async fn document(_ctx: AuthContext) -> Json<Value> {
    Json(document_value())
}
