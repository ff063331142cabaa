//! The render job: one closed document → one PDF in the blob store, attached.

use sha2::{Digest, Sha256};

use crate::bundle::{DocInfo, PdfWriter};
use crate::encode;
use crate::error::{Failure, Result};
use crate::pages::{self, Limits};
use crate::profile::{BlankPolicy, ColourPolicy, Output, PdfKind, Profile};
use crate::store::records::{DocumentRow, Job, PageRow};
use crate::util::metrics::{self, Stage};
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
    kind: PdfKind,
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
    let mut info = DocInfo::new(kind);
    info.id.copy_from_slice(&digest[..16]);
    info.date = pages.iter().filter_map(|p| time::parse_iso(&p.source_mtime)).min().map(|t| t.to_offset(offset));
    let type_name = doc.doc_type.clone().unwrap_or_else(|| role_title(&doc.role).to_string());
    info.title = format!("{}.{:03} — {type_name}", doc.case_code, doc.ordinal);
    info.subject = format!("Hồ sơ {} — {}", doc.case_code, role_title(&doc.role));
    info.creator = station.to_string();
    info.keywords = doc.case_code.clone();
    info.archival = vec![
        ("FileCode", doc.case_code.clone()),
        ("DocOrdinal", doc.ordinal.to_string()),
        ("TypeName", type_name),
        ("Role", doc.role.clone()),
        ("PageAmount", pages.len().to_string()),
        ("Station", station.to_string()),
        ("ProfileSha256", profile_sha.to_string()),
    ];
    let mut seen = std::collections::HashSet::new();
    info.sources = pages
        .iter()
        .filter(|p| seen.insert(p.sha256.clone()))
        .map(|p| format!("{} {}", p.source_name, p.sha256))
        .collect();
    info
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
            if l.profile.settings.output.case_folder_view {
                self.views.attached(self.blobs.as_ref(), &doc.case_code, &name, &first.sha256);
            }
            tracing::info!(document = %name, pages = pages.len(), "attached born-digital PDF as it is");
            return Ok(());
        }
        let station = self
            .records
            .intake(&pages.first().map(|p| p.intake_id.clone()).unwrap_or_default())
            .await?
            .map(|i| i.station)
            .unwrap_or_default();
        let kind = l.profile.settings.output.pdf;
        let info = doc_info(&doc, &pages, &station, &job.profile_sha256, l.offset, kind);
        let started = std::time::Instant::now();
        let (sha, bytes, encodings) = self
            .write_pdf(pages, l.profile.settings.output.clone(), !l.profile.settings.separators.keep_in_pdf, info)
            .await?;
        let attaching = metrics::time(Stage::Attach);
        self.records.attach_pdf(&job.id, &doc.id, &sha, bytes, &encodings, &now).await?;
        drop(attaching);
        if l.profile.settings.output.case_folder_view {
            self.views.attached(self.blobs.as_ref(), &doc.case_code, &name, &sha);
        }
        tracing::info!(
            document = %name, pages = encodings.len(), bytes, sha256 = %sha,
            ms = started.elapsed().as_millis() as u64, "attached"
        );
        if l.profile.settings.output.case_bundle {
            self.bundle_case(&doc.case_code, &l.profile, &station, l.offset).await?;
        }
        Ok(())
    }

    /// Renders pages into one PDF in the blob store (durable when this returns); returns its hash, size
    /// and each page's encoding.
    async fn write_pdf(
        &self,
        pages: Vec<PageRow>,
        output: Output,
        drop_sheets: bool,
        info: DocInfo,
    ) -> Result<(String, u64, Vec<(String, String)>)> {
        let blobs = self.blobs.clone();
        let limits = Limits { max_pixels: output.max_pixels };
        let (staged, encodings) = tokio::task::spawn_blocking(move || -> Result<_> {
            let sink =
                if output.reference_originals { blobs.stage_composite_writer()? } else { blobs.stage_writer()? };
            let mut pdf = PdfWriter::new(sink, info.kind)?;
            let mut encodings = Vec::with_capacity(pages.len());
            let mut omitted = Vec::new();
            let mut cached: Option<(String, Vec<u8>)> = None;
            for p in &pages {
                if p.separator && drop_sheets {
                    // The sheet stays in the record (and its original in the store); the PDF is the dossier.
                    encodings.push((p.id.clone(), "separator-omitted".to_string()));
                    continue;
                }
                if cached.as_ref().map(|(s, _)| s != &p.sha256).unwrap_or(true) {
                    cached = Some((p.sha256.clone(), blobs.read_all(&p.sha256)?));
                }
                let bytes = cached.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
                let decoding = metrics::time(Stage::Decode);
                let Some(image) = pages::load(bytes, p.page_index, limits)? else {
                    return Err(Failure::bad(
                        "mixed-pdf",
                        "a born-digital PDF page cannot be merged with scanned pages",
                    ));
                };
                // Decoded once, here, for every page decision and for the encoder's classification.
                let needs_pixels = output.blank_pages != BlankPolicy::Keep
                    || output.deskew
                    || output.orientation
                    || output.colour_mode == ColourPolicy::Auto;
                let raster = if needs_pixels { encode::pixels(&image) } else { None };
                drop(decoding);
                let normalizing = metrics::time(Stage::Normalize);
                let blank =
                    output.blank_pages != BlankPolicy::Keep && raster.as_ref().is_some_and(crate::normalize::is_blank);
                let turns = if output.orientation && !blank {
                    raster.as_ref().and_then(crate::normalize::orientation::quarter_turns)
                } else {
                    None
                };
                let skew = if output.deskew && !blank && turns.is_none() {
                    raster.as_ref().and_then(crate::normalize::deskew::estimate).filter(|a| a.abs() >= 0.1)
                } else {
                    None
                };
                drop(normalizing);
                if blank && output.blank_pages == BlankPolicy::Omit {
                    // Left out of the PDF, never deleted: the original and the verdict stay recorded.
                    encodings.push((p.id.clone(), "blank-omitted".to_string()));
                    omitted.push(image);
                    continue;
                }
                let whole_blob = bytes.len();
                let encoding = metrics::time(Stage::Encode);
                let mut encoded = encode::encode_page(image, raster, &output)?;
                drop(encoding);
                // A JPEG that is the whole stored input is referred to, not copied.
                if let encode::EncodedPage::Single(img) = &mut encoded
                    && img.label == "jpeg-passthrough"
                    && img.data.len() == whole_blob
                {
                    img.source_blob = Some(p.sha256.clone());
                }
                if let Some(q) = turns {
                    pdf.rotate_next_page(q);
                }
                pdf.add_turned_page(&encoded, p.dpi_x, p.dpi_y, skew.unwrap_or(0.0))?;
                let mut label = encoded.label().to_string();
                if blank {
                    label.push_str("+blank");
                }
                if let Some(a) = skew {
                    label.push_str(&format!("+deskew({a:.2})"));
                }
                if let Some(q) = turns {
                    label.push_str(&format!("+turn({})", 90 * q as u32));
                }
                encodings.push((p.id.clone(), label));
            }
            if pdf.page_count() == 0 {
                // Every page blank: a document still needs its pages; keep them, flagged.
                for (image, p) in omitted.into_iter().zip(&pages) {
                    let encoded = encode::encode_page(image, None, &output)?;
                    pdf.add_page(&encoded, p.dpi_x, p.dpi_y)?;
                    if let Some(e) = encodings.iter_mut().find(|(id, _)| id == &p.id) {
                        e.1 = format!("{}+blank", encoded.label());
                    }
                }
            }
            if pdf.page_count() == 0 {
                // Nothing but separator sheets (two in a row): the document shows them rather than nothing.
                for p in pages.iter().filter(|p| p.separator) {
                    let bytes = blobs.read_all(&p.sha256)?;
                    let Some(image) = pages::load(&bytes, p.page_index, limits)? else { continue };
                    let encoded = encode::encode_page(image, None, &output)?;
                    pdf.add_page(&encoded, p.dpi_x, p.dpi_y)?;
                    if let Some(e) = encodings.iter_mut().find(|(id, _)| id == &p.id) {
                        e.1 = format!("{}+separator", encoded.label());
                    }
                }
            }
            let writing = metrics::time(Stage::Write);
            let staged = pdf.finish(&info)?.finish()?;
            drop(writing);
            metrics::pages_written(pages.len() as u64);
            Ok((staged, encodings))
        })
        .await
        .map_err(|e| Failure::transient("render task", e))??;
        let (sha, bytes) = (staged.sha256.clone(), staged.bytes);
        let blobs = self.blobs.clone();
        let persisting = std::time::Instant::now();
        tokio::task::spawn_blocking(move || blobs.persist(vec![staged]))
            .await
            .map_err(|e| Failure::transient("render task", e))??;
        metrics::observe(Stage::Write, persisting.elapsed());
        Ok((sha, bytes, encodings))
    }

    /// Rebuilds the whole-dossier PDF of a case: every attached scanned document in ordinal order, a
    /// bookmark each. Born-digital PDFs stay separate documents (they are never rasterized).
    async fn bundle_case(&self, code: &str, profile: &Profile, station: &str, offset: ::time::UtcOffset) -> Result<()> {
        let docs = self.records.case_documents_for_bundle(code).await?;
        if docs.is_empty() {
            return Ok(());
        }
        let kind = profile.settings.output.pdf;
        let mut info = DocInfo::new(kind);
        let mut all = Vec::new();
        let mut h = Sha256::new();
        for (doc, pages) in &docs {
            let type_name = doc.doc_type.clone().unwrap_or_else(|| role_title(&doc.role).to_string());
            info.outline.push((format!("{:03} — {type_name}", doc.ordinal), all.len()));
            h.update(doc.id.as_bytes());
            all.extend(pages.iter().cloned());
        }
        let digest = h.finalize();
        info.id.copy_from_slice(&digest[..16]);
        info.date = all.iter().filter_map(|p| time::parse_iso(&p.source_mtime)).min().map(|t| t.to_offset(offset));
        info.title = format!("Hồ sơ {code}");
        info.subject = format!("Hồ sơ {code} — {} tài liệu", docs.len());
        info.creator = station.to_string();
        info.keywords = code.to_string();
        info.archival = vec![("FileCode", code.to_string()), ("PageAmount", all.len().to_string())];
        let (sha, bytes, _) = self
            .write_pdf(all, profile.settings.output.clone(), !profile.settings.separators.keep_in_pdf, info)
            .await?;
        let now = time::now_iso(offset);
        if self.records.record_case_bundle(code, &sha, bytes, docs.len() as i64, &now).await? {
            self.views.replace(self.blobs.as_ref(), code, &format!("{code}.pdf"), &sha);
            tracing::info!(case = %code, documents = docs.len(), bytes, "case bundle rebuilt");
        }
        Ok(())
    }
}
