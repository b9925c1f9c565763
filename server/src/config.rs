//! Portal's configuration: environment variables, each with an embedded default, parsed once at
//! start and listed by `server --help`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};
use lettre::message::Mailbox;
use url::Url;

use crate::layers::client_addr::TrustedProxies;

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Portal: sign in with a password and an authenticator app."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal (what runs without a command).
    Serve,
    /// Support's tools, run on the server against its database.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Turn off an account's two-factor authentication when every factor is lost: the last resort.
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        username: String,
        /// Why, for the audit log (for example the support ticket).
        #[arg(long)]
        reason: String,
    },
    /// Print an account's two-factor state and its recent security events.
    Show { username: String },
    /// Organizations: list, show, add a member, make a member owner.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Apps that sign people in through Portal (OpenID Connect): add, list, remove, new secret.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The keys ID tokens are signed with: list, rotate.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Forward-auth's access rules (PORTAL_ACCESS_RULES).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Copy this SQLite database to an empty PostgreSQL database, to run several instances on it.
    CopyTo {
        /// The target, e.g. postgres://portal:secret@db.internal/portal?sslmode=verify-full. Its
        /// password is best kept off the command line (`ps`, shell history): set the variable,
        /// or give --database-file.
        #[arg(
            long,
            env = "PORTAL_COPY_TO_DATABASE_URL",
            value_name = "PORTAL_COPY_TO_DATABASE_URL",
            hide_env_values = true,
            required_unless_present = "database_file"
        )]
        database: Option<String>,
        /// A file whose first line is the target's URL.
        #[arg(long, value_name = "FILE")]
        database_file: Option<PathBuf>,
    },
    /// A checked copy of the SQLite database, taken while the portal serves (on PostgreSQL:
    /// pg_dump). Its second-factor secrets are sealed with the server key: keep the key apart.
    Backup {
        /// The file to write; an existing file is refused.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an app; prints its client_id and, unless --public, its client_secret (once).
    Add {
        /// The app's name, as the consent page and the security page show it.
        #[arg(long)]
        name: String,
        /// Where the app receives its code: https, or http on 127.0.0.1 / localhost. Exact.
        #[arg(long = "redirect-uri", required = true, value_name = "URI")]
        redirect_uris: Vec<String>,
        /// An app that cannot keep a secret (a native or browser app): PKCE alone proves it.
        #[arg(long)]
        public: bool,
        /// The operator's own app: no consent page, and refresh tokens without asking.
        #[arg(long)]
        first_party: bool,
        /// Only a sign-in with a second factor reaches this app; others enroll first.
        #[arg(long)]
        require_two_factor: bool,
        /// RS256 (the default) or ES256.
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// Where the app may send the browser after signing out (exact).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Where Portal posts a logout token when a sign-in ends or access is revoked.
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
    },
    /// Every registered app.
    List,
    /// Remove an app, and every code and token issued to it.
    Remove { client_id: String },
    /// A new secret for a confidential app; the old one stops working at once.
    RotateSecret { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check the rules file and list which host and path gets which policy; with URLs, the
    /// rule and policy each one meets.
    Check { urls: Vec<String> },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The published signing keys.
    List,
    /// Publish new keys now, signing from a day on; the old ones stay published until the last
    /// token they signed has expired.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Every organization, with its requirement.
    List,
    /// An organization's members and their two-factor state.
    Show { slug: String },
    /// Add an existing account as a member.
    AddMember { slug: String, username: String },
    /// Make an account an owner (adding it if it is not a member).
    SetOwner { slug: String, username: String },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Folder for the SQLite file, the server key and the mail outbox; made on first start.
    #[arg(
        long,
        env = "PORTAL_DATA_DIR",
        value_name = "PORTAL_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// The database [default: sqlite://$PORTAL_DATA_DIR/portal.db]; a PostgreSQL URL holds its
    /// password, so --help never shows the value.
    #[arg(
        long,
        env = "PORTAL_DATABASE_URL",
        value_name = "PORTAL_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Where people reach Portal: links in emails; cookies are Secure when it is https.
    #[arg(
        long,
        env = "PORTAL_BASE_URL",
        value_name = "PORTAL_BASE_URL",
        default_value = "http://127.0.0.1:3000",
        value_parser = parse_base_url
    )]
    pub base_url: Url,

    /// SMTP server for mail, e.g. smtp://127.0.0.1:2525 or smtps://user:pass@host; unset, mail is
    /// written to $PORTAL_DATA_DIR/outbox/ and its link logged.
    #[arg(
        long,
        env = "PORTAL_SMTP_URL",
        value_name = "PORTAL_SMTP_URL",
        hide_env_values = true,
        value_parser = parse_smtp_url
    )]
    pub smtp_url: Option<Url>,

    /// The sender of Portal's mail.
    #[arg(
        long,
        env = "PORTAL_MAIL_FROM",
        value_name = "PORTAL_MAIL_FROM",
                default_value = "Portal <no-reply@localhost>",
        value_parser = parse_mailbox
    )]
    pub mail_from: Mailbox,

    /// The address shown to people who lost every factor.
    #[arg(
        long,
        env = "PORTAL_SUPPORT_EMAIL",
        value_name = "PORTAL_SUPPORT_EMAIL",
        default_value = "support@localhost"
    )]
    pub support_email: String,

    /// The issuer named in authenticator apps.
    #[arg(long, env = "PORTAL_ISSUER", value_name = "PORTAL_ISSUER", default_value = "Portal", value_parser = parse_issuer)]
    pub issuer: String,

    /// The key that encrypts second-factor secrets (64 hex digits); unset, a key file is made in
    /// the data folder on first start.
    #[arg(
        long,
        env = "PORTAL_SECRET_KEY",
        value_name = "PORTAL_SECRET_KEY",
        hide_env_values = true,
        value_parser = parse_secret_key
    )]
    pub secret_key: Option<SecretKeyHex>,

    /// Requests a minute from one address to the sign-in endpoints (sign-in, code, recovery,
    /// sign-up): generous enough for an office behind one address.
    #[arg(
        long,
        env = "PORTAL_SIGN_IN_LIMIT",
        value_name = "PORTAL_SIGN_IN_LIMIT",
        default_value = "60"
    )]
    pub sign_in_limit: std::num::NonZeroU32,

    /// Proxies in front of Portal (addresses or CIDR blocks, comma-separated, e.g. 127.0.0.1 or
    /// 10.0.0.0/8). A request from one of them is taken to come from the rightmost address in its
    /// X-Forwarded-For (else Forwarded) that is not itself a trusted proxy. Unset: none, the TCP
    /// peer is the client.
    #[arg(
        long,
        env = "PORTAL_TRUSTED_PROXIES",
        value_name = "PORTAL_TRUSTED_PROXIES",
        value_parser = TrustedProxies::parse
    )]
    pub trusted_proxies: Option<TrustedProxies>,

    /// Forward-auth's access rules: a TOML file of `[[rule]]`s (host, paths, policy,
    /// organizations), first match wins, no match means deny. A file with an error stops the
    /// server at start with its line. Unset: `/auth/verify` denies every request.
    #[arg(
        long,
        env = "PORTAL_ACCESS_RULES",
        value_name = "PORTAL_ACCESS_RULES",
        value_parser = parse_access_rules
    )]
    pub access_rules: Option<AccessRulesFile>,

    /// The domain the session cookie covers, e.g. example.com, so that apps on its subdomains
    /// behind forward-auth see the sign-in. Every app under that domain then receives the session
    /// cookie. Unset: the cookie stays with Portal's own host.
    #[arg(
        long,
        env = "PORTAL_COOKIE_DOMAIN",
        value_name = "PORTAL_COOKIE_DOMAIN",
        value_parser = parse_cookie_domain
    )]
    pub cookie_domain: Option<String>,

    /// Where Prometheus metrics are served (`GET /metrics`), e.g. 127.0.0.1:9100; unset, none
    /// are. Keep it off the public address: it is for the operator's scraper.
    #[arg(long, env = "PORTAL_METRICS_ADDR", value_name = "PORTAL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// How long a stop (SIGTERM, or Ctrl-C) waits for the requests in flight to be answered
    /// before it closes their connections and exits.
    #[arg(
        long,
        env = "PORTAL_SHUTDOWN_SECONDS",
        value_name = "PORTAL_SHUTDOWN_SECONDS",
        default_value = "10"
    )]
    pub shutdown_seconds: u64,

    /// Connections one address may hold open at once; one more is closed as it arrives. The
    /// proxies of PORTAL_TRUSTED_PROXIES, which carry everyone's requests, are not capped.
    #[arg(
        long,
        env = "PORTAL_CONNECTIONS_PER_ADDRESS",
        value_name = "PORTAL_CONNECTIONS_PER_ADDRESS",
        default_value = "256",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub connections_per_address: u32,

    /// The log's format: `text` for a person at a terminal, `json` (one object a line, with the
    /// request's id) for a log collector.
    #[arg(
        long,
        env = "PORTAL_LOG_FORMAT",
        value_name = "PORTAL_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Refuse new passwords that appear in data breaches, and tell a sign-in with one to change
    /// it: the address of a Have I Been Pwned range API, https://api.pwnedpasswords.com or a
    /// mirror of it (`/range/<prefix>` is added). Only the first 5 hex digits of the password's
    /// SHA-1 are sent. A lookup that takes over 1 s lets the password through and is logged.
    /// Unset, and PORTAL_BREACHED_PASSWORDS_FILE unset: no check.
    #[arg(
        long,
        env = "PORTAL_BREACHED_PASSWORDS_URL",
        value_name = "PORTAL_BREACHED_PASSWORDS_URL",
        value_parser = parse_base_url,
        conflicts_with = "breached_passwords_file"
    )]
    pub breached_passwords_url: Option<Url>,

    /// The same check against a local file instead: SHA-1 hashes, `HASH:COUNT` a line, sorted by
    /// hash (Have I Been Pwned's "ordered by hash" download). It is searched in place, never
    /// read whole, and opened anew for each lookup, so a newer file can replace it.
    #[arg(
        long,
        env = "PORTAL_BREACHED_PASSWORDS_FILE",
        value_name = "PORTAL_BREACHED_PASSWORDS_FILE",
        value_parser = parse_breached_passwords_file
    )]
    pub breached_passwords_file: Option<PathBuf>,

    /// The address the server listens on.
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        value_name = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub site_addr: SocketAddr,
}

/// How the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("portal.db").display()))
    }

    /// The configuration of a server run from the command line's words alone, whatever the
    /// environment says (for tests and tools).
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Cli::try_parse_from(args).map(|cli| cli.config)
    }
}

/// 32 bytes, never printed.
#[derive(Clone)]
pub struct SecretKeyHex(pub [u8; 32]);

impl std::fmt::Debug for SecretKeyHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The access rules file, read and checked at start.
#[derive(Debug, Clone)]
pub struct AccessRulesFile {
    pub path: PathBuf,
    pub rules: app::security::access_rules::Rules,
}

fn parse_access_rules(path: &str) -> Result<AccessRulesFile, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    let rules = app::security::access_rules::Rules::parse(&text)
        .map_err(|reason| format!("{path}: {reason}"))?;
    Ok(AccessRulesFile {
        path: PathBuf::from(path),
        rules,
    })
}

/// A domain name such as example.com (no scheme, port or leading dot).
fn parse_cookie_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_start_matches('.').to_ascii_lowercase();
    let valid = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        });
    if valid {
        Ok(domain)
    } else {
        Err(format!("{domain:?} is not a domain name like example.com"))
    }
}

fn parse_base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|error| format!("not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// address".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

/// A readable file whose first line is a hash line: a wrong path or a wrong file stops the
/// server at start rather than letting every password through unchecked.
fn parse_breached_passwords_file(path: &str) -> Result<PathBuf, String> {
    use std::io::Read as _;
    let mut file =
        std::fs::File::open(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    let mut start = [0u8; 128];
    let read = file
        .read(&mut start)
        .map_err(|error| format!("cannot read {path}: {error}"))?;
    let first = start[..read]
        .split(|byte| *byte == b'\n')
        .next()
        .unwrap_or_default();
    if app::security::breached::parse_line(first).is_none() {
        return Err(format!(
            "{path}: its first line is not a SHA-1 hash (SHA1HEX:COUNT, sorted by hash)"
        ));
    }
    Ok(PathBuf::from(path))
}

fn parse_mailbox(value: &str) -> Result<Mailbox, String> {
    value
        .parse()
        .map_err(|_| "must be an address like Portal <no-reply@example.com>".to_owned())
}

fn parse_smtp_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|_| "not a URL".to_owned())?;
    if !matches!(url.scheme(), "smtp" | "smtps") || url.host().is_none() {
        return Err("must be smtp://host[:port] or smtps://[user:pass@]host[:port]".into());
    }
    Ok(url)
}

fn parse_issuer(value: &str) -> Result<String, String> {
    let issuer = value.trim();
    // The otpauth URI puts the issuer before a colon in its label.
    if issuer.is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
        return Err("must be 1 to 64 characters without a colon".into());
    }
    Ok(issuer.to_owned())
}

pub(crate) fn parse_secret_key(value: &str) -> Result<SecretKeyHex, String> {
    let value = value.trim();
    let invalid = || "must be 64 hexadecimal digits (32 bytes)".to_owned();
    let mut key = [0u8; 32];
    hex::decode_to_slice(value, &mut key).map_err(|_| invalid())?;
    Ok(SecretKeyHex(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by every test that reads the environment (clap reads each `env` setting), so the one
    /// that sets a variable cannot be seen by the others.
    static ENVIRONMENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn environment() -> std::sync::MutexGuard<'static, ()> {
        ENVIRONMENT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let _environment = environment();
        let config = Config::from_args(["server"]).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.database_url(), "sqlite://./data/portal.db");
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(config.mail_from.to_string(), "Portal <no-reply@localhost>");
        assert_eq!(config.support_email, "support@localhost");
        assert_eq!(config.issuer, "Portal");
        assert_eq!(config.site_addr.to_string(), "127.0.0.1:3000");
        assert!(config.smtp_url.is_none() && config.secret_key.is_none());
        assert!(config.trusted_proxies.is_none());
    }

    #[test]
    fn trusted_proxies_are_read_and_listed_by_help() {
        let _environment = environment();
        let config =
            Config::from_args(["server", "--trusted-proxies", "127.0.0.1,10.0.0.0/8"]).unwrap();
        let trusted = config.trusted_proxies.unwrap();
        assert!(trusted.contains("10.1.2.3".parse().unwrap()));
        assert!(!trusted.contains("192.0.2.1".parse().unwrap()));
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        assert!(help.contains("PORTAL_TRUSTED_PROXIES"), "{help}");
    }

    #[test]
    fn a_bad_value_is_refused_with_the_variable_named() {
        let _environment = environment();
        for (flag, value, variable) in [
            ("--base-url", "ftp://x", "PORTAL_BASE_URL"),
            ("--smtp-url", "http://mail", "PORTAL_SMTP_URL"),
            ("--secret-key", "abc", "PORTAL_SECRET_KEY"),
            ("--issuer", "a:b", "PORTAL_ISSUER"),
            ("--mail-from", "not an address", "PORTAL_MAIL_FROM"),
            ("--site-addr", "nowhere", "LEPTOS_SITE_ADDR"),
            (
                "--trusted-proxies",
                "127.0.0.1,10.0.0.0/33",
                "PORTAL_TRUSTED_PROXIES",
            ),
            (
                "--breached-passwords-url",
                "ftp://mirror.example/",
                "PORTAL_BREACHED_PASSWORDS_URL",
            ),
            (
                "--breached-passwords-file",
                "/nonexistent/pwned-passwords.txt",
                "PORTAL_BREACHED_PASSWORDS_FILE",
            ),
        ] {
            let error = Config::from_args(["server", flag, value])
                .unwrap_err()
                .to_string();
            assert!(error.lines().next().unwrap().contains(variable), "{error}");
        }
    }

    /// `server --help` shows each setting's value from the environment; a database URL holds
    /// the PostgreSQL password (review L6).
    #[test]
    fn help_never_shows_the_database_password() {
        let _environment = environment();
        // SAFETY: the tests that read the environment wait for `ENVIRONMENT`.
        unsafe { std::env::set_var("PORTAL_DATABASE_URL", "postgres://u:s3cret@h/d") };
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        unsafe { std::env::remove_var("PORTAL_DATABASE_URL") };
        assert!(help.contains("PORTAL_DATABASE_URL"), "{help}");
        assert!(!help.contains("s3cret"), "{help}");
    }

    /// `copy-to` takes the target's URL, password and all, from the environment: on the command
    /// line it would show in `ps` and shell history (review L6).
    #[test]
    fn copy_to_reads_its_target_from_the_environment() {
        let _environment = environment();
        let target = "postgres://u:s3cret@h/d?sslmode=verify-full";
        // SAFETY: the tests that read the environment wait for `ENVIRONMENT`.
        unsafe { std::env::set_var("PORTAL_COPY_TO_DATABASE_URL", target) };
        let cli = Cli::try_parse_from(["server", "admin", "copy-to"]);
        let help = <Cli as clap::CommandFactory>::command()
            .find_subcommand_mut("admin")
            .and_then(|admin| admin.find_subcommand_mut("copy-to"))
            .map(|copy| copy.render_long_help().to_string());
        unsafe { std::env::remove_var("PORTAL_COPY_TO_DATABASE_URL") };
        match cli.map(|cli| cli.command) {
            Ok(Some(Command::Admin(AdminCommand::CopyTo { database, .. }))) => {
                let database: Option<String> = database.into();
                assert_eq!(database.as_deref(), Some(target));
            }
            other => panic!("{other:?}"),
        }
        let help = help.expect("copy-to has help");
        assert!(help.contains("PORTAL_COPY_TO_DATABASE_URL"), "{help}");
        assert!(!help.contains("s3cret"), "{help}");
    }

    #[test]
    fn a_breached_passwords_file_that_is_no_hash_list_is_refused_and_both_sources_exclude_each_other()
     {
        let _environment = environment();
        let folder = tempfile::tempdir().unwrap();
        let wrong = folder.path().join("words.txt");
        std::fs::write(&wrong, "password\n123456\n").unwrap();
        let error = Config::from_args([
            "server",
            "--breached-passwords-file",
            wrong.to_str().unwrap(),
        ])
        .unwrap_err()
        .to_string();
        let first = error.lines().next().unwrap();
        assert!(first.contains("PORTAL_BREACHED_PASSWORDS_FILE"), "{error}");
        assert!(first.contains("not a SHA-1 hash"), "{error}");

        let right = folder.path().join("pwned.txt");
        std::fs::write(&right, "21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\r\n").unwrap();
        let right = right.to_str().unwrap();
        let config = Config::from_args(["server", "--breached-passwords-file", right]).unwrap();
        assert_eq!(
            config.breached_passwords_file.as_deref(),
            Some(std::path::Path::new(right))
        );
        let both = Config::from_args([
            "server",
            "--breached-passwords-file",
            right,
            "--breached-passwords-url",
            "https://mirror.example/",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            both.lines()
                .next()
                .unwrap()
                .contains("PORTAL_BREACHED_PASSWORDS"),
            "{both}"
        );
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        assert!(help.contains("PORTAL_BREACHED_PASSWORDS_URL"), "{help}");
        assert!(help.contains("PORTAL_BREACHED_PASSWORDS_FILE"), "{help}");
    }

    #[test]
    fn a_secret_key_is_64_hex_digits() {
        let key = parse_secret_key(&"0f".repeat(32)).unwrap();
        assert_eq!(key.0, [0x0f; 32]);
        assert!(parse_secret_key(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "[redacted]");
    }
}
