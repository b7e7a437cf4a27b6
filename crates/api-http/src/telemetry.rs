//! Structured logs with `tracing`: JSON lines by default, human-readable with
//! `LOG_FORMAT=pretty`; the level from `RUST_LOG` (default `info`).

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: &str) {
    init_with(format, "info,actix_server=warn,mongodb=warn");
}

/// Like [`init`] with another default filter (tests log warnings only unless `RUST_LOG`).
pub fn init_with(format: &str, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
