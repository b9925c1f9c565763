//! `server admin …`: support's tools. Each acts through the same rules as the portal and leaves
//! an audit entry. What accounts wrote (names, usernames, addresses, details) is printed through
//! `shown`, so no control character of theirs reaches support's terminal.
//!
//! An admin command runs on the server with the service's environment, beside the serving
//! portal: it builds the state alone (`app_state::build`), never the router or the metrics
//! listener, so it takes no port the portal holds.

use anyhow::{Context, bail};
use app::{
    audit::EventKind,
    display::format_time,
    recovery::service::reset_two_factor,
    state::{AppState, Clock},
    store::{self, Client, Factor, UserId},
    validation::escape_invisible as shown,
};

use crate::{
    Config, app_state,
    config::{AdminCommand, ClientCommand, KeysCommand, OrgCommand, RulesCommand},
};

/// Runs one admin command against the database and mail server the configuration names.
pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let state = || app_state::build(config, Clock::default());
    match command {
        AdminCommand::ResetTwoFactor { username, reason } => {
            reset(&state().await?, &username, &reason).await
        }
        AdminCommand::Show { username } => show(&state().await?, &username).await,
        AdminCommand::Org(command) => org(&state().await?, command).await,
        AdminCommand::Client(command) => client(&state().await?, command).await,
        AdminCommand::Keys(command) => keys(&state().await?, command).await,
        // The configuration alone: the file was read and checked when it was parsed.
        AdminCommand::Rules(RulesCommand::Check { urls }) => rules(config, &urls),
        // It needs no state: the database alone.
        AdminCommand::CopyTo {
            database,
            database_file,
        } => copy_to(config, &copy_target(database, database_file)?).await,
        // The database file alone, copied beside the serving portal.
        AdminCommand::Backup { to, force } => crate::backup::backup(config, &to, force).await,
    }
}

/// The PostgreSQL URL `copy-to` writes to: the first line of `--database-file`, else
/// `--database` (or PORTAL_COPY_TO_DATABASE_URL).
fn copy_target(
    database: Option<String>,
    database_file: Option<std::path::PathBuf>,
) -> anyhow::Result<String> {
    let target = match database_file {
        Some(file) => std::fs::read_to_string(&file)
            .with_context(|| format!("--database-file: cannot read {}", file.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        None => database.unwrap_or_default(),
    };
    anyhow::ensure!(
        !target.is_empty(),
        "copy-to needs the target: PORTAL_COPY_TO_DATABASE_URL or --database-file"
    );
    Ok(target)
}

async fn copy_to(config: &Config, target: &str) -> anyhow::Result<()> {
    let source = crate::connect(&config.database_url()).await?;
    let copied = crate::copy::copy_to(&source, target).await?;
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
            config.data_dir.join(crate::KEY_FILE).display()
        ),
    };
    println!("  3. Give every instance the same PORTAL_SECRET_KEY: {key}.");
    println!("     Without it no second-factor secret can be opened.");
    println!("  4. Keep the SQLite file until the new setup has served sign-ins.");
    Ok(())
}

/// The organization `slug` names.
async fn find_org(state: &AppState, slug: &str) -> anyhow::Result<store::OrgRow> {
    store::org_by_slug(&state.pool, slug)
        .await?
        .with_context(|| format!("no organization is named {slug:?}"))
}

/// Every organization, with its requirement.
async fn list_orgs(state: &AppState) -> anyhow::Result<()> {
    for org in store::all_orgs(&state.pool).await? {
        let requirement = match org.require_two_factor_since {
            Some(_) => format!("requires two-factor, grace {} days", org.grace_days),
            None => "no requirement".into(),
        };
        println!(
            "{}  {}  ({requirement})",
            shown(&org.slug),
            shown(&org.name)
        );
    }
    Ok(())
}

/// An organization's members and their two-factor state, then who is invited.
async fn show_org(state: &AppState, slug: &str) -> anyhow::Result<()> {
    let org = find_org(state, slug).await?;
    println!("{} ({})", shown(&org.name), shown(&org.slug));
    for member in store::members_of(&state.pool, org.id).await? {
        let two_factor = if member.has_two_factor { "on" } else { "off" };
        println!(
            "  {}  {}  two-factor {two_factor}",
            shown(&member.username),
            member.role
        );
    }
    for username in store::pending_invitations_of(&state.pool, org.id).await? {
        println!("  {}  invited", shown(&username));
    }
    Ok(())
}

async fn org(state: &AppState, command: OrgCommand) -> anyhow::Result<()> {
    let detail = match command {
        OrgCommand::List => return list_orgs(state).await,
        OrgCommand::Show { slug } => return show_org(state, &slug).await,
        OrgCommand::AddMember { slug, username } => {
            let org = find_org(state, &slug).await?;
            let user_id = user_id(state, &username).await?;
            // Never a role change: an owner added again stays owner.
            if !store::add_member(&state.pool, org.id, user_id, state.clock.now()).await? {
                bail!(
                    "{} is already a member of {}",
                    shown(&username),
                    shown(&org.slug)
                );
            }
            (
                user_id,
                format!(
                    "support added {username} to {} (by {})",
                    org.slug,
                    operator()
                ),
            )
        }
        OrgCommand::SetOwner { slug, username } => {
            let org = find_org(state, &slug).await?;
            let user_id = user_id(state, &username).await?;
            store::make_owner(&state.pool, org.id, user_id, state.clock.now()).await?;
            (
                user_id,
                format!(
                    "support made {username} owner of {} (by {})",
                    org.slug,
                    operator()
                ),
            )
        }
    };
    let (user_id, detail) = detail;
    app::audit::record(
        state,
        user_id,
        EventKind::OrgChanged,
        &admin_client(),
        Some(&detail),
    )
    .await?;
    println!("{}", shown(&detail));
    Ok(())
}

fn admin_client() -> Client {
    Client {
        address: Some("admin command".into()),
        user_agent: None,
    }
}

async fn user_id(state: &AppState, username: &str) -> anyhow::Result<UserId> {
    let username = app::validation::Username::canonical(username);
    store::user_id_by_username(&state.pool, username.as_str())
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
        bail!(
            "{} has no two-factor authentication to reset",
            shown(username)
        );
    }
    let client = admin_client();
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
        "Two-factor authentication of {} is reset; every session is signed out and a notice was emailed.",
        shown(username)
    );
    Ok(())
}

async fn show(state: &AppState, username: &str) -> anyhow::Result<()> {
    let user_id = user_id(state, username).await?;
    let account = store::account(&state.pool, user_id)
        .await?
        .context("the account vanished")?;
    println!(
        "account:        {} (id {})",
        shown(&account.username),
        account.id
    );
    println!(
        "email:          {} ({})",
        shown(&account.email),
        if account.email_verified_at.is_some() {
            "verified"
        } else {
            "not verified"
        }
    );
    match store::two_factor_of(&state.pool, user_id).await? {
        Some(two_factor) => println!(
            "two-factor:     on since {}",
            format_time(two_factor.enabled_at)
        ),
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
    for event in store::recent_events(&state.pool, user_id, app::unix_time::UnixTime(0), 20).await?
    {
        let kind = EventKind::parse(&event.kind)
            .map_or(event.kind.clone(), |kind| kind.description().to_owned());
        println!(
            "  {}  {}  {}{}{}",
            format_time(event.at),
            shown(event.address.as_deref().unwrap_or("-")),
            shown(&kind),
            event
                .detail
                .map(|detail| format!(" ({})", shown(&detail)))
                .unwrap_or_default(),
            event
                .user_agent
                .map(|agent| format!("  [{}]", shown(&agent)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `server admin client …`: the apps that sign people in through Portal.
async fn client(state: &AppState, command: ClientCommand) -> anyhow::Result<()> {
    use app::oidc::service::clients;
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            first_party,
            require_two_factor,
            id_token_alg,
            post_logout_redirect_uris,
            backchannel_logout_uri,
        } => {
            let new = clients::NewClient {
                name,
                redirect_uris,
                public,
                first_party,
                require_two_factor,
                id_token_alg,
                post_logout_redirect_uris,
                backchannel_logout_uri,
            };
            let registered = clients::register(state, new)
                .await
                .map_err(anyhow::Error::msg)?;
            println!("client_id: {}", registered.client_id);
            if let Some(secret) = registered.client_secret {
                println!("client_secret: {secret}");
                println!("The secret is shown this once; Portal keeps only its hash.");
            }
        }
        ClientCommand::List => {
            for client in store::clients(&state.pool).await? {
                println!(
                    "{}  {}  {}{}{}{}",
                    client.id,
                    shown(&client.name),
                    if client.secret_hash.is_some() {
                        "confidential"
                    } else {
                        "public"
                    },
                    if client.first_party {
                        ", first-party"
                    } else {
                        ""
                    },
                    if client.require_two_factor {
                        ", requires two-factor"
                    } else {
                        ""
                    },
                    format!(", {}", client.id_token_alg),
                );
                for uri in client.redirect_uris() {
                    println!("    redirect: {}", shown(uri));
                }
            }
        }
        ClientCommand::Remove { client_id } => {
            if !store::remove_client(&state.pool, &client_id).await? {
                bail!("no app has the client_id {}", shown(&client_id));
            }
            println!("Removed; its codes and tokens no longer work.");
        }
        ClientCommand::RotateSecret { client_id } => {
            let Some(secret) = clients::rotate_secret(state, &client_id).await? else {
                bail!(
                    "no confidential app has the client_id {}",
                    shown(&client_id)
                );
            };
            println!("client_secret: {secret}");
            println!("The old secret no longer works.");
        }
    }
    Ok(())
}

/// `server admin keys …`: the keys ID tokens are signed with.
async fn keys(state: &AppState, command: KeysCommand) -> anyhow::Result<()> {
    use app::oidc::service::keys;
    match command {
        KeysCommand::List => {
            keys::ensure_key(state, keys::RS256).await?;
            let now = state.clock.now();
            for key in store::published_keys(&state.pool, now - keys::ID_TOKEN_SECONDS).await? {
                let role = match key.retired_at {
                    Some(at) if at > now => format!("signing until {}", format_time(at)),
                    Some(at) => format!("retired {}", format_time(at)),
                    None if key.signs_from > now => {
                        format!("published, signs from {}", format_time(key.signs_from))
                    }
                    None => "signing".to_owned(),
                };
                println!("{}  {}  {role}", key.alg, key.kid);
            }
        }
        KeysCommand::Rotate => {
            for kid in keys::rotate(state).await? {
                println!("published {kid}; it signs from a day on");
            }
        }
    }
    Ok(())
}

/// `server admin rules check [URL…]`: the rules in order (first match wins, no match means
/// deny), and for each URL given the rule it meets.
fn rules(config: &Config, urls: &[String]) -> anyhow::Result<()> {
    let Some(file) = &config.access_rules else {
        bail!("PORTAL_ACCESS_RULES is not set: every forward-auth request is denied");
    };
    let rules = &file.rules;
    println!(
        "{}: {} rules, first match wins, no match means deny",
        file.path.display(),
        rules.rules.len()
    );
    for rule in &rules.rules {
        let paths = if rule.paths.is_empty() {
            "every path".to_owned()
        } else {
            rule.paths
                .iter()
                .map(|path| path.as_text())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let members = if rule.organizations.is_empty() {
            String::new()
        } else {
            format!(", members of {}", rule.organizations.join(" or "))
        };
        println!(
            "  line {:>3}: {} {} → {}{members}",
            rule.line,
            rule.host.as_text(),
            paths,
            rule.policy.as_str()
        );
    }
    for url in urls {
        let parsed = url::Url::parse(url).with_context(|| format!("{url}: not a URL"))?;
        let host = parsed.host_str().unwrap_or_default();
        match rules.rule_for(host, &parsed[url::Position::BeforePath..]) {
            Some(rule) => println!("{url} → {} (line {})", rule.policy.as_str(), rule.line),
            None => println!("{url} → deny (no rule)"),
        }
    }
    Ok(())
}
