//! Delivery to the one-stop system: the sender that empties the outbox ([`crate::store::outbox`])
//! through one adapter, chosen by the profile's `[connector]`.
//!
//! ```text
//! attach / detach / correction ─(same transaction)─► outbox ─► Sender ─► Adapter ─► one-stop system
//!                                                                  ▲        (dvcqg | http | folder)
//!                                                  receipt ────────┘
//! ```
//!
//! The sender takes each case's first undelivered entry, builds what the adapter needs from the records
//! as they are now, and records the [`Outcome`]: delivered (with the receipt), a transient failure
//! (backed off with jitter, alarmed when it lasts), held (the case lacks what the remote requires: tried
//! again later, after `case import` has filled it in) or rejected (the remote said no: the clerk fixes the
//! cause and runs `sohoa outbox retry`). Entries are sent at least once; the idempotency key lets the
//! receiver drop a repeat after a crash between send and receipt.

pub mod auth;
pub mod dvcqg;
pub mod folder;
pub mod http;
pub mod links;
pub mod pull;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{Failure, Result};
use crate::profile::{Connector, ConnectorKind};
use crate::store::cases::CaseRecord;
use crate::store::documents::DocumentRow;
use crate::store::outbox::{OutboxEntry, Receipt};
use crate::store::{BlobStore, Records};
use crate::util::lang::Said;

/// Everything an adapter needs to deliver one entry.
pub struct Delivery {
    /// The entry.
    pub entry: OutboxEntry,
    /// The case's fields as the records hold them now (`None` for a case only scans named).
    pub case: Option<CaseRecord>,
    /// The case's documents, attached and detached, by ordinal.
    pub documents: Vec<DocumentRow>,
    /// Whether the remote already has the case (an earlier entry of it was delivered).
    pub updating: bool,
    /// The entry's PDF's size (0 for a removal).
    pub pdf_bytes: u64,
    /// Now, seconds since the epoch (links are signed from it).
    pub now_s: i64,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The remote has it (a 2xx, or a 409: it had it already).
    Delivered(Receipt),
    /// Worth trying again: a 5xx, a timeout, a refused connection, credentials refused, a full disk.
    Transient(Said),
    /// The case lacks what the remote requires (no procedure, no unit, no date received); tried again
    /// later without an alarm, since the one-stop system's export usually brings it.
    Held(Said),
    /// The remote refused it (a 4xx), or it can never be built: waits for a clerk.
    Rejected {
        /// The remote's HTTP status; 0 when refused here.
        status: i64,
        /// Why, as the remote said it (or as sohoa says it, as `Said` JSON, for a refusal made here).
        message: String,
    },
}

/// The adapters, one interface: deliver an entry, and read back what the remote wrote on its own.
pub enum Adapter {
    /// The national portal's dossier sync.
    Dvcqg(dvcqg::Dvcqg),
    /// A generic HTTP receiver.
    Http(http::HttpPost),
    /// An exchange folder.
    Folder(folder::ExchangeFolder),
}

impl Adapter {
    /// Delivers one entry.
    pub async fn deliver(&self, d: &Delivery, blobs: &Arc<dyn BlobStore>) -> Outcome {
        match self {
            Adapter::Dvcqg(a) => a.deliver(d).await,
            Adapter::Http(a) => a.deliver(d, blobs).await,
            Adapter::Folder(a) => a.deliver(d, blobs).await,
        }
    }

    /// Reads receipts the remote wrote since (a folder's `<code>.<NNN>.receipt.json`) into the records.
    pub async fn read_receipts(&self, records: &Records) -> Result<u64> {
        match self {
            Adapter::Folder(a) => a.read_receipts(records).await,
            Adapter::Dvcqg(_) | Adapter::Http(_) => Ok(0),
        }
    }
}

/// What one round of the sender did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Round {
    /// Entries delivered.
    pub delivered: u64,
    /// Entries put back after a transient failure or held for missing case data.
    pub deferred: u64,
    /// Entries the remote refused.
    pub rejected: u64,
}

/// Cases delivered at once by one sender.
const AT_ONCE: usize = 4;

/// Empties the outbox through one adapter.
pub struct Sender {
    records: Records,
    blobs: Arc<dyn BlobStore>,
    adapter: Adapter,
    connector: Connector,
}

/// After this many failed attempts in a row, an entry raises an alarm (and again every as many).
const ALARM_AFTER: i64 = 5;

/// What delivery alarms are about: a delivery that goes through ends them.
const DELIVERY_ALARM: &str = "delivery to the one-stop system";

impl Sender {
    /// A sender for the profile's connector. Fails when the connector cannot be set up (an exchange
    /// folder that cannot be made, an HTTP client that cannot start).
    pub async fn open(records: Records, blobs: Arc<dyn BlobStore>, connector: &Connector) -> Result<Sender> {
        let adapter = match connector.kind {
            ConnectorKind::Dvcqg => {
                let key = records.link_secret().await?;
                let base = connector.public_url.clone().unwrap_or_default();
                let links = links::Links::new(key, &base, connector.link_hours);
                Adapter::Dvcqg(dvcqg::Dvcqg::new(connector, links)?)
            }
            ConnectorKind::Http => Adapter::Http(http::HttpPost::new(connector)?),
            ConnectorKind::Folder => Adapter::Folder(folder::ExchangeFolder::open(connector)?),
        };
        let released = records.release_dead_claims().await?;
        if released > 0 {
            tracing::warn!(entries = released, "sending again what a stopped process had sent without a receipt");
        }
        Ok(Sender { records, blobs, adapter, connector: connector.clone() })
    }

    /// Delivers every entry due now, once each; entries that fail wait for their back-off.
    pub async fn round(&self) -> Result<Round> {
        use futures_util::StreamExt;
        let mut round = Round::default();
        if let Err(e) = self.adapter.read_receipts(&self.records).await {
            tracing::warn!(error = %e, "could not read the exchange folder's receipts; will try again");
        }
        loop {
            let now = now_ms();
            let due = self.records.outbox_due(now, 32).await?;
            if due.is_empty() {
                return Ok(round);
            }
            let mut took = 0;
            // Each due entry heads a case of its own: several cases go at once, so one receiver that
            // hangs on one case's entry does not hold back the others (a case's own entries stay in
            // order). Each attempt is settled inside its own future: the records' writer is never
            // awaited by one side while a suspended attempt holds it.
            let mut attempts = futures_util::stream::iter(due)
                .map(|entry| async move {
                    // Longer than an attempt may last (the timeout, plus five seconds), so no other sender takes it meanwhile.
                    let lease = now + (self.connector.timeout_seconds as i64 + 10) * 1000;
                    let mut mine = Round::default();
                    if !self.records.claim_outbox(entry.id, now, lease).await? {
                        return Ok::<_, crate::error::Failure>((mine, false));
                    }
                    let outcome = self.attempt(entry.clone()).await;
                    self.settle(&entry, entry.attempts + 1, outcome, &mut mine).await?;
                    Ok((mine, true))
                })
                .buffer_unordered(AT_ONCE);
            while let Some(done) = attempts.next().await {
                let (mine, taken) = done?;
                took += usize::from(taken);
                round.delivered += mine.delivered;
                round.deferred += mine.deferred;
                round.rejected += mine.rejected;
            }
            if took == 0 {
                return Ok(round);
            }
        }
    }

    /// One attempt, bounded by the connector's timeout (a hung receiver is a transient failure).
    async fn attempt(&self, entry: OutboxEntry) -> Outcome {
        let d = match self.delivery(entry).await {
            Ok(d) => d,
            Err(e) => return Outcome::Transient(Said::new(format!("không đọc được hồ sơ: {e}"), e.to_string())),
        };
        let limit = Duration::from_secs(self.connector.timeout_seconds + 5);
        match tokio::time::timeout(limit, self.adapter.deliver(&d, &self.blobs)).await {
            Ok(o) => o,
            Err(_) => Outcome::Transient(timed_out(self.connector.timeout_seconds)),
        }
    }

    async fn delivery(&self, entry: OutboxEntry) -> Result<Delivery> {
        let case = self.records.case_record(&entry.case_code).await?;
        let documents = self.records.case_documents_for_delivery(&entry.case_code).await?;
        let updating = self.records.case_delivered_before(&entry.case_code, entry.id).await?;
        let pdf_bytes = match entry.pdf_sha256.as_deref() {
            Some(sha) => self.records.made_pdf(sha).await?.map(|(b, ..)| b.max(0) as u64).unwrap_or(0),
            None => 0,
        };
        Ok(Delivery { entry, case, documents, updating, pdf_bytes, now_s: now_ms() / 1000 })
    }

    /// Records what an attempt came to, with a log line naming the case and document.
    async fn settle(&self, e: &OutboxEntry, attempts: i64, outcome: Outcome, round: &mut Round) -> Result<()> {
        let at = crate::util::time::now_iso(crate::util::time::VIETNAM);
        let doc = e.file_name();
        match outcome {
            Outcome::Delivered(receipt) => {
                crate::util::alarm::cleared(DELIVERY_ALARM);
                tracing::info!(case = %e.case_code, document = %doc, outbox = e.id, operation = %e.operation,
                    status = receipt.status, remote_id = receipt.remote_id.as_deref().unwrap_or(""), "delivered to the one-stop system");
                self.records.outbox_delivered(e, &receipt, &at).await?;
                round.delivered += 1;
            }
            Outcome::Transient(why) => {
                let wait = self.backoff(attempts);
                if attempts % ALARM_AFTER == 0 {
                    crate::util::alarm::raise(
                        DELIVERY_ALARM,
                        format!("chưa gửi được {doc} sang hệ thống một cửa sau {attempts} lần thử: {}", why.vi),
                        format!("{doc} could not be delivered after {attempts} attempts: {}", why.en),
                    );
                    tracing::error!(alarm = true, case = %e.case_code, document = %doc, outbox = e.id, attempts,
                        error = %why.en, "delivery keeps failing; retrying with back-off");
                } else {
                    tracing::warn!(case = %e.case_code, document = %doc, outbox = e.id, attempts,
                        retry_in_ms = wait, error = %why.en, "delivery failed for now; will retry");
                }
                self.records.outbox_retry_later(e.id, &said_json(&why), now_ms() + wait).await?;
                round.deferred += 1;
            }
            Outcome::Held(why) => {
                tracing::info!(case = %e.case_code, document = %doc, outbox = e.id, reason = %why.en,
                    "delivery waits for the case's data");
                // Looked at again soon: an import or a pull may bring the case's data any moment.
                let wait = self.connector.retry_max_ms.min(15_000) as i64;
                let mut held = serde_json::to_value(&why).unwrap_or_default();
                held["held"] = true.into();
                self.records.outbox_retry_later(e.id, &held.to_string(), now_ms() + wait).await?;
                round.deferred += 1;
            }
            Outcome::Rejected { status, message } => {
                tracing::error!(case = %e.case_code, document = %doc, outbox = e.id, status, message = %message,
                    "the one-stop system refused the delivery; it waits for a clerk (`sohoa outbox retry {}`)", e.id);
                self.records.outbox_rejected(e, status, &message, &at).await?;
                round.rejected += 1;
            }
        }
        Ok(())
    }

    /// Exponential back-off with jitter: half to all of `base · 2^(attempts−1)`, at most `retry_max_ms`.
    fn backoff(&self, attempts: i64) -> i64 {
        let shift = (attempts - 1).clamp(0, 30) as u32;
        let full = self.connector.retry_base_ms.saturating_mul(1u64 << shift).min(self.connector.retry_max_ms);
        let r = uuid::Uuid::new_v4().as_u128() as u64 % 1000;
        (full / 2 + full / 2 * r / 1000) as i64
    }

    /// Runs rounds until `stop`, waking when the next entry is due (at least every two seconds, so
    /// entries another process wrote are seen promptly).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            let pause = match self.round().await {
                Ok(_) => {
                    failures = 0;
                    let next = self.records.outbox_next_due().await.ok().flatten();
                    let wait = next.map(|n| (n - now_ms()).clamp(50, 2_000)).unwrap_or(2_000);
                    Duration::from_millis(wait as u64)
                }
                Err(e) => {
                    failures += 1;
                    let wait = crate::util::retry::backoff(failures);
                    tracing::error!(alarm = true, error = %e, retry_in_ms = wait.as_millis() as u64,
                        "the outbox could not be read or written; delivery resumes when it can");
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The one connector the processes' profiles agree on, if any; profiles naming different ones are
/// refused (one service delivers to one one-stop system).
pub fn connector_of(profiles: &[crate::profile::Profile]) -> anyhow::Result<Option<Connector>> {
    let mut found: Option<(&str, &Connector)> = None;
    for p in profiles {
        let Some(c) = &p.settings.connector else { continue };
        match found {
            None => found = Some((p.name(), c)),
            Some((first, f)) => {
                if serde_json::to_value(f).ok() != serde_json::to_value(c).ok() {
                    anyhow::bail!(
                        "profiles `{first}` and `{}` name different [connector] sections; one service delivers to \
                         one one-stop system: give them the same section, or serve them separately",
                        p.name()
                    );
                }
            }
        }
    }
    Ok(found.map(|(_, c)| c.clone()))
}

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// A message of sohoa's own, stored with the entry in both languages.
pub fn said_json(s: &Said) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| s.en.clone())
}

/// Whether a pending entry's stored reason says it waits for the case's data (not a failure).
pub fn is_held(stored: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(stored).is_ok_and(|v| v["held"] == true)
}

/// An entry as the CLI's `--json` and the API show it: the messages in both languages, and whether it
/// waits for the case's data.
pub fn shown(e: &OutboxEntry) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["error"] = serde_json::json!(e.error.as_deref().map(said_of));
    v["remote_message"] = serde_json::json!(e.remote_message.as_deref().map(said_of));
    v["waits_for_case_data"] = (e.state == "pending" && e.error.as_deref().is_some_and(is_held)).into();
    v
}

/// A stored message as said: sohoa's own in both languages, the remote's as it said it.
pub fn said_of(stored: &str) -> Said {
    serde_json::from_str::<Said>(stored).unwrap_or_else(|_| Said::new(stored, stored))
}

fn timed_out(seconds: u64) -> Said {
    Said::new(
        format!("hệ thống nhận không trả lời trong {seconds} giây"),
        format!("the receiver did not answer within {seconds} s"),
    )
}

/// A body as a clerk can read it: an HTML error page's text, without its tags, scripts and styles.
fn plain_text(body: &str) -> String {
    let lower = body.trim_start().to_ascii_lowercase();
    if !(lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.starts_with("<body")) {
        return body.to_string();
    }
    let (mut out, mut in_tag, mut skipping) = (String::new(), false, false);
    let mut tag = String::new();
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("").to_ascii_lowercase();
                if name == "script" || name == "style" {
                    skipping = !tag.starts_with('/');
                }
                out.push(' ');
            }
            _ if in_tag => tag.push(c),
            _ if !skipping => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Decodes the character references an HTML error page carries: numeric ones, and the named ones of
/// the Latin letters Vietnamese text uses.
fn decode_entities(s: &str) -> String {
    const NAMED: [(&str, &str); 29] = [
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("nbsp", " "),
        ("agrave", "à"),
        ("aacute", "á"),
        ("acirc", "â"),
        ("atilde", "ã"),
        ("egrave", "è"),
        ("eacute", "é"),
        ("ecirc", "ê"),
        ("igrave", "ì"),
        ("iacute", "í"),
        ("ograve", "ò"),
        ("oacute", "ó"),
        ("ocirc", "ô"),
        ("otilde", "õ"),
        ("ugrave", "ù"),
        ("uacute", "ú"),
        ("yacute", "ý"),
        ("Agrave", "À"),
        ("Aacute", "Á"),
        ("Acirc", "Â"),
        ("Eacute", "É"),
        ("Ecirc", "Ê"),
        ("Ocirc", "Ô"),
        ("Uacute", "Ú"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[..e];
            let ch = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).map(String::from)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().and_then(char::from_u32).map(String::from)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| c.to_string())
            };
            ch.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push_str(&c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    crate::util::text::nfc(&out)
}

/// Reads what a receiver answered: 2xx delivered (unless its body reports an error code), 409 already
/// there (delivered), 401/403 credentials refused (transient: the entry is not at fault), 408/425/429 try
/// later, another 4xx refused with the remote's message, anything else (5xx) try later.
pub fn classify(status: u16, body: &str) -> Outcome {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |names: &[&str]| -> Option<String> {
        let j = json.as_ref()?;
        names.iter().find_map(|n| match j.get(*n)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(x) => Some(x.to_string()),
            _ => None,
        })
    };
    let message = field(&["message", "Message", "error_message", "error", "detail", "description"])
        .unwrap_or_else(|| plain_text(body).chars().take(500).collect::<String>().trim().to_string());
    let remote_id = field(&["id", "Id", "remote_id", "MaHoSo", "receipt"]);
    match status {
        200..=299 => {
            let code = field(&["error_code", "ErrorCode", "errorCode"]);
            match code.as_deref() {
                Some(c) if c != "0" => Outcome::Rejected { status: status as i64, message: format!("{c}: {message}") },
                _ => Outcome::Delivered(Receipt { status: status as i64, remote_id, message: Some(message) }),
            }
        }
        409 => Outcome::Delivered(Receipt {
            status: 409,
            remote_id,
            message: Some(if message.is_empty() { "already received".into() } else { message }),
        }),
        401 | 403 => Outcome::Transient(Said::new(
            format!(
                "hệ thống nhận từ chối thông tin xác thực (HTTP {status}): kiểm tra mã truy cập của [connector]; {message}"
            ),
            format!("the receiver refused the credentials (HTTP {status}): check the [connector] token; {message}"),
        )),
        408 | 425 | 429 => Outcome::Transient(Said::new(
            format!("hệ thống nhận bận (HTTP {status}); {message}"),
            format!("the receiver is busy (HTTP {status}); {message}"),
        )),
        400..=499 => Outcome::Rejected { status: status as i64, message },
        _ => Outcome::Transient(Said::new(
            format!("hệ thống nhận gặp lỗi (HTTP {status}); {message}"),
            format!("the receiver failed (HTTP {status}); {message}"),
        )),
    }
}

/// A request that got no answer: a timeout or a connection that could not be made.
pub fn unreachable(e: &reqwest::Error, timeout_s: u64) -> Outcome {
    if e.is_timeout() {
        return Outcome::Transient(timed_out(timeout_s));
    }
    Outcome::Transient(Said::new(
        format!("không kết nối được hệ thống nhận: {e}"),
        format!("could not reach the receiver: {e}"),
    ))
}

/// A failure of sohoa's own side while delivering (the store unreadable, a disk full): transient.
pub fn local_failure(what_vi: &str, what_en: &str, e: impl std::fmt::Display) -> Outcome {
    Outcome::Transient(Said::new(format!("lỗi khi {what_vi}: {e}"), format!("failed {what_en}: {e}")))
}

impl From<Failure> for Outcome {
    fn from(e: Failure) -> Outcome {
        local_failure("đọc dữ liệu", "reading the records", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_the_rule_says() {
        assert!(
            matches!(classify(200, r#"{"id":"R1"}"#), Outcome::Delivered(r) if r.remote_id.as_deref() == Some("R1"))
        );
        assert!(matches!(classify(201, ""), Outcome::Delivered(_)));
        assert!(matches!(classify(409, "dup"), Outcome::Delivered(r) if r.status == 409));
        assert!(
            matches!(classify(422, r#"{"message":"MaTTHC sai"}"#), Outcome::Rejected { status: 422, message } if message == "MaTTHC sai")
        );
        assert!(matches!(classify(200, r#"{"error_code":"-1","message":"x"}"#), Outcome::Rejected { .. }));
        assert!(matches!(classify(200, r#"{"error_code":"0"}"#), Outcome::Delivered(_)));
        // An HTML error page is said by its text.
        let page = "<html><head><style>p{color:red}</style></head><body><h1>Unprocessable</h1> <p>thiếu chữ ký</p></body></html>";
        assert!(
            matches!(classify(422, page), Outcome::Rejected { message, .. } if message == "Unprocessable thiếu chữ ký")
        );
        // Its character references decoded: numeric, and the named Latin letters.
        let page = "<html><body>M&atilde; th&agrave;nh ph&#7847;n &amp; &#x111;&#417;n &foo; a&b</body></html>";
        let want = crate::util::text::nfc("Mã thành phần & đơn &foo; a&b");
        assert!(matches!(classify(422, page), Outcome::Rejected { message, .. } if message == want));
        for s in [401, 403, 408, 429, 500, 502, 503] {
            assert!(matches!(classify(s, ""), Outcome::Transient(_)), "{s}");
        }
    }
}
