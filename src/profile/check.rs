//! Validation of profile text that reports every problem with its line, not just the first.

use serde::de::DeserializeOwned;

use super::{Connector, Grouping, Inbox, Ocr, Output, Quarantine, Routing, Separators, Service, Settings, Station};

/// One problem in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    /// 1-based line in the file (1 when the problem has no better place).
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// Parses the text section by section so that an error in one section does not hide the others.
pub(super) fn parse_and_validate(text: &str) -> Result<Settings, Vec<ProfileError>> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let e: toml::de::Error = e;
            let line = e.span().map(|s| line_at(text, s.start)).unwrap_or(1);
            return Err(vec![ProfileError { line, message: e.message().to_string() }]);
        }
    };
    let mut errors = Vec::new();
    let mut name = None;
    let mut description = String::new();
    let mut station = Station::default();
    let mut inbox = Inbox::default();
    let mut routing = Routing::default();
    let mut grouping = Grouping::default();
    let mut separators = Separators::default();
    let mut output = Output::default();
    let mut quarantine = Quarantine::default();
    let mut service = Service::default();
    let mut ocr = Ocr::default();
    let mut connector: Option<Connector> = None;
    for (key, value) in table {
        match key.as_str() {
            "name" => match value.as_str() {
                Some(s) if !s.trim().is_empty() => name = Some(s.to_string()),
                _ => errors.push(at(text, &["name"], "`name` must be a non-empty string".into())),
            },
            "description" => match value.as_str() {
                Some(s) => description = s.to_string(),
                None => errors.push(at(text, &["description"], "`description` must be a string".into())),
            },
            "station" => section(text, "station", value, &mut station, &mut errors),
            "inbox" => section(text, "inbox", value, &mut inbox, &mut errors),
            "routing" => section(text, "routing", value, &mut routing, &mut errors),
            "grouping" => section(text, "grouping", value, &mut grouping, &mut errors),
            "separators" => section(text, "separators", value, &mut separators, &mut errors),
            "output" => section(text, "output", value, &mut output, &mut errors),
            "quarantine" => section(text, "quarantine", value, &mut quarantine, &mut errors),
            "service" => section(text, "service", value, &mut service, &mut errors),
            "ocr" => section(text, "ocr", value, &mut ocr, &mut errors),
            "connector" => {
                let mut slot = None;
                section(text, "connector", value, &mut slot, &mut errors);
                if let Some(c) = &slot {
                    let c: &Connector = c;
                    for (key, message) in c.problems() {
                        errors.push(at(text, &["connector", key], message));
                    }
                }
                connector = slot;
            }
            other => errors.push(at(
                text,
                &[other],
                format!(
                    "unknown key `{other}`; a profile has name, description, [station], [inbox], \
                     [routing], [grouping], [separators], [output], [quarantine], [service], [ocr] and [connector]"
                ),
            )),
        }
    }
    if name.is_none() && !errors.iter().any(|e| e.message.contains("`name`")) {
        errors.push(ProfileError { line: 1, message: "missing `name = \"…\"` at the top".into() });
    }
    semantic_checks(text, &station, &inbox, &routing, &output, &mut errors);
    ocr_checks(text, &ocr, &mut errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    }
    Ok(Settings {
        name: name.unwrap_or_default(),
        description,
        station,
        inbox,
        routing,
        grouping,
        separators,
        output,
        quarantine,
        service,
        ocr,
        connector,
    })
}

fn section<T: DeserializeOwned>(
    text: &str,
    name: &str,
    value: toml::Value,
    slot: &mut T,
    errors: &mut Vec<ProfileError>,
) {
    if !value.is_table() {
        errors.push(at(text, &[name], format!("`{name}` must be a table: write `[{name}]`")));
        return;
    }
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => *slot = v,
        Err(e) => {
            let mut path: Vec<String> = vec![name.to_string()];
            for seg in e.path().iter() {
                if let serde_path_to_error::Segment::Map { key } = seg {
                    path.push(key.clone());
                }
            }
            let inner = e.into_inner().to_string();
            // An unknown key is reported at the section; name the key so the line can be found.
            let mut refs: Vec<&str> = path.iter().map(String::as_str).collect();
            let unknown = inner.strip_prefix("unknown field `").and_then(|r| r.split('`').next());
            // (Some versions of the path already end with it.)
            if let Some(k) = unknown.filter(|k| refs.last() != Some(k)) {
                refs.push(k);
            }
            let shown = refs.join(".");
            errors.push(at(text, &refs, format!("{shown}: {}", inner.trim())));
        }
    }
}

fn semantic_checks(
    text: &str,
    station: &Station,
    inbox: &Inbox,
    routing: &Routing,
    output: &Output,
    errors: &mut Vec<ProfileError>,
) {
    if inbox.poll_interval_ms < 50 {
        errors.push(at(text, &["inbox", "poll_interval_ms"], "inbox.poll_interval_ms below 50 would spin".into()));
    }
    if inbox.rescan_seconds == 0 {
        errors.push(at(text, &["inbox", "rescan_seconds"], "inbox.rescan_seconds must be at least 1".into()));
    }
    if crate::util::time::parse_offset(&station.utc_offset).is_none() {
        errors.push(at(
            text,
            &["station", "utc_offset"],
            format!("station.utc_offset `{}` is not an offset like `+07:00`", station.utc_offset),
        ));
    }
    if station.id.trim().is_empty() {
        errors.push(at(text, &["station", "id"], "station.id must not be empty".into()));
    }
    if let Err(e) = regex::Regex::new(&routing.case_code_pattern) {
        errors.push(at(
            text,
            &["routing", "case_code_pattern"],
            format!("routing.case_code_pattern is not a valid regular expression: {e}"),
        ));
    }
    if let Some(p) = &routing.filename_pattern {
        match regex::Regex::new(p) {
            Ok(re) if re.capture_names().flatten().any(|n| n == "code") => {}
            Ok(_) => errors.push(at(
                text,
                &["routing", "filename_pattern"],
                "routing.filename_pattern needs a named group `(?P<code>…)` for the case code".into(),
            )),
            Err(e) => errors.push(at(
                text,
                &["routing", "filename_pattern"],
                format!("routing.filename_pattern is not a valid regular expression: {e}"),
            )),
        }
    }
    if !(50..=2400).contains(&output.default_dpi) {
        errors.push(at(
            text,
            &["output", "default_dpi"],
            format!("output.default_dpi {} is outside 50–2400", output.default_dpi),
        ));
    }
    if output.min_dpi > 2400 {
        errors.push(at(text, &["output", "min_dpi"], "output.min_dpi is above 2400".into()));
    }
    if output.target_dpi != 0 && !(72..=2400).contains(&output.target_dpi) {
        errors.push(at(
            text,
            &["output", "target_dpi"],
            "output.target_dpi must be 0 (keep every page's resolution) or 72–2400".into(),
        ));
    } else if output.target_dpi != 0 && output.target_dpi < output.min_dpi {
        errors.push(at(
            text,
            &["output", "target_dpi"],
            format!(
                "output.target_dpi ({}) is below output.min_dpi ({}): pages would be brought under the minimum",
                output.target_dpi, output.min_dpi
            ),
        ));
    }
    if !(1..=100).contains(&output.jpeg_quality) {
        errors.push(at(text, &["output", "jpeg_quality"], "output.jpeg_quality must be 1–100".into()));
    }
    if !(1..=9).contains(&output.flate_level) {
        errors.push(at(text, &["output", "flate_level"], "output.flate_level must be 1–9".into()));
    }
    if !(16..=4096).contains(&output.max_inflate_mb) {
        errors.push(at(
            text,
            &["output", "max_inflate_mb"],
            "output.max_inflate_mb must be 16–4096: less refuses ordinary PDFs, more lets a bomb through".into(),
        ));
    }
    if !(256..=65536).contains(&output.page_memory_mb) {
        errors.push(at(
            text,
            &["output", "page_memory_mb"],
            format!(
                "output.page_memory_mb must be 256–65536 (it is {}): less cannot hold one 300-dpi colour page with its \
                 working copies; more is past what any machine here has",
                output.page_memory_mb
            ),
        ));
    }
    if output.max_pixels < 1_000_000 {
        errors.push(at(
            text,
            &["output", "max_pixels"],
            "output.max_pixels below 1,000,000 would refuse an A5 page at 200 dpi".into(),
        ));
    }
}

/// What Tesseract and poppler can be asked for.
fn ocr_checks(text: &str, ocr: &Ocr, errors: &mut Vec<ProfileError>) {
    if !(70..=1200).contains(&ocr.dpi) {
        errors.push(at(text, &["ocr", "dpi"], format!("ocr.dpi = {}: give 70 to 1200 (300 reads best)", ocr.dpi)));
    }
    let names_ok = !ocr.languages.is_empty()
        && ocr.languages.split('+').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !names_ok {
        errors.push(at(
            text,
            &["ocr", "languages"],
            format!("ocr.languages = {:?}: Tesseract's language names joined by +, e.g. \"vie+eng\"", ocr.languages),
        ));
    }
    if !(0.0..=1.0).contains(&ocr.cores) {
        errors.push(at(text, &["ocr", "cores"], format!("ocr.cores = {}: a share of the cores, 0 to 1", ocr.cores)));
    }
    if !(0.0..=100.0).contains(&ocr.min_confidence) {
        errors.push(at(
            text,
            &["ocr", "min_confidence"],
            format!("ocr.min_confidence = {}: Tesseract's confidence runs 0 to 100", ocr.min_confidence),
        ));
    }
}

fn at(text: &str, path: &[&str], message: String) -> ProfileError {
    ProfileError { line: line_of(text, path).unwrap_or(1), message }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Finds the line that sets a dotted key (`["output", "min_dpi"]`), or the header of its table.
///
/// A plain scan of `[table]` headers and `key =` lines: enough for the flat profiles sohoa uses.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let (table, key) = match path {
        [] => return None,
        [key] => ("", *key),
        [table @ .., key] => (*table.first().unwrap_or(&""), *key),
    };
    let mut current = String::new();
    let mut header_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = h.trim().to_string();
            if path.len() == 1 && current == key {
                return Some(i + 1);
            }
            if current == table {
                header_line = Some(i + 1);
            }
            continue;
        }
        if current == table {
            let k = line.split('=').next().unwrap_or("").trim().trim_matches('"');
            if line.contains('=') && k == key {
                return Some(i + 1);
            }
        }
    }
    header_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_error_with_its_line() {
        let text = "name = \"x\"\n[output]\nmin_dpi = \"high\"\n[routing]\nfilename_pattern = \"(\"\n[bogus]\n";
        let errors = parse_and_validate(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 5, 6], "{errors:?}");
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let text = "name = \"x\"\n[station]\nid = \"a\"\nopertor = \"b\"\n";
        let errors = parse_and_validate(text).unwrap_err();
        assert_eq!(errors[0].line, 4, "{errors:?}");
        assert!(errors[0].message.starts_with("station.opertor: unknown field"), "{errors:?}");
    }

    #[test]
    fn ocr_settings_tesseract_cannot_take_are_refused_at_their_line() {
        let text = "name = \"x\"\n[ocr]\nenabled = true\ndpi = 0\nlanguages = \"vie; rm -rf\"\ncores = 2.0\n";
        let errors = parse_and_validate(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 5, 6], "{errors:?}");
        let ok = parse_and_validate("name = \"x\"\n[ocr]\nenabled = true\nroles = [\"result\"]\n").expect("valid");
        assert!(ok.ocr.wants(crate::profile::DocRole::Result, None));
        assert!(!ok.ocr.wants(crate::profile::DocRole::Input, None));
    }
}
