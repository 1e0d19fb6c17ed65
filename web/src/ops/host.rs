//! Host operations of one node, under `/api/v1/nodes/{node}`:
//!
//! | route | operation | answer |
//! |---|---|---|
//! | `GET /processes?sort=cpu\|rss\|pid\|start&order=asc\|desc&filter=&user=&offset=&limit=` | `host.list_processes` | one page: `total`, `offset`, `processes`, `cpu_window_ms` |
//! | `GET /processes/{pid}` | `host.process_details` | the process in detail |
//! | `POST /processes/{pid}/signal` `{"signal": 15 \| "SIGTERM", "force": false}` | `host.signal` | `{"pid", "signal"}` |
//! | `GET /sockets?listening=true&established=true` | `host.sockets` | sockets with their processes |
//! | `GET /env`, `PUT /env` `{"set": [{"key", "value"}], "unset": [...]}` | `host.get_env`, `host.set_env` | the environment profile |
//! | `GET /hosts`, `PUT /hosts` `{"content"}`, `POST /hosts/restore` | `host.get_hosts`, `host.put_hosts`, `host.restore_hosts` | the hosts file |
//! | `GET /disks` | `host.disks` | mounts with their usage |
//! | `GET /performance` | `host.performance` | a fresh metric sample |
//!
//! Signals are sent by the slave with `kill(2)`; names are translated with Linux numbering.

use axum::extract::State;
use axum::response::Response;
use protocol::ops::host::{
    EnvEdit, EnvVar, HostOp, ProcessQuery, ProcessSort, SignalRequest, SocketQuery,
};
use serde_json::Value;

use super::call::{OP_TIMEOUT, Op, answer, host};
use super::error::OpsError;
use super::params::{JsonBody, PathParams, QueryParams, field, object, required_text};
use super::schema;
use crate::auth::AuthContext;
use crate::state::AppState;

/// Linux signal numbers by name (without `SIG`).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal given as a number or a name (`SIGTERM`, `term`).
pub fn signal_number(value: &Value) -> Result<i32, OpsError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| OpsError::bad("signal", format!("{n} is not a signal number"))),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<i32>() {
                return Ok(n);
            }
            let upper = s.trim().to_ascii_uppercase();
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            SIGNALS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, number)| *number)
                .ok_or_else(|| {
                    OpsError::bad("signal", format!("{s:?} is not a signal name like SIGTERM"))
                })
        }
        other => Err(OpsError::bad(
            "signal",
            format!("expected a number or a name, not {other}"),
        )),
    }
}

/// A process id from the path: 1..=u32::MAX.
fn pid(path: &PathParams) -> Result<u32, OpsError> {
    let raw = path.text("pid")?;
    raw.parse::<u32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| OpsError::bad("pid", format!("{raw:?} is not a process id")))
}

/// The process list query.
pub fn process_query(q: &QueryParams) -> Result<ProcessQuery, OpsError> {
    let sort = match q.text("sort") {
        None | Some("cpu") => ProcessSort::Cpu,
        Some("rss" | "mem" | "memory") => ProcessSort::Rss,
        Some("pid") => ProcessSort::Pid,
        Some("start") => ProcessSort::Start,
        Some(other) => {
            return Err(OpsError::bad(
                "sort",
                format!("{other:?} is not cpu, rss, pid or start"),
            ));
        }
    };
    let descending = match q.text("order") {
        None => matches!(sort, ProcessSort::Cpu | ProcessSort::Rss),
        Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(OpsError::bad(
                "order",
                format!("{other:?} is not asc or desc"),
            ));
        }
    };
    Ok(ProcessQuery {
        sort,
        descending,
        filter: q.text("filter").map(str::to_owned),
        user: q.text("user").map(str::to_owned),
        offset: q.u32("offset")?.unwrap_or(0),
        limit: q.u32("limit")?.unwrap_or(0),
    })
}

/// `GET /api/v1/nodes/{node}/processes`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/processes",
    operation_id = "get /api/v1/nodes/{node}/processes",
    tag = "host",
    summary = "Process list: sorted, filtered and paged on the slave.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("sort" = Option<String>, Query, description = "cpu (default), rss, pid or start."),
        ("order" = Option<String>, Query, description = "asc or desc (default: desc for cpu and rss)."),
        ("filter" = Option<String>, Query, description = "Name or command line contains (case-insensitive)."),
        ("user" = Option<String>, Query, description = "User name or uid."),
        ("offset" = Option<u64>, Query, description = "Rows to skip."),
        ("limit" = Option<u64>, Query, description = "Rows to answer (0 = all)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn processes(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.list_processes").on_part("processes");
    let q = op.args(process_query(&query)).await?;
    let reply = op.call(host(HostOp::ListProcesses(q)), OP_TIMEOUT).await?;
    Ok(answer(&reply))
}

/// `GET /api/v1/nodes/{node}/processes/{pid}`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/processes/{pid}",
    operation_id = "get /api/v1/nodes/{node}/processes/{pid}",
    tag = "host",
    summary = "One process in detail.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("pid" = u64, Path, description = "Process id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn process(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let raw = path.text("pid")?;
    let op = Op::new(&state, &ctx, &path, "host.process_details").on("process", raw);
    let pid = op.args(pid(&path)).await?;
    let reply = op
        .call(host(HostOp::ProcessDetails { pid }), OP_TIMEOUT)
        .await?;
    Ok(answer(&reply))
}

fn signal_body(pid: u32, body: Value) -> Result<SignalRequest, OpsError> {
    let mut map = object(body, schema::SIGNAL_FIELDS)?;
    let signal = match map.remove("signal") {
        None => 15,
        Some(v) => signal_number(&v)?,
    };
    let force = match map.remove("force") {
        None => false,
        Some(v) => field("force", v)?,
    };
    Ok(SignalRequest { pid, signal, force })
}

/// `POST /api/v1/nodes/{node}/processes/{pid}/signal`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/processes/{pid}/signal",
    operation_id = "post /api/v1/nodes/{node}/processes/{pid}/signal",
    tag = "host",
    summary = "Send a signal with kill(2); pid 1 and the slave itself need `force`.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("pid" = u64, Path, description = "Process id."),
    ),
    request_body = crate::ops::schema::SignalRequest,
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn signal(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let raw = path.text("pid")?;
    let op = Op::new(&state, &ctx, &path, "host.signal").on("process", raw);
    let request = op
        .args(pid(&path).and_then(|p| body.0.and_then(|b| signal_body(p, b))))
        .await?;
    let reply = op.call(host(HostOp::Signal(request)), OP_TIMEOUT).await?;
    Ok(answer(&reply))
}

/// `GET /api/v1/nodes/{node}/sockets`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/sockets",
    operation_id = "get /api/v1/nodes/{node}/sockets",
    tag = "host",
    summary = "Listening and established sockets with their processes.",
    params(
        ("node" = u64, Path, description = "Node id."),
        ("listening" = Option<bool>, Query, description = "Include listening sockets (default true)."),
        ("established" = Option<bool>, Query, description = "Include established connections (default true)."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn sockets(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.sockets").on_part("sockets");
    let q = op
        .args((|| {
            Ok(SocketQuery {
                listening: query.flag("listening", true)?,
                established: query.flag("established", true)?,
            })
        })())
        .await?;
    let reply = op.call(host(HostOp::Sockets(q)), OP_TIMEOUT).await?;
    Ok(answer(&reply))
}

/// `GET /api/v1/nodes/{node}/env`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/env",
    operation_id = "get /api/v1/nodes/{node}/env",
    tag = "host",
    summary = "The environment profile of processes the slave starts.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get_env(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.get_env").on_part("env");
    Ok(answer(&op.call(host(HostOp::GetEnv), OP_TIMEOUT).await?))
}

/// The body of `PUT /env`: `set` entries need `key` and `value`; `redacted: true` keeps
/// the stored value of a secret shown redacted.
pub fn env_edit(body: Value) -> Result<EnvEdit, OpsError> {
    let mut map = object(body, schema::ENV_EDIT_FIELDS)?;
    let mut set = Vec::new();
    if let Some(entries) = map.remove("set") {
        let Value::Array(entries) = entries else {
            return Err(OpsError::bad(
                "set",
                "expected a list of {\"key\", \"value\"}",
            ));
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let mut e = object(entry, schema::ENV_SET_FIELDS)
                .map_err(|err| OpsError::bad(&format!("set[{i}]"), err.message))?;
            let key = required_text(&mut e, "key")
                .map_err(|err| OpsError::bad(&format!("set[{i}].key"), err.message))?;
            let value = required_text(&mut e, "value")
                .map_err(|err| OpsError::bad(&format!("set[{i}].value"), err.message))?;
            let redacted = match e.remove("redacted") {
                None => false,
                Some(v) => field(&format!("set[{i}].redacted"), v)?,
            };
            set.push(EnvVar {
                key,
                value,
                redacted,
            });
        }
    }
    let unset = match map.remove("unset") {
        None => Vec::new(),
        Some(v) => field("unset", v)?,
    };
    Ok(EnvEdit { set, unset })
}

/// `PUT /api/v1/nodes/{node}/env`.
#[utoipa::path(
    put,
    path = "/api/v1/nodes/{node}/env",
    operation_id = "put /api/v1/nodes/{node}/env",
    tag = "host",
    summary = "Replace the environment profile's edits.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::EnvEditForm,
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn put_env(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.set_env").on_part("env");
    let edit = op.args(body.0.and_then(env_edit)).await?;
    Ok(answer(
        &op.call(host(HostOp::SetEnv(edit)), OP_TIMEOUT).await?,
    ))
}

/// `GET /api/v1/nodes/{node}/hosts`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/hosts",
    operation_id = "get /api/v1/nodes/{node}/hosts",
    tag = "host",
    summary = "The hosts file.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get_hosts(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.get_hosts").on_part("hosts");
    Ok(answer(&op.call(host(HostOp::GetHosts), OP_TIMEOUT).await?))
}

/// `PUT /api/v1/nodes/{node}/hosts` `{"content": "..."}`.
#[utoipa::path(
    put,
    path = "/api/v1/nodes/{node}/hosts",
    operation_id = "put /api/v1/nodes/{node}/hosts",
    tag = "host",
    summary = "Replace the hosts file (validated, atomic; the previous version is kept).",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    request_body = crate::ops::schema::HostsContent,
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn put_hosts(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
    body: JsonBody,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.put_hosts").on_part("hosts");
    let content = op
        .args(
            body.0
                .and_then(|b| object(b, schema::HOSTS_FIELDS))
                .and_then(|mut m| required_text(&mut m, "content")),
        )
        .await?;
    Ok(answer(
        &op.call(host(HostOp::PutHosts { content }), OP_TIMEOUT)
            .await?,
    ))
}

/// `POST /api/v1/nodes/{node}/hosts/restore`.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node}/hosts/restore",
    operation_id = "post /api/v1/nodes/{node}/hosts/restore",
    tag = "host",
    summary = "Put the previous hosts file back.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn restore_hosts(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.restore_hosts").on_part("hosts");
    Ok(answer(
        &op.call(host(HostOp::RestoreHosts), OP_TIMEOUT).await?,
    ))
}

/// `GET /api/v1/nodes/{node}/disks`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/disks",
    operation_id = "get /api/v1/nodes/{node}/disks",
    tag = "host",
    summary = "Mounts with their usage.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn disks(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.disks").on_part("disks");
    Ok(answer(&op.call(host(HostOp::Disks), OP_TIMEOUT).await?))
}

/// `GET /api/v1/nodes/{node}/performance`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}/performance",
    operation_id = "get /api/v1/nodes/{node}/performance",
    tag = "host",
    summary = "A fresh metric sample.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::ops::schema::OpReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn performance(
    State(state): State<AppState>,
    ctx: AuthContext,
    path: PathParams,
) -> Result<Response, OpsError> {
    let op = Op::new(&state, &ctx, &path, "host.performance").on_part("performance");
    Ok(answer(
        &op.call(host(HostOp::Performance), OP_TIMEOUT).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signals_by_number_or_name() {
        assert_eq!(signal_number(&json!(9)).unwrap(), 9);
        assert_eq!(signal_number(&json!("SIGTERM")).unwrap(), 15);
        assert_eq!(signal_number(&json!("usr1")).unwrap(), 10);
        assert_eq!(signal_number(&json!("12")).unwrap(), 12);
        for bad in [json!("SIGNOPE"), json!(true), json!(1e20)] {
            assert_eq!(
                signal_number(&bad).unwrap_err().field.as_deref(),
                Some("signal")
            );
        }
    }

    #[test]
    fn env_edits_name_their_fields() {
        let edit = env_edit(json!({"set": [{"key": "A", "value": "1"}], "unset": ["B"]})).unwrap();
        assert_eq!(edit.set[0].key, "A");
        assert!(!edit.set[0].redacted);
        assert_eq!(edit.unset, vec!["B".to_owned()]);
        let e = env_edit(json!({"set": [{"key": "A"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("set[0].value"));
        let e = env_edit(json!({"set": [{"key": "A", "value": "1", "x": 1}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("set[0]"));
    }

    #[test]
    fn process_queries_default_sensibly() {
        let q = process_query(&QueryParams::default()).unwrap();
        assert!(q.descending && q.sort == ProcessSort::Cpu && q.limit == 0);
        let q = process_query(&QueryParams::from_pairs(&[("sort", "pid")])).unwrap();
        assert!(!q.descending);
        let e = process_query(&QueryParams::from_pairs(&[("sort", "name")])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("sort"));
    }
}
