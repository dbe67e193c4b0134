//! SMS gateways: the development outbox (messages stay in `sms_outbox`, readable
//! on the ente's `/sviluppo/sms` page) and Skebby's REST API v1.0.

use anyhow::{bail, Context};
use serde::Serialize;

use crate::config::Secret;

pub enum SmsGateway {
    /// Nothing leaves the machine: the outbox row is the message.
    Outbox,
    Skebby(Skebby),
}

pub struct Skebby {
    pub base_url: String,
    pub username: String,
    pub password: Secret,
    pub client: reqwest::Client,
}

#[derive(Serialize)]
struct SkebbySms<'a> {
    message_type: &'a str,
    message: &'a str,
    recipient: [&'a str; 1],
    sender: &'a str,
    #[serde(rename = "returnCredits")]
    return_credits: bool,
}

impl SmsGateway {
    pub fn is_outbox(&self) -> bool {
        matches!(self, Self::Outbox)
    }

    /// Sends one message; returns the provider's reference.
    pub async fn send(&self, sender: &str, to: &str, body: &str) -> anyhow::Result<Option<String>> {
        match self {
            Self::Outbox => Ok(None),
            Self::Skebby(s) => s.send(sender, to, body).await,
        }
    }
}

impl Skebby {
    async fn send(&self, sender: &str, to: &str, body: &str) -> anyhow::Result<Option<String>> {
        let base = self.base_url.trim_end_matches('/');
        // Session keys last a few minutes; logging in per batch keeps no state.
        let login = self
            .client
            .get(format!("{base}/login"))
            .query(&[("username", self.username.as_str()), ("password", self.password.expose())])
            .send()
            .await
            .context("Skebby login")?;
        if !login.status().is_success() {
            bail!("Skebby login refused: HTTP {}", login.status());
        }
        let keys = login.text().await?;
        let (user_key, session_key) = keys.trim().split_once(';').context("Skebby login: unexpected answer")?;
        let response = self
            .client
            .post(format!("{base}/sms"))
            .header("user_key", user_key)
            .header("Session_key", session_key)
            .json(&SkebbySms { message_type: "GP", message: body, recipient: [to], sender, return_credits: false })
            .send()
            .await
            .context("Skebby send")?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() || answer["result"] != "OK" {
            bail!("Skebby refused the message: HTTP {status} {answer}");
        }
        Ok(answer["order_id"].as_str().map(str::to_string))
    }
}
