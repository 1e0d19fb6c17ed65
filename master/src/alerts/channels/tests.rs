//! The channels' delivery with time passed in (retries, backoff, bounded queue, unknown
//! channels), the service's audit and secrets, and real deliveries over loopback: an HTTP
//! server checks the webhook, DingTalk, WeCom and Feishu requests and their signatures; an
//! SMTP server written here receives a firing and a resolved email.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use model::alert::{Notification, NotificationStatus};
use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult};
use model::channel::{ChannelInput, Channels, DeliveryOutcome, DeliveryQuery, DeliveryRecord};
use model::clock::{Clock, ManualClock};
use model::ops::{BoxFuture, Caller};
use model::service::AuditLog;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::delivery::{History, Pause, RetryPolicy, Transport};
use super::render::tests::firing;
use super::{ChannelService, Notifier, dingtalk, feishu, webhook};
use crate::store::MemoryStore;
use model::channel::ChannelRecord;

#[derive(Default)]
struct Log(Mutex<Vec<AuditEntry>>);

impl AuditLog for Log {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        Box::pin(async {})
    }

    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, model::StoreFailure>> {
        Box::pin(async { Ok(AuditPage::default()) })
    }

    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

/// Fails the first `failures` attempts, then delivers; counts attempts.
struct Flaky {
    failures: u32,
    attempts: AtomicU32,
}

impl Transport for Flaky {
    fn send<'a>(
        &'a self,
        _channel: &'a ChannelRecord,
        _n: &'a Notification,
    ) -> BoxFuture<'a, Result<(), String>> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let failures = self.failures;
        Box::pin(async move {
            if n <= failures {
                Err(format!("attempt {n} refused"))
            } else {
                Ok(())
            }
        })
    }
}

/// Records each pause and advances the manual clock by it instead of waiting.
struct Recorded {
    pauses: Mutex<Vec<Duration>>,
    clock: Arc<ManualClock>,
}

impl Pause for Recorded {
    fn pause(&self, delay: Duration) -> BoxFuture<'static, ()> {
        self.pauses.lock().unwrap().push(delay);
        self.clock.advance(delay);
        Box::pin(async {})
    }
}

fn caller() -> Caller {
    Caller {
        user: "admin".into(),
        client: "127.0.0.1".into(),
        via: String::new(),
    }
}

struct Setup {
    service: Arc<ChannelService>,
    log: Arc<Log>,
    pause: Arc<Recorded>,
    clock: Arc<ManualClock>,
}

fn setup(transport: Arc<dyn Transport>, queue: usize) -> Setup {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let log = Arc::new(Log::default());
    let pause = Arc::new(Recorded {
        pauses: Mutex::new(Vec::new()),
        clock: Arc::clone(&clock),
    });
    let service = ChannelService::start_with(
        Arc::new(MemoryStore::new()),
        log.clone(),
        clock.clone(),
        transport,
        pause.clone(),
        RetryPolicy::default(),
        queue,
    );
    Setup {
        service,
        log,
        pause,
        clock,
    }
}

fn hook_input(name: &str, url: &str) -> ChannelInput {
    ChannelInput {
        name: name.into(),
        kind: "webhook".into(),
        url: Some(url.into()),
        secret: Some("hook-secret".into()),
        ..ChannelInput::default()
    }
}

/// Waits (bounded) until delivery `id` of `history` has ended.
async fn ended(history: &History, id: u64) -> DeliveryRecord {
    for _ in 0..2000 {
        if let Some(r) = history
            .get(id)
            .filter(|r| r.outcome != DeliveryOutcome::Pending)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("delivery {id} did not end: {:?}", history.get(id));
}

#[test]
fn backoff_doubles_up_to_its_cap_and_stops() {
    let p = RetryPolicy::default();
    let delays: Vec<_> = (1..=5).map(|a| p.delay_after(a)).collect();
    let s = Duration::from_secs;
    assert_eq!(
        delays,
        [Some(s(1)), Some(s(2)), Some(s(4)), Some(s(8)), None]
    );
    let capped = RetryPolicy {
        attempts: 40,
        first_delay: s(1),
        max_delay: s(30),
    };
    assert_eq!(capped.delay_after(6), Some(s(30)));
    assert_eq!(capped.delay_after(39), Some(s(30)), "no overflow");
    assert_eq!(capped.delay_after(40), None);
    let once = RetryPolicy { attempts: 0, ..p };
    assert_eq!(once.delay_after(1), None, "at least one attempt, no retry");
}

#[test]
fn the_history_is_bounded_and_newest_first() {
    let h = History::new(3);
    let ids: Vec<u64> = (0..5)
        .map(|i| h.start(if i % 2 == 0 { "a" } else { "b" }, &firing(), false, i))
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let all: Vec<u64> = h.list(None, 10).iter().map(|r| r.id).collect();
    assert_eq!(all, [5, 4, 3]);
    let a: Vec<u64> = h.list(Some("a"), 10).iter().map(|r| r.id).collect();
    assert_eq!(a, [5, 3]);
    assert_eq!(h.list(None, 1).len(), 1);
    assert!(h.get(1).is_none());
}

#[tokio::test]
async fn a_failing_channel_is_retried_with_backoff_then_delivered() {
    let flaky = Arc::new(Flaky {
        failures: 2,
        attempts: AtomicU32::new(0),
    });
    let s = setup(flaky.clone(), 8);
    s.service
        .create(&caller(), hook_input("ops", "http://127.0.0.1:9/x"))
        .await
        .unwrap();
    s.service.notify(&["ops".into()], firing());
    let record = ended(s.service.history(), 1).await;
    assert_eq!(record.outcome, DeliveryOutcome::Delivered);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.last_error, "attempt 2 refused");
    assert_eq!(record.alert_id, 7);
    assert_eq!(record.status, NotificationStatus::Firing);
    assert_eq!(
        *s.pause.pauses.lock().unwrap(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(record.queued_at_ms, 1_700_000_000_000);
    assert_eq!(
        record.finished_at_ms,
        Some(1_700_000_003_000),
        "time passed in"
    );
    assert_eq!(s.clock.now_ms(), 1_700_000_003_000);
}

#[tokio::test]
async fn a_channel_that_never_answers_fails_after_every_attempt() {
    let flaky = Arc::new(Flaky {
        failures: u32::MAX,
        attempts: AtomicU32::new(0),
    });
    let s = setup(flaky.clone(), 8);
    s.service
        .create(&caller(), hook_input("ops", "http://127.0.0.1:9/x"))
        .await
        .unwrap();
    s.service.notify(&["ops".into(), "ghost".into()], firing());
    let ops = ended(s.service.history(), 1).await;
    assert_eq!(ops.outcome, DeliveryOutcome::Failed);
    assert_eq!(ops.attempts, 5);
    assert_eq!(ops.last_error, "attempt 5 refused");
    assert_eq!(s.pause.pauses.lock().unwrap().len(), 4);
    let ghost = ended(s.service.history(), 2).await;
    assert_eq!(ghost.outcome, DeliveryOutcome::Failed);
    assert_eq!(ghost.kind, None);
    assert_eq!(ghost.attempts, 0);
    assert!(ghost.last_error.contains("no channel named"), "{ghost:?}");
    assert_eq!(
        flaky.attempts.load(Ordering::SeqCst),
        5,
        "nothing sent to ghost"
    );
}

/// Never finishes an attempt, so the worker keeps its job.
struct Stuck;

impl Transport for Stuck {
    fn send<'a>(
        &'a self,
        _channel: &'a ChannelRecord,
        _n: &'a Notification,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_full_queue_fails_deliveries_without_waiting() {
    let (deliveries, _rx) = super::delivery::Deliveries::new(
        2,
        Arc::new(History::new(10)),
        Arc::new(ManualClock::new(5)),
    );
    let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    deliveries.enqueue(&names, &firing());
    let h = deliveries.history();
    let outcomes: Vec<_> = (1..=4).map(|id| h.get(id).unwrap().outcome).collect();
    assert_eq!(
        outcomes,
        [
            DeliveryOutcome::Pending,
            DeliveryOutcome::Pending,
            DeliveryOutcome::Failed,
            DeliveryOutcome::Failed
        ]
    );
    assert_eq!(h.get(3).unwrap().last_error, "the delivery queue is full");
    // notify on a live service returns at once even when every attempt hangs.
    let s = setup(Arc::new(Stuck), 1);
    let start = std::time::Instant::now();
    for _ in 0..100 {
        s.service.notify(&["x".into()], firing());
    }
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn changes_are_audited_and_keep_secrets() {
    let s = setup(
        Arc::new(Flaky {
            failures: 1,
            attempts: AtomicU32::new(0),
        }),
        8,
    );
    let c = caller();
    let view = s
        .service
        .create(&c, hook_input("ops", "https://example.com/hook?token=abc"))
        .await
        .unwrap();
    assert!(view.secret_set);
    assert_eq!(view.url_origin.as_deref(), Some("https://example.com"));
    let e = s
        .service
        .create(&c, hook_input("ops", "https://example.com/"))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), 409);
    let e = s
        .service
        .create(&c, hook_input("bad name", "https://example.com/"))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), 400);
    // A PUT without the secret and URL keeps them.
    let put = ChannelInput {
        kind: "webhook".into(),
        ..ChannelInput::default()
    };
    s.service.update(&c, "ops", put).await.unwrap();
    let test = s.service.test(&c, "ops").await.unwrap();
    assert_eq!(
        test.outcome,
        DeliveryOutcome::Failed,
        "first attempt refused"
    );
    assert!(test.test);
    let test = s.service.test(&c, "ops").await.unwrap();
    assert_eq!(test.outcome, DeliveryOutcome::Delivered);
    assert_eq!(
        s.service.test(&c, "nope").await.unwrap_err().http_status(),
        404
    );
    s.service.delete(&c, "ops").await.unwrap();
    assert_eq!(
        s.service.delete(&c, "ops").await.unwrap_err().http_status(),
        404
    );
    let listed = s
        .service
        .deliveries(DeliveryQuery {
            channel: Some("ops".into()),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let log = s.log.0.lock().unwrap();
    let actions: Vec<(&str, AuditResult)> =
        log.iter().map(|e| (e.action.as_str(), e.result)).collect();
    assert_eq!(
        actions,
        [
            ("alert_channel.create", AuditResult::Ok),
            ("alert_channel.create", AuditResult::Denied),
            ("alert_channel.create", AuditResult::Denied),
            ("alert_channel.update", AuditResult::Ok),
            ("alert_channel.test", AuditResult::Ok),
            ("alert_channel.test", AuditResult::Ok),
            ("alert_channel.test", AuditResult::Failed),
            ("alert_channel.delete", AuditResult::Ok),
            ("alert_channel.delete", AuditResult::Failed),
        ]
    );
    for e in log.iter() {
        assert!(
            !e.detail.contains("hook-secret") && !e.detail.contains("token=abc"),
            "{e:?}"
        );
    }
    assert_eq!(log[0].target, "channel/ops");
}

// ---- real deliveries over loopback ----

/// One request the loopback HTTP server received.
#[derive(Debug, Clone)]
struct Received {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A loopback HTTP server answering robots' JSON by path; returns its base URL.
async fn http_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let answer = match uri.path() {
                "/feishu" => r#"{"code":0,"msg":"success"}"#,
                "/refuse" => r#"{"errcode":310000,"errmsg":"sign not match"}"#,
                "/hook" => "",
                _ => r#"{"errcode":0,"errmsg":"ok"}"#,
            };
            let _ = tx.send(Received { uri, headers, body });
            answer
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx)
}

fn robot(name: &str, kind: &str, url: String, secret: Option<&str>) -> ChannelInput {
    ChannelInput {
        name: name.into(),
        kind: kind.into(),
        url: Some(url),
        secret: secret.map(Into::into),
        ..ChannelInput::default()
    }
}

fn query_value(uri: &Uri, key: &str) -> String {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn webhooks_and_robots_receive_signed_requests() {
    let (base, mut rx) = http_server().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let service = ChannelService::start_with(
        Arc::new(MemoryStore::new()),
        Arc::new(Log::default()),
        Arc::clone(&clock),
        Arc::new(super::Dispatch::new(
            super::http::HttpClient::new(Duration::from_secs(5)),
            Arc::clone(&clock),
            Duration::from_secs(5),
        )),
        Arc::new(super::delivery::TokioPause),
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        8,
    );
    let c = caller();
    for input in [
        robot(
            "hook",
            "webhook",
            format!("{base}/hook"),
            Some("hook-secret"),
        ),
        robot(
            "ding",
            "dingtalk",
            format!("{base}/robot/send?access_token=tok"),
            Some("SECding"),
        ),
        robot(
            "wecom",
            "wecom",
            format!("{base}/cgi-bin/webhook/send?key=k"),
            None,
        ),
        robot(
            "feishu",
            "feishu",
            format!("{base}/feishu"),
            Some("fs-secret"),
        ),
        robot(
            "refused",
            "dingtalk",
            format!("{base}/refuse"),
            Some("SECx"),
        ),
    ] {
        service.create(&c, input).await.unwrap();
    }
    let names: Vec<String> = ["hook", "ding", "wecom", "feishu", "refused"]
        .map(String::from)
        .to_vec();
    service.notify(&names, firing());
    let mut got = Vec::new();
    for _ in 0..5 {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        got.push(r);
    }
    let by_path = |p: &str| got.iter().find(|r| r.uri.path() == p).cloned().unwrap();

    let hook = by_path("/hook");
    let signature = hook.headers["x-commander-signature"].to_str().unwrap();
    assert_eq!(
        signature,
        format!("sha256={}", webhook::hmac_hex(b"hook-secret", &hook.body))
    );
    assert_eq!(hook.headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(json["status"], "firing");
    assert_eq!(json["threshold"], 90.0);

    let ding = by_path("/robot/send");
    assert_eq!(query_value(&ding.uri, "access_token"), "tok");
    let ts: u64 = query_value(&ding.uri, "timestamp").parse().unwrap();
    assert_eq!(ts, 1_700_000_000_000);
    assert_eq!(
        query_value(&ding.uri, "sign"),
        dingtalk::url_encode(&dingtalk::sign(ts, "SECding"))
    );
    let json: serde_json::Value = serde_json::from_slice(&ding.body).unwrap();
    assert_eq!(json["msgtype"], "markdown");

    let wecom = by_path("/cgi-bin/webhook/send");
    assert_eq!(query_value(&wecom.uri, "key"), "k");
    let json: serde_json::Value = serde_json::from_slice(&wecom.body).unwrap();
    assert!(
        json["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("cpu-high")
    );

    let fs = by_path("/feishu");
    let json: serde_json::Value = serde_json::from_slice(&fs.body).unwrap();
    assert_eq!(json["timestamp"], "1700000000");
    assert_eq!(json["sign"], feishu::sign(1_700_000_000, "fs-secret"));

    let h = service.history();
    let mut outcomes = Vec::new();
    for id in 1..=5 {
        let r = ended(h, id).await;
        outcomes.push((r.channel.clone(), r.outcome));
    }
    assert_eq!(
        outcomes,
        [
            ("hook".to_owned(), DeliveryOutcome::Delivered),
            ("ding".to_owned(), DeliveryOutcome::Delivered),
            ("wecom".to_owned(), DeliveryOutcome::Delivered),
            ("feishu".to_owned(), DeliveryOutcome::Delivered),
            ("refused".to_owned(), DeliveryOutcome::Failed),
        ]
    );
    assert_eq!(
        ended(h, 5).await.last_error,
        "errcode 310000: sign not match"
    );

    // The test endpoint's path: one attempt, its outcome answered.
    let test = service.test(&c, "ding").await.unwrap();
    assert_eq!(test.outcome, DeliveryOutcome::Delivered);
    let test = service.test(&c, "refused").await.unwrap();
    assert_eq!(test.outcome, DeliveryOutcome::Failed);
    assert!(test.last_error.contains("310000"));
}

/// One message a loopback SMTP server received.
#[derive(Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal plain SMTP server on loopback: EHLO, MAIL, RCPT, DATA, QUIT.
async fn smtp_server() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test ESMTP\r\n").await;
                let (mut from, mut to) = (String::new(), Vec::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        let _ = write.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        let _ = tx.send(Mail {
                            from: std::mem::take(&mut from),
                            to: std::mem::take(&mut to),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn an_smtp_server_receives_the_firing_and_the_resolved_email() {
    let (port, mut rx) = smtp_server().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let service = ChannelService::start(
        Arc::new(MemoryStore::new()),
        Arc::new(Log::default()),
        Arc::clone(&clock),
    );
    let input = ChannelInput {
        name: "mail".into(),
        kind: "email".into(),
        host: Some("127.0.0.1".into()),
        port: Some(port),
        security: Some("none".into()),
        from: Some("commander@example.com".into()),
        to: Some(vec!["ops@example.com".into()]),
        ..ChannelInput::default()
    };
    service.create(&caller(), input).await.unwrap();
    service.notify(&["mail".into()], firing());
    let mut resolved = firing();
    resolved.status = NotificationStatus::Resolved;
    resolved.ended_at = Some(1_700_000_120_000);
    service.notify(&["mail".into()], resolved);
    let mut subjects = Vec::new();
    for _ in 0..2 {
        let mail = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mail.from, "<commander@example.com>");
        assert_eq!(mail.to, ["<ops@example.com>"]);
        let subject = mail
            .data
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap()
            .to_owned();
        subjects.push(subject);
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Subject: [Commander] [FIRING] cpu-high on web-1 (#3)",
            "Subject: [Commander] [RESOLVED] cpu-high on web-1 (#3)",
        ]
    );
    for id in 1..=2 {
        assert_eq!(
            ended(service.history(), id).await.outcome,
            DeliveryOutcome::Delivered
        );
    }
}

#[tokio::test]
async fn starttls_is_required_never_skipped() {
    // The loopback server offers no STARTTLS: a `starttls` channel must fail, not send in clear.
    let (port, mut rx) = smtp_server().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let service = ChannelService::start(
        Arc::new(MemoryStore::new()),
        Arc::new(Log::default()),
        Arc::clone(&clock),
    );
    let input = ChannelInput {
        name: "mail".into(),
        kind: "email".into(),
        host: Some("127.0.0.1".into()),
        port: Some(port),
        security: Some("starttls".into()),
        from: Some("commander@example.com".into()),
        to: Some(vec!["ops@example.com".into()]),
        ..ChannelInput::default()
    };
    service.create(&caller(), input).await.unwrap();
    let test = service.test(&caller(), "mail").await.unwrap();
    assert_eq!(test.outcome, DeliveryOutcome::Failed, "{test:?}");
    assert!(test.last_error.contains("STARTTLS"), "{test:?}");
    assert!(rx.try_recv().is_err(), "nothing was sent in clear");
}

/// A loopback HTTPS server for `localhost` with a generated certificate; answers 200 and
/// passes on each request's signature header. Returns its port and the certificate.
async fn https_server() -> (
    u16,
    rustls::pki_types::CertificateDer<'static>,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    use http_body_util::{BodyExt, Full};
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let signature = req
                                .headers()
                                .get(webhook::SIGNATURE_HEADER)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let ok = body.is_ok_and(|b| {
                                signature == format!("sha256={}", webhook::hmac_hex(b"k", &b))
                            });
                            let _ = tx.send(signature);
                            let status = if ok { 200 } else { 401 };
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(axum::body::Bytes::new()))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, cert, rx)
}

#[tokio::test]
async fn https_webhooks_check_the_servers_certificate() {
    let (port, cert, mut rx) = https_server().await;
    let request =
        webhook::request(&format!("https://localhost:{port}/hook"), "k", &firing()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let trusting = super::http::HttpClient::with_roots(roots, Duration::from_secs(5));
    let (status, _) = trusting.post(&request).await.unwrap();
    assert_eq!(status, 200, "signed body verified by the server");
    assert!(rx.recv().await.unwrap().starts_with("sha256="));
    let stranger =
        super::http::HttpClient::with_roots(rustls::RootCertStore::empty(), Duration::from_secs(5));
    let e = stranger.post(&request).await.unwrap_err();
    assert!(
        e.starts_with(&format!("TLS with https://localhost:{port} failed")),
        "{e}"
    );
}
