//! A working-day calendar for mainland China: weekends, public holidays and the official make-up
//! working days (调休), plus tenant overrides.
//!
//! The holiday data (`core/data/holidays.tsv`, compiled in) is generated from the npm package
//! `chinese-days` by `scripts/gen-holidays.mjs`, which records the version it read; that package
//! transcribes the State Council General Office's yearly notice (国务院办公厅关于 YYYY 年部分节假日
//! 安排的通知). Version 1.5.7, the newest release (May 2026), covers 2004 to 2026: the 2027 notice
//! is in no version yet, so 2027 knows weekends only until the package has it and the script is
//! run again; [`WorkCalendar::has_official_data`] says which years are covered, and a tenant
//! adds days as overrides (server tenant config) meanwhile.
//!
//! Overrides win over everything: a tenant can make any date a working day or a day off.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Parses a `YYYY-MM-DD` date, naming `field` when it is not one.
pub(crate) fn parse_day(field: &str, value: &str) -> crate::Result<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| crate::Error::validation(field, value, "expected a date like 2026-11-23"))
}

/// Whether a date is worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary weekday.
    Workday,
    /// Saturday or Sunday.
    Weekend,
    /// A public holiday (or a day off of a holiday period).
    Holiday,
    /// A weekend day that is worked to make up for a holiday (调休上班).
    MakeUpWorkday,
    /// A tenant override making the day worked.
    OverrideWorkday,
    /// A tenant override making the day off.
    OverrideDayOff,
}

impl DayKind {
    /// Whether people work on a day of this kind.
    pub fn is_working(self) -> bool {
        matches!(
            self,
            DayKind::Workday | DayKind::MakeUpWorkday | DayKind::OverrideWorkday
        )
    }
}

/// A tenant's change to the calendar: this date is (or is not) a working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarOverride {
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// Whether it is worked.
    pub working: bool,
    /// Why (shown to people), e.g. `公司年会`.
    #[serde(default)]
    pub note: Option<String>,
}

/// The generated table (see the module docs).
const HOLIDAYS: &str = include_str!("../data/holidays.tsv");

/// One official day: worked or not, and the holiday it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Official {
    working: bool,
    name: &'static str,
}

/// The official days of [`HOLIDAYS`], read once.
fn official_days() -> &'static BTreeMap<NaiveDate, Official> {
    static DAYS: OnceLock<BTreeMap<NaiveDate, Official>> = OnceLock::new();
    DAYS.get_or_init(|| {
        HOLIDAYS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let date = NaiveDate::parse_from_str(cols.next()?, "%Y-%m-%d").ok()?;
                let working = match cols.next()? {
                    "work" => true,
                    "off" => false,
                    _ => return None,
                };
                let name = cols.next().unwrap_or_default();
                Some((date, Official { working, name }))
            })
            .collect()
    })
}

/// Working days: weekends, Chinese public holidays, make-up working days, tenant overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Official holidays and make-up days.
    official: &'static BTreeMap<NaiveDate, Official>,
    /// Tenant overrides: `true` = worked.
    overrides: BTreeMap<NaiveDate, bool>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar::china()
    }
}

impl WorkCalendar {
    /// The official mainland China calendar, without overrides.
    pub fn china() -> WorkCalendar {
        WorkCalendar {
            official: official_days(),
            overrides: BTreeMap::new(),
        }
    }

    /// The official calendar with a tenant's overrides; an override with a malformed date is
    /// refused, naming it.
    pub fn with_overrides(overrides: &[CalendarOverride]) -> crate::Result<WorkCalendar> {
        let mut calendar = WorkCalendar::china();
        for o in overrides {
            let date = parse_day("calendar override date", &o.date)?;
            calendar.overrides.insert(date, o.working);
        }
        Ok(calendar)
    }

    /// Whether the official notice of `year` is part of this build's data (2004 to 2026 from
    /// chinese-days 1.5.7). Other years know weekends and tenant overrides only.
    pub fn has_official_data(year: i32) -> bool {
        let days = official_days();
        let (Some(first), Some(next)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year + 1, 1, 1),
        ) else {
            return false;
        };
        days.range(first..next).next().is_some()
    }

    /// The public holiday `date` is a day off of, or is worked to make up for (`春节`, `国庆节`),
    /// by the official notice; `None` for other days.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&'static str> {
        self.official
            .get(&date)
            .map(|o| o.name)
            .filter(|n| !n.is_empty())
    }

    /// What kind of day `date` is.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        if let Some(&working) = self.overrides.get(&date) {
            return if working {
                DayKind::OverrideWorkday
            } else {
                DayKind::OverrideDayOff
            };
        }
        match self.official.get(&date).map(|o| o.working) {
            Some(true) => DayKind::MakeUpWorkday,
            Some(false) => DayKind::Holiday,
            None if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => DayKind::Weekend,
            None => DayKind::Workday,
        }
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day_kind(date).is_working()
    }

    /// The `n`th working day after `date` (not counting `date` itself); `n = 0` is `date`.
    /// Gives up (returns the date reached) after ten years of days off, which no real calendar has.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = date;
        let mut left = n;
        let mut guard = 0u32;
        while left > 0 && guard < 3_660 {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            guard += 1;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// How many working days lie after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn spring_festival_2026_and_its_make_up_saturdays() {
        let cal = WorkCalendar::china();
        assert_eq!(cal.day_kind(d("2026-02-14")), DayKind::MakeUpWorkday);
        assert_eq!(cal.day_kind(d("2026-02-28")), DayKind::MakeUpWorkday);
        for day in 15..=23 {
            assert_eq!(
                cal.day_kind(d(&format!("2026-02-{day:02}"))),
                DayKind::Holiday,
                "2026-02-{day}"
            );
        }
        assert!(cal.is_working_day(d("2026-02-24")));
        // Thu 12 Feb + 5 working days: Fri 13, Sat 14 (make-up), then 24, 25, 26.
        assert_eq!(cal.add_working_days(d("2026-02-12"), 5), d("2026-02-26"));
        assert_eq!(
            cal.working_days_between(d("2026-02-12"), d("2026-02-26")),
            5
        );
    }

    #[test]
    fn national_day_2025_and_2026() {
        let cal = WorkCalendar::china();
        assert_eq!(cal.day_kind(d("2025-09-28")), DayKind::MakeUpWorkday);
        assert_eq!(cal.day_kind(d("2025-10-08")), DayKind::Holiday);
        assert_eq!(cal.day_kind(d("2025-10-11")), DayKind::MakeUpWorkday);
        assert_eq!(cal.day_kind(d("2026-09-20")), DayKind::MakeUpWorkday);
        assert_eq!(cal.day_kind(d("2026-10-07")), DayKind::Holiday);
        assert_eq!(cal.day_kind(d("2026-10-10")), DayKind::MakeUpWorkday);
        // Tue 29 Sep 2026 + 5: 30 Sep, 8, 9, 10 (Sat, make-up), 12 Oct.
        assert_eq!(cal.add_working_days(d("2026-09-29"), 5), d("2026-10-12"));
    }

    #[test]
    fn every_year_of_the_data_and_holiday_names() {
        let cal = WorkCalendar::china();
        for year in 2004..=2026 {
            assert!(WorkCalendar::has_official_data(year), "{year}");
        }
        // 2019: National Day 1-7 October, worked on Sunday 29 September and Saturday 12 October.
        assert_eq!(cal.day_kind(d("2019-09-29")), DayKind::MakeUpWorkday);
        assert_eq!(cal.day_kind(d("2019-10-07")), DayKind::Holiday);
        assert_eq!(cal.day_kind(d("2019-10-12")), DayKind::MakeUpWorkday);
        assert_eq!(cal.holiday_name(d("2019-10-03")), Some("国庆节"));
        assert_eq!(cal.holiday_name(d("2026-02-17")), Some("春节"));
        assert_eq!(
            cal.holiday_name(d("2026-02-28")),
            Some("春节"),
            "its make-up day"
        );
        assert_eq!(cal.holiday_name(d("2026-11-23")), None);
    }

    #[test]
    fn weekends_and_unknown_years() {
        let cal = WorkCalendar::china();
        assert_eq!(cal.day_kind(d("2026-11-21")), DayKind::Weekend);
        assert_eq!(cal.day_kind(d("2026-11-23")), DayKind::Workday);
        assert!(WorkCalendar::has_official_data(2026));
        assert!(!WorkCalendar::has_official_data(2027));
        assert_eq!(cal.day_kind(d("2027-01-01")), DayKind::Workday);
    }

    #[test]
    fn overrides_win() -> crate::Result<()> {
        let cal = WorkCalendar::with_overrides(&[
            CalendarOverride {
                date: "2026-02-14".into(),
                working: false,
                note: Some("公司统一放假".into()),
            },
            CalendarOverride {
                date: "2026-11-21".into(),
                working: true,
                note: None,
            },
        ])?;
        assert_eq!(cal.day_kind(d("2026-02-14")), DayKind::OverrideDayOff);
        assert_eq!(cal.day_kind(d("2026-11-21")), DayKind::OverrideWorkday);
        let bad = WorkCalendar::with_overrides(&[CalendarOverride {
            date: "14/02/2026".into(),
            working: true,
            note: None,
        }]);
        assert!(bad.is_err());
        Ok(())
    }
}
