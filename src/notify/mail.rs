//! E-mail over SMTP (lettre, rustls). Without `SMTP_URL` nothing is sent and the
//! outbox row is the message (readable on the ente's `/sviluppo/posta` page).

use anyhow::Context;
use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from_address: String,
}

impl Mailer {
    /// `url`: `smtp://host:port` (plain, for local sinks), `smtps://…` or
    /// `smtp://…?tls=required`, with credentials in the URL.
    pub fn new(url: Option<&str>, from_address: &str) -> anyhow::Result<Self> {
        let transport = match url {
            Some(url) => Some(AsyncSmtpTransport::<Tokio1Executor>::from_url(url).context("SMTP_URL")?.build()),
            None => None,
        };
        Ok(Self { transport, from_address: from_address.to_string() })
    }

    pub fn is_outbox(&self) -> bool {
        self.transport.is_none()
    }

    /// `Message-ID` of the outbox row `id`: the same on every attempt, so that a
    /// message sent twice (a crash after the server accepted it) can be told a
    /// duplicate by whoever receives it.
    pub fn message_id(&self, id: uuid::Uuid) -> String {
        let domain = self.from_address.rsplit_once('@').map(|(_, d)| d).unwrap_or("sportello.localhost");
        format!("<{}@{domain}>", id.simple())
    }

    pub async fn send(
        &self,
        from_name: &str,
        to: &str,
        subject: &str,
        body: &str,
        message_id: String,
    ) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else { return Ok(()) };
        let from = Mailbox::new(Some(from_name.to_string()), self.from_address.parse().context("mail_from")?);
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(from)
            .to(to.parse().context("recipient address")?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())?;
        transport.send(message).await.context("SMTP delivery")?;
        Ok(())
    }
}
