//! Email over SMTP with `lettre`: STARTTLS (required, never opportunistic) or implicit TLS
//! through rustls with the system's roots, or plain SMTP to a loopback host only (a local
//! relay; validation refuses `none` elsewhere). The subject is the English title, the text
//! body English then Chinese.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use model::alert::Notification;
use model::channel::{EmailConfig, SmtpSecurity, is_loopback_host};

use super::render;

/// The message for `n`.
pub fn message(e: &EmailConfig, n: &Notification) -> Result<Message, String> {
    let mailbox = |field: &str, address: &str| -> Result<Mailbox, String> {
        address
            .parse::<Mailbox>()
            .map_err(|err| format!("{field} {address:?} is not an address: {err}"))
    };
    let mut builder = Message::builder()
        .from(mailbox("from", &e.from)?)
        .subject(format!("[Commander] {}", render::title(n)));
    for to in &e.to {
        builder = builder.to(mailbox("to", to)?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(render::text(n))
        .map_err(|err| format!("cannot build the message: {err}"))
}

/// Sends `n` through `e`'s server, the whole exchange bounded by `timeout`.
pub async fn send(e: &EmailConfig, n: &Notification, timeout: Duration) -> Result<(), String> {
    let message = message(e, n)?;
    let builder = match e.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.host)
            .map_err(|err| format!("TLS setup for {} failed: {err}", e.host))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.host)
            .map_err(|err| format!("TLS setup for {} failed: {err}", e.host))?,
        SmtpSecurity::None if is_loopback_host(&e.host) => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.host)
        }
        SmtpSecurity::None => {
            return Err("plain SMTP is only allowed to a loopback host".to_owned());
        }
    };
    let mut builder = builder.port(e.port).timeout(Some(timeout));
    if !e.username.is_empty() {
        builder = builder.credentials(Credentials::new(e.username.clone(), e.password.clone()));
    }
    let transport = builder.build();
    match tokio::time::timeout(timeout * 2, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("SMTP {}:{}: {err}", e.host, e.port)),
        Err(_) => Err(format!(
            "SMTP {}:{}: no answer within {} s",
            e.host,
            e.port,
            timeout.as_secs() * 2
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::channels::render::tests::firing;

    fn config() -> EmailConfig {
        EmailConfig {
            host: "127.0.0.1".into(),
            port: 25,
            security: SmtpSecurity::None,
            username: String::new(),
            password: String::new(),
            from: "commander@example.com".into(),
            to: vec!["ops@example.com".into(), "dev@example.com".into()],
        }
    }

    #[test]
    fn the_message_has_subject_recipients_and_both_languages() {
        let raw = String::from_utf8(message(&config(), &firing()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Subject: [Commander] [FIRING] cpu-high on web-1 (#3)"),
            "{raw}"
        );
        assert!(raw.contains("ops@example.com") && raw.contains("dev@example.com"));
        assert!(raw.contains("From: commander@example.com"), "{raw}");
    }

    #[tokio::test]
    async fn plain_smtp_elsewhere_than_loopback_is_refused() {
        let mut c = config();
        c.host = "smtp.example.com".into();
        let e = send(&c, &firing(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
    }
}
