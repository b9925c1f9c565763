//! `server admin …`: support's tools. Each acts through the same rules as the portal and leaves
//! an audit entry.

use anyhow::{Context, bail};
use app::{
    audit::EventKind,
    recovery::service::reset_two_factor,
    state::AppState,
    store::{self, Client, Factor},
};

use crate::config::AdminCommand;

pub async fn run(state: &AppState, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::ResetTwoFactor { username, reason } => reset(state, &username, &reason).await,
        AdminCommand::Show { username } => show(state, &username).await,
    }
}

async fn user_id(state: &AppState, username: &str) -> anyhow::Result<i64> {
    let username = username.trim().to_ascii_lowercase();
    store::user_id_by_username(&state.pool, &username)
        .await?
        .with_context(|| format!("no account is named {username:?}"))
}

/// Who ran the command, as the operating system tells it.
fn operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown operator".into())
}

async fn reset(state: &AppState, username: &str, reason: &str) -> anyhow::Result<()> {
    let reason = reason.trim();
    if reason.is_empty() {
        bail!("--reason must say why (for example the support ticket)");
    }
    let user_id = user_id(state, username).await?;
    if store::two_factor_of(&state.pool, user_id).await?.is_none() {
        bail!("{username} has no two-factor authentication to reset");
    }
    let client = Client {
        address: Some("admin command".into()),
        user_agent: None,
    };
    let detail = format!("by {}: {reason}", operator());
    reset_two_factor(
        state,
        user_id,
        EventKind::AdminReset,
        &client,
        Some(&detail),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!(
        "Two-factor authentication of {username} is reset; every session is signed out and a notice was emailed."
    );
    Ok(())
}

async fn show(state: &AppState, username: &str) -> anyhow::Result<()> {
    let user_id = user_id(state, username).await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .context("the account vanished")?;
    println!("account:        {} (id {})", account.username, account.id);
    println!(
        "email:          {} ({})",
        account.email,
        if account.email_verified_at.is_some() {
            "verified"
        } else {
            "not verified"
        }
    );
    match store::two_factor_of(&state.pool, user_id).await? {
        Some(two_factor) => println!("two-factor:     on since {}", two_factor.enabled_at),
        None => println!("two-factor:     off"),
    }
    for (factor, name) in [
        (Factor::Totp, "code failures:  "),
        (Factor::RecoveryCode, "recovery fails: "),
    ] {
        let failures = store::failures_of(&state.pool, user_id, factor).await?;
        println!("{name}{}", failures.failures);
    }
    println!("recent events:");
    for event in store::recent_events(&state.pool, user_id, 20).await? {
        let kind = EventKind::parse(&event.kind)
            .map_or(event.kind.clone(), |kind| kind.description().to_owned());
        println!(
            "  {}  {}  {}{}",
            event.at,
            event.address.as_deref().unwrap_or("-"),
            kind,
            event
                .detail
                .map(|detail| format!(" ({detail})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
