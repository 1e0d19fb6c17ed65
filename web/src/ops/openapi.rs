//! The operations API in the OpenAPI document: its table of operations and its schemas,
//! merged into `GET /api/v1/openapi.json` by [`crate::openapi`].

use serde_json::{Value, json};

use crate::openapi::{Operation, Param};

pub(super) const NODE: Param = ("node", "path", "integer", "Node id.");
pub(super) const ID: Param = (
    "id",
    "path",
    "string",
    "Container id (or unique prefix) or name.",
);
const PID: Param = ("pid", "path", "integer", "Process id.");
pub(super) const IMAGE: Param = (
    "image",
    "path",
    "string",
    "Image reference or id, percent-encoded (`a%2Fb:1`).",
);

#[allow(clippy::too_many_arguments)]
pub(super) const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
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
        public: false,
        params,
        body,
        status,
        answer,
    }
}

/// The host operations and tasks.
pub const HOST: &[Operation] = &[
    op(
        "GET",
        "/api/v1/nodes/{node}/processes",
        "host",
        "Process list: sorted, filtered and paged on the slave.",
        &[
            NODE,
            (
                "sort",
                "query",
                "string",
                "cpu (default), rss, pid or start.",
            ),
            (
                "order",
                "query",
                "string",
                "asc or desc (default: desc for cpu and rss).",
            ),
            (
                "filter",
                "query",
                "string",
                "Name or command line contains (case-insensitive).",
            ),
            ("user", "query", "string", "User name or uid."),
            ("offset", "query", "integer", "Rows to skip."),
            ("limit", "query", "integer", "Rows to answer (0 = all)."),
        ],
        "",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/processes/{pid}",
        "host",
        "One process in detail.",
        &[NODE, PID],
        "",
        "200",
        "OpReply",
    ),
    op(
        "POST",
        "/api/v1/nodes/{node}/processes/{pid}/signal",
        "host",
        "Send a signal with kill(2); pid 1 and the slave itself need `force`.",
        &[NODE, PID],
        "SignalRequest",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/sockets",
        "host",
        "Listening and established sockets with their processes.",
        &[
            NODE,
            (
                "listening",
                "query",
                "boolean",
                "Include listening sockets (default true).",
            ),
            (
                "established",
                "query",
                "boolean",
                "Include established connections (default true).",
            ),
        ],
        "",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/env",
        "host",
        "The environment profile of processes the slave starts.",
        &[NODE],
        "",
        "200",
        "OpReply",
    ),
    op(
        "PUT",
        "/api/v1/nodes/{node}/env",
        "host",
        "Replace the environment profile's edits.",
        &[NODE],
        "EnvEdit",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/hosts",
        "host",
        "The hosts file.",
        &[NODE],
        "",
        "200",
        "OpReply",
    ),
    op(
        "PUT",
        "/api/v1/nodes/{node}/hosts",
        "host",
        "Replace the hosts file (validated, atomic; the previous version is kept).",
        &[NODE],
        "HostsContent",
        "200",
        "OpReply",
    ),
    op(
        "POST",
        "/api/v1/nodes/{node}/hosts/restore",
        "host",
        "Put the previous hosts file back.",
        &[NODE],
        "",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/disks",
        "host",
        "Mounts with their usage.",
        &[NODE],
        "",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/nodes/{node}/performance",
        "host",
        "A fresh metric sample.",
        &[NODE],
        "",
        "200",
        "OpReply",
    ),
    op(
        "GET",
        "/api/v1/tasks",
        "tasks",
        "Tasks (pulls, deployments, imports), newest first.",
        &[
            ("node", "query", "integer", "Only this node."),
            (
                "state",
                "query",
                "string",
                "queued, running, succeeded, failed or timed_out.",
            ),
            (
                "before",
                "query",
                "integer",
                "Only tasks with a smaller id (paging).",
            ),
            ("limit", "query", "integer", "1..=500, default 50."),
        ],
        "",
        "200",
        "TaskList",
    ),
    op(
        "GET",
        "/api/v1/tasks/events",
        "tasks",
        "Server-Sent Events: a `task` event (a Task) whenever a task is created, starts, progresses or ends; `resync` when the client fell behind (refetch the list); `end` when the session ended.",
        &[],
        "",
        "200",
        "text/event-stream",
    ),
    op(
        "GET",
        "/api/v1/tasks/{id}",
        "tasks",
        "One task: state, progress, result or error.",
        &[("id", "path", "integer", "Task id.")],
        "",
        "200",
        "Task",
    ),
];

/// Every operation of the operations API: [`HOST`] and the Docker ones.
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    HOST.iter().chain(super::openapi_docker::DOCKER)
}

/// The schemas the operations above refer to.
pub fn schemas() -> Value {
    let text = json!({ "type": "string" });
    let int = json!({ "type": "integer" });
    let texts = json!({ "type": "array", "items": { "type": "string" } });
    let auth = json!({ "type": "object", "properties": {
        "server": text, "username": text, "password": { "type": "string", "writeOnly": true }
    }, "required": ["username", "password"] });
    let task = json!({ "type": "object", "properties": {
        "id": int, "node": int, "action": text, "target": text, "user": text, "client": text,
        "state": { "enum": ["queued", "running", "succeeded", "failed", "timed_out"] },
        "created_ms": int, "started_ms": { "type": ["integer", "null"] },
        "finished_ms": { "type": ["integer", "null"] },
        "progress": { "type": "object", "description": "step, status, layers (per layer: status, current, total), uploaded_bytes, upload_bytes, updates." },
        "result": { "description": "The operation's answer, once succeeded." },
        "error": { "type": ["object", "null"], "description": "status, kind, field, message." }
    }, "required": ["id", "node", "action", "state"] });
    json!({
        "OpReply": { "description": "The operation's answer as JSON (see the protocol's reply types)." },
        "SignalRequest": { "type": "object", "properties": {
            "signal": { "type": ["integer", "string"], "description": "Number or name (default SIGTERM)." },
            "force": { "type": "boolean" } } },
        "EnvEdit": { "type": "object", "properties": {
            "set": { "type": "array", "items": { "type": "object", "properties": {
                "key": text, "value": text, "redacted": { "type": "boolean" } }, "required": ["key", "value"] } },
            "unset": texts } },
        "HostsContent": { "type": "object", "properties": { "content": text }, "required": ["content"] },
        "ContainerForm": { "type": "object", "properties": {
            "image": text, "name": text, "cmd": texts, "env": texts,
            "ports": { "type": "array", "items": { "type": "string", "examples": ["8080:80/tcp"] } },
            "volumes": texts, "restart": { "type": ["string", "object"] },
            "labels": { "type": "object", "additionalProperties": text },
            "memory_bytes": int, "nano_cpus": int, "network": text, "workdir": text, "user": text,
            "start": { "type": "boolean" }, "pull": { "enum": ["missing", "always", "never"] },
            "auth": auth.clone() }, "required": ["image"] },
        "Created": { "type": "object", "properties": { "id": text, "warnings": texts, "started": { "type": "boolean" } } },
        "Rename": { "type": "object", "properties": { "name": text }, "required": ["name"] },
        "Pull": { "type": "object", "properties": { "reference": text, "auth": auth }, "required": ["reference"] },
        "Tag": { "type": "object", "properties": { "repo": text, "tag": text }, "required": ["repo"] },
        "NetworkForm": { "type": "object", "properties": { "name": text, "driver": text,
            "internal": { "type": "boolean" }, "labels": { "type": "object" } }, "required": ["name"] },
        "VolumeForm": { "type": "object", "properties": { "name": text, "driver": text,
            "labels": { "type": "object" } }, "required": ["name"] },
        "TaskAccepted": { "type": "object", "properties": { "task": int, "state": text, "href": text }, "required": ["task"] },
        "Task": task,
        "TaskList": { "type": "array", "items": { "$ref": "#/components/schemas/Task" } },
    })
}
