//! The render job: one closed document → one PDF in the blob store, attached.

use sha2::{Digest, Sha256};

use crate::bundle::{DocInfo, PdfWriter};
use crate::encode;
use crate::error::{Failure, Result};
use crate::pages::{self, Limits};
use crate::store::records::{DocumentRow, Job, PageRow};
use crate::util::time;

use super::Pipeline;

/// The Vietnamese name of a document role, for PDF metadata.
fn role_title(role: &str) -> &'static str {
    match role {
        "result" => "Kết quả giải quyết",
        _ => "Thành phần hồ sơ",
    }
}

/// Document ID and date come from the record, so the same inputs give the same bytes.
fn doc_info(
    doc: &DocumentRow,
    pages: &[PageRow],
    station: &str,
    profile_sha: &str,
    offset: ::time::UtcOffset,
) -> DocInfo {
    let mut h = Sha256::new();
    h.update(doc.case_code.as_bytes());
    h.update(doc.ordinal.to_be_bytes());
    h.update(profile_sha.as_bytes());
    for p in pages {
        h.update(p.sha256.as_bytes());
        h.update(p.page_index.to_be_bytes());
    }
    let digest = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    let date = pages
        .iter()
        .filter_map(|p| time::parse_iso(&p.source_mtime))
        .min()
        .map(|t| time::pdf_date(t.to_offset(offset)))
        .unwrap_or_default();
    let title = match &doc.doc_type {
        Some(t) => format!("{}.{:03} — {t}", doc.case_code, doc.ordinal),
        None => format!("{}.{:03} — {}", doc.case_code, doc.ordinal, role_title(&doc.role)),
    };
    DocInfo {
        title,
        subject: format!("Hồ sơ {} — {}", doc.case_code, role_title(&doc.role)),
        creator: station.to_string(),
        keywords: doc.case_code.clone(),
        date,
        id,
    }
}

impl Pipeline {
    pub(super) async fn render(&self, job: &Job) -> Result<()> {
        let Some((doc, pages)) = self.records.document_for_render(&job.subject).await? else {
            return Err(Failure::transient("render", anyhow::anyhow!("document {} is not recorded", job.subject)));
        };
        let l = self.loaded(&job.profile_sha256).await?;
        let now = time::now_iso(l.offset);
        if doc.state != "closed" {
            return self.records.attach_pdf(&job.id, &doc.id, "", 0, &[], &now).await;
        }
        let name = format!("{}.{:03}.pdf", doc.case_code, doc.ordinal);
        // A born-digital PDF is attached as it is: its own bytes are the document.
        if let Some(first) = pages.first().filter(|p| p.source_encoding == "pdf") {
            let bytes = self.blobs.read_all(&first.sha256)?.len() as u64;
            let enc: Vec<(String, String)> = pages.iter().map(|p| (p.id.clone(), "pdf-native".to_string())).collect();
            self.records.attach_pdf(&job.id, &doc.id, &first.sha256, bytes, &enc, &now).await?;
            self.views.attached(self.blobs.as_ref(), &doc.case_code, &name, &first.sha256);
            tracing::info!(document = %name, pages = pages.len(), "attached born-digital PDF as it is");
            return Ok(());
        }
        let station = self
            .records
            .intake(&pages.first().map(|p| p.intake_id.clone()).unwrap_or_default())
            .await?
            .map(|i| i.station)
            .unwrap_or_default();
        let info = doc_info(&doc, &pages, &station, &job.profile_sha256, l.offset);
        let output = l.profile.settings.output.clone();
        let blobs = self.blobs.clone();
        let limits = Limits { max_pixels: output.max_pixels };
        let started = std::time::Instant::now();
        let (staged, encodings) = tokio::task::spawn_blocking(move || -> Result<_> {
            let sink = blobs.stage_writer()?;
            let mut pdf = PdfWriter::new(sink)?;
            let mut encodings = Vec::with_capacity(pages.len());
            let mut cached: Option<(String, Vec<u8>)> = None;
            for p in &pages {
                if cached.as_ref().map(|(s, _)| s != &p.sha256).unwrap_or(true) {
                    cached = Some((p.sha256.clone(), blobs.read_all(&p.sha256)?));
                }
                let bytes = cached.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
                let Some(image) = pages::load(bytes, p.page_index, limits)? else {
                    return Err(Failure::bad(
                        "mixed-pdf",
                        "a born-digital PDF page cannot be merged with scanned pages",
                    ));
                };
                let encoded = encode::encode(image, &output)?;
                pdf.add_image_page(&encoded, p.dpi_x, p.dpi_y)?;
                encodings.push((p.id.clone(), encoded.label.to_string()));
            }
            let sink = pdf.finish(&info)?;
            let staged = sink.finish()?;
            Ok((staged, encodings))
        })
        .await
        .map_err(|e| Failure::transient("render task", e))??;
        let (sha, bytes) = (staged.sha256.clone(), staged.bytes);
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || blobs.persist(vec![staged]))
            .await
            .map_err(|e| Failure::transient("render task", e))??;
        self.records.attach_pdf(&job.id, &doc.id, &sha, bytes, &encodings, &now).await?;
        self.views.attached(self.blobs.as_ref(), &doc.case_code, &name, &sha);
        tracing::info!(
            document = %name, pages = encodings.len(), bytes, sha256 = %sha,
            ms = started.elapsed().as_millis() as u64, "attached"
        );
        Ok(())
    }
}
