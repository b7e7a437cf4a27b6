//! `healthsync`: the one binary. `serve` runs the API; `migrate` applies the migrations;
//! `openapi` prints the OpenAPI document.

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
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.config.log_format);
    match cli.command {
        Command::Openapi => {
            print!("{}", openapi::document_json());
            Ok(())
        }
        Command::Migrate => migrate(&cli.config).await,
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
