//! The JSON shapes of the operations API for its OpenAPI document: the request bodies the
//! handlers accept and the small answers they build.
//!
//! The request bodies are parsed field by field (so that an error names the field, and an
//! unknown field is refused): the types here describe the bodies, and the parsers accept
//! the fields listed next to them (`*_FIELDS`, and [`super::containers::FORM_FIELDS`]); a
//! test checks that each list is exactly its schema's properties. The answers
//! ([`ContainerCreatedReply`], [`TaskAccepted`]) are the types the handlers serialize.
//!
//! The answers of the operations themselves are the protocol's reply types
//! (`protocol::ops::host_reply::*`, `protocol::ops::docker_reply::*`): deriving their
//! schemas would drag `utoipa` into the protocol crate, so the document describes them as
//! free-form objects ([`OpReply`]).

use model::task::TaskState;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Fields of [`SignalRequest`].
pub const SIGNAL_FIELDS: &[&str] = &["signal", "force"];
/// Fields of [`EnvEditForm`].
pub const ENV_EDIT_FIELDS: &[&str] = &["set", "unset"];
/// Fields of [`EnvSet`].
pub const ENV_SET_FIELDS: &[&str] = &["key", "value", "redacted"];
/// Fields of [`HostsContent`].
pub const HOSTS_FIELDS: &[&str] = &["content"];
/// Fields of [`RegistryAuthForm`].
pub const AUTH_FIELDS: &[&str] = &["server", "username", "password"];
/// Fields of [`Rename`].
pub const RENAME_FIELDS: &[&str] = &["name"];
/// Fields of [`Pull`].
pub const PULL_FIELDS: &[&str] = &["reference", "auth"];
/// Fields of [`Tag`].
pub const TAG_FIELDS: &[&str] = &["repo", "tag"];
/// Fields of [`NetworkForm`].
pub const NETWORK_FIELDS: &[&str] = &["name", "driver", "internal", "labels"];
/// Fields of [`VolumeForm`].
pub const VOLUME_FIELDS: &[&str] = &["name", "driver", "labels"];

/// The operation's answer as JSON: one of the protocol's reply types
/// (`protocol::ops::host_reply`, `protocol::ops::docker_reply`), described free-form.
#[derive(Debug, ToSchema)]
pub struct OpReply(pub Value);

/// Body of `POST /api/v1/nodes/{node}/processes/{pid}/signal`.
#[derive(Debug, ToSchema)]
pub struct SignalRequest {
    /// Number or name (default SIGTERM).
    #[schema(value_type = Option<Object>)]
    pub signal: Option<Value>,
    /// Needed for pid 1 and the slave itself.
    pub force: Option<bool>,
}

/// One variable set in the environment profile.
#[derive(Debug, ToSchema)]
pub struct EnvSet {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
    /// Keep the stored value of a secret shown redacted.
    pub redacted: Option<bool>,
}

/// Body of `PUT /api/v1/nodes/{node}/env`.
#[derive(Debug, ToSchema)]
pub struct EnvEditForm {
    /// Variables to set.
    pub set: Option<Vec<EnvSet>>,
    /// Names to unset.
    pub unset: Option<Vec<String>>,
}

/// Body of `PUT /api/v1/nodes/{node}/hosts`.
#[derive(Debug, ToSchema)]
pub struct HostsContent {
    /// The whole hosts file.
    pub content: String,
}

/// Registry credentials: accepted in requests only, never answered, logged or audited.
#[derive(Debug, ToSchema)]
pub struct RegistryAuthForm {
    /// Registry server (default Docker Hub).
    pub server: Option<String>,
    /// User name.
    pub username: String,
    /// Password or token.
    #[schema(write_only)]
    pub password: String,
}

/// Image pull policy of a run form.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PullForm {
    /// Pull when the image is not present (default).
    Missing,
    /// Always pull.
    Always,
    /// Never pull.
    Never,
}

/// The run form of `POST /api/v1/nodes/{node}/docker/containers` and `/docker/deploy`.
#[derive(Debug, ToSchema)]
pub struct ContainerForm {
    /// Image reference.
    pub image: String,
    /// Container name.
    pub name: Option<String>,
    /// Command (argv, no shell).
    pub cmd: Option<Vec<String>>,
    /// Environment, `KEY=VALUE`.
    pub env: Option<Vec<String>>,
    /// Published ports, `[IP:]HOST:CONTAINER[/tcp|udp|sctp]`.
    #[schema(examples(json!(["8080:80/tcp"])))]
    pub ports: Option<Vec<String>>,
    /// Mounts, `SOURCE:TARGET[:ro]`.
    pub volumes: Option<Vec<String>>,
    /// `no`, `always`, `unless-stopped` or `on-failure[:N]`.
    #[schema(value_type = Option<Object>)]
    pub restart: Option<Value>,
    /// Labels.
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Memory limit, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit, billionths of a CPU.
    pub nano_cpus: Option<u64>,
    /// Network to attach to.
    pub network: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// User to run as.
    pub user: Option<String>,
    /// Start it once created (default true).
    pub start: Option<bool>,
    /// When to pull the image.
    pub pull: Option<PullForm>,
    /// Registry credentials for the pull.
    pub auth: Option<RegistryAuthForm>,
}

/// Body of `POST .../containers/{id}/rename`.
#[derive(Debug, ToSchema)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

/// Body of `POST /api/v1/nodes/{node}/docker/images` (a pull).
#[derive(Debug, ToSchema)]
pub struct Pull {
    /// Image reference.
    pub reference: String,
    /// Registry credentials.
    pub auth: Option<RegistryAuthForm>,
}

/// Body of `POST .../images/{image}/tag`.
#[derive(Debug, ToSchema)]
pub struct Tag {
    /// Repository.
    pub repo: String,
    /// Tag (default `latest`).
    pub tag: Option<String>,
}

/// Body of `POST /api/v1/nodes/{node}/docker/networks`.
#[derive(Debug, ToSchema)]
pub struct NetworkForm {
    /// Name.
    pub name: String,
    /// Driver (default bridge).
    pub driver: Option<String>,
    /// No outside connectivity.
    pub internal: Option<bool>,
    /// Labels.
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// Body of `POST /api/v1/nodes/{node}/docker/volumes`.
#[derive(Debug, ToSchema)]
pub struct VolumeForm {
    /// Name.
    pub name: String,
    /// Driver (default local).
    pub driver: Option<String>,
    /// Labels.
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// 201 answer of a created container.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerCreatedReply<'a> {
    /// Container id.
    pub id: &'a str,
    /// The engine's warnings.
    pub warnings: &'a [String],
    /// Whether it was started.
    pub started: bool,
}

/// 202 answer of an operation that became a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskAccepted {
    /// Task id.
    pub task: u64,
    /// Its state now.
    pub state: TaskState,
    /// Where to follow it (`/api/v1/tasks/<id>`), also in `Location`.
    pub href: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    fn properties<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap_or_default();
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        names.sort_unstable();
        names
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn each_body_schema_lists_exactly_the_fields_its_parser_accepts() {
        let cases = [
            (
                properties::<ContainerForm>(),
                super::super::containers::FORM_FIELDS,
            ),
            (properties::<SignalRequest>(), SIGNAL_FIELDS),
            (properties::<EnvEditForm>(), ENV_EDIT_FIELDS),
            (properties::<EnvSet>(), ENV_SET_FIELDS),
            (properties::<HostsContent>(), HOSTS_FIELDS),
            (properties::<RegistryAuthForm>(), AUTH_FIELDS),
            (properties::<Rename>(), RENAME_FIELDS),
            (properties::<Pull>(), PULL_FIELDS),
            (properties::<Tag>(), TAG_FIELDS),
            (properties::<NetworkForm>(), NETWORK_FIELDS),
            (properties::<VolumeForm>(), VOLUME_FIELDS),
        ];
        for (documented, accepted) in cases {
            assert_eq!(documented, sorted(accepted));
        }
    }
}
