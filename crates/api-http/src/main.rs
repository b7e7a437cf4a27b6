//! `healthsync`: the one binary. `serve` runs the API; `migrate` applies the migrations;
//! `openapi` prints the OpenAPI document; `seed` fills an empty database with a demo clinic.

use api_http::{openapi, telemetry, Application, Config};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "healthsync", version, about = "HealthSync clinic backend")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (and its background jobs).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Generate time slots of every active schedule up to the horizon (idempotent).
    GenerateSlots,
    /// Fill an empty database with a demo clinic (or, with --appointments N, a big one), and
    /// print its logins. Refuses a database that has accounts unless --reset.
    Seed(api_http::seed::SeedOptions),
    /// Create an ADMIN account (the first admin). The password is read from the
    /// HEALTHSYNC_ADMIN_PASSWORD environment variable, never from the command line.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Every command but `openapi` uses the configuration: refuse a bad one before anything.
    if !matches!(cli.command, Command::Openapi) {
        cli.config.validate()?;
    }
    telemetry::init(&cli.config.log_format);
    match cli.command {
        Command::Openapi => {
            use std::io::Write;
            // A closed pipe (`| head`, `| diff -q`) is not an error worth a panic.
            match std::io::stdout().write_all(openapi::document_json().as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Migrate => migrate(&cli.config).await,
        Command::GenerateSlots => {
            let state = api_http::state::AppState::build(cli.config).await?;
            let created = state
                .scheduling
                .generate_all()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {created} new slots");
            Ok(())
        }
        Command::CreateAdmin { email, name } => create_admin(cli.config, &email, &name).await,
        Command::Seed(options) => {
            migrate(&cli.config).await?;
            api_http::seed::run(cli.config, options).await
        }
        Command::Serve => {
            if cli.config.run_migrations {
                migrate(&cli.config).await?;
            }
            let app = Application::build(cli.config).await?;
            tracing::info!(port = app.port(), "HealthSync listening");
            app.run_until_stopped().await?;
            Ok(())
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = adapters_postgres::migrations::run_pending(&config.database_url).await?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}

async fn create_admin(config: Config, email: &str, name: &str) -> anyhow::Result<()> {
    use domain::identity::{parse_name, Email, Password, Role};
    let password = std::env::var("HEALTHSYNC_ADMIN_PASSWORD").map_err(|_| {
        anyhow::anyhow!("set HEALTHSYNC_ADMIN_PASSWORD to the new admin's password")
    })?;
    let account = api_http::admin::first_admin(
        Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
        Password::parse(&password, "HEALTHSYNC_ADMIN_PASSWORD")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        parse_name(name, "name").map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let user = api_http::admin::create_admin(&config, account).await?;
    debug_assert_eq!(user.role, Role::Admin);
    println!("created admin {} ({})", user.email, user.id);
    Ok(())
}
