//! Text rules: Vietnamese names arrive in NFD from macOS and some SMB servers; sohoa keeps NFC.

use std::cmp::Ordering;

use unicode_normalization::UnicodeNormalization;

/// Returns `s` in Unicode NFC, the one form sohoa stores, compares and writes.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Folds text for matching what people type against what exports write: lower case, without tone
/// marks or other diacritics (`đ` → `d`), runs of spaces, `_`, `-` and `.` made one space, trimmed.
/// `Mã hồ sơ`, `MA_HO_SO` and `ma ho so` all fold to `ma ho so`; `Hủy` and `Huỷ` (the two
/// placements of the tone mark) both to `huy`. Only for matching: stored text stays NFC.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        let c = match c {
            // Đ as Vietnamese keyboards type it, and the look-alike Ð (U+00D0) some fonts and tools give.
            'đ' | 'Đ' | 'Ð' | 'ð' => 'd',
            c => c,
        };
        if c.is_whitespace() || matches!(c, '_' | '-' | '.') {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The words of `s` as search matches them: folded (no case, no tone marks), split at anything that is
/// not a letter or a digit. One rule for the query, the index's matches and the marks on a page.
pub fn folded_words(s: &str) -> Vec<String> {
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Orders names as people do: `trang 2` before `trang 10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)).then(da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|c| **c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

/// Matches a file name against a pattern where `*` stands for any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == n[ni] || p[pi] == '?') {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_what_people_and_exports_write() {
        assert_eq!(fold("  Mã hồ sơ "), "ma ho so");
        assert_eq!(fold("MA_HO_SO"), "ma ho so");
        assert_eq!(fold("Ngày\u{a0}tiếp  nhận"), "ngay tiep nhan");
        assert_eq!(fold("Hủy"), fold("Huỷ"));
        assert_eq!(fold("ĐÃ RÚT HỒ SƠ"), "da rut ho so");
        assert_eq!(fold("Ðất"), "dat", "the look-alike Ð (U+00D0) is read as Đ");
        // NFD input (macOS) folds the same.
        assert_eq!(fold("Ma\u{303} ho\u{302}\u{300} so\u{31b}"), "ma ho so");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["p10.jpg", "p2.jpg", "p1.jpg", "p02.jpg"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["p1.jpg", "p2.jpg", "p02.jpg", "p10.jpg"]);
    }

    #[test]
    fn nfd_becomes_nfc() {
        let nfd = "Nguye\u{302}\u{303}n";
        assert_eq!(nfc(nfd), "Nguyễn");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.tmp", "scan.tmp"));
        assert!(wildcard_match("~*", "~scan.jpg"));
        assert!(!wildcard_match("*.tmp", "scan.jpg"));
    }
}
