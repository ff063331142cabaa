//! The language people read: Vietnamese unless they asked for English (`--lang en`, `SOHOA_LANG=en`).
//!
//! A clerk or a station officer reads sohoa's words in Vietnamese; an administrator or a support
//! engineer may switch to English. Every message meant for them is written in both, side by side where
//! it is made ([`Said`]), so neither can drift from what the code does; machine-readable output (JSON,
//! logs' fields, stable codes) never changes with the language.

use std::sync::atomic::{AtomicU8, Ordering};

/// The two languages sohoa speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Tiếng Việt: the default.
    #[default]
    Vi,
    /// English, on request.
    En,
}

impl Lang {
    /// Reads `vi`, `en` (and their usual spellings, any case); `None` for anything else.
    pub fn parse(word: &str) -> Option<Lang> {
        match word.trim().to_ascii_lowercase().as_str() {
            "vi" | "vi-vn" | "vi_vn" | "vie" | "vietnamese" | "tieng-viet" => Some(Lang::Vi),
            "en" | "en-us" | "en-gb" | "en_us" | "en_gb" | "eng" | "english" => Some(Lang::En),
            _ => None,
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Chooses the language of this process's messages (the command line does it once, at start).
pub fn set(lang: Lang) {
    CURRENT.store(u8::from(lang == Lang::En), Ordering::Relaxed);
}

/// The language of this process's messages.
pub fn current() -> Lang {
    if CURRENT.load(Ordering::Relaxed) == 1 { Lang::En } else { Lang::Vi }
}

/// One message in the reader's language: `vi` unless English was asked for.
pub fn say(vi: impl Into<String>, en: impl Into<String>) -> String {
    match current() {
        Lang::Vi => vi.into(),
        Lang::En => en.into(),
    }
}

/// Something said to a clerk, in English and in Vietnamese: kept together where both are shown (the
/// API gives both; the page chooses).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Said {
    /// In English.
    pub en: String,
    /// In Vietnamese.
    pub vi: String,
}

impl Said {
    /// Both versions of one message.
    pub fn new(vi: impl Into<String>, en: impl Into<String>) -> Said {
        Said { en: en.into(), vi: vi.into() }
    }

    /// The version for this process's reader.
    pub fn pick(&self) -> &str {
        match current() {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.pick())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_spellings_are_read_and_others_refused() {
        assert_eq!(Lang::parse("VI"), Some(Lang::Vi));
        assert_eq!(Lang::parse("en_GB"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
