//! `web::serve` and `web::serve_tls` on loopback: real sockets, the peer address reaching
//! the audit log, TLS with a generated certificate, and shutdown.

use crate::console::common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends one HTTP/1.1 request with `Connection: close` and returns the raw response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> String {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the response; keep what arrived.
    let _ = stream.read_to_end(&mut raw).await;
    String::from_utf8(raw).unwrap()
}

fn json_body(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

const JSON: &str = "Content-Type: application/json\r\n";

#[tokio::test]
async fn serve_answers_on_loopback_with_the_peer_address_and_shuts_down() {
    let app = TestApp::new(Fake::Nodes(vec![full_node(1, "alpha", now_ms())]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(
        listener,
        app.router.clone(),
        web::HttpLimits::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let connect = || async { TcpStream::connect(addr).await.unwrap() };

    let raw = exchange(connect().await, "GET", "/api/v1/nodes", "", "").await;
    assert!(raw.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{raw}");
    assert!(raw.contains("x-frame-options: DENY"), "{raw}");
    let creds = credentials(USER, PASSWORD).to_string();
    let raw = exchange(
        connect().await,
        "POST",
        "/api/v1/auth/register",
        JSON,
        &creds,
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 201 Created\r\n"), "{raw}");
    let raw = exchange(connect().await, "POST", "/api/v1/auth/login", JSON, &creds).await;
    let token = json_body(&raw)["token"].as_str().unwrap().to_owned();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let raw = exchange(connect().await, "GET", "/api/v1/nodes", &auth, "").await;
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains(r#""hostname":"alpha""#), "{raw}");
    let raw = exchange(connect().await, "GET", "/api/v1/audit", &auth, "").await;
    let entries = json_body(&raw)["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2);
    assert!(
        entries.iter().all(|e| e["client"] == "127.0.0.1"),
        "{entries:?}"
    );

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn serve_tls_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, generated.cert.pem()).unwrap();
    std::fs::write(&key_path, generated.signing_key.serialize_pem()).unwrap();
    let tls = web::load_tls_config(&cert_path, &key_path).unwrap();
    assert!(
        web::load_tls_config(&key_path, &key_path).is_err(),
        "a key is no certificate"
    );
    assert!(web::load_tls_config(&dir.path().join("missing"), &key_path).is_err());

    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve_tls(
        listener,
        tls,
        app.router.clone(),
        web::HttpLimits::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    // A silent client does not hold up the others.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    let raw = exchange(stream, "GET", "/api/v1/health", "", "").await;
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let raw = exchange(
        TcpStream::connect(addr).await.unwrap(),
        "GET",
        "/api/v1/health",
        "",
        "",
    )
    .await;
    assert!(!raw.contains("200 OK"), "{raw}");

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
