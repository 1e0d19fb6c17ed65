//! Standalone gateways (the original's gateway page): a gateway on one slave with a fixed
//! list of upstreams, managed with `POST /api/v1/gateways` and `PUT`/`DELETE
//! /api/v1/gateways/{name}`; and [`GatewayListing`], one gateway as `GET /api/v1/gateways`
//! lists it, project-owned (named `project/<name>`) or standalone.
//!
//! Read in two stages as projects are: [`StandaloneGatewayInput`] as JSON sends it, then
//! [`StandaloneGatewayInput::validate`] into a [`StandaloneGateway`], each error naming the
//! field (`upstreams[1]`, `allow[0]`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::api::GatewayStats;
use super::spec::{Algorithm, Cidr, GatewayInput, project_name};
use crate::Invalid;

/// Most upstreams of one standalone gateway.
pub const MAX_UPSTREAMS: usize = 256;
/// The name prefix of a project's gateway in [`GatewayListing::name`].
pub const PROJECT_GATEWAY_PREFIX: &str = "project/";

/// The name of project `project`'s gateway (`project/<name>`).
pub fn project_gateway_name(project: &str) -> String {
    format!("{PROJECT_GATEWAY_PREFIX}{project}")
}

/// A standalone gateway as `POST /api/v1/gateways` sends it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StandaloneGatewayInput {
    /// Name: lowercase letters, digits and `-`, starting with a letter.
    pub name: String,
    /// The slave it runs on.
    pub node: u64,
    /// The port it listens on (all of that slave's addresses).
    pub port: u16,
    /// Where it sends connections: `IP:PORT` each (`[IPv6]:PORT`).
    pub upstreams: Vec<String>,
    /// Balancing algorithm (round robin when absent).
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// Clients allowed (CIDRs); everyone when empty.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Clients refused (CIDRs), checked before `allow`.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Most open connections per client address.
    #[serde(default)]
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    #[serde(default)]
    pub conn_rate_per_ip: Option<u32>,
}

/// `PUT /api/v1/gateways/{name}`: any field but the name; absent fields keep their value,
/// `null` removes a per-IP limit.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StandaloneGatewayPatch {
    /// New slave.
    pub node: Option<u64>,
    /// New port.
    pub port: Option<u16>,
    /// New upstreams.
    pub upstreams: Option<Vec<String>>,
    /// New algorithm.
    pub algorithm: Option<Algorithm>,
    /// New allow list.
    pub allow: Option<Vec<String>>,
    /// New deny list.
    pub deny: Option<Vec<String>>,
    /// New limit; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub max_conns_per_ip: Option<Option<u32>>,
    /// New limit; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub conn_rate_per_ip: Option<Option<u32>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A validated standalone gateway, as the master stores it and pushes it to its slave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StandaloneGateway {
    /// Name.
    pub name: String,
    /// The slave it runs on.
    pub node: u64,
    /// Its port.
    pub port: u16,
    /// Its upstreams (at least one).
    pub upstreams: Vec<SocketAddr>,
    /// Balancing algorithm.
    pub algorithm: Algorithm,
    /// Clients allowed; everyone when empty.
    pub allow: Vec<Cidr>,
    /// Clients refused.
    pub deny: Vec<Cidr>,
    /// Most open connections per client address.
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    pub conn_rate_per_ip: Option<u32>,
}

impl StandaloneGatewayInput {
    /// The gateway with its defaults, or the first field at fault.
    pub fn validate(&self) -> Result<StandaloneGateway, Invalid> {
        project_name(&self.name)?;
        // The node, port, lists and limits follow a project gateway's rules; the fields
        // are named here without the `gateway.` prefix.
        let common = GatewayInput {
            node: self.node,
            port: self.port,
            algorithm: self.algorithm,
            allow: self.allow.clone(),
            deny: self.deny.clone(),
            max_conns_per_ip: self.max_conns_per_ip,
            conn_rate_per_ip: self.conn_rate_per_ip,
        }
        .validate()
        .map_err(|e| {
            let field = e.field.strip_prefix("gateway.").unwrap_or(&e.field);
            Invalid::new(field, e.message)
        })?;
        Ok(StandaloneGateway {
            name: self.name.clone(),
            node: common.node,
            port: common.port,
            upstreams: upstreams(&self.upstreams)?,
            algorithm: common.algorithm,
            allow: common.allow,
            deny: common.deny,
            max_conns_per_ip: common.max_conns_per_ip,
            conn_rate_per_ip: common.conn_rate_per_ip,
        })
    }
}

/// The upstream list: 1 to [`MAX_UPSTREAMS`] distinct `IP:PORT` with a port.
fn upstreams(list: &[String]) -> Result<Vec<SocketAddr>, Invalid> {
    if list.is_empty() {
        return Err(Invalid::new("upstreams", "at least one IP:PORT"));
    }
    if list.len() > MAX_UPSTREAMS {
        return Err(Invalid::new(
            "upstreams",
            format!("at most {MAX_UPSTREAMS} entries"),
        ));
    }
    let mut out: Vec<SocketAddr> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let field = format!("upstreams[{i}]");
        let addr: SocketAddr = s
            .trim()
            .parse()
            .map_err(|_| Invalid::new(&field, "IP:PORT, e.g. 10.0.0.5:8080 or [fd00::5]:8080"))?;
        if addr.port() == 0 {
            return Err(Invalid::new(&field, "a port from 1 to 65535"));
        }
        if out.contains(&addr) {
            return Err(Invalid::new(&field, format!("{addr} is listed twice")));
        }
        out.push(addr);
    }
    Ok(out)
}

impl StandaloneGateway {
    /// The input that validates to this gateway.
    pub fn to_input(&self) -> StandaloneGatewayInput {
        StandaloneGatewayInput {
            name: self.name.clone(),
            node: self.node,
            port: self.port,
            upstreams: self.upstreams.iter().map(ToString::to_string).collect(),
            algorithm: Some(self.algorithm),
            allow: self.allow.iter().map(ToString::to_string).collect(),
            deny: self.deny.iter().map(ToString::to_string).collect(),
            max_conns_per_ip: self.max_conns_per_ip,
            conn_rate_per_ip: self.conn_rate_per_ip,
        }
    }

    /// This gateway with `patch` applied, validated again.
    pub fn patched(&self, patch: &StandaloneGatewayPatch) -> Result<StandaloneGateway, Invalid> {
        let mut input = self.to_input();
        let p = patch.clone();
        input.node = p.node.unwrap_or(input.node);
        input.port = p.port.unwrap_or(input.port);
        input.upstreams = p.upstreams.unwrap_or(input.upstreams);
        input.algorithm = p.algorithm.or(input.algorithm);
        input.allow = p.allow.unwrap_or(input.allow);
        input.deny = p.deny.unwrap_or(input.deny);
        input.max_conns_per_ip = p.max_conns_per_ip.unwrap_or(input.max_conns_per_ip);
        input.conn_rate_per_ip = p.conn_rate_per_ip.unwrap_or(input.conn_rate_per_ip);
        input.validate()
    }
}

/// Whose a gateway is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// A project's: its upstreams are the project's healthy replicas.
    Project,
    /// Standalone: its upstreams are fixed.
    Standalone,
}

/// One gateway as `GET /api/v1/gateways` lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayListing {
    /// `project/<project>` for a project's gateway, else the standalone gateway's name.
    pub name: String,
    /// Whose it is.
    pub kind: GatewayKind,
    /// The project it fronts (project gateways only).
    pub project: Option<String>,
    /// The slave it runs on.
    pub node: u64,
    /// Its port.
    pub port: u16,
    /// Balancing algorithm.
    pub algorithm: Algorithm,
    /// Where it sends connections (`address:port`): a project's healthy replicas, or a
    /// standalone gateway's configured list.
    pub upstreams: Vec<String>,
    /// Clients allowed; everyone when empty.
    pub allow: Vec<String>,
    /// Clients refused.
    pub deny: Vec<String>,
    /// Most open connections per client address.
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    pub conn_rate_per_ip: Option<u32>,
    /// Per-upstream health and counters as its slave last reported them; `null` before
    /// any report.
    pub stats: Option<GatewayStats>,
}

impl GatewayListing {
    /// A standalone gateway as listed, with its slave's last report.
    pub fn standalone(g: &StandaloneGateway, stats: Option<GatewayStats>) -> Self {
        Self {
            name: g.name.clone(),
            kind: GatewayKind::Standalone,
            project: None,
            node: g.node,
            port: g.port,
            algorithm: g.algorithm,
            upstreams: g.upstreams.iter().map(ToString::to_string).collect(),
            allow: g.allow.iter().map(ToString::to_string).collect(),
            deny: g.deny.iter().map(ToString::to_string).collect(),
            max_conns_per_ip: g.max_conns_per_ip,
            conn_rate_per_ip: g.conn_rate_per_ip,
            stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> StandaloneGatewayInput {
        StandaloneGatewayInput {
            name: "edge".into(),
            node: 2,
            port: 8443,
            upstreams: vec!["10.0.0.5:8080".into(), "[fd00::5]:8080".into()],
            ..StandaloneGatewayInput::default()
        }
    }

    fn field_of(input: &StandaloneGatewayInput) -> String {
        input
            .validate()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.field)
    }

    #[test]
    fn a_complete_gateway_validates_with_defaults() {
        let g = input().validate().expect("valid");
        assert_eq!(g.algorithm, Algorithm::RoundRobin);
        assert_eq!(g.upstreams.len(), 2);
        assert_eq!(g.to_input().validate(), Ok(g));
    }

    #[test]
    fn every_error_names_its_field() {
        type Change = Box<dyn Fn(&mut StandaloneGatewayInput)>;
        let cases: Vec<(&str, Change)> = vec![
            ("name", Box::new(|i| i.name = "Edge!".into())),
            ("name", Box::new(|i| i.name = "project/web".into())),
            ("node", Box::new(|i| i.node = 0)),
            ("port", Box::new(|i| i.port = 0)),
            ("upstreams", Box::new(|i| i.upstreams.clear())),
            (
                "upstreams",
                Box::new(|i| i.upstreams = vec!["10.0.0.1:1".into(); 257]),
            ),
            (
                "upstreams[1]",
                Box::new(|i| i.upstreams[1] = "host:80".into()),
            ),
            (
                "upstreams[0]",
                Box::new(|i| i.upstreams[0] = "10.0.0.5".into()),
            ),
            (
                "upstreams[0]",
                Box::new(|i| i.upstreams[0] = "10.0.0.5:0".into()),
            ),
            (
                "upstreams[1]",
                Box::new(|i| i.upstreams[1] = "10.0.0.5:8080".into()),
            ),
            (
                "allow[0]",
                Box::new(|i| i.allow = vec!["10.0.0.0/33".into()]),
            ),
            (
                "deny[1]",
                Box::new(|i| i.deny = vec!["::1".into(), "x".into()]),
            ),
            (
                "max_conns_per_ip",
                Box::new(|i| i.max_conns_per_ip = Some(0)),
            ),
            (
                "conn_rate_per_ip",
                Box::new(|i| i.conn_rate_per_ip = Some(0)),
            ),
        ];
        for (field, change) in cases {
            let mut i = input();
            change(&mut i);
            assert_eq!(field_of(&i), field, "{i:?}");
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_removes_a_limit() {
        let mut i = input();
        i.max_conns_per_ip = Some(10);
        i.conn_rate_per_ip = Some(5);
        let g = i.validate().expect("valid");
        let patch: StandaloneGatewayPatch =
            serde_json::from_str(r#"{"port": 9000, "max_conns_per_ip": null}"#).expect("patch");
        let p = g.patched(&patch).expect("valid patch");
        assert_eq!((p.port, p.node), (9000, 2));
        assert_eq!(p.max_conns_per_ip, None);
        assert_eq!(p.conn_rate_per_ip, Some(5));
        assert_eq!(p.upstreams, g.upstreams);
        let bad: StandaloneGatewayPatch =
            serde_json::from_str(r#"{"upstreams": ["nowhere"]}"#).expect("patch");
        assert_eq!(
            g.patched(&bad).map_err(|e| e.field),
            Err("upstreams[0]".into())
        );
        assert!(serde_json::from_str::<StandaloneGatewayPatch>(r#"{"name": "x"}"#).is_err());
    }
}
