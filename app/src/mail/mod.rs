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

    /// Sends `email`, counted as sent or failed for the operator's metrics.
    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let sent = self.deliver(email).await;
        let result = if sent.is_ok() { "sent" } else { "failed" };
        metrics::counter!("portal_mails_total", "result" => result).increment(1);
        sent
    }

    async fn deliver(&self, email: Email) -> Result<(), MailError> {
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
