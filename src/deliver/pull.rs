//! Pulling cases from the one-stop system: the connector's `pull_url` answers with the same export
//! `sohoa case import` reads (CSV, JSON or JSON Lines), fetched on a schedule so that a center need not
//! export files by hand. Each pull is imported like a file: idempotent by case code, bad rows skipped
//! and logged. The body is spooled to a file in the data folder, never held whole in memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::auth::Credentials;
use crate::profile::{Connector, Routing};
use crate::route::CaseCodeRule;
use crate::store::Records;
use crate::store::cases::Upsert;

/// Rows upserted per transaction.
const BATCH: usize = 500;

/// What one pull brought.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pulled {
    /// Cases new to the records.
    pub created: u64,
    /// Cases whose fields changed.
    pub updated: u64,
    /// Cases already as the export says.
    pub unchanged: u64,
    /// Rows refused, with why (row number, reason).
    pub refused: Vec<(u64, String)>,
}

/// Fetches the connector's export and imports it.
pub struct Puller {
    client: reqwest::Client,
    url: String,
    credentials: Credentials,
    codes: CaseCodeRule,
    spool: PathBuf,
    every: Duration,
}

impl Puller {
    /// A puller for the connector's `pull_url` (`None` without one), checking case codes as the
    /// profile's routing does, spooling under the data folder.
    pub fn new(c: &Connector, routing: &Routing, data: &Path) -> anyhow::Result<Option<Puller>> {
        let Some(url) = c.pull_url.clone() else { return Ok(None) };
        let codes =
            CaseCodeRule::from_profile(routing).map_err(|e| anyhow::anyhow!("routing.case_code_pattern: {e}"))?;
        Ok(Some(Puller {
            client: super::http::client(c)?,
            url,
            credentials: Credentials::new(c),
            codes,
            spool: data.join("spool"),
            every: Duration::from_secs(c.pull_minutes.max(1) * 60),
        }))
    }

    /// One pull: fetch, spool, import. An unreachable or refusing endpoint is an error to retry.
    pub async fn pull(&self, records: &Records) -> anyhow::Result<Pulled> {
        let auth = match self.credentials.header(&self.client).await {
            Ok(a) => a,
            Err(super::Outcome::Transient(s) | super::Outcome::Held(s)) => anyhow::bail!("{}", s.en),
            Err(_) => anyhow::bail!("no credentials for {}", self.url),
        };
        let mut req = self.client.get(&self.url);
        if let Some(a) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let mut res = req.send().await.map_err(|e| anyhow::anyhow!("could not reach {}: {e}", self.url))?;
        if !res.status().is_success() {
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            anyhow::bail!("{} answered HTTP {status}: {}", self.url, body.chars().take(300).collect::<String>());
        }
        let ext = extension(res.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), &self.url);
        tokio::fs::create_dir_all(&self.spool).await?;
        let file = self.spool.join(format!("pull-{}.{ext}", uuid::Uuid::new_v4().simple()));
        let result = async {
            let mut out = tokio::fs::File::create(&file).await?;
            while let Some(chunk) = res.chunk().await.map_err(|e| anyhow::anyhow!("reading {}: {e}", self.url))? {
                out.write_all(&chunk).await?;
            }
            out.flush().await?;
            drop(out);
            let (path, codes) = (file.clone(), self.codes.clone());
            let rows = crate::util::cpu::blocking(move || crate::import::read_cases(&path, &codes)).await??;
            let mut pulled = Pulled::default();
            let at = crate::util::time::now_iso(crate::util::time::VIETNAM);
            for batch in rows.cases.chunks(BATCH) {
                for u in records.upsert_cases(batch, "sohoa (pull)", &at).await? {
                    match u {
                        Upsert::Created => pulled.created += 1,
                        Upsert::Updated => pulled.updated += 1,
                        Upsert::Unchanged => pulled.unchanged += 1,
                    }
                }
            }
            records.record_refusals(&self.url, &at, &rows.refusals()).await?;
            pulled.refused = rows.errors.iter().map(|e| (e.row, e.reason.clone())).collect();
            anyhow::Ok(pulled)
        }
        .await;
        let _ = tokio::fs::remove_file(&file).await;
        result
    }

    /// Pulls at once, then every `pull_minutes`, until `stop`; a failed pull is logged and alarmed and
    /// tried again at the next turn.
    pub async fn run(self, records: Records, mut stop: watch::Receiver<bool>) {
        loop {
            match self.pull(&records).await {
                Ok(p) => {
                    crate::util::alarm::cleared("pulling cases");
                    tracing::info!(created = p.created, updated = p.updated, unchanged = p.unchanged,
                        refused = p.refused.len(), url = %self.url, "pulled cases from the one-stop system");
                    for (row, why) in &p.refused {
                        tracing::warn!(row, reason = %why, url = %self.url, "a pulled case row was refused");
                    }
                }
                Err(e) => {
                    crate::util::alarm::raise(
                        "pulling cases",
                        format!("không lấy được danh sách hồ sơ từ hệ thống một cửa: {e}"),
                        format!("could not pull cases from the one-stop system: {e}"),
                    );
                    tracing::error!(alarm = true, error = %e, "pulling cases failed; will try again at the next turn");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The export's format, as `case import` tells it by extension: from the content type, else the URL.
fn extension(content_type: Option<&str>, url: &str) -> &'static str {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("ndjson") || ct.contains("jsonl") || ct.contains("json-seq") {
        return "jsonl";
    }
    if ct.contains("json") {
        return "json";
    }
    if ct.contains("csv") {
        return "csv";
    }
    let path = url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    for ext in ["jsonl", "ndjson", "json", "csv"] {
        if path.ends_with(&format!(".{ext}")) {
            return if ext == "ndjson" { "jsonl" } else { ext };
        }
    }
    "csv"
}
