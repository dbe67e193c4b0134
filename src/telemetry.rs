//! Logs go to stderr; `RUST_LOG` tunes them (default: info, quiet sqlx).

pub fn init() {
    init_with_default("info,sqlx=warn");
}

/// As `init`, with another filter when `RUST_LOG` is unset (the tests use
/// `warn`, so a failure is not buried under request logs).
pub fn init_with_default(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
