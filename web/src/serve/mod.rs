//! Serving the router on a listener, over plain TCP or TLS (rustls with the ring provider),
//! always with the TCP peer address as axum `ConnectInfo<SocketAddr>` (the lockout and the
//! audit log are keyed on it), and within [`HttpLimits`]:
//!
//! - a connection over the global or per-address cap ([`caps`]) is closed at once;
//! - the TLS handshake, the request headers (counted from the connection's start or the end
//!   of the previous response, so this is also the keep-alive idle limit) and the request
//!   body ([`body`]) each have a deadline; a response may take as long as it needs (event
//!   streams of logged-in users stay open);
//! - hyper buffers at most [`MAX_BUF`] per connection.
//!
//! The accept loop is ours (hyper's HTTP/1 connection builder with a tokio timer), not
//! `axum::serve`, which has neither caps nor a timer for hyper's header timeout.

pub mod body;
pub mod caps;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use body::DeadlineBody;
use caps::{ConnectionCaps, Refusal};

/// The TLS server configuration type (rustls), for callers that do not depend on rustls.
pub type TlsConfig = ServerConfig;

/// Default time a client has to complete the TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's headers, from the connection's start or the
/// end of the previous response.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's body, from its headers.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open console connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on open console connections from one client address (IPv6: one /64).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Most bytes hyper buffers for one connection (a request head must fit).
pub const MAX_BUF: usize = 64 * 1024;

/// Time and connection limits of the console's HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time to complete the TLS handshake (TLS only).
    pub tls_handshake_timeout: Duration,
    /// Time to send a request's headers, from the connection's start or the end of the
    /// previous response (so also the keep-alive idle limit).
    pub header_timeout: Duration,
    /// Time to send a request's body, from its headers.
    pub body_timeout: Duration,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one client address (IPv6: one /64) at most.
    pub max_connections_per_address: usize,
    /// Addresses counted against `max_connections` only (trusted reverse proxies).
    pub exempt_addresses: Vec<IpAddr>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            exempt_addresses: Vec::new(),
        }
    }
}

/// The certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate and key.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Builds a TLS server configuration from PEM files: a certificate chain (leaf first) and
/// its private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem = |path: &Path, message: String| TlsError::Pem {
        path: path.to_owned(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` over plain HTTP on `listener` within `limits` until `shutdown` completes,
/// then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "web console listening (http)");
    accept_loop(listener, None, router, limits, shutdown).await;
    Ok(())
}

/// Serves `router` over HTTPS on `listener` with `tls` within `limits` until `shutdown`
/// completes, then lets in-flight requests finish.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "web console listening (https)");
    let acceptor = TlsAcceptor::from(tls);
    accept_loop(listener, Some(acceptor), router, limits, shutdown).await;
    Ok(())
}

/// Accepts connections within the caps, each served on its own task, until `shutdown`;
/// then asks every connection to finish its request and close, and waits for them.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let caps = ConnectionCaps::new(
        limits.max_connections,
        limits.max_connections_per_address,
        limits.exempt_addresses.clone(),
    );
    let limits = Arc::new(limits);
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually EMFILE; back off instead of spinning.
                    tracing::warn!("console accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Reap finished connections so the set stays as small as the open ones.
        while connections.try_join_next().is_some() {}
        let admission = match caps.admit(peer.ip()) {
            Ok(admission) => admission,
            Err(refusal) => {
                let cap = match refusal {
                    Refusal::Global => "max_connections",
                    Refusal::PerAddress => "max_connections_per_address",
                };
                tracing::debug!(%peer, cap, "console connection over the cap; closed");
                drop(stream);
                continue;
            }
        };
        let (tls, router, limits, closing) = (
            tls.clone(),
            router.clone(),
            Arc::clone(&limits),
            closing.clone(),
        );
        connections.spawn(async move {
            let _admission = admission;
            serve_connection(stream, peer, tls, router, &limits, closing).await;
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// One connection: the TLS handshake (if any) within its deadline, then HTTP/1.1.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: &HttpLimits,
    closing: watch::Receiver<bool>,
) {
    match tls {
        None => serve_http(stream, peer, router, limits, closing).await,
        Some(acceptor) => {
            let handshake = acceptor.accept(stream);
            // A connection still in its handshake has no request to finish: shutting down
            // abandons it instead of waiting for its deadline.
            let mut shutting_down = closing.clone();
            let outcome = tokio::select! {
                outcome = tokio::time::timeout(limits.tls_handshake_timeout, handshake) => outcome,
                _ = shutting_down.wait_for(|closing| *closing) => {
                    tracing::debug!(%peer, "TLS handshake abandoned: the console is closing");
                    return;
                }
            };
            match outcome {
                Ok(Ok(tls)) => serve_http(tls, peer, router, limits, closing).await,
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<S>(
    io: S,
    peer: SocketAddr,
    router: Router,
    limits: &HttpLimits,
    closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request =
            request.map(|b| axum::body::Body::new(DeadlineBody::new(b, body_timeout)));
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let closed = async move {
        let mut closing = closing;
        let _ = closing.wait_for(|closing| *closing).await;
    };
    tokio::pin!(connection, closed);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = &mut closed => {
            // Finish the request in progress (if any), then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "console connection ended: {e}");
    }
}
