//! Case codes (mã hồ sơ): `{unit}-{yymmdd}-{sequence}`, validated by the profile's pattern.

use regex::Regex;

use crate::profile::Routing;
use crate::util::text::nfc;

/// A case code that passed a profile's rule: NFC, trimmed, never a path. Only
/// [`CaseCodeRule::validate`] makes one, so a value of this type has been checked, wherever it came
/// from (a folder name, a manifest, a separator sheet, a clerk's command).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct CaseCode(String);

impl CaseCode {
    /// The code as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as an owned string, for rows and messages.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for CaseCode {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CaseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CaseCode> for String {
    fn from(c: CaseCode) -> String {
        c.0
    }
}

/// The profile's rule for what a valid case code is.
#[derive(Debug, Clone)]
pub struct CaseCodeRule {
    pattern: Regex,
    check_date: bool,
}

impl CaseCodeRule {
    /// Builds the rule from a profile; the pattern was validated when the profile was loaded.
    pub fn from_profile(routing: &Routing) -> Result<CaseCodeRule, regex::Error> {
        Ok(CaseCodeRule { pattern: Regex::new(&routing.case_code_pattern)?, check_date: routing.check_code_date })
    }

    /// Returns the code in its stored form (NFC, trimmed) or why it is not a case code.
    pub fn validate(&self, raw: &str) -> Result<CaseCode, String> {
        let code = nfc(raw.trim());
        if code.is_empty() {
            return Err("the case code is empty".into());
        }
        // Codes name folders and files: never a path, whatever a custom pattern allows.
        if code.contains(['/', '\\', '\0']) || code.starts_with('.') || code.chars().any(char::is_control) {
            return Err(format!("`{code}` cannot be a case code: it contains a path or control character"));
        }
        if !self.pattern.is_match(&code) {
            // Almost a code: say what is off rather than only what the form is.
            let upper = code.to_uppercase();
            if upper != code && self.pattern.is_match(&upper) {
                return Err(format!("`{code}` has lower-case letters: case codes are written in capitals ({upper})"));
            }
            return Err(format!(
                "`{code}` is not a case code of the form UNIT-YYMMDD-SEQUENCE (e.g. H15.50.05.13-261008-0975)"
            ));
        }
        let date = code.split('-').nth(1).filter(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()));
        if let Some(date) = date.filter(|_| self.check_date) {
            let year = 2000 + date[..2].parse::<i32>().unwrap_or(0);
            let month = date[2..4].parse::<u8>().ok().and_then(|m| time::Month::try_from(m).ok());
            let day: u8 = date[4..6].parse().unwrap_or(0);
            if month.and_then(|m| time::Date::from_calendar_date(year, m, day).ok()).is_none() {
                return Err(format!("`{code}`: date {date} is not a date (yymmdd, the day the case was received)"));
            }
        }
        Ok(CaseCode(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_one_stop_form() {
        let rule = CaseCodeRule::from_profile(&Routing::default()).unwrap();
        assert_eq!(rule.validate(" H15.50.05.13-261008-0975 ").unwrap().as_str(), "H15.50.05.13-261008-0975");
        assert!(rule.validate("H15.50.05.13-261308-0975").is_err());
        assert!(rule.validate("H15-261008-09").is_err());
        assert!(rule.validate("../etc-261008-0975").is_err());
        let e = rule.validate("h15.50.05.13-261201-0007").unwrap_err();
        assert!(e.contains("lower-case letters") && e.contains("H15.50.05.13-261201-0007"), "{e}");
        let e = rule.validate("H15.50.05.13-261341-0007").unwrap_err();
        assert!(e.contains("date 261341 is not a date"), "{e}");
        assert!(rule.validate("H15.50.05.13-260230-0007").is_err(), "30 February");
    }
}
