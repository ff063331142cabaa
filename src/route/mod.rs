//! Routing: which case, role and document type each page belongs to.
//!
//! The evidence is gathered at capture time into [`Hints`] (stored with the intake, so a re-run decides
//! the same way without the inbox), and turned into a decision per *page* by [`Router::route_page`], so
//! that a separator sheet in the middle of a stack can later start a new case. Order of evidence: a
//! sidecar manifest, the parent folder's name, the profile's file-name pattern, else unfiled.

pub mod case_code;
pub mod manifest;

use serde::{Deserialize, Serialize};

use crate::error::{Code, Failure};
use crate::profile::Settings;
pub use case_code::{CaseCode, CaseCodeRule, CodeProblem};
pub use manifest::ManifestEntry;

/// How the route key of an input whose routing failed begins (a broken manifest, a code that is
/// not one): the rest is its source path. Such an input is never a duplicate of another file with
/// the same bytes — each keeps its own record and reason — yet a second capture of the same file
/// (after a crash) is still recognised. Never a case code, which cannot begin so.
pub const FAILED_ROUTE: &str = "?";

/// Whether an intake's route key names a case (not unrouted `""`, not a failed route).
pub fn names_case(route_key: &str) -> bool {
    !route_key.is_empty() && !route_key.starts_with(FAILED_ROUTE)
}

/// What was known about an input when it was captured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Hints {
    /// The parent folder's name (NFC), when the input is inside one.
    pub folder: Option<String>,
    /// Path of the parent folder relative to the inbox (NFC), `""` at the top.
    pub folder_path: String,
    /// The file name (NFC).
    pub file_name: String,
    /// The manifest entry that applies, if any.
    pub manifest: Option<ManifestEntry>,
    /// Why the manifest could not be used; the input is quarantined with this reason.
    pub manifest_error: Option<String>,
    /// The inbox it was captured from (absolute): where a corrected manifest is looked for when it is
    /// retried. Absent for inputs captured before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<String>,
}

pub use crate::util::lang::Said;

/// Where a page goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The case, or `None` when nothing identified one (unfiled).
    pub case_code: Option<CaseCode>,
    /// Input or result.
    pub role: crate::profile::DocRole,
    /// Document type when known.
    pub doc_type: Option<String>,
    /// Operator from the manifest.
    pub operator: Option<String>,
}

/// Reads a declared reuse source (see [`Router::reuse_source`]) under a case-code rule.
pub fn reuse_source(codes: &CaseCodeRule, from: &str) -> Result<(CaseCode, Option<i64>), String> {
    let from = from.trim();
    if let Some((code, ordinal)) = from.rsplit_once('.')
        && ordinal.len() == 3
        && ordinal.bytes().all(|b| b.is_ascii_digit())
        && let Ok(code) = codes.validate(code)
    {
        return Ok((code, ordinal.parse().ok()));
    }
    codes
        .validate(from)
        .map(|c| (c, None))
        .map_err(|e| format!("`{from}` is neither a case code nor a case code with a document number (.NNN): {e}"))
}

/// Reads a declared reuse source for an input of `case`: as [`reuse_source`], and never the case itself
/// (an input is not reused from its own dossier).
pub fn reuse_source_for(codes: &CaseCodeRule, case: &str, from: &str) -> Result<(CaseCode, Option<i64>), String> {
    let (source, ordinal) = reuse_source(codes, from)?;
    if source.as_str() == case {
        return Err(format!("`{from}` is the case itself: name the earlier case the input was digitized for"));
    }
    Ok((source, ordinal))
}

/// Applies one profile's routing rules.
pub struct Router {
    codes: CaseCodeRule,
    settings: Settings,
    filename: Option<regex::Regex>,
}

impl Router {
    /// Builds a router; the profile's expressions were checked when it was loaded.
    pub fn new(settings: &Settings) -> Result<Router, Failure> {
        let codes = CaseCodeRule::from_profile(&settings.routing)
            .map_err(|e| Failure::bad(Code::BadProfile, format!("routing.case_code_pattern: {e}")))?;
        let filename = match &settings.routing.filename_pattern {
            Some(p) => Some(
                regex::Regex::new(p)
                    .map_err(|e| Failure::bad(Code::BadProfile, format!("routing.filename_pattern: {e}")))?,
            ),
            None => None,
        };
        Ok(Router { codes, settings: settings.clone(), filename })
    }

    /// The case-code rule in force.
    pub fn codes(&self) -> &CaseCodeRule {
        &self.codes
    }

    /// The file-level decision, used at capture for the duplicate key. A manifest that names an invalid
    /// code is an error (the input will be quarantined), never a silent fall-back to unfiled.
    pub fn route_file(&self, hints: &Hints) -> Result<Route, Failure> {
        if let Some(err) = &hints.manifest_error {
            return Err(Failure::bad(Code::BadManifest, err.clone()));
        }
        let r = &self.settings.routing;
        let mut route = Route { case_code: None, role: r.role, doc_type: r.document_type.clone(), operator: None };
        if let Some(m) = &hints.manifest {
            if let Some(code) = &m.case {
                let code = self.codes.validate(code).map_err(|e| {
                    Failure::bad(Code::BadCaseCode, format!("the manifest for {}: {e}", hints.file_name))
                })?;
                route.case_code = Some(code);
            }
            if let Some(role) = m.role {
                route.role = role;
            }
            if m.document_type.is_some() {
                route.doc_type = m.document_type.clone();
            }
            route.operator = m.operator.clone();
            if let Some(from) = &m.reused_from {
                let checked = match &route.case_code {
                    Some(case) => reuse_source_for(&self.codes, case.as_str(), from),
                    None => self.reuse_source(from),
                };
                checked.map_err(|e| {
                    Failure::bad(Code::BadCaseCode, format!("the manifest for {}: reused_from: {e}", hints.file_name))
                })?;
            }
        }
        if route.case_code.is_none() && r.folder_names {
            route.case_code = hints.folder.as_deref().and_then(|f| self.codes.validate(f).ok());
        }
        if let (None, Some(re)) = (&route.case_code, &self.filename) {
            route.case_code = re
                .captures(&hints.file_name)
                .and_then(|c| c.name("code"))
                .and_then(|m| self.codes.validate(m.as_str()).ok());
        }
        Ok(route)
    }

    /// Checks a declared reuse source: a case code, or a case code and a document's 3-digit ordinal
    /// (`H15.50.05.13-250301-0012.002`). Returns the case code and the ordinal.
    pub fn reuse_source(&self, from: &str) -> Result<(CaseCode, Option<i64>), String> {
        reuse_source(&self.codes, from)
    }

    /// Why an input's pages found no case, in words a clerk can act on (the unfiled list shows it), in
    /// English and in Vietnamese. `route_key` is what capture recorded: a case there means the pages
    /// were taken off it since.
    pub fn why_unfiled(&self, hints: &Hints, route_key: &str) -> Said {
        if names_case(route_key) {
            return Said {
                en: format!(
                    "it was routed to {route_key}, then detached from it or cut off by a separator sheet that could \
                     not be read (the case's audit log says which)"
                ),
                vi: format!(
                    "Đã được xếp vào hồ sơ {route_key}, sau đó bị gỡ khỏi hồ sơ hoặc bị tách ra bởi một tờ phân cách \
                     không đọc được (nhật ký của hồ sơ ghi rõ)."
                ),
            };
        }
        if hints.manifest.is_some() {
            return Said {
                en: "its manifest names no case, and neither does its folder or file name".into(),
                vi: "Tệp manifest không ghi mã hồ sơ, tên thư mục và tên tệp cũng không.".into(),
            };
        }
        let r = &self.settings.routing;
        let mut why: Vec<Said> = Vec::new();
        match (&hints.folder, r.folder_names) {
            (Some(f), true) => why.push(match self.codes.validate(f) {
                Err(e) => Said {
                    en: format!("the folder name is not a case code: {e}"),
                    vi: format!("tên thư mục không phải mã hồ sơ: {}", e.vi()),
                },
                Ok(_) => Said {
                    en: format!("the folder `{f}` was not taken as a case"),
                    vi: format!("thư mục «{f}» không được nhận làm hồ sơ"),
                },
            }),
            (None, true) => why.push(Said {
                en: "it lies at the top of the inbox, in no folder named by a case code".into(),
                vi: "tệp nằm ngay trong thư mục nhận, không ở thư mục nào mang mã hồ sơ".into(),
            }),
            (_, false) => {}
        }
        if let Some(re) = &self.filename {
            match re.captures(&hints.file_name).and_then(|c| c.name("code")) {
                None => why.push(Said {
                    en: "the file name does not match the profile's file-name pattern".into(),
                    vi: "tên tệp không khớp mẫu tên tệp của cấu hình".into(),
                }),
                Some(m) => {
                    if let Err(e) = self.codes.validate(m.as_str()) {
                        why.push(Said {
                            en: format!("the code in the file name is not a case code: {e}"),
                            vi: format!("mã trong tên tệp không phải mã hồ sơ: {}", e.vi()),
                        });
                    }
                }
            }
        }
        if why.is_empty() {
            why.push(Said {
                en: "no manifest, and the profile takes no case from folder or file names".into(),
                vi: "không có manifest, và cấu hình không lấy mã hồ sơ từ tên thư mục hay tên tệp".into(),
            });
        }
        let en: Vec<&str> = why.iter().map(|w| w.en.as_str()).collect();
        let vi: Vec<&str> = why.iter().map(|w| w.vi.as_str()).collect();
        Said { en: format!("no manifest; {}", en.join("; ")), vi: format!("Không có manifest; {}", vi.join("; ")) }
    }

    /// The decision for one page. Today every page of a file follows the file; separator sheets will
    /// change the case from the page that carries one.
    pub fn route_page(&self, hints: &Hints, _page_index: u32) -> Result<Route, Failure> {
        self.route_file(hints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(pattern: Option<&str>) -> Router {
        let mut s: Settings = crate::profile::Profile::embedded_default().settings;
        s.routing.filename_pattern = pattern.map(str::to_string);
        Router::new(&s).unwrap()
    }

    #[test]
    fn manifest_then_folder_then_filename_then_unfiled() {
        let r = router(Some(r"^(?P<code>[^_]+)_"));
        let mut h =
            Hints { folder: Some("H15.50.05.13-261008-0975".into()), file_name: "x.jpg".into(), ..Default::default() };
        assert_eq!(r.route_file(&h).unwrap().case_code.as_deref(), Some("H15.50.05.13-261008-0975"));
        h.manifest = Some(ManifestEntry { case: Some("H15.50.05.13-261008-0976".into()), ..Default::default() });
        assert_eq!(r.route_file(&h).unwrap().case_code.as_deref(), Some("H15.50.05.13-261008-0976"));
        let h = Hints { folder: Some("misc".into()), file_name: "H15-261008-0977_p1.jpg".into(), ..Default::default() };
        assert_eq!(r.route_file(&h).unwrap().case_code.as_deref(), Some("H15-261008-0977"));
        let h = Hints { folder: Some("misc".into()), file_name: "p1.jpg".into(), ..Default::default() };
        assert_eq!(r.route_file(&h).unwrap().case_code, None);
    }

    #[test]
    fn the_unfiled_say_why() {
        let r = router(None);
        let h =
            Hints { folder: Some("h15.50.05.13-261201-0007".into()), file_name: "a.jpg".into(), ..Default::default() };
        let why = r.why_unfiled(&h, "");
        assert!(why.en.contains("folder name is not a case code") && why.en.contains("lower-case letters"), "{why:?}");
        assert!(why.vi.contains("tên thư mục không phải mã hồ sơ") && why.vi.contains("chữ in hoa"), "{why:?}");
        let h =
            Hints { folder: Some("H15.50.05.13-261341-0007".into()), file_name: "a.jpg".into(), ..Default::default() };
        assert!(r.why_unfiled(&h, "").en.contains("date 261341 is not a date"));
        let h = Hints { file_name: "a.jpg".into(), ..Default::default() };
        assert!(r.why_unfiled(&h, "").en.contains("top of the inbox"));
        let detached = r.why_unfiled(&h, "H15.50.05.13-261008-0975");
        assert!(detached.en.contains("detached") && detached.vi.contains("bị gỡ khỏi hồ sơ"), "{detached:?}");
        assert_eq!(crate::util::text::nfc(&detached.vi), detached.vi, "Vietnamese in NFC");
    }

    #[test]
    fn invalid_manifest_code_is_an_error() {
        let r = router(None);
        let h = Hints {
            manifest: Some(ManifestEntry { case: Some("not a code".into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(matches!(r.route_file(&h), Err(Failure::BadInput { code: Code::BadCaseCode, .. })));
    }
}
