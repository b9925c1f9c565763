//! The state every server function and admin command works with, built from the configuration:
//! the data folder, the migrated database, the key that seals second-factor secrets, the mailer
//! and the password hasher. Nothing here listens on a port.

use std::sync::Arc;

use anyhow::Context as _;
use app::{
    breached_passwords::BreachedPasswords,
    mail::Mailer,
    password::Passwords,
    security::crypto::SecretBox,
    state::{AppState, AppStateParts, Clock, Settings},
};
use leptos::prelude::*;

use crate::{Config, database, secret_key, static_files};

/// Makes the data folder and database on first start, applies migrations, opens the key and the
/// mailer, and deletes the rows that expired while nothing ran. Each failure names the variable
/// to fix.
pub async fn build(config: &Config, clock: Clock) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "PORTAL_DATA_DIR: cannot create {}",
            config.data_dir.display()
        )
    })?;
    let pool = database::connect(&config.database_url()).await?;
    let key = secret_key::load_or_create(config)?;
    let leptos_options = leptos_options(config);
    let state = AppState::new(AppStateParts {
        settings: Arc::new(settings(config, &leptos_options)?),
        leptos_options,
        pool,
        passwords: Arc::new(Passwords::new(hashing_threads())),
        clock,
        secrets: SecretBox::new(&key),
        mailer: mailer(config)?,
        background: Default::default(),
        webauthn: app::security_keys::service::relying_party(&config.base_url, &config.issuer)
            .map_err(|why| anyhow::anyhow!("PORTAL_BASE_URL: unusable for WebAuthn: {why}"))?
            .map(Arc::new),
    });
    app::maintenance::delete_expired(&state)
        .await
        .context("PORTAL_DATABASE_URL: cannot delete expired rows")?;
    Ok(state)
}

/// How many passwords are hashed at once: one per core.
pub(crate) fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn settings(config: &Config, options: &LeptosOptions) -> anyhow::Result<Settings> {
    Ok(Settings {
        base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
        support_email: config.support_email.clone(),
        issuer: config.issuer.clone(),
        access_rules: Arc::new(
            config
                .access_rules
                .as_ref()
                .map(|file| file.rules.clone())
                .unwrap_or_default(),
        ),
        stylesheet: static_files::stylesheet_href(options),
        breached_passwords: breached_passwords(config)?,
    })
}

/// The range API when PORTAL_BREACHED_PASSWORDS_URL is set, the file when
/// PORTAL_BREACHED_PASSWORDS_FILE is (the two exclude each other), else off.
fn breached_passwords(config: &Config) -> anyhow::Result<BreachedPasswords> {
    if let Some(url) = &config.breached_passwords_url {
        return BreachedPasswords::range(url.as_str())
            .map_err(|error| anyhow::anyhow!("PORTAL_BREACHED_PASSWORDS_URL: {error}"));
    }
    Ok(config
        .breached_passwords_file
        .clone()
        .map_or(BreachedPasswords::Off, BreachedPasswords::file))
}

/// SMTP when PORTAL_SMTP_URL is set, else the outbox folder.
fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    let from = config.mail_from.clone();
    match &config.smtp_url {
        Some(url) => Mailer::smtp(from, url.as_str())
            .map_err(|error| anyhow::anyhow!("PORTAL_SMTP_URL: {error}")),
        None => {
            let outbox = config.data_dir.join("outbox");
            // Outbox mode is for a developer's machine. On an https address it is most likely a
            // deployment that forgot PORTAL_SMTP_URL: live links then sit in files and the log.
            if config.base_url.scheme() == "https" {
                tracing::warn!(
                    outbox = %outbox.display(),
                    "PORTAL_SMTP_URL is not set: mail, with its live verification and recovery \
                     links, is written to the outbox and its links are logged. Set \
                     PORTAL_SMTP_URL to send mail."
                );
            }
            Mailer::outbox(from, outbox.clone()).with_context(|| {
                format!(
                    "PORTAL_DATA_DIR: cannot create the outbox {}",
                    outbox.display()
                )
            })
        }
    }
}

/// cargo-leptos passes the site's layout in LEPTOS_* variables; without it (tests, a bare binary)
/// the layout of `cargo leptos build` is assumed.
fn leptos_options(config: &Config) -> LeptosOptions {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME")
        .is_some()
        .then(|| get_configuration(None).ok())
        .flatten();
    let mut options = from_cargo_leptos
        .map(|configuration| configuration.leptos_options)
        .unwrap_or_else(|| {
            LeptosOptions::builder()
                .output_name("portal")
                .site_root(
                    std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()),
                )
                .build()
        });
    options.site_addr = config.site_addr;
    static_files::detect_hashes(&mut options);
    options
}
