//! The deploy webhook of the [`ProjectService`]: `POST /api/v1/projects/{name}/webhook`
//! with `{"image": "repo:tag"}`, authenticated by `X-Commander-Signature: sha256=<hex>`,
//! the HMAC-SHA256 of the raw body under the project's key, compared in constant time; a
//! signature accepted before is refused as a replay (the newest
//! [`MAX_SEEN_SIGNATURES`] are kept with the project).

use hmac::{Hmac, Mac};
use model::Invalid;
use model::ops::Caller;
use model::project::api::{ProjectEventKind, ProjectFailure, ProjectPatch, ProjectView};
use model::project::needs_new_revision;
use sha2::Sha256;

use super::super::record::MAX_SEEN_SIGNATURES;
use super::{MAX_WEBHOOK_BODY, ProjectService};

impl ProjectService {
    /// A deploy webhook call: `signature` is the `X-Commander-Signature` header, `body`
    /// the raw body (`{"image": "repo:tag"}`). Starts a rollout of that image.
    pub async fn webhook(
        &self,
        client: &str,
        name: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<ProjectView, ProjectFailure> {
        let caller = Caller {
            user: "webhook".into(),
            client: client.into(),
            via: String::new(),
        };
        let outcome = self.webhook_inner(name, signature, body).await;
        self.audited(&caller, "project.webhook", name, outcome)
            .await
    }

    async fn webhook_inner(
        &self,
        name: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<ProjectView, ProjectFailure> {
        let unauthorized = |m: &str| ProjectFailure::Unauthorized(m.to_owned());
        let Some(signature) = signature else {
            return Err(unauthorized("the X-Commander-Signature header is missing"));
        };
        let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else {
            return Err(unauthorized("the signature must read sha256=<hex>"));
        };
        let hex_sig = hex_sig.to_ascii_lowercase();
        if body.len() > MAX_WEBHOOK_BODY {
            return Err(
                Invalid::new("body", format!("longer than {MAX_WEBHOOK_BODY} bytes")).into(),
            );
        }
        let _one = self.changes.lock().await;
        let (mut record, spec) = self.load(name).await?;
        let Some(key) = record.webhook_secret.clone() else {
            return Err(unauthorized("this project has no webhook"));
        };
        let expected = hmac_sha256_hex(key.as_bytes(), body).unwrap_or_default();
        if expected.is_empty() || !plumbing::secret::constant_time_eq(&expected, &hex_sig) {
            return Err(unauthorized("the signature does not match the body"));
        }
        if record.seen_signatures.contains(&hex_sig) {
            return Err(unauthorized(
                "this call was already accepted once (a replay)",
            ));
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Deploy {
            image: String,
        }
        let deploy: Deploy = serde_json::from_slice(body).map_err(|e| {
            Invalid::new("body", format!("expected {{\"image\": \"repo:tag\"}}: {e}"))
        })?;
        let new = spec.patched(&ProjectPatch {
            image: Some(deploy.image),
            ..ProjectPatch::default()
        })?;
        let revised = needs_new_revision(&spec, &new).then(|| record.start_revision());
        record.seen_signatures.push(hex_sig);
        if record.seen_signatures.len() > MAX_SEEN_SIGNATURES {
            let excess = record.seen_signatures.len() - MAX_SEEN_SIGNATURES;
            record.seen_signatures.drain(..excess);
        }
        record.updated_ms = self.clock.now_ms();
        self.save(&record, revised.map(|r| (r, &new))).await?;
        if let Some(r) = revised {
            self.note(
                name,
                ProjectEventKind::Updated,
                Some(r),
                format!("revision {r}: {} (deploy webhook)", new.image),
            );
        }
        Ok(self.view(&record, &new))
    }
}

/// Lowercase hex of HMAC-SHA256(`key`, `body`) (HMAC takes keys of any length, so this
/// is `None` only in theory).
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(body);
    Some(
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}
