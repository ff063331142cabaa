//! The connector's credentials: none, a bearer token from the environment, or an access token asked
//! for with a client id and secret (OAuth2 client credentials) and kept until shortly before it expires.
//! Secrets are read from the environment, never from the profile, which is stored in the records.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::Outcome;
use crate::profile::{Connector, ConnectorAuth};
use crate::util::lang::Said;

/// Supplies the `Authorization` header of each request.
pub struct Credentials {
    auth: ConnectorAuth,
    token_env: String,
    token_url: Option<String>,
    client_id: Option<String>,
    secret_env: String,
    cached: Mutex<Option<(String, Instant)>>,
}

impl Credentials {
    /// The connector's credentials.
    pub fn new(c: &Connector) -> Credentials {
        Credentials {
            auth: c.auth,
            token_env: c.token_env.clone(),
            token_url: c.token_url.clone(),
            client_id: c.client_id.clone(),
            secret_env: c.secret_env.clone(),
            cached: Mutex::new(None),
        }
    }

    /// The header value to send, if any. Credentials that cannot be had are a transient failure with an
    /// alarm: the entry is not at fault, and delivery resumes once they are fixed.
    pub async fn header(&self, client: &reqwest::Client) -> Result<Option<String>, Outcome> {
        match self.auth {
            ConnectorAuth::None => Ok(None),
            ConnectorAuth::Bearer => match std::env::var(&self.token_env) {
                Ok(t) if !t.trim().is_empty() => Ok(Some(format!("Bearer {}", t.trim()))),
                _ => Err(Outcome::Transient(Said::new(
                    format!("chưa có mã truy cập: đặt biến môi trường {} cho dịch vụ", self.token_env),
                    format!("no access token: set the environment variable {} for the service", self.token_env),
                ))),
            },
            ConnectorAuth::TokenCall => {
                let mut cached = self.cached.lock().await;
                if let Some((token, until)) = cached.as_ref()
                    && Instant::now() < *until
                {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let (token, lasts) = self.call(client).await?;
                *cached = Some((token.clone(), Instant::now() + lasts));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Forgets a cached token (the receiver refused it: it may have been revoked before it expired).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn call(&self, client: &reqwest::Client) -> Result<(String, Duration), Outcome> {
        let url = self.token_url.clone().unwrap_or_default();
        let secret = std::env::var(&self.secret_env).unwrap_or_default();
        if secret.trim().is_empty() {
            return Err(Outcome::Transient(Said::new(
                format!("chưa có mật khẩu ứng dụng: đặt biến môi trường {} cho dịch vụ", self.secret_env),
                format!("no client secret: set the environment variable {} for the service", self.secret_env),
            )));
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_deref().unwrap_or("")),
            ("client_secret", secret.as_str()),
        ];
        let refused = |detail: String| {
            Outcome::Transient(Said::new(
                format!(
                    "không lấy được mã truy cập từ {url}: {detail}; kiểm tra connector.client_id và biến {}",
                    self.secret_env
                ),
                format!(
                    "could not get an access token from {url}: {detail}; check connector.client_id and {}",
                    self.secret_env
                ),
            ))
        };
        let res = client.post(&url).form(&form).send().await.map_err(|e| refused(e.to_string()))?;
        let status = res.status();
        let body = res.text().await.map_err(|e| refused(e.to_string()))?;
        if !status.is_success() {
            return Err(refused(format!("HTTP {}: {}", status.as_u16(), body.chars().take(200).collect::<String>())));
        }
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| refused(e.to_string()))?;
        let token = json
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| refused("the answer has no access_token".into()))?;
        // Renewed a minute before it runs out; a token with no stated life is kept five minutes.
        let life = json.get("expires_in").and_then(|v| v.as_u64()).unwrap_or(300);
        Ok((token.to_string(), Duration::from_secs(life.saturating_sub(60).max(10))))
    }
}
