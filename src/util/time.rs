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

/// How a date was written, so an import can say how it read each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum DateForm {
    /// `2026-10-08`.
    YearFirst,
    /// `08/10/2026`, day first as written in Vietnam.
    DayFirst,
    /// `2026-10-08 23:30[:00]`, local time without an offset.
    YearFirstLocalTime,
    /// `08/10/2026 23:30[:00]`, local time without an offset.
    DayFirstLocalTime,
    /// An instant with an offset (`…Z`, `…+07:00`), converted to Vietnamese time.
    WithOffset,
    /// `20261008143000` or `20261008`, the national portal's form, local time.
    Compact,
}

impl DateForm {
    /// How a person would describe the form, in the reader's language.
    pub fn describe(self) -> String {
        let vi = match self {
            DateForm::YearFirst => "yyyy-mm-dd",
            DateForm::DayFirst => "dd/mm/yyyy (ngày trước)",
            DateForm::YearFirstLocalTime => "yyyy-mm-dd hh:mm[:ss], đọc theo giờ địa phương (UTC+07:00)",
            DateForm::DayFirstLocalTime => "dd/mm/yyyy hh:mm[:ss] (ngày trước), đọc theo giờ địa phương (UTC+07:00)",
            DateForm::WithOffset => "thời điểm có múi giờ, đổi sang UTC+07:00",
            DateForm::Compact => "yyyyMMdd[HHmm[ss]] (dạng của Cổng DVCQG), đọc theo giờ địa phương (UTC+07:00)",
        };
        crate::util::lang::say(vi, self.describe_en())
    }

    fn describe_en(self) -> &'static str {
        match self {
            DateForm::YearFirst => "yyyy-mm-dd",
            DateForm::DayFirst => "dd/mm/yyyy (day first)",
            DateForm::YearFirstLocalTime => "yyyy-mm-dd hh:mm[:ss], read as local time (UTC+07:00)",
            DateForm::DayFirstLocalTime => "dd/mm/yyyy hh:mm[:ss] (day first), read as local time (UTC+07:00)",
            DateForm::WithOffset => "timestamp with an offset, converted to UTC+07:00",
            DateForm::Compact => "yyyyMMdd[HHmm[ss]] (the national portal's form), read as local time (UTC+07:00)",
        }
    }
}

/// Reads a date as one-stop exports write it and returns the local date `YYYY-MM-DD` in
/// Asia/Ho_Chi_Minh with the form it was written in: `2026-10-08`, `08/10/2026` (day first, as written
/// in Vietnam; `.` and `-` separators too), either with a local time (`30/09/2026 23:30:00` is
/// 30 September: exports write local time), or an instant with an offset (`2026-10-08T23:30:00Z` is
/// 9 October there).
pub fn read_local_date(s: &str) -> Result<(String, DateForm), String> {
    let s = s.trim();
    let bad = || {
        crate::util::lang::say(
            format!(
                "`{s}` không phải ngày (viết 2026-10-08, 08/10/2026, có thể kèm giờ như 23:30, hoặc thời điểm ISO 8601)"
            ),
            format!(
                "`{s}` is not a date (write 2026-10-08, 08/10/2026, either with a time such as 23:30, or an ISO 8601 \
                 timestamp)"
            ),
        )
    };
    // The national portal's form: digits only, yyyyMMdd with an optional HHmm or HHmmss.
    if matches!(s.len(), 8 | 12 | 14) && s.bytes().all(|b| b.is_ascii_digit()) {
        let spaced = match s.len() {
            8 => format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..8]),
            12 => format!("{}-{}-{} {}:{}", &s[..4], &s[4..6], &s[6..8], &s[8..10], &s[10..12]),
            _ => format!("{}-{}-{} {}:{}:{}", &s[..4], &s[4..6], &s[6..8], &s[8..10], &s[10..12], &s[12..14]),
        };
        return read_local_date(&spaced).map(|(d, _)| (d, DateForm::Compact)).map_err(|_| bad());
    }
    let (day, rest) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let parts: Vec<&str> = day.split(['-', '/', '.']).collect();
    let [a, b, c] = parts[..] else { return Err(bad()) };
    let year_first = a.len() == 4;
    if !year_first && c.len() != 4 {
        return Err(bad());
    }
    let (y, m, d) = if year_first { (a, b, c) } else { (c, b, a) };
    let num = |v: &str| -> Result<u32, String> {
        if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        v.parse().map_err(|_| bad())
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    let date =
        time::Date::from_calendar_date(y as i32, month, u8::try_from(d).map_err(|_| bad())?).map_err(|_| bad())?;
    let (date, form) = match rest.filter(|r| !r.is_empty()) {
        None => (date, if year_first { DateForm::YearFirst } else { DateForm::DayFirst }),
        Some(rest) => {
            // The time, then perhaps an offset: `Z`, `+07:00`, `-0330`.
            let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
                Some(i) => (rest[..i].trim(), Some(&rest[i..])),
                None => (rest, None),
            };
            let fields: Vec<&str> = clock.split(':').collect();
            let (h, mi, sec) = match fields[..] {
                [h, mi] => (num(h)?, num(mi)?, 0),
                [h, mi, sec] => (num(h)?, num(mi)?, num(sec.split('.').next().unwrap_or(""))?),
                _ => return Err(bad()),
            };
            let t = time::Time::from_hms(
                u8::try_from(h).map_err(|_| bad())?,
                u8::try_from(mi).map_err(|_| bad())?,
                u8::try_from(sec).map_err(|_| bad())?,
            )
            .map_err(|_| bad())?;
            match offset {
                None => (date, if year_first { DateForm::YearFirstLocalTime } else { DateForm::DayFirstLocalTime }),
                Some(o) => {
                    let o = if o.eq_ignore_ascii_case("z") {
                        "Z".to_string()
                    } else if o.len() == 5 && !o.contains(':') {
                        format!("{}:{}", &o[..3], &o[3..])
                    } else {
                        o.to_string()
                    };
                    let offset = parse_offset(&o).ok_or_else(bad)?;
                    let at = time::PrimitiveDateTime::new(date, t).assume_offset(offset).to_offset(VIETNAM);
                    (at.date(), DateForm::WithOffset)
                }
            }
        }
    };
    Ok((format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()), form))
}

/// [`read_local_date`] without the form: the local date `YYYY-MM-DD`, or what is wrong.
pub fn local_date(s: &str) -> Result<String, String> {
    read_local_date(s).map(|(d, _)| d)
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
        // Local time without an offset: the written day, whatever the hour.
        assert_eq!(read_local_date("30/09/2026 23:30:00").unwrap(), ("2026-09-30".into(), DateForm::DayFirstLocalTime));
        assert_eq!(
            read_local_date("2026-09-30 23:30:00").unwrap(),
            ("2026-09-30".into(), DateForm::YearFirstLocalTime)
        );
        assert_eq!(local_date("31/10/2026 23:30").unwrap(), "2026-10-31");
        assert_eq!(local_date("2026-10-31T23:30").unwrap(), "2026-10-31");
        assert_eq!(read_local_date("2026-09-30T17:30:00Z").unwrap(), ("2026-10-01".into(), DateForm::WithOffset));
        assert_eq!(local_date("2026-10-31T23:30:00+07:00").unwrap(), "2026-10-31");
        assert_eq!(local_date("2026-10-31T12:00:00-0500").unwrap(), "2026-11-01");
        assert_eq!(local_date("30.09.2026").unwrap(), "2026-09-30");
        assert!(local_date("32/10/2026").is_err());
        assert!(local_date("30/09/2026 24:10").is_err());
        assert!(local_date("30/09/26").is_err());
        assert_eq!(read_local_date("20260930233000").unwrap(), ("2026-09-30".into(), DateForm::Compact));
        assert_eq!(local_date("20261008").unwrap(), "2026-10-08");
        assert!(local_date("20261341").is_err());
        assert!(local_date("yesterday").is_err());
    }
}
