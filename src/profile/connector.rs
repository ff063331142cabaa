//! `[connector]`: how attached documents reach the one-stop system, which computes the national index
//! (a PDF it never receives does not count).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which kind of receiver the connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// The national portal's dossier sync (`DongBoHoSoMC`): JSON naming signed download links.
    Dvcqg,
    /// A generic HTTP receiver: a JSON metadata part and the PDF, as multipart.
    Http,
    /// An exchange folder another system imports from: `<code>.<NNN>.pdf` and a metadata JSON.
    Folder,
}

/// How the connector proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectorAuth {
    /// No credentials (a receiver on a closed network).
    #[default]
    None,
    /// A fixed bearer token, read from the environment variable `token_env`.
    Bearer,
    /// An access token asked for at `token_url` with `client_id` and the secret in `secret_env`
    /// (OAuth2 client credentials), kept until it expires.
    TokenCall,
}

/// The `[connector]` section of a profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// `dvcqg`, `http` or `folder`.
    pub kind: ConnectorKind,
    /// Where entries are sent (`dvcqg`, `http`).
    #[serde(default)]
    pub url: Option<String>,
    /// The exchange folder (`folder`).
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// The address the receiving system reaches sohoa's API at: download links start with it (`dvcqg`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a download link stays valid, in hours.
    #[serde(default = "default_link_hours")]
    pub link_hours: u64,
    /// How the connector proves who it is.
    #[serde(default)]
    pub auth: ConnectorAuth,
    /// The environment variable holding the bearer token (`auth = "bearer"`).
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Where an access token is asked for (`auth = "token-call"`).
    #[serde(default)]
    pub token_url: Option<String>,
    /// The client id sent with the token call.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The environment variable holding the client secret for the token call.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// How long one delivery may take before it counts as a timeout (a transient failure).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The first wait after a transient failure, in milliseconds; doubled at each further failure.
    #[serde(default = "default_retry_base")]
    pub retry_base_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_ms: u64,
    /// Document type → the remote's `MaThanhPhanHoSo`. When any is given, a document of a type not
    /// listed is refused here (said in the outbox) instead of being sent with no component code.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Procedure code in sohoa's catalogue → the remote's `MaTTHC`, where the two differ.
    #[serde(default)]
    pub procedures: BTreeMap<String, String>,
    /// Case status (`received`, `processing`, …) → the remote's `TrangThaiHoSo`, over the defaults.
    #[serde(default)]
    pub statuses: BTreeMap<String, i64>,
    /// Where the one-stop system's export of new and updated cases is fetched (CSV, JSON or JSON Lines,
    /// as `sohoa case import` reads), with the connector's credentials; none, cases come by import only.
    #[serde(default)]
    pub pull_url: Option<String>,
    /// Minutes between pulls.
    #[serde(default = "default_pull_minutes")]
    pub pull_minutes: u64,
    /// Metadata field → the name the `http` receiver expects (`case_code = "maHoSo"`, …), and the
    /// multipart part names `metadata` and `file`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

fn default_link_hours() -> u64 {
    168
}
fn default_pull_minutes() -> u64 {
    15
}
fn default_token_env() -> String {
    "SOHOA_CONNECTOR_TOKEN".into()
}
fn default_secret_env() -> String {
    "SOHOA_CONNECTOR_SECRET".into()
}
fn default_timeout() -> u64 {
    30
}
fn default_retry_base() -> u64 {
    2_000
}
fn default_retry_max() -> u64 {
    600_000
}

impl Connector {
    /// What is missing for the kind chosen, as messages naming the key to add.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self.kind {
            ConnectorKind::Dvcqg | ConnectorKind::Http => {
                if self.url.as_deref().is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
                    out.push(("url", "connector.url must be the receiver's http:// or https:// address".into()));
                }
            }
            ConnectorKind::Folder => {
                if self.folder.is_none() {
                    out.push(("folder", "connector.folder must name the exchange folder".into()));
                }
            }
        }
        if self.kind == ConnectorKind::Dvcqg
            && self.public_url.as_deref().is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            out.push((
                "public_url",
                "connector.public_url must be the http(s) address the one-stop system reaches sohoa's API at: \
                 the download links start with it"
                    .into(),
            ));
        }
        if self.auth == ConnectorAuth::TokenCall && self.token_url.is_none() {
            out.push(("token_url", "connector.auth = \"token-call\" needs connector.token_url".into()));
        }
        if self.pull_url.as_deref().is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
            out.push(("pull_url", "connector.pull_url must be an http:// or https:// address".into()));
        }
        if !(1..=8760).contains(&self.link_hours) {
            out.push((
                "link_hours",
                "connector.link_hours must be from 1 to 8760 (a year): how long a download link stays valid".into(),
            ));
        }
        if self.timeout_seconds == 0 {
            out.push(("timeout_seconds", "connector.timeout_seconds must be at least 1".into()));
        }
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            out.push((
                "retry_base_ms",
                "connector.retry_base_ms must be at least 1 and no more than connector.retry_max_ms".into(),
            ));
        }
        out
    }
}
