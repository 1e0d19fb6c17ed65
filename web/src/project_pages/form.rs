//! The project form's fields as the browser sends them (every one a string, kept as typed
//! so a refused form shows the user's input again), read into the API's
//! [`ProjectInput`] or [`ProjectPatch`], and filled in from a stored specification.
//!
//! The form reads numbers and lines only; every rule (names, ranges, CIDRs, ...) is the
//! master's, whose errors name the API's field (`health.interval_s`). A number that does
//! not parse is refused here with the same naming.

use std::collections::BTreeMap;

use model::Invalid;
use model::project::ProjectInput;
use model::project::api::ProjectPatch;
use model::project::spec::{
    Algorithm, GatewayInput, HealthInput, ProbeType, Promotion, Resources, StrategyKind,
    UpdateInput,
};
use protocol::ops::docker::RegistryAuth;
use serde::Deserialize;

use super::ProjectsText;

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;
/// Billionths of a CPU in a CPU.
const NANO: f64 = 1e9;

/// The project form, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectForm {
    /// Name (creation only).
    pub name: String,
    /// Image.
    pub image: String,
    /// Replicas.
    pub replicas: String,
    /// Container port.
    pub container_port: String,
    /// `KEY=VALUE` lines.
    pub env: String,
    /// One argument per line.
    pub cmd: String,
    /// One mount per line.
    pub volumes: String,
    /// MiB, may be fractional; empty: no limit.
    pub memory_mib: String,
    /// CPUs, may be fractional; empty: no limit.
    pub cpus: String,
    /// `KEY=VALUE` lines.
    pub labels: String,
    /// Registry host.
    pub registry_server: String,
    /// Registry user; empty: no (new) credentials.
    pub registry_user: String,
    /// Registry password, never sent back to the browser.
    pub registry_password: String,
    /// `tcp` or `http`.
    pub probe: String,
    /// HTTP path.
    pub health_path: String,
    /// Expected HTTP status.
    pub health_status: String,
    /// Seconds.
    pub interval_s: String,
    /// Seconds.
    pub timeout_s: String,
    /// Successes.
    pub healthy_threshold: String,
    /// Failures.
    pub unhealthy_threshold: String,
    /// Seconds.
    pub start_period_s: String,
    /// `rolling` or `canary`.
    pub strategy: String,
    /// Rolling.
    pub max_surge: String,
    /// Rolling.
    pub max_unavailable: String,
    /// Canary.
    pub canaries: String,
    /// `auto` or `manual`.
    pub promotion: String,
    /// Canary, seconds.
    pub healthy_period_s: String,
    /// Seconds.
    pub deadline_s: String,
    /// Checkbox: `on` when checked.
    pub auto_rollback: String,
    /// Checkbox: `on` when the project has a gateway.
    pub gateway: String,
    /// Node id.
    pub gateway_node: String,
    /// Port.
    pub gateway_port: String,
    /// `round_robin`, `least_conn` or `hash`.
    pub algorithm: String,
    /// CIDR lines.
    pub allow: String,
    /// CIDR lines.
    pub deny: String,
    /// Empty: no limit.
    pub max_conns_per_ip: String,
    /// Empty: no limit.
    pub conn_rate_per_ip: String,
}

/// The non-empty lines of a text area, trimmed.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A required whole number.
pub fn number<T: std::str::FromStr>(
    text: &str,
    field: &str,
    p: &ProjectsText,
) -> Result<T, Invalid> {
    text.trim()
        .parse()
        .map_err(|_| Invalid::new(field, p.err_whole_number))
}

/// An optional whole number: empty is `None`.
pub fn optional<T: std::str::FromStr>(
    text: &str,
    field: &str,
    p: &ProjectsText,
) -> Result<Option<T>, Invalid> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        number(text, field, p).map(Some)
    }
}

/// An optional amount in `unit`s (fractions allowed), as a whole count of base units.
fn scaled(text: &str, unit: f64, field: &str, p: &ProjectsText) -> Result<Option<u64>, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: f64 = text
        .parse()
        .map_err(|_| Invalid::new(field, p.err_number))?;
    let base = (value * unit).round();
    // u64::MAX as f64 rounds up; stay well below it. Zero and negatives are the master's
    // to refuse, so they pass through as 0.
    if !base.is_finite() || base >= 9.0e18 {
        return Err(Invalid::new(field, p.err_number));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(base.max(0.0) as u64))
}

/// `count` base units in `unit`s, without trailing zeros (`1.5`, `256`).
fn unscaled(count: Option<u64>, unit: f64) -> String {
    #[allow(clippy::cast_precision_loss)]
    count.map_or_else(String::new, |c| {
        let text = format!("{:.3}", c as f64 / unit);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    })
}

/// `KEY=VALUE` lines as a map; a line without `=` or a key given twice is refused.
fn label_map(text: &str, p: &ProjectsText) -> Result<BTreeMap<String, String>, Invalid> {
    let mut map = BTreeMap::new();
    for (i, line) in lines(text).iter().enumerate() {
        let field = format!("labels[{i}]");
        let Some((key, value)) = line.split_once('=') else {
            return Err(Invalid::new(&field, p.err_label_line));
        };
        if map
            .insert(key.trim().to_owned(), value.trim().to_owned())
            .is_some()
        {
            return Err(Invalid::new(&field, p.err_label_twice));
        }
    }
    Ok(map)
}

fn opt_text(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn show<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The API name of an algorithm, as the form's menu sends it.
pub fn algorithm_key(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RoundRobin => "round_robin",
        Algorithm::LeastConn => "least_conn",
        Algorithm::Hash => "hash",
    }
}

/// An algorithm from the form's menu (round robin for anything else).
pub fn algorithm_of(key: &str) -> Algorithm {
    match key {
        "least_conn" => Algorithm::LeastConn,
        "hash" => Algorithm::Hash,
        _ => Algorithm::RoundRobin,
    }
}

impl ProjectForm {
    /// The form of a new project: the API's defaults shown.
    pub fn blank() -> Self {
        Self {
            replicas: "1".into(),
            probe: "tcp".into(),
            health_path: "/".into(),
            health_status: "200".into(),
            strategy: "rolling".into(),
            promotion: "auto".into(),
            auto_rollback: "on".into(),
            algorithm: "round_robin".into(),
            ..Self::default()
        }
        .with_spec_defaults()
    }

    /// Fills the empty health and update numbers with the master's defaults.
    fn with_spec_defaults(mut self) -> Self {
        use model::project::spec as d;
        let fill = |field: &mut String, value: u32| {
            if field.is_empty() {
                *field = value.to_string();
            }
        };
        fill(&mut self.interval_s, d::DEFAULT_INTERVAL_S);
        fill(&mut self.timeout_s, d::DEFAULT_TIMEOUT_S);
        fill(&mut self.healthy_threshold, d::DEFAULT_HEALTHY_THRESHOLD);
        fill(
            &mut self.unhealthy_threshold,
            d::DEFAULT_UNHEALTHY_THRESHOLD,
        );
        fill(&mut self.start_period_s, 0);
        fill(&mut self.max_surge, 1);
        fill(&mut self.max_unavailable, 0);
        fill(&mut self.canaries, 1);
        fill(&mut self.healthy_period_s, d::DEFAULT_CANARY_PERIOD_S);
        fill(&mut self.deadline_s, d::DEFAULT_DEADLINE_S);
        self
    }

    /// The form showing `input` (a stored specification); registry credentials are
    /// never shown.
    pub fn from_input(input: &ProjectInput) -> Self {
        let mut f = Self {
            name: input.name.clone(),
            image: input.image.clone(),
            replicas: input.replicas.to_string(),
            container_port: input.container_port.to_string(),
            env: input.env.join("\n"),
            cmd: input.cmd.join("\n"),
            volumes: input.volumes.join("\n"),
            memory_mib: unscaled(input.resources.memory_bytes, MIB),
            cpus: unscaled(input.resources.nano_cpus, NANO),
            labels: input
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            probe: "tcp".into(),
            health_path: "/".into(),
            health_status: "200".into(),
            strategy: "rolling".into(),
            promotion: "auto".into(),
            auto_rollback: "on".into(),
            algorithm: "round_robin".into(),
            ..Self::default()
        };
        if let Some(h) = &input.health {
            if h.probe == ProbeType::Http {
                f.probe = "http".into();
            }
            if let Some(path) = &h.path {
                f.health_path = path.clone();
            }
            f.health_status = show(h.expected_status.or(Some(200)));
            f.interval_s = show(h.interval_s);
            f.timeout_s = show(h.timeout_s);
            f.healthy_threshold = show(h.healthy_threshold);
            f.unhealthy_threshold = show(h.unhealthy_threshold);
            f.start_period_s = show(h.start_period_s);
        }
        if let Some(u) = &input.update {
            if u.strategy == StrategyKind::Canary {
                f.strategy = "canary".into();
            }
            f.max_surge = show(u.max_surge);
            f.max_unavailable = show(u.max_unavailable);
            f.canaries = show(u.canaries);
            if u.promotion == Some(Promotion::Manual) {
                f.promotion = "manual".into();
            }
            f.healthy_period_s = show(u.healthy_period_s);
            f.deadline_s = show(u.deadline_s);
            if u.auto_rollback == Some(false) {
                f.auto_rollback.clear();
            }
        }
        if let Some(g) = &input.gateway {
            f.gateway = "on".into();
            f.gateway_node = g.node.to_string();
            f.gateway_port = g.port.to_string();
            f.algorithm = algorithm_key(g.algorithm.unwrap_or_default()).into();
            f.allow = g.allow.join("\n");
            f.deny = g.deny.join("\n");
            f.max_conns_per_ip = show(g.max_conns_per_ip);
            f.conn_rate_per_ip = show(g.conn_rate_per_ip);
        }
        f.with_spec_defaults()
    }

    /// Whether a checkbox field is checked.
    fn checked(value: &str) -> bool {
        !value.is_empty()
    }

    /// Whether the gateway box is checked (for the template).
    pub fn has_gateway(&self) -> bool {
        Self::checked(&self.gateway)
    }

    /// Whether the automatic rollback box is checked (for the template).
    pub fn rolls_back(&self) -> bool {
        Self::checked(&self.auto_rollback)
    }

    /// The registry credentials typed in, if a user was.
    fn registry_auth(&self) -> Option<RegistryAuth> {
        opt_text(&self.registry_user).map(|username| RegistryAuth {
            server: opt_text(&self.registry_server),
            username,
            password: self.registry_password.clone(),
        })
    }

    /// The project this form describes, as `POST /api/v1/projects` takes it.
    pub fn to_input(&self, p: &ProjectsText) -> Result<ProjectInput, Invalid> {
        let http = self.probe == "http";
        let health = HealthInput {
            probe: if http {
                ProbeType::Http
            } else {
                ProbeType::Tcp
            },
            path: http.then(|| self.health_path.trim().to_owned()),
            expected_status: if http {
                optional(&self.health_status, "health.expected_status", p)?
            } else {
                None
            },
            interval_s: optional(&self.interval_s, "health.interval_s", p)?,
            timeout_s: optional(&self.timeout_s, "health.timeout_s", p)?,
            healthy_threshold: optional(&self.healthy_threshold, "health.healthy_threshold", p)?,
            unhealthy_threshold: optional(
                &self.unhealthy_threshold,
                "health.unhealthy_threshold",
                p,
            )?,
            start_period_s: optional(&self.start_period_s, "health.start_period_s", p)?,
        };
        let canary = self.strategy == "canary";
        let update = UpdateInput {
            strategy: if canary {
                StrategyKind::Canary
            } else {
                StrategyKind::Rolling
            },
            max_surge: if canary {
                None
            } else {
                optional(&self.max_surge, "update.max_surge", p)?
            },
            max_unavailable: if canary {
                None
            } else {
                optional(&self.max_unavailable, "update.max_unavailable", p)?
            },
            canaries: if canary {
                optional(&self.canaries, "update.canaries", p)?
            } else {
                None
            },
            promotion: canary.then(|| {
                if self.promotion == "manual" {
                    Promotion::Manual
                } else {
                    Promotion::Auto
                }
            }),
            healthy_period_s: if canary {
                optional(&self.healthy_period_s, "update.healthy_period_s", p)?
            } else {
                None
            },
            deadline_s: optional(&self.deadline_s, "update.deadline_s", p)?,
            auto_rollback: Some(self.rolls_back()),
        };
        let gateway = if self.has_gateway() {
            Some(GatewayInput {
                node: number(&self.gateway_node, "gateway.node", p)?,
                port: number(&self.gateway_port, "gateway.port", p)?,
                algorithm: Some(algorithm_of(&self.algorithm)),
                allow: lines(&self.allow),
                deny: lines(&self.deny),
                max_conns_per_ip: optional(&self.max_conns_per_ip, "gateway.max_conns_per_ip", p)?,
                conn_rate_per_ip: optional(&self.conn_rate_per_ip, "gateway.conn_rate_per_ip", p)?,
            })
        } else {
            None
        };
        Ok(ProjectInput {
            name: self.name.trim().to_owned(),
            image: self.image.trim().to_owned(),
            replicas: number(&self.replicas, "replicas", p)?,
            container_port: number(&self.container_port, "container_port", p)?,
            env: lines(&self.env),
            // Arguments are kept as typed but for the line ends.
            cmd: self
                .cmd
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            volumes: lines(&self.volumes),
            resources: Resources {
                memory_bytes: scaled(&self.memory_mib, MIB, "resources.memory_bytes", p)?,
                nano_cpus: scaled(&self.cpus, NANO, "resources.nano_cpus", p)?,
            },
            labels: label_map(&self.labels, p)?,
            registry_auth: self.registry_auth(),
            health: Some(health),
            update: Some(update),
            gateway,
        })
    }

    /// The change this form makes to a project, as `PUT /api/v1/projects/{name}` takes
    /// it: every field, but registry credentials only when a user was typed in (they are
    /// never shown, so an empty field keeps them).
    pub fn to_patch(&self, p: &ProjectsText) -> Result<ProjectPatch, Invalid> {
        let input = self.to_input(p)?;
        Ok(ProjectPatch {
            image: Some(input.image),
            replicas: Some(input.replicas),
            container_port: Some(input.container_port),
            env: Some(input.env),
            cmd: Some(input.cmd),
            volumes: Some(input.volumes),
            resources: Some(input.resources),
            labels: Some(input.labels),
            registry_auth: input.registry_auth,
            health: input.health,
            update: input.update,
            gateway: Some(input.gateway),
        })
    }

    /// The form as shown again: everything as typed but the password.
    pub fn redisplayed(mut self) -> Self {
        self.registry_password.clear();
        self
    }
}

/// The form input an API field name points at (`health.interval_s` → `interval_s`,
/// `gateway.allow[2]` → `allow`), so the page can mark it.
pub fn input_of(field: &str) -> String {
    let base = field.split('[').next().unwrap_or_default();
    let name = match base {
        "health.path" => "health_path",
        "health.expected_status" => "health_status",
        "health" | "health.type" => "probe",
        "resources.memory_bytes" => "memory_mib",
        "resources.nano_cpus" => "cpus",
        "registry_auth" | "registry_auth.username" => "registry_user",
        "registry_auth.server" => "registry_server",
        "registry_auth.password" => "registry_password",
        "gateway.node" => "gateway_node",
        "gateway.port" => "gateway_port",
        "gateway" => "gateway",
        other => other.rsplit('.').next().unwrap_or(other),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project_pages::text::EN;

    fn filled() -> ProjectForm {
        ProjectForm {
            name: "web".into(),
            image: "busybox:1".into(),
            replicas: "3".into(),
            container_port: "80".into(),
            env: "A=1\r\n\r\nB=2\n".into(),
            cmd: "httpd\n-f\n".into(),
            memory_mib: "256".into(),
            cpus: "0.5".into(),
            labels: "team=core\n".into(),
            gateway: "on".into(),
            gateway_node: "1".into(),
            gateway_port: "18080".into(),
            algorithm: "least_conn".into(),
            allow: "10.0.0.0/8\n".into(),
            probe: "http".into(),
            health_path: "/health".into(),
            ..ProjectForm::blank()
        }
    }

    #[test]
    fn a_filled_form_reads_as_the_api_input_and_back() {
        let input = filled().to_input(&EN).expect("valid");
        assert_eq!(input.env, vec!["A=1", "B=2"]);
        assert_eq!(input.cmd, vec!["httpd", "-f"]);
        assert_eq!(input.resources.memory_bytes, Some(256 * 1024 * 1024));
        assert_eq!(input.resources.nano_cpus, Some(500_000_000));
        let gw = input.gateway.clone().expect("gateway");
        assert_eq!((gw.node, gw.port), (1, 18080));
        assert_eq!(gw.algorithm, Some(Algorithm::LeastConn));
        let health = input.health.clone().expect("health");
        assert_eq!(health.path.as_deref(), Some("/health"));
        assert!(input.validate().is_ok(), "{:?}", input.validate());
        let again = ProjectForm::from_input(&input);
        assert_eq!(again.memory_mib, "256");
        assert_eq!(again.cpus, "0.5");
        assert_eq!(again.to_input(&EN).expect("valid"), input);
    }

    #[test]
    fn a_number_that_does_not_parse_names_its_field() {
        let mut f = filled();
        f.replicas = "three".into();
        assert_eq!(f.to_input(&EN).map_err(|e| e.field), Err("replicas".into()));
        let mut f = filled();
        f.interval_s = "-1".into();
        assert_eq!(
            f.to_input(&EN).map_err(|e| e.field),
            Err("health.interval_s".into())
        );
        let mut f = filled();
        f.cpus = "lots".into();
        assert_eq!(
            f.to_input(&EN).map_err(|e| e.field),
            Err("resources.nano_cpus".into())
        );
        let mut f = filled();
        f.labels = "a=1\nnoequals".into();
        assert_eq!(
            f.to_input(&EN).map_err(|e| e.field),
            Err("labels[1]".into())
        );
    }

    #[test]
    fn an_unchecked_gateway_removes_it_and_credentials_stay_unless_typed() {
        let mut f = filled();
        f.gateway.clear();
        let patch = f.to_patch(&EN).expect("valid");
        assert_eq!(patch.gateway, Some(None));
        assert_eq!(patch.registry_auth, None);
        f.registry_user = "ci".into();
        f.registry_password = "s3cret".into();
        let patch = f.to_patch(&EN).expect("valid");
        assert_eq!(patch.registry_auth.map(|a| a.username), Some("ci".into()));
        assert!(f.redisplayed().registry_password.is_empty());
    }

    #[test]
    fn api_fields_point_at_form_inputs() {
        assert_eq!(input_of("health.interval_s"), "interval_s");
        assert_eq!(input_of("gateway.allow[2]"), "allow");
        assert_eq!(input_of("gateway.port"), "gateway_port");
        assert_eq!(input_of("env[0]"), "env");
        assert_eq!(input_of("resources.memory_bytes"), "memory_mib");
    }
}
