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

    /// Returns the code in its stored form (NFC, trimmed) or what is wrong with it.
    pub fn validate(&self, raw: &str) -> Result<CaseCode, CodeProblem> {
        let code = nfc(raw.trim());
        if code.is_empty() {
            return Err(CodeProblem::Empty);
        }
        // Codes name folders and files: never a path, whatever a custom pattern allows.
        if code.contains(['/', '\\', '\0']) || code.starts_with('.') || code.chars().any(char::is_control) {
            return Err(CodeProblem::Path(code));
        }
        if !self.pattern.is_match(&code) {
            // Almost a code: say everything that is off, so one correction is enough.
            let upper = code.to_uppercase();
            if upper != code && self.pattern.is_match(&upper) {
                let bad_date = self.bad_date(&upper).map(str::to_string);
                return Err(CodeProblem::LowerCase { code, upper, bad_date });
            }
            return Err(CodeProblem::Form(code));
        }
        if let Some(date) = self.bad_date(&code) {
            return Err(CodeProblem::Date { date: date.to_string(), code });
        }
        Ok(CaseCode(code))
    }

    /// The `yymmdd` part of a code when the rule checks dates and it is not a date.
    fn bad_date<'a>(&self, code: &'a str) -> Option<&'a str> {
        let date = code.split('-').nth(1).filter(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()))?;
        if !self.check_date {
            return None;
        }
        let year = 2000 + date[..2].parse::<i32>().unwrap_or(0);
        let month = date[2..4].parse::<u8>().ok().and_then(|m| time::Month::try_from(m).ok());
        let day: u8 = date[4..6].parse().unwrap_or(0);
        month.and_then(|m| time::Date::from_calendar_date(year, m, day).ok()).is_none().then_some(date)
    }
}

/// What is wrong with a would-be case code, said in English (`Display`) and in Vietnamese
/// ([`CodeProblem::vi`]), naming the code and everything that is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// Nothing was given.
    Empty,
    /// It holds a path or control character.
    Path(String),
    /// It is a code once written in capitals (and `bad_date` is its date part when that is no date).
    LowerCase {
        /// As given (NFC, trimmed).
        code: String,
        /// In capitals.
        upper: String,
        /// Its `yymmdd` part, when that is no date either.
        bad_date: Option<String>,
    },
    /// It does not have the form of the profile's pattern.
    Form(String),
    /// Its `yymmdd` part is no date.
    Date {
        /// As given.
        code: String,
        /// The date part.
        date: String,
    },
}

impl std::fmt::Display for CodeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeProblem::Empty => f.write_str("the case code is empty"),
            CodeProblem::Path(code) => {
                write!(f, "`{code}` cannot be a case code: it contains a path or control character")
            }
            CodeProblem::LowerCase { code, upper, bad_date: None } => {
                write!(f, "`{code}` has lower-case letters: case codes are written in capitals ({upper})")
            }
            CodeProblem::LowerCase { code, upper, bad_date: Some(date) } => write!(
                f,
                "`{code}` has lower-case letters (case codes are written in capitals: {upper}) and its date \
                 {date} is not a date (yymmdd, the day the case was received)"
            ),
            CodeProblem::Form(code) => write!(
                f,
                "`{code}` is not a case code of the form UNIT-YYMMDD-SEQUENCE (e.g. H15.50.05.13-261008-0975)"
            ),
            CodeProblem::Date { code, date } => {
                write!(f, "`{code}`: date {date} is not a date (yymmdd, the day the case was received)")
            }
        }
    }
}

impl std::error::Error for CodeProblem {}

impl CodeProblem {
    /// The same in Vietnamese, for the clerk.
    pub fn vi(&self) -> String {
        match self {
            CodeProblem::Empty => "Mã hồ sơ để trống.".into(),
            CodeProblem::Path(code) => {
                format!("«{code}» không thể là mã hồ sơ: có ký tự đường dẫn hoặc ký tự điều khiển.")
            }
            CodeProblem::LowerCase { code, upper, bad_date: None } => {
                format!("«{code}» có chữ thường: mã hồ sơ viết bằng chữ in hoa ({upper}).")
            }
            CodeProblem::LowerCase { code, upper, bad_date: Some(date) } => format!(
                "«{code}» có chữ thường (mã hồ sơ viết bằng chữ in hoa: {upper}) và phần ngày {date} không phải \
                 ngày có thật (yymmdd, ngày tiếp nhận hồ sơ)."
            ),
            CodeProblem::Form(code) => {
                format!("«{code}» không đúng dạng mã hồ sơ ĐƠNVỊ-YYMMDD-SỐTHỨTỰ (ví dụ H15.50.05.13-261008-0975).")
            }
            CodeProblem::Date { code, date } => {
                format!("«{code}»: phần ngày {date} không phải ngày có thật (yymmdd, ngày tiếp nhận hồ sơ).")
            }
        }
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
        let e = rule.validate("h15.50.05.13-261201-0007").unwrap_err().to_string();
        assert!(e.contains("lower-case letters") && e.contains("H15.50.05.13-261201-0007"), "{e}");
        let e = rule.validate("H15.50.05.13-261341-0007").unwrap_err();
        assert!(e.to_string().contains("date 261341 is not a date"), "{e}");
        assert!(e.vi().contains("261341") && e.vi().contains("H15.50.05.13-261341-0007"), "{}", e.vi());
        // Both faults at once, so that one correction is enough.
        let e = rule.validate("h15.50.05.13-261341-0975").unwrap_err();
        assert!(e.to_string().contains("capitals") && e.to_string().contains("261341"), "{e}");
        assert!(e.vi().contains("chữ in hoa") && e.vi().contains("261341"), "{}", e.vi());
        assert!(rule.validate("H15.50.05.13-260230-0007").is_err(), "30 February");
    }
}
