//! Portal's mail: through SMTP when PORTAL_SMTP_URL is set, else as .eml files in the outbox
//! folder with the link logged, for a developer's machine. lettre does both.

pub mod templates;

use std::{path::PathBuf, time::Duration};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

/// One message, in plain text and HTML.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the message carries, if any: logged when mail goes to the outbox.
    pub link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address {0:?} cannot receive mail")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("the SMTP server did not take the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the SMTP server did not answer within {} seconds", SMTP_TIMEOUT.as_secs())]
    Timeout,
    #[error("the outbox could not be written: {0}")]
    Outbox(#[from] lettre::transport::file::Error),
    #[error("the outbox file could not be made private: {0}")]
    OutboxMode(std::io::Error),
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf, AsyncFileTransport<Tokio1Executor>),
}

/// An SMTP server that does not answer within this long is taken as down.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

impl Mailer {
    /// `smtp://host:port` (plain, for local servers), `smtp://…?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS): lettre reads the URL.
    pub fn smtp(from: Mailbox, url: &str) -> Result<Self, lettre::transport::smtp::Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self {
            from,
            transport: Transport::Smtp(transport),
        })
    }

    /// The folder is made readable by its owner only: its mail holds live links.
    pub fn outbox(from: Mailbox, folder: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&folder)?;
        owner_only(&folder, 0o700)?;
        let transport = AsyncFileTransport::<Tokio1Executor>::new(&folder);
        Ok(Self {
            from,
            transport: Transport::Outbox(folder, transport),
        })
    }

    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::Address(email.to.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))?;
        match &self.transport {
            // lettre's timeout covers reads on a connection, not a server that accepts and never
            // greets; the whole send is bounded so such a server cannot hang a request.
            Transport::Smtp(smtp) => {
                tokio::time::timeout(SMTP_TIMEOUT * 2, smtp.send(message))
                    .await
                    .map_err(|_| MailError::Timeout)??;
            }
            Transport::Outbox(folder, file) => {
                let id = file.send(message).await?;
                let path = folder.join(format!("{id}.eml"));
                // lettre writes with the umask; the folder already keeps others out.
                owner_only(&path, 0o600).map_err(MailError::OutboxMode)?;
                // The outbox stands in for a mailbox on a developer's machine; the link is what
                // they need from it.
                tracing::info!(
                    file = %path.display(),
                    link = email.link.as_deref().unwrap_or("none"),
                    subject = %email.subject,
                    "mail written to the outbox"
                );
            }
        }
        Ok(())
    }
}

/// Sets a file's or folder's mode, on systems that have modes.
fn owner_only(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Emails the account a notice of a security change. A notice that cannot be sent is logged and
/// does not undo the change it reports.
pub async fn send_notice(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    notice: templates::Notice,
) {
    let account = match crate::store::account(&state.pool, user_id).await {
        Ok(Some(account)) => account,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, "cannot load the account for a notice");
            return;
        }
    };
    let email = templates::notice(&account.email, &account.username, notice);
    if let Err(error) = state.mailer.send(email).await {
        tracing::warn!(%error, user_id, ?notice, "a notice email could not be sent");
    }
}

/// How many links of one purpose an account may be sent: at most `per_hour` an hour (else
/// `TooManyEmails` about `link`), and with `one_live` none while an earlier one is still unused
/// and unexpired.
pub struct TokenCap {
    pub per_hour: i64,
    pub one_live: bool,
    pub link: crate::error::Link,
}

/// Mails the account a link to `path` holding a new single-use token for `purpose`, valid for
/// `lifetime` seconds, within `cap`. The token is stored hashed; the cap is checked and the token
/// made in one transaction, so parallel requests cannot pass the cap together; the token is
/// withdrawn when the mail cannot be sent, so a failed send spends nothing. False when a live
/// link made a new one needless.
pub async fn send_token_link(
    state: &crate::state::AppState,
    user_id: crate::store::UserId,
    purpose: crate::store::TokenPurpose,
    lifetime: i64,
    cap: TokenCap,
    path: &str,
    compose: impl FnOnce(&crate::store::Account, &str) -> Email,
) -> Result<bool, crate::error::AppError> {
    use crate::{
        error::AppError,
        security::token,
        store::{self, CappedToken},
    };
    let account = store::account(&state.pool, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = state.clock.now();
    let token = token::new_token();
    let new_token = store::NewToken {
        user_id,
        purpose,
        hash: &token::hash(&token),
        created_at: now,
        expires_at: now + lifetime,
    };
    let token_id = match store::create_token_capped(
        &state.pool,
        new_token,
        now - 60 * 60,
        cap.per_hour,
        cap.one_live,
    )
    .await?
    {
        CappedToken::Created(id) => id,
        CappedToken::LiveExists => return Ok(false),
        CappedToken::CapReached => {
            return Err(AppError::TooManyEmails {
                link: cap.link,
                per_hour: cap.per_hour,
            });
        }
    };
    let link = format!("{}{path}?token={token}", state.settings.base_url);
    if let Err(error) = state.mailer.send(compose(&account, &link)).await {
        store::delete_token(&state.pool, token_id).await?;
        tracing::warn!(%error, user_id, ?purpose, "a link email could not be sent");
        return Err(AppError::MailNotSent);
    }
    Ok(true)
}
