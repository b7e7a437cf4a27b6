//! The built `healthsync` binary refuses an out-of-range setting at start-up: non-zero exit,
//! and stderr names the variable and its allowed range. No store is needed (it stops first).

use std::process::Command;

fn healthsync(command: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_healthsync"));
    cmd.arg(command)
        // Nowhere to connect: were the configuration accepted, these would fail differently.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env(
            "MONGODB_URI",
            "mongodb://127.0.0.1:1/?directConnection=true",
        )
        .env("JWT_SECRET", "cli-test-secret-cli-test-secret-0123")
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("STORE_TIMEOUT_MS", "200");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the healthsync binary runs")
}

#[test]
fn serve_refuses_a_session_ttl_of_zero_naming_the_variable_and_the_range() {
    let out = healthsync("serve", &[("SESSION_TTL_HOURS", "0")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must not start: {stderr}");
    assert!(
        stderr.contains("SESSION_TTL_HOURS must be between 1 and 720, got 0"),
        "{stderr}"
    );
}

#[test]
fn migrate_refuses_an_out_of_range_value_before_connecting() {
    let out = healthsync(
        "migrate",
        &[("DATABASE_POOL_SIZE", "100000"), ("LOG_FORMAT", "xml")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("DATABASE_POOL_SIZE must be between 1 and 512, got 100000"),
        "{stderr}"
    );
    assert!(
        stderr.contains("LOG_FORMAT must be json or pretty"),
        "{stderr}"
    );
}

#[test]
fn openapi_needs_no_valid_configuration() {
    let out = healthsync("openapi", &[("SESSION_TTL_HOURS", "0")]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"{"));
}
