use std::process::ExitCode;

use app::state::Clock;
use clap::Parser;
use server::{
    Portal,
    config::{Cli, Command, LogFormat},
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
    start_log(cli.config.log_format);

    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Admin(command) => server::admin::run(&cli.config, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log goes to stderr: an admin command's stdout is its answer. PostgreSQL's notices (say,
/// a migration table that exists already) are not news. In JSON, each line carries the
/// request's span (its id, method and path) in `spans`, with any span inside it.
fn start_log(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
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
    let shutdown = shutdown_signal()?;
    tracing::info!("Portal is listening on http://{}", listener.local_addr()?);
    if let Some(address) = portal.metrics_addr() {
        tracing::info!("metrics are served on http://{address}/metrics");
    }
    if portal.state.webauthn.is_none() {
        tracing::warn!(
            "security keys and passkeys are off: WebAuthn needs PORTAL_BASE_URL with a host name (e.g. http://localhost:3000), not an IP address"
        );
    }
    portal.serve(listener, shutdown).await?;
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

/// Ctrl-C in a terminal, SIGTERM from a service manager or a container stop: either way the
/// server stops taking connections and finishes the requests it has. The handlers are installed
/// when this is called, before the server says it listens, so no signal from then on kills it.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use anyhow::Context as _;
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind| signal(kind).context("cannot watch for Ctrl-C and SIGTERM");
    let mut interrupt = watch(SignalKind::interrupt())?;
    let mut terminate = watch(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
