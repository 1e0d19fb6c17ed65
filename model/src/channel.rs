//! Notification channels: where the alert evaluator's notifications
//! ([`crate::alert::Notification`]) are delivered, and the record of each delivery.
//!
//! A channel is named (1..=64 of `[A-Za-z0-9_.-]`) and has a type: `webhook` (signed JSON),
//! `email` (SMTP), `dingtalk`, `wecom` or `feishu` (chat robots). [`ChannelInput`] is what
//! `POST /api/v1/alerts/channels` and `PUT .../{name}` take; [`ChannelInput::validate`]
//! turns it into a [`ChannelConfig`] (each refusal an [`Invalid`] naming the field). What the
//! API answers is a [`ChannelView`]: secrets, passwords and webhook addresses (which carry
//! the robots' access tokens) are never shown again, only whether they are set.
//!
//! Every delivery, test or real, is a [`DeliveryRecord`] with its outcome.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::alert::NotificationStatus;
use crate::ops::{BoxFuture, Caller};

/// Most channels a master keeps.
pub const MAX_CHANNELS: usize = 100;
/// Longest channel name.
pub const MAX_NAME: usize = 64;
/// Longest URL.
pub const MAX_URL: usize = 2048;
/// Longest secret, password, user name, host or address.
pub const MAX_FIELD: usize = 512;
/// Most recipients of an email channel.
pub const MAX_RECIPIENTS: usize = 32;

/// The kind of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChannelType {
    /// A JSON POST signed with `X-Commander-Signature`.
    Webhook,
    /// SMTP email.
    Email,
    /// A DingTalk group robot (signed).
    Dingtalk,
    /// A WeCom (WeChat Work) group robot.
    Wecom,
    /// A Feishu (Lark) bot (signed when a secret is set).
    Feishu,
}

impl ChannelType {
    /// Every type, in the order the pages list them.
    pub const ALL: [ChannelType; 5] = [
        Self::Webhook,
        Self::Email,
        Self::Dingtalk,
        Self::Wecom,
        Self::Feishu,
    ];

    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Email => "email",
            Self::Dingtalk => "dingtalk",
            Self::Wecom => "wecom",
            Self::Feishu => "feishu",
        }
    }

    /// The type named `name` (the API's name).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How an email channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, required (default port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, default port 465).
    Tls,
    /// No encryption: only to a loopback host (a local relay, tests).
    None,
}

impl SmtpSecurity {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starttls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }

    /// The port used when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// The SMTP settings of an email channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailConfig {
    /// SMTP server host name or address.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// STARTTLS, TLS or none.
    pub security: SmtpSecurity,
    /// Login; empty: no authentication.
    pub username: String,
    /// Password (stored, never shown).
    pub password: String,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// A channel's validated settings, by type. Stored as JSON with the secrets (they are
/// needed to sign and log in); never answered by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelConfig {
    /// A signed JSON POST.
    Webhook {
        /// Where to POST.
        url: String,
        /// HMAC-SHA256 key of `X-Commander-Signature`.
        secret: String,
    },
    /// SMTP email.
    Email(EmailConfig),
    /// A DingTalk robot.
    Dingtalk {
        /// The robot's webhook (`https://oapi.dingtalk.com/robot/send?access_token=...`).
        url: String,
        /// The robot's signing secret (`SEC...`).
        secret: String,
    },
    /// A WeCom robot.
    Wecom {
        /// The robot's webhook (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`).
        url: String,
    },
    /// A Feishu bot.
    Feishu {
        /// The bot's webhook (`https://open.feishu.cn/open-apis/bot/v2/hook/...`).
        url: String,
        /// The signing secret; empty: unsigned.
        secret: String,
    },
}

impl ChannelConfig {
    /// Its type.
    pub fn kind(&self) -> ChannelType {
        match self {
            Self::Webhook { .. } => ChannelType::Webhook,
            Self::Email(_) => ChannelType::Email,
            Self::Dingtalk { .. } => ChannelType::Dingtalk,
            Self::Wecom { .. } => ChannelType::Wecom,
            Self::Feishu { .. } => ChannelType::Feishu,
        }
    }

    /// The webhook URL of an HTTP channel.
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::Webhook { url, .. }
            | Self::Dingtalk { url, .. }
            | Self::Wecom { url }
            | Self::Feishu { url, .. } => Some(url),
            Self::Email(_) => None,
        }
    }

    /// The signing secret, empty when none.
    pub fn secret(&self) -> &str {
        match self {
            Self::Webhook { secret, .. }
            | Self::Dingtalk { secret, .. }
            | Self::Feishu { secret, .. } => secret,
            Self::Wecom { .. } | Self::Email(_) => "",
        }
    }
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Its name.
    pub name: String,
    /// Its settings.
    pub config: ChannelConfig,
    /// When it was created, Unix ms.
    pub created_at_ms: u64,
    /// When it was last changed, Unix ms.
    pub updated_at_ms: u64,
}

/// What `POST /api/v1/alerts/channels` and `PUT /api/v1/alerts/channels/{name}` take: the
/// name, the `type` and that type's fields. On a PUT, an absent `url`, `secret` or
/// `password` keeps the stored one (when the type is unchanged) and `name` may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelInput {
    /// 1..=64 of `[A-Za-z0-9_.-]`.
    #[serde(default)]
    pub name: String,
    /// `webhook`, `email`, `dingtalk`, `wecom` or `feishu`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Webhook URL (`http` or `https`) of `webhook`, `dingtalk`, `wecom`, `feishu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Signing secret: required by `webhook` and `dingtalk`, optional for `feishu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `email`: SMTP host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `email`: SMTP port (default by `security`: 587, 465, 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `email`: `starttls` (default), `tls`, or `none` (loopback hosts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    /// `email`: SMTP login (with `password`), absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `email`: SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `email`: sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `email`: recipients (1..=32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
}

/// Checks a channel name: 1..=64 of `[A-Za-z0-9_.-]`, not `.` or `..` (it is a path
/// segment of the pages and the API).
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    let ok = !matches!(name, "" | "." | "..")
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "name",
            "the name must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-', \
             and not . or ..",
        ))
    }
}

/// The parts of an `http`/`https` URL a channel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `true` for `https`.
    pub https: bool,
    /// Host name or address (an IPv6 address without brackets).
    pub host: String,
    /// Port (80 or 443 when absent).
    pub port: u16,
    /// Path and query, `/` at least.
    pub path_and_query: String,
}

impl UrlParts {
    /// `scheme://host[:port]`, what the API shows of a URL.
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.port)
        }
    }
}

/// Parses an `http`/`https` URL with a host: no spaces or control characters, at most
/// [`MAX_URL`] bytes, no user info, no fragment. Errors name `field`.
pub fn parse_url(field: &str, url: &str) -> Result<UrlParts, Invalid> {
    let bad = |why: &str| Invalid::new(field, why.to_owned());
    if url.is_empty() {
        return Err(bad("a URL is required"));
    }
    if url.len() > MAX_URL {
        return Err(bad("the URL is longer than 2048 bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("the URL must not contain spaces or control characters"));
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("the URL must start with http:// or https://"));
    };
    if rest.contains('#') {
        return Err(bad("the URL must not have a fragment (#)"));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("the URL must not carry a user name or password"));
    }
    let (host, port) =
        split_host_port(authority).ok_or_else(|| bad("the URL's port is invalid"))?;
    if host.is_empty() {
        return Err(bad("the URL needs a host"));
    }
    let port = port.unwrap_or(if https { 443 } else { 80 });
    let path_and_query = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Ok(UrlParts {
        https,
        host: host.to_owned(),
        port,
        path_and_query,
    })
}

/// `host[:port]` or `[v6][:port]`; `None` when the port is not a number in 1..=65535.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        host.parse::<std::net::Ipv6Addr>().ok()?;
        (host, rest[close + 1..].strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return None,
        },
    };
    Some((host, port))
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A plausible mailbox `local@domain`: at most 254 bytes, one `@`, no spaces, control
/// characters, angle brackets, commas or quotes.
pub fn validate_address(field: &str, address: &str) -> Result<(), Invalid> {
    let clean = address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c));
    let ok = clean
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && (domain.contains('.') || domain == "localhost")
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("{address:?} is not an email address (name@example.com)"),
        ))
    }
}

fn bounded(field: &str, value: &str) -> Result<(), Invalid> {
    if value.len() > MAX_FIELD {
        return Err(Invalid::new(field, "longer than 512 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// A required field: present, non-empty and bounded.
fn required(field: &str, value: Option<&str>, kept: Option<&str>) -> Result<String, Invalid> {
    let value = value.or(kept).unwrap_or_default();
    if value.is_empty() {
        return Err(Invalid::new(field, format!("{field} is required")));
    }
    bounded(field, value)?;
    Ok(value.to_owned())
}

/// Fields a type does not take, for the error naming the first one given.
fn refuse_foreign(input: &ChannelInput, kind: ChannelType) -> Result<(), Invalid> {
    let http = !matches!(kind, ChannelType::Email);
    let given = [
        ("url", input.url.is_some(), http),
        (
            "secret",
            input.secret.is_some(),
            matches!(
                kind,
                ChannelType::Webhook | ChannelType::Dingtalk | ChannelType::Feishu
            ),
        ),
        ("host", input.host.is_some(), !http),
        ("port", input.port.is_some(), !http),
        ("security", input.security.is_some(), !http),
        ("username", input.username.is_some(), !http),
        ("password", input.password.is_some(), !http),
        ("from", input.from.is_some(), !http),
        ("to", input.to.is_some(), !http),
    ];
    match given
        .iter()
        .find(|(_, present, allowed)| *present && !*allowed)
    {
        Some((field, _, _)) => Err(Invalid::new(
            field,
            format!("a {} channel has no {field}", kind.as_str()),
        )),
        None => Ok(()),
    }
}

impl ChannelInput {
    /// The validated settings. `current` (on a PUT) provides the secret, password and URL
    /// left out, when its type is the same.
    pub fn validate(&self, current: Option<&ChannelConfig>) -> Result<ChannelConfig, Invalid> {
        validate_name(&self.name)?;
        let kind = ChannelType::parse(&self.kind).ok_or_else(|| {
            Invalid::new(
                "type",
                "the type must be one of webhook, email, dingtalk, wecom, feishu",
            )
        })?;
        refuse_foreign(self, kind)?;
        let current = current.filter(|c| c.kind() == kind);
        let url = || -> Result<String, Invalid> {
            let url = required(
                "url",
                self.url.as_deref(),
                current.and_then(ChannelConfig::url),
            )?;
            parse_url("url", &url)?;
            Ok(url)
        };
        let kept_secret = current.map(ChannelConfig::secret).filter(|s| !s.is_empty());
        Ok(match kind {
            ChannelType::Webhook => ChannelConfig::Webhook {
                url: url()?,
                secret: required("secret", self.secret.as_deref(), kept_secret)?,
            },
            ChannelType::Dingtalk => ChannelConfig::Dingtalk {
                url: url()?,
                secret: required("secret", self.secret.as_deref(), kept_secret)?,
            },
            ChannelType::Wecom => ChannelConfig::Wecom { url: url()? },
            ChannelType::Feishu => {
                let secret = self
                    .secret
                    .clone()
                    .or_else(|| kept_secret.map(str::to_owned))
                    .unwrap_or_default();
                bounded("secret", &secret)?;
                ChannelConfig::Feishu {
                    url: url()?,
                    secret,
                }
            }
            ChannelType::Email => ChannelConfig::Email(self.email(current)?),
        })
    }

    fn email(&self, current: Option<&ChannelConfig>) -> Result<EmailConfig, Invalid> {
        let kept = match current {
            Some(ChannelConfig::Email(e)) => Some(e),
            _ => None,
        };
        let host = required("host", self.host.as_deref(), None)?;
        if host.contains(|c: char| c.is_whitespace() || "/@?#".contains(c)) {
            return Err(Invalid::new("host", "a host name or address, no URL"));
        }
        let security = match self.security.as_deref() {
            None => SmtpSecurity::Starttls,
            Some("starttls") => SmtpSecurity::Starttls,
            Some("tls") => SmtpSecurity::Tls,
            Some("none") => SmtpSecurity::None,
            Some(_) => {
                return Err(Invalid::new(
                    "security",
                    "security must be starttls, tls or none",
                ));
            }
        };
        if security == SmtpSecurity::None && !is_loopback_host(&host) {
            return Err(Invalid::new(
                "security",
                "security none is only allowed to a loopback host (localhost, 127.0.0.1, ::1)",
            ));
        }
        let port = match self.port {
            Some(0) => return Err(Invalid::new("port", "the port must be in 1..=65535")),
            Some(p) => p,
            None => security.default_port(),
        };
        let username = self.username.clone().unwrap_or_default();
        bounded("username", &username)?;
        let password = match (&self.password, kept) {
            (Some(p), _) => p.clone(),
            (None, Some(k)) if k.username == username => k.password.clone(),
            (None, _) => String::new(),
        };
        bounded("password", &password)?;
        if username.is_empty() != password.is_empty() {
            let field = if username.is_empty() {
                "username"
            } else {
                "password"
            };
            return Err(Invalid::new(
                field,
                "username and password go together: give both or neither",
            ));
        }
        let from = required("from", self.from.as_deref(), None)?;
        validate_address("from", &from)?;
        let to = self.to.clone().unwrap_or_default();
        if to.is_empty() || to.len() > MAX_RECIPIENTS {
            return Err(Invalid::new("to", "give 1 to 32 recipients"));
        }
        for (i, address) in to.iter().enumerate() {
            validate_address(&format!("to[{i}]"), address)?;
        }
        Ok(EmailConfig {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        })
    }
}

/// A channel as the API answers it: no secret, password or full webhook address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// HTTP channels: `scheme://host[:port]` of the webhook (its path and query carry the
    /// robot's token, so they are not shown).
    pub url_origin: Option<String>,
    /// HTTP channels: a URL is stored.
    pub url_set: bool,
    /// A signing secret is stored.
    pub secret_set: bool,
    /// `email`: SMTP host.
    pub host: Option<String>,
    /// `email`: SMTP port.
    pub port: Option<u16>,
    /// `email`: `starttls`, `tls` or `none`.
    pub security: Option<SmtpSecurity>,
    /// `email`: SMTP login, empty for none.
    pub username: Option<String>,
    /// `email`: a password is stored.
    pub password_set: bool,
    /// `email`: sender.
    pub from: Option<String>,
    /// `email`: recipients.
    pub to: Option<Vec<String>>,
    /// Created, Unix ms.
    pub created_at_ms: u64,
    /// Last changed, Unix ms.
    pub updated_at_ms: u64,
}

impl ChannelView {
    /// What may be shown of `record`.
    pub fn of(record: &ChannelRecord) -> Self {
        let c = &record.config;
        let email = match c {
            ChannelConfig::Email(e) => Some(e),
            _ => None,
        };
        Self {
            name: record.name.clone(),
            kind: c.kind(),
            url_origin: c
                .url()
                .and_then(|u| parse_url("url", u).ok())
                .map(|p| p.origin()),
            url_set: c.url().is_some_and(|u| !u.is_empty()),
            secret_set: !c.secret().is_empty(),
            host: email.map(|e| e.host.clone()),
            port: email.map(|e| e.port),
            security: email.map(|e| e.security),
            username: email.map(|e| e.username.clone()),
            password_set: email.is_some_and(|e| !e.password.is_empty()),
            from: email.map(|e| e.from.clone()),
            to: email.map(|e| e.to.clone()),
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
        }
    }
}

/// How a delivery ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryOutcome {
    /// Queued or between retries.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Every attempt failed, the channel is unknown, or the queue was full.
    Failed,
}

/// One notification to one channel, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRecord {
    /// Sequence number (1, 2, ...; restarts with the master).
    pub id: u64,
    /// The channel's name.
    pub channel: String,
    /// Its type; `None` when no such channel exists.
    #[serde(rename = "type")]
    pub kind: Option<ChannelType>,
    /// The alert's id (0 for a test).
    pub alert_id: u64,
    /// The rule's name.
    pub rule: String,
    /// `firing` or `resolved`.
    pub status: NotificationStatus,
    /// A test from `POST /api/v1/alerts/channels/{name}/test`.
    pub test: bool,
    /// Pending, delivered or failed.
    pub outcome: DeliveryOutcome,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed, empty when none did.
    pub last_error: String,
    /// When it was queued, Unix ms.
    pub queued_at_ms: u64,
    /// When it ended, Unix ms.
    pub finished_at_ms: Option<u64>,
}

/// `GET /api/v1/alerts/deliveries?channel=&limit=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only this channel's deliveries.
    #[serde(default)]
    pub channel: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Most deliveries one query answers.
pub const MAX_DELIVERY_QUERY: usize = 1000;

impl DeliveryQuery {
    /// The limit, checked.
    pub fn limit(&self) -> Result<usize, Invalid> {
        match self.limit {
            None => Ok(100),
            Some(n) if n <= MAX_DELIVERY_QUERY => Ok(n),
            Some(_) => Err(Invalid::new("limit", "limit must be in 0..=1000")),
        }
    }
}

/// Why a channel request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelFailure {
    /// An input breaks a rule (400, naming the field).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No such channel (404).
    #[error("{0}")]
    NotFound(String),
    /// The name is taken, or the most channels exist (409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed (500).
    #[error("store: {0}")]
    Store(String),
}

impl ChannelFailure {
    /// The HTTP status the API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Store(_) => 500,
        }
    }
}

/// The notification channels as the console sees them. Changes are audited as
/// `alert_channel.{create,update,delete,test}` on `channel/<name>`.
pub trait Channels: Send + Sync + 'static {
    /// Every channel, by name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, ChannelFailure>>;

    /// One channel.
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>>;

    /// Creates a channel.
    fn create<'a>(
        &'a self,
        caller: &'a Caller,
        input: ChannelInput,
    ) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>>;

    /// Replaces a channel (absent secrets kept).
    fn update<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        input: ChannelInput,
    ) -> BoxFuture<'a, Result<ChannelView, ChannelFailure>>;

    /// Removes a channel.
    fn delete<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ChannelFailure>>;

    /// Sends a test notification now (one attempt) and answers its delivery.
    fn test<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
    ) -> BoxFuture<'a, Result<DeliveryRecord, ChannelFailure>>;

    /// Recent deliveries, newest first.
    fn deliveries(
        &self,
        query: DeliveryQuery,
    ) -> BoxFuture<'_, Result<Vec<DeliveryRecord>, ChannelFailure>>;
}

/// A [`Channels`] without channels: an empty list, every name
/// unknown, every creation refused. For consoles and tests without notifications.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoChannels;

fn no_channel<T: Send + 'static>(
    name: &str,
) -> crate::ops::BoxFuture<'static, Result<T, ChannelFailure>> {
    let failure = ChannelFailure::NotFound(format!("no channel named {name:?}"));
    Box::pin(async move { Err(failure) })
}

impl Channels for NoChannels {
    fn list(&self) -> crate::ops::BoxFuture<'_, Result<Vec<ChannelView>, ChannelFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn get<'a>(
        &'a self,
        name: &'a str,
    ) -> crate::ops::BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        no_channel(name)
    }

    fn create<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        input: ChannelInput,
    ) -> crate::ops::BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        let failure = ChannelFailure::Store(format!("cannot keep {:?}", input.name));
        Box::pin(async move { Err(failure) })
    }

    fn update<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        name: &'a str,
        _input: ChannelInput,
    ) -> crate::ops::BoxFuture<'a, Result<ChannelView, ChannelFailure>> {
        no_channel(name)
    }

    fn delete<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        name: &'a str,
    ) -> crate::ops::BoxFuture<'a, Result<(), ChannelFailure>> {
        no_channel(name)
    }

    fn test<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        name: &'a str,
    ) -> crate::ops::BoxFuture<'a, Result<DeliveryRecord, ChannelFailure>> {
        no_channel(name)
    }

    fn deliveries(
        &self,
        _query: DeliveryQuery,
    ) -> crate::ops::BoxFuture<'_, Result<Vec<DeliveryRecord>, ChannelFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str, secret: Option<&str>) -> ChannelInput {
        ChannelInput {
            name: "ops".into(),
            kind: "webhook".into(),
            url: Some(url.into()),
            secret: secret.map(Into::into),
            ..ChannelInput::default()
        }
    }

    fn field(r: Result<ChannelConfig, Invalid>) -> String {
        r.expect_err("refused").field
    }

    #[test]
    fn names_are_checked_exactly() {
        assert!(validate_name("a").is_ok());
        assert!(validate_name("Ops_team.1-x").is_ok());
        assert!(validate_name(&"a".repeat(64)).is_ok());
        assert!(validate_name(&"a".repeat(65)).is_err());
        for bad in ["", "a b", "a/b", "é", "a:b", ".", ".."] {
            assert_eq!(validate_name(bad).unwrap_err().field, "name", "{bad}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let p = parse_url("url", "https://oapi.dingtalk.com/robot/send?access_token=x").unwrap();
        assert!(p.https);
        assert_eq!(p.host, "oapi.dingtalk.com");
        assert_eq!(p.port, 443);
        assert_eq!(p.path_and_query, "/robot/send?access_token=x");
        assert_eq!(p.origin(), "https://oapi.dingtalk.com");
        let p = parse_url("url", "http://[::1]:8080?a=1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
        assert_eq!(p.path_and_query, "/?a=1");
        assert_eq!(p.origin(), "http://[::1]:8080");
        for bad in [
            "",
            "ftp://x",
            "http://",
            "http://:80/",
            "http://h:0/",
            "http://h:99999/",
            "http://u:p@h/",
            "http://h/a b",
            "http://h/#f",
            "https://[zz]/",
        ] {
            assert!(parse_url("url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_type_needs_its_fields() {
        assert!(webhook("https://h/x", Some("s")).validate(None).is_ok());
        assert_eq!(field(webhook("https://h/x", None).validate(None)), "secret");
        assert_eq!(field(webhook("nope", Some("s")).validate(None)), "url");
        let mut wrong = webhook("https://h/x", Some("s"));
        wrong.kind = "sms".into();
        assert_eq!(field(wrong.validate(None)), "type");
        let mut foreign = webhook("https://h/x", Some("s"));
        foreign.host = Some("smtp".into());
        assert_eq!(field(foreign.validate(None)), "host");
        let wecom = ChannelInput {
            name: "w".into(),
            kind: "wecom".into(),
            url: Some("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into()),
            secret: Some("s".into()),
            ..ChannelInput::default()
        };
        assert_eq!(field(wecom.validate(None)), "secret");
        let feishu = ChannelInput {
            name: "f".into(),
            kind: "feishu".into(),
            url: Some("https://open.feishu.cn/open-apis/bot/v2/hook/t".into()),
            ..ChannelInput::default()
        };
        assert_eq!(
            feishu.validate(None).unwrap().secret(),
            "",
            "feishu signs only with a secret"
        );
    }

    fn email() -> ChannelInput {
        ChannelInput {
            name: "mail".into(),
            kind: "email".into(),
            host: Some("smtp.example.com".into()),
            username: Some("bot".into()),
            password: Some("pw".into()),
            from: Some("bot@example.com".into()),
            to: Some(vec!["ops@example.com".into()]),
            ..ChannelInput::default()
        }
    }

    #[test]
    fn email_settings_are_checked() {
        let ChannelConfig::Email(e) = email().validate(None).unwrap() else {
            panic!("email")
        };
        assert_eq!((e.port, e.security), (587, SmtpSecurity::Starttls));
        let mut i = email();
        i.security = Some("none".into());
        assert_eq!(field(i.validate(None)), "security");
        i.host = Some("127.0.0.1".into());
        assert!(i.validate(None).is_ok(), "plain SMTP to loopback");
        let mut i = email();
        i.to = Some(vec!["ops@example.com".into(), "not an address".into()]);
        assert_eq!(field(i.validate(None)), "to[1]");
        let mut i = email();
        i.to = Some(Vec::new());
        assert_eq!(field(i.validate(None)), "to");
        let mut i = email();
        i.password = None;
        assert_eq!(field(i.validate(None)), "password");
        let mut i = email();
        i.from = Some("x".into());
        assert_eq!(field(i.validate(None)), "from");
        let mut i = email();
        i.url = Some("https://h/".into());
        assert_eq!(field(i.validate(None)), "url");
    }

    #[test]
    fn a_put_keeps_secrets_of_the_same_type_only() {
        let stored = webhook("https://h/x", Some("old")).validate(None).unwrap();
        let kept = ChannelInput {
            name: "ops".into(),
            kind: "webhook".into(),
            ..ChannelInput::default()
        }
        .validate(Some(&stored))
        .unwrap();
        assert_eq!(kept, stored);
        let replaced = webhook("https://h/y", Some("new"))
            .validate(Some(&stored))
            .unwrap();
        assert_eq!(replaced.secret(), "new");
        let other = ChannelInput {
            name: "ops".into(),
            kind: "dingtalk".into(),
            ..ChannelInput::default()
        };
        assert_eq!(field(other.validate(Some(&stored))), "url");
        let stored = email().validate(None).unwrap();
        let mut i = email();
        i.password = None;
        let ChannelConfig::Email(e) = i.validate(Some(&stored)).unwrap() else {
            panic!("email")
        };
        assert_eq!(e.password, "pw");
    }

    #[test]
    fn the_view_shows_no_secret() {
        let record = ChannelRecord {
            name: "d".into(),
            config: ChannelConfig::Dingtalk {
                url: "https://oapi.dingtalk.com/robot/send?access_token=TOKEN".into(),
                secret: "SECsecret".into(),
            },
            created_at_ms: 1,
            updated_at_ms: 2,
        };
        let json = serde_json::to_string(&ChannelView::of(&record)).unwrap();
        assert!(
            !json.contains("TOKEN") && !json.contains("SECsecret"),
            "{json}"
        );
        assert!(json.contains("\"secret_set\":true"), "{json}");
        assert!(
            json.contains("\"url_origin\":\"https://oapi.dingtalk.com\""),
            "{json}"
        );
        assert!(json.contains("\"type\":\"dingtalk\""), "{json}");
        let mail = ChannelRecord {
            name: "m".into(),
            config: email().validate(None).unwrap(),
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        let json = serde_json::to_string(&ChannelView::of(&mail)).unwrap();
        assert!(json.contains("\"password_set\":true"), "{json}");
        assert!(!json.contains("\"pw\""), "{json}");
    }
}
