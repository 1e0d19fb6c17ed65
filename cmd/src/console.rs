//! Serving the web console over a running master's services: the HTTP(S) listener, the
//! console's HTTP settings (TLS, trusted proxies, secure cookies, time and connection
//! limits) from the configuration, and an orderly stop.

use std::net::SocketAddr;

use anyhow::Context;
use master::config::MasterConfig;
use master::server::RunningMaster;

/// A console being served.
pub struct RunningConsole {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it is served over TLS.
    pub tls: bool,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningConsole {
    /// The console's base URL, `http://` or `https://`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops serving (open event streams end first: the master closes them).
    pub async fn stop(self, master: &RunningMaster) {
        master.close_live();
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves the console of `master` on the configured HTTP address.
pub async fn serve(master: &RunningMaster, cfg: &MasterConfig) -> anyhow::Result<RunningConsole> {
    let tls = match &cfg.console.tls {
        Some(paths) => Some(web::load_tls_config(&paths.cert, &paths.key)?),
        None => None,
    };
    let settings = web::ConsoleSettings {
        secure_cookies: tls.is_some(),
        trusted_proxies: cfg.console.trusted_proxies.clone(),
    };
    let limits = http_limits(&cfg.console);
    let listener = tokio::net::TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} for the console", cfg.http_addr))?;
    let addr = listener.local_addr()?;
    let router = web::router(master.services.clone(), settings);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    let is_tls = tls.is_some();
    let task = match tls {
        Some(tls) => tokio::spawn(web::serve_tls(listener, tls, router, limits, shutdown)),
        None => tokio::spawn(web::serve(listener, router, limits, shutdown)),
    };
    Ok(RunningConsole {
        addr,
        tls: is_tls,
        stop,
        task,
    })
}

/// The HTTP server's limits of `console.http`; trusted proxies carry every client's
/// connections, so they count against the global cap only.
pub fn http_limits(console: &master::config::ConsoleConfig) -> web::HttpLimits {
    let c = &console.http;
    web::HttpLimits {
        tls_handshake_timeout: c.tls_handshake_timeout,
        header_timeout: c.header_timeout,
        body_timeout: c.body_timeout,
        max_connections: c.max_connections,
        max_connections_per_address: c.max_connections_per_address,
        exempt_addresses: console.trusted_proxies.clone(),
    }
}
