//! The standalone gateway form's fields as the browser sends them, read into the API's
//! [`StandaloneGatewayInput`] or [`StandaloneGatewayPatch`], and filled in from a
//! listed gateway. Rules are the master's; numbers that do not parse are refused here,
//! named as the API names them.

use model::Invalid;
use model::project::gateway::{GatewayListing, StandaloneGatewayInput, StandaloneGatewayPatch};
use serde::Deserialize;

use super::ProjectsText;
use super::form::{algorithm_key, algorithm_of, lines, number, optional};

/// The standalone gateway form, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GatewayForm {
    /// Name (creation only).
    pub name: String,
    /// Node id.
    pub node: String,
    /// Port.
    pub port: String,
    /// `IP:PORT` lines.
    pub upstreams: String,
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

impl GatewayForm {
    /// The form of a new gateway.
    pub fn blank() -> Self {
        Self {
            algorithm: "round_robin".into(),
            ..Self::default()
        }
    }

    /// The form showing `g`.
    pub fn from_listing(g: &GatewayListing) -> Self {
        Self {
            name: g.name.clone(),
            node: g.node.to_string(),
            port: g.port.to_string(),
            upstreams: g.upstreams.join("\n"),
            algorithm: algorithm_key(g.algorithm).into(),
            allow: g.allow.join("\n"),
            deny: g.deny.join("\n"),
            max_conns_per_ip: g
                .max_conns_per_ip
                .map(|v| v.to_string())
                .unwrap_or_default(),
            conn_rate_per_ip: g
                .conn_rate_per_ip
                .map(|v| v.to_string())
                .unwrap_or_default(),
        }
    }

    /// The gateway this form describes, as `POST /api/v1/gateways` takes it.
    pub fn to_input(&self, p: &ProjectsText) -> Result<StandaloneGatewayInput, Invalid> {
        Ok(StandaloneGatewayInput {
            name: self.name.trim().to_owned(),
            node: number(&self.node, "node", p)?,
            port: number(&self.port, "port", p)?,
            upstreams: lines(&self.upstreams),
            algorithm: Some(algorithm_of(&self.algorithm)),
            allow: lines(&self.allow),
            deny: lines(&self.deny),
            max_conns_per_ip: optional(&self.max_conns_per_ip, "max_conns_per_ip", p)?,
            conn_rate_per_ip: optional(&self.conn_rate_per_ip, "conn_rate_per_ip", p)?,
        })
    }

    /// The change this form makes, as `PUT /api/v1/gateways/{name}` takes it: every
    /// field; an empty limit removes it.
    pub fn to_patch(&self, p: &ProjectsText) -> Result<StandaloneGatewayPatch, Invalid> {
        let input = self.to_input(p)?;
        Ok(StandaloneGatewayPatch {
            node: Some(input.node),
            port: Some(input.port),
            upstreams: Some(input.upstreams),
            algorithm: input.algorithm,
            allow: Some(input.allow),
            deny: Some(input.deny),
            max_conns_per_ip: Some(input.max_conns_per_ip),
            conn_rate_per_ip: Some(input.conn_rate_per_ip),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project_pages::text::EN;

    #[test]
    fn the_form_reads_as_the_api_input_and_an_empty_limit_is_removed() {
        let form = GatewayForm {
            name: "edge".into(),
            node: "2".into(),
            port: "8443".into(),
            upstreams: "10.0.0.5:8080\n\n[fd00::5]:8080\n".into(),
            max_conns_per_ip: "10".into(),
            ..GatewayForm::blank()
        };
        let input = form.to_input(&EN).expect("parses");
        assert_eq!(input.upstreams.len(), 2);
        assert!(input.validate().is_ok());
        let patch = form.to_patch(&EN).expect("parses");
        assert_eq!(patch.max_conns_per_ip, Some(Some(10)));
        assert_eq!(patch.conn_rate_per_ip, Some(None));
        let bad = GatewayForm {
            port: "http".into(),
            ..form
        };
        assert_eq!(bad.to_input(&EN).map_err(|e| e.field), Err("port".into()));
    }
}
