//! The render job: one closed document → one PDF in the blob store, attached.

use sha2::{Digest, Sha256};

use crate::bundle::{DocInfo, PdfWriter};
use crate::encode;
use crate::error::{Code, Failure, Result};
use crate::normalize::{self, Steps};
use crate::pages::{self, Limits, PageImage, PageSource, RasterKind};
use crate::profile::{BlankPolicy, DocRole, Output, PdfKind, Profile};
use crate::store::documents::{DocState, DocumentRow, PageOutcome, PageRow};
use crate::store::jobs::Job;
use crate::util::memory;
use crate::util::metrics::{self, Stage};
use crate::util::ordered::for_each_ordered;
use crate::util::time;
use std::sync::{Arc, Mutex};

use super::Pipeline;
use super::place::{Placed, exif_turns, place_page};

/// A PDF written into the blob store can refer to the stored original it embeds, so a passed-through
/// scan is stored once. The bridge lives here, where the writer meets the store: `bundle` knows
/// nothing of storage.
impl crate::bundle::pdf::PdfSink for Box<dyn crate::store::blob::StageWrite> {
    fn refer(&mut self, sha256: &str, data: &[u8]) -> std::io::Result<bool> {
        self.reference(sha256, data).map_err(std::io::Error::other)
    }
}

/// The Vietnamese name of a document role, for PDF metadata.
fn role_title(role: DocRole) -> &'static str {
    match role {
        DocRole::Result => "Kết quả giải quyết",
        DocRole::Input => "Thành phần hồ sơ",
    }
}

/// Document ID and date come from the record, so the same inputs give the same bytes.
pub(super) fn doc_info(
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
    let type_name = doc.doc_type.clone().unwrap_or_else(|| role_title(doc.role).to_string());
    info.title = format!("{}.{:03} — {type_name}", doc.case_code, doc.ordinal);
    info.subject = format!("Hồ sơ {} — {}", doc.case_code, role_title(doc.role));
    info.creator = station.to_string();
    info.keywords = doc.case_code.clone();
    info.archival = vec![
        ("FileCode", doc.case_code.clone()),
        ("DocOrdinal", doc.ordinal.to_string()),
        ("TypeName", type_name),
        ("Role", doc.role.as_str().to_string()),
        ("PageAmount", pages.len().to_string()),
        ("Station", station.to_string()),
        ("ProfileSha256", profile_sha.to_string()),
    ];
    let mut seen = std::collections::HashSet::new();
    // The scans the PDF shows: a page a clerk removed or replaced is in the record, not in the file.
    info.sources = pages
        .iter()
        .filter(|p| !p.removed && seen.insert(p.sha256.clone()))
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
        if doc.state != DocState::Closed {
            return self.records.attach_pdf(&job.id, &doc.id, "", 0, &[], false, &now).await;
        }
        let name = format!("{}.{:03}.pdf", doc.case_code, doc.ordinal);
        // A born-digital PDF is attached as it is: its own bytes are the document.
        if let Some(first) = pages.first().filter(|p| p.source_encoding == pages::SourceEncoding::Pdf) {
            // Its size as recorded at capture: the PDF is not read again just to be counted.
            let bytes = self.records.file_bytes(&first.sha256).await?.unwrap_or(0);
            let enc: Vec<PageOutcome> =
                pages.iter().map(|p| outcome(&p.id, "pdf-native".to_string(), &Default::default())).collect();
            // Its text is not read from pixels, only recorded for search (the OCR job sees it is born digital).
            let ocr = l.profile.settings.ocr.wants(doc.role, doc.doc_type.as_deref());
            self.records.attach_pdf(&job.id, &doc.id, &first.sha256, bytes, &enc, ocr, &now).await?;
            if l.profile.settings.output.case_folder_view {
                self.show_attached(&doc.case_code, &name, &first.sha256).await;
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
        let (sha, bytes, outcomes) = self
            .write_pdf(pages, l.profile.settings.output.clone(), !l.profile.settings.separators.keep_in_pdf, info)
            .await?;
        let attaching = metrics::time(Stage::Attach);
        let ocr = l.profile.settings.ocr.wants(doc.role, doc.doc_type.as_deref());
        self.records.attach_pdf(&job.id, &doc.id, &sha, bytes, &outcomes, ocr, &now).await?;
        drop(attaching);
        if l.profile.settings.output.case_folder_view {
            if doc.pdf_sha256.is_some() {
                // Rendered again (a blank page put back): the view is replaced by the new PDF.
                self.views.replace(self.blobs.as_ref(), &doc.case_code, &name, &sha);
            } else {
                self.show_attached(&doc.case_code, &name, &sha).await;
            }
        }
        tracing::info!(
            document = %name, pages = outcomes.len(), bytes, sha256 = %sha,
            ms = started.elapsed().as_millis() as u64, "attached"
        );
        if l.profile.settings.output.case_bundle {
            self.bundle_case(&doc.case_code, &l.profile, &station, l.offset).await?;
        }
        Ok(())
    }

    /// Renders pages into one PDF in the blob store (durable when this returns); returns its hash, size
    /// and each page's encoding.
    pub(super) async fn write_pdf(
        &self,
        pages: Vec<PageRow>,
        output: Output,
        drop_sheets: bool,
        info: DocInfo,
    ) -> Result<(String, u64, Vec<PageOutcome>)> {
        let (staged, outcomes) = self.stage_pdf(pages, output, drop_sheets, info, None).await?;
        let (sha, bytes) = (staged.sha256.clone(), staged.bytes);
        let blobs = self.blobs.clone();
        let persisting = std::time::Instant::now();
        crate::util::cpu::blocking(move || blobs.persist(vec![staged]))
            .await
            .map_err(|e| Failure::transient("render task", e))??;
        metrics::observe(Stage::Write, persisting.elapsed());
        Ok((sha, bytes, outcomes))
    }

    /// Renders pages into one PDF staged in the blob store, not yet durable: a correction persists it
    /// only once it knows its transaction will be written.
    /// `known`: an input not in the store yet (a new scan a correction captures), read from memory.
    pub(super) async fn stage_pdf(
        &self,
        pages: Vec<PageRow>,
        output: Output,
        drop_sheets: bool,
        info: DocInfo,
        known: Option<(String, Arc<Vec<u8>>)>,
    ) -> Result<(crate::store::blob::Staged, Vec<PageOutcome>)> {
        let blobs = self.blobs.clone();
        let limits = Limits::new(output.max_pixels, output.max_inflate_mb);
        memory::pages().at_least(output.page_memory_mb << 20);
        let (staged, outcomes) = crate::util::cpu::blocking(move || -> Result<_> {
            let sink =
                if output.reference_originals { blobs.stage_composite_writer()? } else { blobs.stage_writer()? };
            let mut pdf = PdfWriter::new(sink, info.kind)?;
            let mut outcomes = Vec::with_capacity(pages.len());
            let mut left_out: Vec<(usize, normalize::PageNormalization)> = Vec::new();
            // The last file read, shared: the pages of one multi-page file are read once, and a PDF's
            // pages parsed once.
            let known = known.map(|(s, b)| (s, Arc::new(PageSource::new(b))));
            let last: Mutex<Option<(String, Arc<PageSource>)>> = Mutex::new(None);
            let read = |sha: &str| -> Result<Arc<PageSource>> {
                if let Some((_, b)) = known.as_ref().filter(|(s, _)| s == sha) {
                    return Ok(b.clone());
                }
                if let Some((_, b)) = last.lock().unwrap_or_else(|e| e.into_inner()).as_ref().filter(|(s, _)| s == sha)
                {
                    return Ok(b.clone());
                }
                // Read without holding the lock: other workers read their own files meanwhile.
                let b = Arc::new(PageSource::new(Arc::new(blobs.read_all(sha)?)));
                *last.lock().unwrap_or_else(|e| e.into_inner()) = Some((sha.to_string(), b.clone()));
                Ok(b)
            };
            // Pages are prepared on every core, a few ahead, and written in order.
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            for_each_ordered(
                pages.len(),
                cores,
                cores * 2,
                |i| prepare_page(&pages[i], &output, drop_sheets, limits, &read),
                |i, prepared| {
                    let p = &pages[i];
                    match prepared {
                        Prepared::Sheet => {
                            // The sheet stays in the record (and its original in the store); the PDF is
                            // the dossier.
                            outcomes.push(outcome(&p.id, "separator-omitted".to_string(), &Default::default()));
                        }
                        Prepared::Removed(o) => outcomes.push(o),
                        Prepared::Blank(norm) => {
                            // Left out of the PDF, never deleted: the original and the verdict stay recorded.
                            outcomes.push(outcome(&p.id, "blank-omitted".to_string(), &norm));
                            left_out.push((i, norm));
                        }
                        Prepared::Page { encoded, placement, dpi, outcome: o } => {
                            pdf.add_placed_page(&encoded, dpi.0, dpi.1, &placement)?;
                            outcomes.push(o);
                        }
                    }
                    Ok(())
                },
            )?;
            if pdf.page_count() == 0 {
                // Every page blank, or nothing but separator sheets: a document still needs its pages;
                // keep them, flagged.
                let (keep, mark): (Vec<(usize, normalize::PageNormalization)>, &str) = if left_out.is_empty() {
                    (
                        (0..pages.len()).filter(|i| pages[*i].separator).map(|i| (i, Default::default())).collect(),
                        "separator",
                    )
                } else {
                    (left_out, "blank")
                };
                for (i, norm) in keep {
                    let p = &pages[i];
                    let _room = room_for(p, &output);
                    let Some(image) = read(&p.sha256)?.load(p.page_index, limits)? else { continue };
                    let (encoded, _) = encode::encode_page(image, None, None, &output, p.dpi_x, None)?;
                    pdf.add_page(&encoded, p.dpi_x, p.dpi_y)?;
                    // Put in as scanned: the record keeps the verdicts, not a geometry that was not applied.
                    let norm = normalize::PageNormalization { crop: None, deskew: 0.0, turns: 0, ..norm };
                    outcomes[i] = outcome(&p.id, format!("{}+{mark}", encoded.label()), &norm);
                }
            }
            let writing = metrics::time(Stage::Write);
            // The pages the PDF holds: blank pages and sheets left out are in the record, not in the file.
            let mut info = info;
            let shown = pdf.page_count().to_string();
            info.archival.iter_mut().filter(|(k, _)| *k == "PageAmount").for_each(|(_, v)| *v = shown.clone());
            let staged = pdf.finish(&info)?.finish()?;
            drop(writing);
            metrics::pages_written(pages.len() as u64);
            Ok((staged, outcomes))
        })
        .await
        .map_err(|e| Failure::transient("render task", e))??;
        Ok((staged, outcomes))
    }

    /// Rebuilds the whole-dossier PDF of a case: every attached scanned document in ordinal order, a
    /// bookmark each. Born-digital PDFs stay separate documents (they are never rasterized).
    pub(super) async fn bundle_case(
        &self,
        code: &str,
        profile: &Profile,
        station: &str,
        offset: ::time::UtcOffset,
    ) -> Result<()> {
        let docs = self.records.case_documents_for_bundle(code).await?;
        if docs.is_empty() {
            return Ok(());
        }
        let kind = profile.settings.output.pdf;
        let mut info = DocInfo::new(kind);
        let mut all = Vec::new();
        let mut h = Sha256::new();
        for (doc, pages) in &docs {
            let type_name = doc.doc_type.clone().unwrap_or_else(|| role_title(doc.role).to_string());
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

/// A page's outcome with its normalization record as JSON (left out when no step found anything).
fn outcome(page_id: &str, encoding: String, norm: &normalize::PageNormalization) -> PageOutcome {
    let normalization = (!norm.is_empty()).then(|| serde_json::to_string(norm).unwrap_or_default());
    PageOutcome { page_id: page_id.to_string(), encoding, normalization }
}

/// One page made ready for the PDF, off the writer's thread.
enum Prepared {
    /// A separator sheet, left out.
    Sheet,
    /// A blank page, left out (its record).
    Blank(normalize::PageNormalization),
    /// A page a clerk took out (its outcome, the record unchanged).
    Removed(PageOutcome),
    /// A page to write.
    Page { encoded: encode::EncodedPage, placement: crate::bundle::Placement, dpi: (f64, f64), outcome: PageOutcome },
}

/// What a page takes in memory while it is prepared, from its stored size and colour and what the
/// profile does to it. Passed through or encoded as it is: the decoded pixels, a gray copy, the
/// encoder's buffers. Looked at for its colour mode (`colour_mode = "auto"`, the archive profile):
/// on top of those, the colour and picture maps, the black-and-white page and its speck analysis, and
/// the straightened copies. Measured by `benches/page_memory.sh` (peak RSS of a one-page `ingest`
/// less the idle process, an A4 page at 600 dpi skewed 3°, test build), in bytes a pixel:
///
/// | profile | colour | gray | black-and-white |
/// |---|---|---|---|
/// | counter | 3.5 | 1.2 | 1.1 |
/// | counter with `deskew = true` (a 144-megapixel page, 1072 MiB) | 7.2 | | |
/// | archive | 18.9 | 11.9 | 2.0 |
///
/// The factors below hold them with room.
fn page_cost(p: &PageRow, output: &Output) -> u64 {
    // Turned, straightened or cropped: a copy of the pixels; looked at for its colours: the maps and
    // the black-and-white page on top.
    let moved = u64::from(output.deskew || output.orientation || output.borders);
    let looked_at = u64::from(output.colour_mode.decides());
    let per_pixel = match p.colour {
        pages::Colour::Rgb | pages::Colour::Cmyk => 4 + 4 * moved + 12 * looked_at,
        pages::Colour::Gray => 3 + 2 * moved + 8 * looked_at,
        pages::Colour::Bitonal => 2 + moved,
        pages::Colour::Native => 0,
    };
    u64::from(p.width) * u64::from(p.height) * per_pixel
}

/// Waits for room for a page in the process's page budget (`util::memory`).
fn room_for(p: &PageRow, output: &Output) -> memory::Held<'static> {
    memory::pages().take(page_cost(p, output))
}

/// Decodes a page once, normalizes and encodes it; what goes into the PDF and into its record.
fn prepare_page(
    p: &PageRow,
    output: &Output,
    drop_sheets: bool,
    limits: Limits,
    read: &(dyn Fn(&str) -> Result<Arc<PageSource>> + Sync),
) -> Result<Prepared> {
    if p.separator && drop_sheets {
        return Ok(Prepared::Sheet);
    }
    if p.removed {
        // Out of the PDF by a clerk's hand; the record keeps the page and what was found on it.
        let o =
            PageOutcome { page_id: p.id.clone(), encoding: "removed".into(), normalization: p.normalization.clone() };
        return Ok(Prepared::Removed(o));
    }
    // Room for its pixels first, shared with every page the process is working on.
    let _room = room_for(p, output);
    let source = read(&p.sha256)?;
    let bytes = source.bytes().clone();
    let decoding = metrics::time(Stage::Decode);
    let Some(image) = source.load(p.page_index, limits)? else {
        return Err(Failure::bad(Code::MixedPdf, "a born-digital PDF page cannot be merged with scanned pages"));
    };
    // A camera's or scanner's EXIF orientation is a statement, not a guess: it wins.
    // Only a JPEG file's own: viewers ignore EXIF inside a PDF, so a scanner PDF's JPEG is shown as is.
    let exif = match &image {
        PageImage::Jpeg { data, .. } if output.orientation && bytes.starts_with(&[0xFF, 0xD8]) => {
            pages::jpeg_orientation(data)
        }
        _ => 1,
    };
    // Decoded once, here, for every page decision and for the encoder's classification.
    let steps = Steps {
        borders: output.borders,
        blank: output.blank_pages != BlankPolicy::Keep,
        orientation: output.orientation,
        deskew: output.deskew,
        tesseract: output.orientation && output.orientation_tesseract && exif == 1,
    };
    let resample = output.resamples(p.dpi_x);
    // A page rendered before keeps what was found then (a correction never re-judges it): its record
    // is read, not made again.
    let judge = !p.rendered && (steps.borders || steps.blank || steps.orientation || steps.deskew);
    let needs_pixels = judge || resample || output.colour_mode.decides();
    let raster = if needs_pixels { encode::pixels(&image) } else { None };
    if needs_pixels && raster.is_none() && matches!(image, PageImage::Jpeg { .. }) {
        // Its markers were whole at capture, its image data is not: never passed through as good.
        return Err(Failure::bad(
            Code::BrokenJpeg,
            "the JPEG's image data cannot be decoded at the size its header gives: the file is damaged; scan again",
        ));
    }
    drop(decoding);
    let normalizing = metrics::time(Stage::Normalize);
    // Lightness once, for analysis and for the colour classification.
    let gray = raster.as_ref().filter(|r| r.kind != RasterKind::Gray).map(|r| r.gray().into_owned());
    let mut norm = if p.rendered {
        p.normalization.as_deref().and_then(|n| serde_json::from_str(n).ok()).unwrap_or_default()
    } else {
        gray.as_ref().or(raster.as_ref()).map(|r| normalize::analyse(r, p.dpi_x, steps)).unwrap_or_default()
    };
    if exif != 1 {
        norm.exif_orientation = Some(exif);
        norm.turns = exif_turns(exif);
        norm.turn_confidence = None;
        norm.orientation_not_judged = None;
    }
    drop(normalizing);
    let blank = norm.blank == Some(true);
    if blank && output.blank_pages == BlankPolicy::Omit && !p.keep {
        return Ok(Prepared::Blank(norm));
    }
    let whole_blob = bytes.len();
    // Test builds keep the input to prove the rule below; release builds let it go before encoding.
    let kept = cfg!(debug_assertions).then(|| bytes.clone());
    drop((bytes, source));
    // Timed inside, by stage (rotate, binarize, encode).
    // The clerk's turn and "as scanned" on top of what was found; the record keeps the finding.
    let mut shown = norm.clone();
    shown.turns = ((i64::from(shown.turns) + p.clerk_turn).rem_euclid(4)) as u8;
    if p.as_scanned {
        (shown.crop, shown.deskew) = (None, 0.0);
    }
    let Placed { mut encoded, placement, dpi, facts, geometry } =
        place_page(image, raster, gray, &shown, (p.dpi_x, p.dpi_y), output, exif)?;
    // A JPEG that is the whole stored input is referred to, not copied, and the PDF's hash is taken
    // over these bytes: a passed-through JPEG as long as its blob is that blob (`jpeg::load` takes a
    // file's bytes whole; a JPEG from inside a PDF is always shorter than the PDF).
    if let encode::EncodedPage::Single(img) = &mut encoded
        && img.label == "jpeg-passthrough"
        && img.data.len() == whole_blob
    {
        if let Some(input) = &kept {
            assert!(img.data[..] == input[..], "a passed-through JPEG differs from its stored input");
        }
        img.source_blob = Some(p.sha256.clone());
    }
    norm.mode = facts.mode.map(|m| m.as_str().to_string());
    norm.specks = facts.specks.filter(|n| *n > 0);
    if dpi.0 != p.dpi_x {
        norm.resampled = Some([p.dpi_x, dpi.0]);
    }
    norm.geometry = geometry;
    let mut label = encoded.label().to_string();
    if blank {
        label.push_str(if p.keep { "+blank+kept" } else { "+blank" });
    }
    if shown.deskew != 0.0 {
        label.push_str(&format!("+deskew({:.2})", shown.deskew));
    }
    if norm.turns != 0 {
        label.push_str(&format!("+turn({})", 90 * norm.turns as u32));
    }
    if shown.crop.is_some() {
        label.push_str("+crop");
    }
    if p.clerk_turn != 0 {
        label.push_str(&format!("+clerk-turn({})", 90 * p.clerk_turn));
    }
    if p.as_scanned {
        label.push_str("+as-scanned");
    }
    let o = outcome(&p.id, label, &norm);
    Ok(Prepared::Page { encoded, placement, dpi, outcome: o })
}
