//! Runs one Docker operation against any [`ContainerRuntime`]: validation, bind-mount
//! confinement, create-and-run, deploy (pull when needed, with progress), pull progress
//! throttling, log collection or following, stats arithmetic, cancellation and deadline.

use super::{ContainerRuntime, DockerError, stats};
use crate::remote::reply::ReplySink;
use futures_lite::StreamExt;
use protocol::ResponseBody;
use protocol::ops::docker::{ContainerCreate, DockerOp, LogsQuery, PullPolicy, RegistryAuth};
use protocol::ops::docker_reply::{DockerReply, LogBatch, LogsEndReason};
use protocol::ops::validate::{self, MountSource};
use protocol::ops::{
    ErrorKind, LOG_BATCH_BYTES, LOG_ENTRY_OVERHEAD, LOG_WINDOW, MAX_STREAMED_LEN, OpError,
    ProgressEvent, PullProgress,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A followed log is flushed at least this often while lines arrive.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(100);
/// ... or when this many bytes are waiting.
const LOG_FLUSH_BYTES: usize = 64 * 1024;
/// A layer's pull progress is reported at most this often (status changes always are).
pub const PULL_PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Settings of the Docker operations.
#[derive(Debug, Clone, Default)]
pub struct DockerCtx {
    /// Host directories under which bind mounts are allowed (canonical paths); empty
    /// disables bind mounts.
    pub bind_roots: Vec<PathBuf>,
}

impl DockerCtx {
    /// Settings with `roots` resolved ([`resolve_bind_root`]). A root that does not resolve
    /// to an acceptable directory is left out with a warning: a missing default root
    /// (`/srv`, `/data`) just allows nothing, and a root that has become a link to a system
    /// directory never allows that directory.
    pub fn new(roots: &[PathBuf]) -> Self {
        let bind_roots = roots
            .iter()
            .filter_map(|r| match resolve_bind_root(r) {
                Ok(real) => Some(real),
                Err(e) => {
                    tracing::warn!(error = %e, "bind root left out");
                    None
                }
            })
            .collect();
        Self { bind_roots }
    }
}

/// Why a request stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The master cancelled it (or its session ended).
    Cancelled,
    /// Its deadline passed.
    Deadline,
}

impl StopReason {
    fn error(self) -> OpError {
        match self {
            Self::Cancelled => OpError::new(ErrorKind::Cancelled, "cancelled by the master"),
            Self::Deadline => OpError::new(
                ErrorKind::Timeout,
                "the request's deadline passed on the slave",
            ),
        }
    }
}

/// The cancel signal and deadline of one request, and for a streamed log the master's
/// acknowledgements.
#[derive(Debug)]
pub struct Stop {
    cancel: async_channel::Receiver<()>,
    deadline: tokio::time::Instant,
    credits: Option<tokio::sync::watch::Receiver<u32>>,
}

impl Stop {
    /// Stops when something arrives on `cancel` or at `deadline`. A closed `cancel` channel
    /// means "never cancelled".
    pub fn new(cancel: async_channel::Receiver<()>, deadline: tokio::time::Instant) -> Self {
        Self {
            cancel,
            deadline,
            credits: None,
        }
    }

    /// The session streams logs (protocol version 3): a log that is not followed is sent
    /// in batches, each waiting for `credits` (batches the master acknowledged) to allow it.
    /// A closed `credits` channel (the session ended) stops the log.
    pub fn with_credits(mut self, credits: tokio::sync::watch::Receiver<u32>) -> Self {
        self.credits = Some(credits);
        self
    }

    /// Waits until the request must stop.
    pub async fn wait(&self) -> StopReason {
        let cancelled = async {
            if self.cancel.recv().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = cancelled => StopReason::Cancelled,
            () = tokio::time::sleep_until(self.deadline) => StopReason::Deadline,
        }
    }
}

fn reply(r: DockerReply) -> ResponseBody {
    ResponseBody::Docker(Box::new(r))
}

/// Validates and runs `op`; `upload` is the spooled tarball of an import.
pub async fn execute<R: ContainerRuntime>(
    rt: &R,
    op: DockerOp,
    upload: Option<&Path>,
    sink: &ReplySink,
    ctx: &DockerCtx,
    stop: &Stop,
) -> Result<ResponseBody, OpError> {
    validate::docker_op(&op)?;
    if let DockerOp::Logs(q) = &op
        && q.follow
    {
        return follow_logs(rt, q, sink, stop).await;
    }
    if let DockerOp::Logs(q) = &op
        && let Some(credits) = &stop.credits
    {
        return stream_logs(rt, q, sink, stop, credits).await;
    }
    tokio::select! {
        r = run(rt, op, upload, sink, ctx) => r,
        reason = stop.wait() => Err(reason.error()),
    }
}

async fn run<R: ContainerRuntime>(
    rt: &R,
    op: DockerOp,
    upload: Option<&Path>,
    sink: &ReplySink,
    ctx: &DockerCtx,
) -> Result<ResponseBody, OpError> {
    let done =
        |r: Result<(), DockerError>| r.map(|()| reply(DockerReply::Done)).map_err(OpError::from);
    Ok(match op {
        DockerOp::Info => reply(DockerReply::Info(rt.info().await?)),
        DockerOp::ListContainers { all } => {
            reply(DockerReply::Containers(rt.list_containers(all).await?))
        }
        DockerOp::InspectContainer { id } => {
            reply(DockerReply::Container(rt.inspect_container(&id).await?))
        }
        DockerOp::CreateContainer(form) => create_and_run(rt, &form, ctx, false).await?,
        DockerOp::StartContainer { id } => {
            recheck_binds(rt, &id, ctx).await?;
            done(rt.start_container(&id).await)?
        }
        DockerOp::StopContainer { id, timeout_secs } => {
            done(rt.stop_container(&id, timeout_secs).await)?
        }
        DockerOp::RestartContainer { id, timeout_secs } => {
            recheck_binds(rt, &id, ctx).await?;
            done(rt.restart_container(&id, timeout_secs).await)?
        }
        DockerOp::PauseContainer { id } => done(rt.pause_container(&id).await)?,
        DockerOp::UnpauseContainer { id } => done(rt.unpause_container(&id).await)?,
        DockerOp::KillContainer { id, signal } => {
            done(rt.kill_container(&id, signal.as_deref()).await)?
        }
        DockerOp::RemoveContainer { id, force, volumes } => {
            done(rt.remove_container(&id, force, volumes).await)?
        }
        DockerOp::RenameContainer { id, new_name } => {
            done(rt.rename_container(&id, &new_name).await)?
        }
        DockerOp::Logs(q) => reply(DockerReply::Logs(collect_logs(rt, &q).await?)),
        DockerOp::Top { id } => reply(DockerReply::Top(rt.top(&id).await?)),
        DockerOp::Stats { id } => reply(DockerReply::Stats(stats::compute(
            &rt.stats_sample(&id).await?,
        ))),
        DockerOp::ListImages { all } => reply(DockerReply::Images(rt.list_images(all).await?)),
        DockerOp::InspectImage { reference } => {
            reply(DockerReply::Image(rt.inspect_image(&reference).await?))
        }
        DockerOp::ImageHistory { reference } => {
            reply(DockerReply::History(rt.image_history(&reference).await?))
        }
        DockerOp::PullImage(p) => {
            let reference = with_tag(&p.reference);
            let id = pull(rt, &reference, p.auth.as_ref(), sink).await?;
            reply(DockerReply::Pulled { reference, id })
        }
        DockerOp::RemoveImage {
            reference,
            force,
            prune,
        } => reply(DockerReply::ImagesRemoved(
            rt.remove_image(&reference, force, prune).await?,
        )),
        DockerOp::TagImage { source, repo, tag } => done(rt.tag_image(&source, &repo, &tag).await)?,
        DockerOp::Deploy(d) => {
            confine_binds(&d.container, ctx)?;
            let pulled = match d.pull {
                PullPolicy::Never => false,
                PullPolicy::Always => true,
                PullPolicy::Missing => match rt.inspect_image(&d.container.image).await {
                    Ok(_) => false,
                    Err(DockerError::NotFound(_)) => true,
                    Err(e) => return Err(e.into()),
                },
            };
            if pulled {
                sink.progress(ProgressEvent::Step {
                    step: "pull".into(),
                });
                pull(rt, &with_tag(&d.container.image), d.auth.as_ref(), sink).await?;
            }
            sink.progress(ProgressEvent::Step {
                step: "create".into(),
            });
            create_and_run(rt, &d.container, ctx, pulled).await?
        }
        DockerOp::ImportImage(i) => {
            let path = upload.ok_or_else(|| {
                OpError::new(ErrorKind::Failed, "the import's tarball was not received")
            })?;
            reply(DockerReply::Imported(
                rt.import_image(&i.source, path).await?,
            ))
        }
        DockerOp::ListNetworks => reply(DockerReply::Networks(rt.list_networks().await?)),
        DockerOp::CreateNetwork(n) => reply(DockerReply::NetworkCreated {
            id: rt.create_network(&n).await?,
        }),
        DockerOp::RemoveNetwork { id } => done(rt.remove_network(&id).await)?,
        DockerOp::ListVolumes => reply(DockerReply::Volumes(rt.list_volumes().await?)),
        DockerOp::CreateVolume(v) => reply(DockerReply::VolumeCreated {
            name: rt.create_volume(&v).await?,
        }),
        DockerOp::RemoveVolume { name, force } => done(rt.remove_volume(&name, force).await)?,
    })
}

/// `reference` with `:latest` added when it names neither a tag nor a digest (the engine
/// would otherwise pull every tag).
pub fn with_tag(reference: &str) -> String {
    match validate::split_reference(reference) {
        (_, None, None) => format!("{reference}:latest"),
        _ => reference.to_string(),
    }
}

/// Host paths that may never be bind roots (nor lie under one): mounting them into a
/// container hands it the host.
const FORBIDDEN_BIND_ROOTS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/run",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/var/lib/docker",
];

/// Why a configured bind root is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindRootError {
    /// Relative, or with a `..` component.
    #[error("{} must be an absolute path without `..`", .0.display())]
    NotAbsolute(PathBuf),
    /// A system directory is the root, above it or below it.
    #[error("{} would expose {} to containers", .root.display(), .exposed.display())]
    Exposes {
        /// The configured root.
        root: PathBuf,
        /// The system directory it would expose.
        exposed: PathBuf,
    },
    /// The root resolves (through symlinks or `..`) to a path that exposes a system
    /// directory.
    #[error(
        "{} resolves to {}, which would expose {} to containers",
        .root.display(),
        .real.display(),
        .exposed.display()
    )]
    ResolvesToExposed {
        /// The configured root.
        root: PathBuf,
        /// What it resolves to.
        real: PathBuf,
        /// The system directory it would expose.
        exposed: PathBuf,
    },
    /// The root does not exist (or cannot be resolved).
    #[error("{} cannot be resolved: {error}", .root.display())]
    Unresolvable {
        /// The configured root.
        root: PathBuf,
        /// Why.
        error: String,
    },
    /// The root is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
}

/// Resolves a configured bind root to its canonical path (symlinks and `..` resolved) and
/// checks that path with [`validate_bind_root`]: the check is made on what the kernel will
/// actually use, so a root that is a link to `/` or written as `/srv/../etc` is refused.
/// A root that does not exist is refused.
pub fn resolve_bind_root(root: &Path) -> Result<PathBuf, BindRootError> {
    if !root.is_absolute() {
        return Err(BindRootError::NotAbsolute(root.to_path_buf()));
    }
    let real = std::fs::canonicalize(root).map_err(|e| BindRootError::Unresolvable {
        root: root.to_path_buf(),
        error: e.to_string(),
    })?;
    if !real.is_dir() {
        return Err(BindRootError::NotADirectory(root.to_path_buf()));
    }
    match validate_bind_root(&real) {
        Ok(()) => Ok(real),
        Err(BindRootError::Exposes { exposed, .. }) if real != root => {
            Err(BindRootError::ResolvesToExposed {
                root: root.to_path_buf(),
                real,
                exposed,
            })
        }
        Err(e) => Err(e),
    }
}

/// Checks a bind root's path as written: absolute, without `..`, not a system directory,
/// not above one, not inside one. Configured roots go through [`resolve_bind_root`], which
/// applies this to the canonical path.
pub fn validate_bind_root(root: &Path) -> Result<(), BindRootError> {
    if !root.is_absolute()
        || root
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(BindRootError::NotAbsolute(root.to_path_buf()));
    }
    let forbidden = FORBIDDEN_BIND_ROOTS
        .iter()
        .map(Path::new)
        .find(|f| f.starts_with(root) || (*f != Path::new("/") && root.starts_with(f)));
    match forbidden {
        Some(f) => Err(BindRootError::Exposes {
            root: root.to_path_buf(),
            exposed: f.to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// Refuses bind mounts that are not existing paths beneath a configured root. The source is
/// resolved beneath its root by the kernel ([`resolve_beneath`]): a symbolic link anywhere
/// in it, a `..` that climbs out, or a missing source (which the engine would create,
/// following links) is refused.
pub fn confine_binds(form: &ContainerCreate, ctx: &DockerCtx) -> Result<(), OpError> {
    for (i, v) in form.volumes.iter().enumerate() {
        let field = format!("volumes[{i}]");
        let spec = validate::volume_spec(&field, v)?;
        let MountSource::Bind(path) = spec.source else {
            continue;
        };
        let refused = |message: String| OpError {
            kind: ErrorKind::Refused,
            field: Some(field.clone()),
            message,
        };
        if ctx.bind_roots.is_empty() {
            return Err(refused(
                "bind mounts are disabled on this slave (configure `bindRoots`)".into(),
            ));
        }
        let path = Path::new(&path);
        let Some((root, rest)) = ctx
            .bind_roots
            .iter()
            .find_map(|r| path.strip_prefix(r).ok().map(|rest| (r, rest)))
        else {
            return Err(refused(format!(
                "{} is outside the allowed bind roots {:?}",
                path.display(),
                ctx.bind_roots
            )));
        };
        if let Err(why) = resolve_beneath(root, rest) {
            return Err(refused(format!("{}: {why}", path.display())));
        }
    }
    Ok(())
}

/// Repeats the bind confinement before a start or restart: the kernel resolves a bind
/// source again on every start, so a checked directory swapped for a link since the
/// container was created must not be mounted. Bind sources under a configured root are
/// resolved beneath it again ([`resolve_beneath`]); binds outside every root were not made
/// through Commander and are left to whoever made them.
async fn recheck_binds<R: ContainerRuntime>(
    rt: &R,
    id: &str,
    ctx: &DockerCtx,
) -> Result<(), OpError> {
    if ctx.bind_roots.is_empty() {
        return Ok(());
    }
    let details = rt.inspect_container(id).await?;
    for m in details.mounts.iter().filter(|m| m.kind == "bind") {
        let path = Path::new(&m.source);
        let Some((root, rest)) = ctx
            .bind_roots
            .iter()
            .find_map(|r| path.strip_prefix(r).ok().map(|rest| (r, rest)))
        else {
            continue;
        };
        if let Err(why) = resolve_beneath(root, rest) {
            return Err(OpError {
                kind: ErrorKind::Refused,
                field: Some("id".into()),
                message: format!("not started: its bind source {} {why}", path.display()),
            });
        }
    }
    Ok(())
}

/// Why a bind source is not an existing path beneath its root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeneathError {
    /// A component is a symbolic link (never followed, even to a place inside the root).
    #[error("goes through a symbolic link; bind sources are never resolved through links")]
    Symlink,
    /// The path climbs out of its root.
    #[error("escapes its bind root")]
    Escapes,
    /// The source does not exist (it is never created).
    #[error("does not exist; a bind source must exist beneath its root")]
    Missing,
    /// Anything else (the root cannot be opened, the kernel lacks `openat2`).
    #[error("cannot be resolved beneath its root: {0}")]
    Other(String),
}

/// Opens `rest` beneath `root` with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS)`, so the kernel refuses any link and any escape.
pub fn resolve_beneath(root: &Path, rest: &Path) -> Result<(), BeneathError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => BeneathError::Symlink,
        Errno::NOENT => BeneathError::Missing,
        e => BeneathError::Other(format!("{}: {e}", root.display())),
    })?;
    let rest = if rest.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rest
    };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let mut attempts = 0;
    loop {
        let opened = rustix::fs::openat2(
            &dir,
            rest,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        );
        return match opened {
            Ok(_) => Ok(()),
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::AGAIN) if attempts < 8 => {
                attempts += 1;
                continue;
            }
            Err(Errno::LOOP) => Err(BeneathError::Symlink),
            Err(Errno::XDEV) => Err(BeneathError::Escapes),
            Err(Errno::NOENT | Errno::NOTDIR) => Err(BeneathError::Missing),
            Err(e) => Err(BeneathError::Other(e.to_string())),
        };
    }
}

/// Creates (and starts when asked) a container. A container that was created but failed
/// to start is removed again, so a failed "run" leaves nothing behind.
async fn create_and_run<R: ContainerRuntime>(
    rt: &R,
    form: &ContainerCreate,
    ctx: &DockerCtx,
    pulled: bool,
) -> Result<ResponseBody, OpError> {
    confine_binds(form, ctx)?;
    let (id, warnings) = rt.create_container(form).await?;
    if form.start
        && let Err(e) = rt.start_container(&id).await
    {
        if let Err(rm) = rt.remove_container(&id, true, true).await {
            tracing::warn!(id, "cannot remove the container that failed to start: {rm}");
        }
        let mut err = OpError::from(e);
        err.message = format!(
            "the container was created but failed to start: {}",
            err.message
        );
        return Err(err);
    }
    Ok(reply(DockerReply::Created {
        id,
        warnings,
        started: form.start,
        pulled,
    }))
}

/// Decides which pull progress events are worth sending.
#[derive(Debug, Default)]
pub struct PullThrottle {
    layers: HashMap<String, (String, Instant)>,
}

impl PullThrottle {
    /// Whether to send `p` at `now`: a new layer or status, a finished phase, or
    /// [`PULL_PROGRESS_EVERY`] since this layer's last report.
    pub fn should_send(&mut self, p: &PullProgress, now: Instant) -> bool {
        let finished = p.total > 0 && p.current >= p.total;
        let send = match self.layers.get(&p.layer) {
            None => true,
            Some((status, at)) => {
                *status != p.status || finished || now.duration_since(*at) >= PULL_PROGRESS_EVERY
            }
        };
        if send {
            self.layers.insert(p.layer.clone(), (p.status.clone(), now));
        }
        send
    }
}

/// Pulls with throttled progress; returns the image id when the engine tells.
async fn pull<R: ContainerRuntime>(
    rt: &R,
    reference: &str,
    auth: Option<&RegistryAuth>,
    sink: &ReplySink,
) -> Result<Option<String>, OpError> {
    let mut throttle = PullThrottle::default();
    let mut stream = rt.pull_image(reference, auth);
    while let Some(item) = stream.next().await {
        let p = item?;
        if throttle.should_send(&p, Instant::now()) {
            sink.progress(ProgressEvent::Pull(p));
        }
    }
    drop(stream);
    Ok(rt.inspect_image(reference).await.ok().map(|i| i.id))
}

/// All requested log lines, refused (not truncated) above the streaming limit.
async fn collect_logs<R: ContainerRuntime>(rt: &R, q: &LogsQuery) -> Result<LogBatch, OpError> {
    let mut stream = rt.logs(q);
    let mut batch = LogBatch::default();
    let mut bytes = 0u64;
    while let Some(entry) = stream.next().await {
        let entry = entry?;
        bytes += entry.text.len() as u64 + 32;
        if bytes > MAX_STREAMED_LEN {
            return Err(OpError::new(
                ErrorKind::Failed,
                format!("the logs exceed {MAX_STREAMED_LEN} bytes; ask for a tail or a since time"),
            ));
        }
        batch.entries.push(entry);
    }
    Ok(batch)
}

/// Sends a log (not followed) as batches of at most [`LOG_BATCH_BYTES`] bytes of text
/// (protocol version 3), never more than [`LOG_WINDOW`] batches ahead of those the master
/// acknowledged through `credits`; the final answer counts the entries sent.
async fn stream_logs<R: ContainerRuntime>(
    rt: &R,
    q: &LogsQuery,
    sink: &ReplySink,
    stop: &Stop,
    credits: &tokio::sync::watch::Receiver<u32>,
) -> Result<ResponseBody, OpError> {
    let mut stream = rt.logs(q);
    let mut batch = LogBatch::default();
    let mut bytes = 0usize;
    let mut batches = 0u32;
    let mut entries = 0u64;
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            reason = stop.wait() => return Err(reason.error()),
        };
        let last = match item {
            None => true,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(entry)) => {
                bytes += entry.text.len() + LOG_ENTRY_OVERHEAD;
                batch.entries.push(entry);
                false
            }
        };
        if (last && !batch.entries.is_empty()) || bytes >= LOG_BATCH_BYTES {
            wait_credit(batches, credits, stop).await?;
            entries += batch.entries.len() as u64;
            if !sink.progress(ProgressEvent::Logs(std::mem::take(&mut batch))) {
                return Err(StopReason::Cancelled.error());
            }
            batches += 1;
            bytes = 0;
        }
        if last {
            return Ok(reply(DockerReply::LogsEnd {
                entries,
                reason: LogsEndReason::Ended,
            }));
        }
    }
}

/// Waits until batch number `sent` (0-based) may go: fewer than [`LOG_WINDOW`] batches
/// beyond those acknowledged.
async fn wait_credit(
    sent: u32,
    credits: &tokio::sync::watch::Receiver<u32>,
    stop: &Stop,
) -> Result<(), OpError> {
    let mut credits = credits.clone();
    tokio::select! {
        got = credits.wait_for(|acked| sent < acked.saturating_add(LOG_WINDOW)) => match got {
            Ok(_) => Ok(()),
            Err(_) => Err(StopReason::Cancelled.error()),
        },
        reason = stop.wait() => Err(reason.error()),
    }
}

/// Streams log batches as progress until the log ends, the request is cancelled or its
/// deadline passes; the final answer says which and how many entries were sent.
async fn follow_logs<R: ContainerRuntime>(
    rt: &R,
    q: &LogsQuery,
    sink: &ReplySink,
    stop: &Stop,
) -> Result<ResponseBody, OpError> {
    let mut stream = rt.logs(q);
    let mut batch = LogBatch::default();
    let mut waiting = 0usize;
    let mut sent = 0u64;
    let mut flush_at: Option<tokio::time::Instant> = None;
    let flush = |batch: &mut LogBatch, sent: &mut u64| {
        if !batch.entries.is_empty() {
            *sent += batch.entries.len() as u64;
            sink.progress(ProgressEvent::Logs(std::mem::take(batch)));
        }
    };
    let reason = loop {
        let next_flush = flush_at;
        let timer = async move {
            match next_flush {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            item = stream.next() => match item {
                None => break LogsEndReason::Ended,
                Some(Err(e)) => {
                    flush(&mut batch, &mut sent);
                    return Err(e.into());
                }
                Some(Ok(entry)) => {
                    waiting += entry.text.len();
                    batch.entries.push(entry);
                    flush_at.get_or_insert_with(|| tokio::time::Instant::now() + LOG_FLUSH_EVERY);
                    if waiting >= LOG_FLUSH_BYTES {
                        flush(&mut batch, &mut sent);
                        (waiting, flush_at) = (0, None);
                    }
                }
            },
            () = timer => {
                flush(&mut batch, &mut sent);
                (waiting, flush_at) = (0, None);
            }
            reason = stop.wait() => break match reason {
                StopReason::Cancelled => LogsEndReason::Cancelled,
                StopReason::Deadline => LogsEndReason::Deadline,
            },
        }
        if sink.is_closed() {
            break LogsEndReason::Cancelled;
        }
    };
    flush(&mut batch, &mut sent);
    Ok(reply(DockerReply::LogsEnd {
        entries: sent,
        reason,
    }))
}

#[cfg(test)]
mod tests;
