//! The OCR job: an attached document's PDF read by Tesseract page by page, as the PDF shows them, and
//! given an invisible text layer in a new version (the original bytes kept, the words appended), with
//! each page's text recorded for search. Queued by the attach's own transaction when the profile's
//! `[ocr]` wants the document; claimed only when nothing else is runnable, and only as many at once
//! as `ocr.cores` allows, so the counter and the archive run never wait for it.

use std::io::Write;

use crate::bundle::text_layer::{Finished, Word};
use crate::error::{Failure, Result};
use crate::ocr::{self, Reading};
use crate::store::jobs::Job;
use crate::store::texts::PageTextRow;
use crate::util::metrics::{self, Stage};
use crate::util::time;

use super::Pipeline;

impl Pipeline {
    pub(super) async fn ocr(&self, job: &Job) -> Result<()> {
        let Some(doc) = self.records.ocr_subject(&job.subject).await? else {
            return self.records.skip_job(&job.id, "the document is not recorded").await;
        };
        let sha = match &doc.pdf_sha256 {
            Some(sha) if doc.state == "attached" => sha.clone(),
            _ => return self.records.skip_job(&job.id, "the document is not attached").await,
        };
        if doc.operation.as_deref() == Some("ocr") {
            return self.records.skip_job(&job.id, "the current version already has its text").await;
        }
        let l = self.loaded(&job.profile_sha256).await?;
        let shown = self.records.shown_pages(&job.subject).await?;
        let now = time::now_iso(l.offset);
        if doc.born_digital {
            // Its own text, as it is: no pixels read, no new version.
            let (blobs, from) = (self.blobs.clone(), sha.clone());
            let read = crate::util::cpu::blocking(move || ocr::born_digital_text(&blobs.read_all(&from)?))
                .await
                .map_err(|e| Failure::transient("reading a PDF's text", e))??;
            let rows = page_rows(&read, &shown);
            self.records.attach_text(&job.id, &job.subject, doc.version, None, &rows, &now).await?;
            let name = format!("{}.{:03}.pdf", doc.case_code, doc.ordinal);
            tracing::info!(document = %name, pages = rows.len(), "born-digital text recorded for search");
            return Ok(());
        }
        let reading = Reading { languages: l.profile.settings.ocr.languages.clone(), dpi: l.profile.settings.ocr.dpi };
        let name = format!("{}.{:03}.pdf", doc.case_code, doc.ordinal);
        // A page flagged blank is not read (noise costs Tesseract minutes and gives nothing) when the
        // record says which page of the PDF it is.
        let blank: Vec<bool> = shown.iter().map(|(_, b)| *b).collect();
        let (blobs, from, log_name) = (self.blobs.clone(), sha.clone(), name.clone());
        let started = std::time::Instant::now();
        let (staged, read) = crate::util::cpu::blocking(move || -> Result<_> {
            let pdf = blobs.read_all(&from)?;
            // Read once: its page count first, then the update.
            let finished = Finished::open(&pdf)?;
            let pages = finished.page_count();
            let skip = |i: usize| blank.len() == pages && blank[i];
            let read = ocr::recognise(&pdf, pages, &reading, skip, |done| {
                tracing::info!(document = %log_name, pages_done = done, pages, "recognising text");
            })?;
            let words: Vec<Vec<Word>> = read.iter().map(|p| p.words.clone()).collect();
            let update = finished.text_layer_update(&words)?;
            drop(finished);
            // The new version is the old one's bytes and the update: a store that can refers to them.
            let mut w = blobs.stage_composite_writer()?;
            if !w.reference(&from, &pdf)? {
                w.write_all(&pdf).map_err(|e| Failure::transient("writing a PDF", e))?;
            }
            w.write_all(&update).map_err(|e| Failure::transient("writing a PDF", e))?;
            Ok((w.finish()?, read))
        })
        .await
        .map_err(|e| Failure::transient("OCR task", e))??;
        let (new_sha, bytes) = (staged.sha256.clone(), staged.bytes);
        let blobs = self.blobs.clone();
        crate::util::cpu::blocking(move || blobs.persist(vec![staged]))
            .await
            .map_err(|e| Failure::transient("OCR task", e))??;
        let rows = page_rows(&read, &shown);
        let applied =
            self.records.attach_text(&job.id, &job.subject, doc.version, Some((&new_sha, bytes)), &rows, &now).await?;
        metrics::observe(Stage::Ocr, started.elapsed());
        metrics::pages_recognised(read.len() as u64);
        if !applied {
            tracing::info!(document = %name, "the document changed while its text was read; its new version is read in turn");
            return Ok(());
        }
        if l.profile.settings.output.case_folder_view {
            let (views, blobs, code) = (self.views.clone(), self.blobs.clone(), doc.case_code.clone());
            let (n, s) = (name.clone(), new_sha.clone());
            let _ = crate::util::cpu::blocking(move || views.replace(blobs.as_ref(), &code, &n, &s)).await;
        }
        let confident: Vec<f64> = read.iter().filter_map(|p| p.confidence).collect();
        let mean = if confident.is_empty() { 0.0 } else { confident.iter().sum::<f64>() / confident.len() as f64 };
        tracing::info!(
            document = %name, pages = read.len(), version = doc.version + 1, sha256 = %new_sha,
            confidence = format!("{mean:.1}"), ms = started.elapsed().as_millis() as u64,
            "text layer added"
        );
        Ok(())
    }
}

/// Each page's text as recorded, with the page record it shows when the record and the PDF agree on
/// how many pages there are.
fn page_rows(read: &[ocr::PageText], shown: &[(String, bool)]) -> Vec<PageTextRow> {
    read.iter()
        .enumerate()
        .map(|(i, p)| PageTextRow {
            page_no: i as i64 + 1,
            page_id: if shown.len() == read.len() { shown.get(i).map(|(id, _)| id.clone()) } else { None },
            text: p.text.clone(),
            confidence: p.confidence.map(|c| (c * 10.0).round() / 10.0),
            words: words_json(&p.words, p.size),
        })
        .collect()
}

/// The words of a page with their boxes as shares of the shown page (what a thumbnail of any size
/// marks a hit with), as JSON `[[word, left, top, right, bottom], …]`.
fn words_json(words: &[Word], (w, h): (f64, f64)) -> String {
    if w <= 0.0 || h <= 0.0 {
        return "[]".into();
    }
    let share = |v: f64, of: f64| ((v / of).clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0;
    let list: Vec<serde_json::Value> = words
        .iter()
        .map(|word| {
            let [l, t, r, b] = word.bbox;
            serde_json::json!([word.text, share(l, w), share(t, h), share(r, w), share(b, h)])
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}
