use std::process::ExitCode;

use anyhow::Context as _;
use app::state::Clock;
use clap::Parser;
use server::{
    Portal,
    config::{Cli, Command},
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    return_large_allocations_to_the_system();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            // One line that names the variable and what is wrong with it.
            let rendered = error.to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: bad configuration")
            );
            return ExitCode::from(2);
        }
    };
    // The log goes to stderr: an admin command's stdout is its answer. PostgreSQL's notices
    // (say, a migration table that exists already) are not news.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn")),
        )
        .init();

    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Admin(command) => admin(cli.config, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: server::Config) -> anyhow::Result<()> {
    let portal = Portal::build(&config, Clock::default()).await?;
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "LEPTOS_SITE_ADDR: cannot listen on {}: {error}",
                config.site_addr
            )
        })?;
    tracing::info!("Portal is listening on http://{}", listener.local_addr()?);
    if let Some(address) = portal.metrics_addr() {
        tracing::info!("metrics are served on http://{address}/metrics");
    }
    if portal.state.webauthn.is_none() {
        tracing::warn!(
            "security keys and passkeys are off: WebAuthn needs PORTAL_BASE_URL with a host name (e.g. http://localhost:3000), not an IP address"
        );
    }
    portal.serve(listener, shutdown_signal()).await?;
    Ok(())
}

async fn admin(
    config: server::Config,
    command: server::config::AdminCommand,
) -> anyhow::Result<()> {
    if let server::config::AdminCommand::CopyTo {
        database,
        database_file,
    } = &command
    {
        let target = match database_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("--database-file: cannot read {}", file.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            None => database.clone().unwrap_or_default(),
        };
        anyhow::ensure!(
            !target.is_empty(),
            "copy-to needs the target: PORTAL_COPY_TO_DATABASE_URL or --database-file"
        );
        return copy_to(&config, &target).await;
    }
    let portal = Portal::build(&config, Clock::default()).await?;
    server::admin::run(&portal.state, command).await
}

async fn copy_to(config: &server::Config, target: &str) -> anyhow::Result<()> {
    let source = server::connect(&config.database_url()).await?;
    let copied = server::copy::copy_to(&source, target).await?;
    println!(
        "Copied {} to the PostgreSQL database:",
        config.database_url()
    );
    for (table, rows, _) in &copied.tables {
        println!("  {table:<28} {rows:>8} rows");
    }
    println!("Row counts match on both sides.");
    println!();
    println!("Next:");
    println!(
        "  1. Stop the portal that uses the SQLite database (or it will go on writing there)."
    );
    println!(
        "  2. Start every instance with PORTAL_DATABASE_URL set to the PostgreSQL URL you gave."
    );
    let key = match &config.secret_key {
        Some(_) => "the PORTAL_SECRET_KEY this portal runs with".to_owned(),
        None => format!(
            "the 64 hex digits in {}",
            config.data_dir.join(server::KEY_FILE).display()
        ),
    };
    println!("  3. Give every instance the same PORTAL_SECRET_KEY: {key}.");
    println!("     Without it no second-factor secret can be opened.");
    println!("  4. Keep the SQLite file until the new setup has served sign-ins.");
    Ok(())
}

/// Each Argon2id hash takes 19 MiB. glibc raises its mmap threshold after the first such block
/// is freed and from then on keeps them in per-thread arenas, so a burst of sign-ins across the
/// blocking threads would leave hundreds of MiB resident. A fixed threshold keeps every large
/// block in its own mapping, returned to the system when the hash is done.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts
    // allocating large blocks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
