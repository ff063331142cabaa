//! The split job: one captured input → its pages, each routed.

use crate::error::{Code, Failure, Result};
use crate::pages::{self, Limits};
use crate::profile::{DocumentRule, LowDpi};
use crate::route::Hints;
use crate::separate::{Mark, StackNote};
use crate::store::assembly::{GroupKey, NewPage, SplitOutcome};
use crate::store::jobs::Job;
use crate::store::records::IntakeState;
use crate::util::time;

use super::Pipeline;

impl Pipeline {
    pub(super) async fn split(&self, job: &Job) -> Result<()> {
        let Some(intake) = self.records.intake(&job.subject).await? else {
            return Err(Failure::transient("split", anyhow::anyhow!("intake {} is not recorded", job.subject)));
        };
        let l = self.loaded(&job.profile_sha256).await?;
        let s = &l.profile.settings;
        let close_each = s.grouping.document == DocumentRule::File;
        let now = time::now_iso(l.offset);
        if intake.state != IntakeState::Captured {
            // Already done by an earlier attempt that committed; finishing again is a no-op.
            return self.records.finish_split(&job.id, &intake.id, &SplitOutcome::Again, &now, close_each).await;
        }
        let _timer = crate::util::metrics::time(crate::util::metrics::Stage::Split);
        let hints: Hints = serde_json::from_str(&intake.hints).unwrap_or_default();
        let outcome = async {
            let route = l.router.route_file(&hints)?;
            // Measured by its record, before it is read: a file over the limit never comes into memory.
            if intake.bytes > s.output.max_bytes {
                return Err(Failure::bad(
                    Code::TooLarge,
                    format!(
                        "the file is {} MB, over this station's limit of {} MB",
                        intake.bytes >> 20,
                        s.output.max_bytes >> 20
                    ),
                ));
            }
            let blobs = self.blobs.clone();
            let sha = intake.sha256.clone();
            let bytes = crate::util::cpu::blocking(move || blobs.read_all(&sha))
                .await
                .map_err(|e| Failure::transient("reading an input", e))??;
            let limits = Limits::new(s.output.max_pixels, s.output.max_inflate_mb);
            let detect = s.separators.detect;
            crate::util::memory::pages().at_least(s.output.page_memory_mb << 20);
            let (format, infos, marks) = crate::util::cpu::blocking(move || -> Result<_> {
                // Room for the pixels a check decodes, shared with every page the process is working on.
                let _room = crate::util::memory::pages().take(pages::split_cost(&bytes, detect, limits));
                let (format, infos) = pages::inspect(&bytes, limits)?;
                // Separator sheets are read here, once per page, so that assembly can split the stack
                // in capture order without touching pixels.
                let marks = if detect { separator_marks(&bytes, &infos, limits) } else { Vec::new() };
                Ok((format, infos, marks))
            })
            .await
            .map_err(|e| Failure::transient("split task", e))??;
            let group_key = if s.separators.stacked() {
                // One stack per station and folder, whatever closes documents otherwise.
                GroupKey::Stack { station: intake.station.clone(), path: hints.folder_path.clone() }
            } else {
                match s.grouping.document {
                    DocumentRule::File => GroupKey::File { intake: intake.id.clone() },
                    DocumentRule::Folder | DocumentRule::Marker => GroupKey::Folder { path: hints.folder_path.clone() },
                }
            };
            let mut pages = Vec::with_capacity(infos.len());
            for (i, info) in infos.into_iter().enumerate() {
                let mut flags = Vec::new();
                let (dpi_x, dpi_y, source) = match info.dpi {
                    Some(d) => d,
                    None => {
                        flags.push("no-dpi".to_string());
                        (s.output.default_dpi as f64, s.output.default_dpi as f64, pages::DpiSource::Default)
                    }
                };
                if info.encoding != pages::SourceEncoding::Pdf && dpi_x.min(dpi_y) + 0.5 < s.output.min_dpi as f64 {
                    if s.output.below_min_dpi == LowDpi::Quarantine {
                        return Err(Failure::bad(
                            Code::LowDpi,
                            format!(
                                "page {} is {:.0} dpi, under the minimum of {} dpi; scan again at {} dpi or more",
                                i + 1,
                                dpi_x.min(dpi_y),
                                s.output.min_dpi,
                                s.output.min_dpi
                            ),
                        ));
                    }
                    flags.push("low-dpi".to_string());
                }
                let r = if i == 0 { route.clone() } else { l.router.route_page(&hints, i as u32)? };
                pages.push(NewPage {
                    page_index: i as u32,
                    width: info.width,
                    height: info.height,
                    dpi_x,
                    dpi_y,
                    dpi_source: source,
                    colour: info.colour,
                    source_encoding: info.encoding,
                    case_code: r.case_code,
                    role: r.role,
                    doc_type: r.doc_type,
                    group_key: group_key.clone(),
                    flags,
                    stack: s.separators.stacked().then(|| StackNote {
                        every: s.separators.every,
                        sheet: marks.get(i).cloned().flatten().and_then(|m| {
                            m.sheet(|raw| l.router.codes().validate(raw).map(String::from).map_err(|e| e.to_string()))
                        }),
                    }),
                });
            }
            Ok((format, pages))
        }
        .await;
        let outcome = match outcome {
            Ok((format, pages)) => {
                let unfiled = pages.iter().filter(|p| p.case_code.is_none()).count();
                tracing::info!(file = %intake.source_path, pages = pages.len(), unfiled, format = format.as_str(), "split");
                SplitOutcome::Pages { format, pages }
            }
            Err(Failure::BadInput { code, reason }) => {
                tracing::warn!(file = %intake.source_path, code = code.as_str(), reason = %reason, "quarantined");
                SplitOutcome::Quarantined { code, reason }
            }
            Err(e) => return Err(e),
        };
        self.records.finish_split(&job.id, &intake.id, &outcome, &now, close_each).await?;
        if let SplitOutcome::Quarantined { code, reason } = &outcome {
            let dir = l.profile.settings.quarantine.path.clone();
            self.show_quarantined(&intake, *code, reason, dir).await;
        }
        Ok(())
    }
}

/// The separator mark of each page (`None` for an ordinary page, or one that could not be decoded: its
/// own problem is for the render job to report).
fn separator_marks(bytes: &[u8], infos: &[pages::PageInfo], limits: Limits) -> Vec<Option<Mark>> {
    infos
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let page = pages::load(bytes, i as u32, limits).ok().flatten()?;
            let raster = crate::encode::pixels(&page)?;
            let dpi = info.dpi.map(|d| d.0.min(d.1)).unwrap_or(300.0);
            crate::separate::detect(&raster, dpi)
        })
        .collect()
}
