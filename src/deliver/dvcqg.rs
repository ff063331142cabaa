//! The national portal's dossier sync, as one-stop platforms send it: `{"service": "DongBoHoSoMC",
//! "isUpdating": …, "data": [dossier]}`. The dossier is the case as the records hold it when the entry
//! is sent — its fields, every input in `TaiLieuNop` (a detached one with `IsDeleted`), every result in
//! `DanhSachGiayToKetQua` — and each file is a signed, expiring link to sohoa's API, so the portal
//! downloads the bytes with no token of its own. The shape is checked by `fixtures/dvcqg.schema.json`.

use serde_json::{Value, json};

use super::auth::Credentials;
use super::links::Links;
use super::{Delivery, Outcome};
use crate::profile::{Connector, DocRole};
use crate::store::cases::Status;
use crate::store::documents::DocState;
use crate::util::lang::Said;

/// Delivers to a DVCQG-shaped endpoint.
pub struct Dvcqg {
    client: reqwest::Client,
    url: String,
    credentials: Credentials,
    links: Links,
    connector: Connector,
}

/// The portal's `TrangThaiHoSo` for each case status, from its published code list (1 new, 2 received,
/// 3 not accepted, 4 processing, 5 supplement requested, 7 withdrawn, 8 stopped, 10 result returned);
/// `[connector.statuses]` overrides any of them where a center's integration document differs.
const STATUS_CODES: [(Status, i64); 8] = [
    (Status::Received, 2),
    (Status::Processing, 4),
    (Status::Supplement, 5),
    (Status::Resolved, 10),
    (Status::Returned, 8),
    (Status::Rejected, 3),
    (Status::Withdrawn, 7),
    (Status::Cancelled, 8),
];

impl Dvcqg {
    /// The adapter for a `kind = "dvcqg"` connector.
    pub fn new(c: &Connector, links: Links) -> crate::error::Result<Dvcqg> {
        Ok(Dvcqg {
            client: super::http::client(c)?,
            url: c.url.clone().unwrap_or_default(),
            credentials: Credentials::new(c),
            links,
            connector: c.clone(),
        })
    }

    /// Sends the case's dossier with the entry's idempotency key.
    pub async fn deliver(&self, d: &Delivery) -> Outcome {
        let body = match body(d, &self.connector, &self.links) {
            Ok(b) => b,
            Err(o) => return o,
        };
        let req = self.client.post(&self.url).json(&body);
        super::http::send(req, &self.client, &self.credentials, d, self.connector.timeout_seconds).await
    }
}

/// `YYYY-MM-DD` (a local date in Asia/Ho_Chi_Minh, as the records keep it) as `yyyyMMddHHmmss`.
fn portal_date(date: &str) -> Option<String> {
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    (digits.len() == 8).then(|| format!("{digits}000000"))
}

/// The request body for an entry, or why it cannot be built: held while the case lacks what the
/// portal requires, refused for a document type with no component code.
pub fn body(d: &Delivery, c: &Connector, links: &Links) -> Result<Value, Outcome> {
    let code = &d.entry.case_code;
    let held = |vi: &str, en: &str| {
        Outcome::Held(Said::new(
            format!(
                "hồ sơ {code} chưa có {vi}: chờ thông tin từ hệ thống một cửa (`sohoa case import`) rồi gửi tự động"
            ),
            format!(
                "case {code} has no {en} yet: waiting for the one-stop system's data (`sohoa case import`); sent automatically then"
            ),
        ))
    };
    let Some(case) = &d.case else { return Err(held("thông tin hồ sơ", "record")) };
    let Some(procedure) = case.procedure_code.as_deref().filter(|p| !p.is_empty()) else {
        return Err(held("mã thủ tục", "procedure code"));
    };
    let Some(unit) = case.unit.as_deref().filter(|u| !u.is_empty()) else {
        return Err(held("đơn vị xử lý", "unit"));
    };
    let Some(received) = case.received_date.as_deref().and_then(portal_date) else {
        return Err(held("ngày tiếp nhận", "date received"));
    };
    let status = c
        .statuses
        .get(case.status.as_str())
        .copied()
        .or_else(|| STATUS_CODES.iter().find(|(s, _)| *s == case.status).map(|(_, n)| *n))
        .unwrap_or(2);
    let mut inputs = Vec::new();
    let mut results = Vec::new();
    for doc in &d.documents {
        let Some(sha) = doc.pdf_sha256.as_deref() else { continue };
        let doc_type = doc.doc_type.as_deref().map(crate::util::text::nfc).unwrap_or_default();
        // Matched as types are everywhere: after NFC and case folding (a profile typed on a Mac is NFD).
        let component = match c.components.iter().find(|(k, _)| crate::store::cases::same_type(k, &doc_type)) {
            Some((_, v)) => v.clone(),
            None if c.components.is_empty() => String::new(),
            None => {
                let shown = if doc_type.is_empty() { "(chưa đặt loại)".to_string() } else { doc_type.clone() };
                let said = Said::new(
                    format!(
                        "loại giấy tờ \"{shown}\" của tài liệu {:03} chưa có mã thành phần hồ sơ trong [connector.components]: \
                         thêm mã rồi chạy `sohoa outbox retry {}`",
                        doc.ordinal, d.entry.id
                    ),
                    format!(
                        "document type \"{shown}\" of document {:03} has no component code in [connector.components]: \
                         add one, then run `sohoa outbox retry {}`",
                        doc.ordinal, d.entry.id
                    ),
                );
                return Err(Outcome::Rejected { status: 0, message: super::said_json(&said) });
            }
        };
        let name = format!("{}.{:03}.pdf", doc.case_code, doc.ordinal);
        let link = links.url(sha, d.now_s);
        let deleted = doc.state == DocState::Detached;
        match doc.role {
            DocRole::Input => inputs.push(json!({
                "TepDinhKemId": doc.id,
                "TenTepDinhKem": name,
                "MaThanhPhanHoSo": component,
                "DuongDanTaiTepTin": link,
                "IsDeleted": deleted,
            })),
            // The list of results has no deletion mark: a result taken off the case is left out.
            DocRole::Result if !deleted => results.push(json!({
                "GiayToId": doc.id,
                "TenGiayTo": if doc_type.is_empty() { name.clone() } else { doc_type.clone() },
                "MaThanhPhanHoSo": component,
                "DuongDanTepTinKetQua": link,
            })),
            DocRole::Result => {}
        }
    }
    let mut dossier = json!({
        "MaHoSo": code,
        "MaTTHC": c.procedures.get(procedure).cloned().unwrap_or_else(|| procedure.to_string()),
        "NgayTiepNhan": received,
        "TrangThaiHoSo": status,
        "DonViXuLy": unit,
        "TaiLieuNop": inputs,
        "DanhSachGiayToKetQua": results,
    });
    if let Some(due) = case.due_date.as_deref().and_then(portal_date) {
        dossier["NgayHenTra"] = json!(due);
    }
    if let Some(done) = case.resolved_date.as_deref().and_then(portal_date) {
        dossier["NgayTra"] = json!(done);
    }
    Ok(json!({ "service": "DongBoHoSoMC", "isUpdating": d.updating, "data": [dossier] }))
}
