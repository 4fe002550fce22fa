//! `kith`: parses the command line, validates settings, starts the embedded Postgres when needed (on the main
//! thread, which outlives it) and runs the command on a Tokio runtime.

use clap::Parser;
use kith::cli::{Cli, Command, UserCommand};
use kith::commands;
use kith::embedded::{EmbeddedPostgres, Sharing};
use kith::settings::{Database, Settings};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(&cli.settings) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("kith: {err}");
            return ExitCode::from(2);
        }
    };
    kith::telemetry::init(settings.log_format);
    for notice in &settings.notices {
        tracing::warn!("{notice}");
    }
    match run(&cli.command, &settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "kith stopped");
            eprintln!("kith: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command, settings: &Settings) -> anyhow::Result<()> {
    if let Command::Keys { action: None } = command {
        return commands::print_keys(settings);
    }
    let sharing = match command {
        Command::Serve { .. } => Sharing::Exclusive,
        _ => Sharing::AttachIfRunning,
    };
    let embedded = match settings.database {
        Database::Embedded => Some(EmbeddedPostgres::start(&settings.data_dir, sharing)?),
        Database::External { .. } => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let connections = commands::connections(settings, embedded.as_ref()).await?;
        match command {
            Command::Serve { demo } => {
                if *demo {
                    commands::seed_demo(settings, &connections).await?;
                }
                commands::serve(settings, &connections).await
            }
            Command::Seed { .. } => commands::seed_demo(settings, &connections).await,
            Command::Migrate => commands::migrate(&connections).await,
            Command::Audit { format, no_probe } => {
                let options = kith::audit::Options {
                    exposed_schemas: settings.rest.schemas.clone(),
                    probe: !no_probe,
                    ..kith::audit::Options::default()
                };
                kith::audit::command(&connections.owner, &options, *format).await
            }
            Command::User {
                action: UserCommand::Create { email, password },
            } => commands::create_user(&connections, email, password).await,
            Command::Keys { action: Some(action) } => commands::manage_keys(&connections, action).await,
            Command::Keys { action: None } => Ok(()),
        }
    });
    // Close every pool connection before the embedded server stops, so its shutdown is clean.
    drop(runtime);
    drop(embedded);
    result
}
