//! Italian civil time and sizes for people. Europe/Rome time without a
//! time-zone database: since 1996 the EU switches to summer time on the last
//! Sunday of March and back on the last Sunday of October, both at 01:00 UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};

use crate::i18n::{Catalogues, Text};

/// The UTC offset of Europe/Rome at `t`, in hours (1 for CET, 2 for CEST).
pub fn rome_offset_hours(t: DateTime<Utc>) -> i64 {
    let year = t.year();
    if t >= eu_switch(year, 3) && t < eu_switch(year, 10) {
        2
    } else {
        1
    }
}

/// 01:00 UTC of the last Sunday of `month` (March or October: both have 31 days).
fn eu_switch(year: i32, month: u32) -> DateTime<Utc> {
    let last_day = NaiveDate::from_ymd_opt(year, month, 31).expect("March and October have 31 days");
    let sunday = last_day - TimeDelta::days(i64::from(last_day.weekday().num_days_from_sunday()));
    sunday.and_hms_opt(1, 0, 0).expect("01:00 exists").and_utc()
}

pub fn rome_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc() + TimeDelta::hours(rome_offset_hours(t))
}

/// The instant of a Rome wall-clock time away from the switch hours (e.g. 08:00):
/// the offset of that instant taken as CET first, then checked.
pub fn rome_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let guess = (local - TimeDelta::hours(1)).and_utc();
    (local - TimeDelta::hours(rome_offset_hours(guess))).and_utc()
}

/// "26/11/2026 alle 08:15", in Rome local time.
pub fn format_rome_datetime(t: DateTime<Utc>) -> String {
    let l = rome_local(t);
    format!("{} alle {:02}:{:02}", format_date(l.date()), l.hour(), l.minute())
}

/// "26/11/2026"
pub fn format_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

/// A size in decimal units as `lang` writes it: "850 byte", "12,3 kB",
/// "4,5 MB" in Italian, "850 bytes", "12.3 kB", "4.5 MB" in English (the
/// locale's `format.bytes` and `format.decimal_separator`).
pub fn format_size(bytes: u64, catalogues: &Catalogues, lang: &str) -> String {
    if bytes < 1000 {
        return catalogues.text(lang, &Text::new("format.bytes").with("n", bytes));
    }
    let separator = catalogues.get(lang, "format.decimal_separator");
    let tenths_kb = (bytes + 50) / 100;
    if tenths_kb < 10_000 {
        return format!("{}{separator}{} kB", tenths_kb / 10, tenths_kb % 10);
    }
    let tenths_mb = (bytes + 50_000) / 100_000;
    format!("{}{separator}{} MB", tenths_mb / 10, tenths_mb % 10)
}
