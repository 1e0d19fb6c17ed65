//! The log subscriber of the binaries: `RUST_LOG` filters (default `info`). The roles log to
//! standard output; the standalone gateway logs to standard error, because its standard
//! output carries the machine-readable `ready` line.
//!
//! `init` needs the `subscriber` feature; libraries only emit events through `tracing`.

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Standard output, without the event's target (master and slave).
    Stdout,
    /// Standard error, with the event's target (the standalone gateway).
    Stderr,
}

/// Installs the log subscriber; does nothing when one is already installed.
#[cfg(feature = "subscriber")]
pub fn init(output: Output) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match output {
        Output::Stdout => builder.with_target(false).try_init(),
        Output::Stderr => builder.with_writer(std::io::stderr).try_init(),
    };
}
