//! Dates as the records and PDFs write them: ISO 8601 with the station's offset (e.g. `+07:00`).

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// Parses `+07:00` / `-03:30` / `Z`.
pub fn parse_offset(s: &str) -> Option<UtcOffset> {
    if s == "Z" {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) || h.to_string().len() > 2 {
        return None;
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// Formats an instant as RFC 3339 in the given offset, to the second.
pub fn iso(t: OffsetDateTime, offset: UtcOffset) -> String {
    let t = t.to_offset(offset).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Now, in the given offset.
pub fn now_iso(offset: UtcOffset) -> String {
    iso(OffsetDateTime::now_utc(), offset)
}

/// Parses an RFC 3339 timestamp written by [`iso`].
pub fn parse_iso(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The PDF date form `D:YYYYMMDDHHmmSS+07'00'`.
pub fn pdf_date(t: OffsetDateTime) -> String {
    let off = t.offset();
    let (h, m, _) = off.as_hms();
    let sign = if off.is_negative() { '-' } else { '+' };
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{}{:02}'{:02}'",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        sign,
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// Vietnam's offset: UTC+7 all year (no daylight saving since 1975), so Asia/Ho_Chi_Minh needs no
/// time-zone database.
pub const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Reads a date as one-stop exports write it and returns the local date `YYYY-MM-DD` in
/// Asia/Ho_Chi_Minh: `2026-10-08`, `08/10/2026` (day first, as written in Vietnam), or a timestamp
/// with an offset (`2026-10-08T23:30:00Z` is 9 October there).
pub fn local_date(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a date (write 2026-10-08, 08/10/2026 or an ISO 8601 timestamp)");
    if let Some(t) = parse_iso(s) {
        let d = t.to_offset(VIETNAM).date();
        return Ok(format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()));
    }
    let (y, m, d) = if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
        (y, m, d)
    } else if let [d, m, y] = s.split('/').collect::<Vec<_>>()[..] {
        (y, m, d)
    } else {
        return Err(bad());
    };
    let (y, m, d): (i32, u8, u8) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, d).map_err(|_| bad())?;
    Ok(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_dates() {
        let off = parse_offset("+07:00").unwrap();
        let t = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap().to_offset(off);
        assert_eq!(iso(t, off), "2026-09-21T21:13:20+07:00");
        assert_eq!(pdf_date(t), "D:20260921211320+07'00'");
        assert!(parse_offset("7").is_none());
    }

    #[test]
    fn local_dates_are_vietnamese_days() {
        assert_eq!(local_date("2026-10-08").unwrap(), "2026-10-08");
        assert_eq!(local_date("8/10/2026").unwrap(), "2026-10-08");
        assert_eq!(local_date("2026-10-08T23:30:00Z").unwrap(), "2026-10-09");
        assert_eq!(local_date("2026-10-08T16:59:59Z").unwrap(), "2026-10-08");
        assert!(local_date("2026-02-30").is_err());
        assert!(local_date("yesterday").is_err());
    }
}
