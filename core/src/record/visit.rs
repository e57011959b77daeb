//! Visits: a rep checking in at a customer and checking out with notes and a follow-up date.

use super::{check_text, get_f64, get_i64, get_str, SyncState};
use crate::coords::CoordSystem;
use crate::error::{Error, Result};
use automerge::AutoCommit;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Root keys of a visit document that this build understands; all others are `extra`.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "kind",
    "contact_id",
    "user",
    "lat",
    "lon",
    "accuracy_m",
    "device_time",
    "elapsed_ms",
    "checked_in_at",
    "checked_out_at",
    "notes",
    "next_follow_up",
    "created_at",
    "check",
    "mock_location",
];

/// A visit as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Visit {
    /// UUIDv7 string.
    pub id: String,
    /// The contact visited.
    pub contact_id: String,
    /// The rep who checked in.
    pub user: String,
    /// Latitude in degrees (WGS 84).
    pub lat: f64,
    /// Longitude in degrees (WGS 84).
    pub lon: f64,
    /// Reported horizontal accuracy in metres, if the platform gave one.
    pub accuracy_m: Option<f64>,
    /// The device's wall clock at check-in, with its UTC offset (RFC 3339).
    pub device_time: String,
    /// The device's monotonic clock at check-in (ms since boot), if the platform gave it.
    pub elapsed_ms: Option<i64>,
    /// The local calendar day of the check-in (`YYYY-MM-DD`, in the device's offset).
    pub day: String,
    /// When the rep checked out (RFC 3339), if they did.
    pub checked_out_at: Option<String>,
    /// Notes written at check-out.
    pub notes: Option<String>,
    /// The next follow-up date set at check-out (`YYYY-MM-DD`).
    pub next_follow_up: Option<String>,
    /// `open` until checked out, then `closed`.
    pub status: String,
    /// Fields this build does not know.
    pub extra: BTreeMap<String, String>,
    /// When the visit record was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// [`SyncState::Local`] (not yet acknowledged by the server) or [`SyncState::Synced`].
    pub sync_state: SyncState,
}

/// A check-in as the app reports it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct CheckIn {
    /// The contact being visited (must exist and be active).
    pub contact_id: String,
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
    /// Horizontal accuracy in metres (>= 0), if known.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub accuracy_m: Option<f64>,
    /// Device wall clock with offset (RFC 3339); defaults to now in the local offset.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub device_time: Option<String>,
    /// Monotonic clock in ms (Android `elapsedRealtime`, iOS `systemUptime`), if known.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub elapsed_ms: Option<i64>,
    /// The coordinate system of `lat`/`lon` when it is not WGS-84: `Gcj02` for positions from
    /// AMap or Tencent Maps, `Bd09` from Baidu Maps. The visit is stored in WGS-84.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub coords: Option<CoordSystem>,
}

/// A check-out.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct CheckOut {
    /// What happened at the visit.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub notes: Option<String>,
    /// When to follow up (`YYYY-MM-DD`).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub next_follow_up: Option<String>,
}

/// Which visits to list.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct VisitFilter {
    /// Only visits of this contact.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub contact_id: Option<String>,
    /// Only visits checked in on this local day (`YYYY-MM-DD`).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub day: Option<String>,
    /// At most this many (newest first); `None` for all.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub limit: Option<u32>,
}

pub(crate) use crate::calendar::parse_day;

/// Parses an RFC 3339 time, naming `field` when it is not one.
pub(crate) fn parse_time(field: &str, value: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value.trim()).map_err(|_| {
        Error::validation(
            field,
            value,
            "expected a time like 2026-11-23T09:30:00+08:00",
        )
    })
}

impl CheckIn {
    /// The same check-in with its position in WGS-84 (checked first: a position out of range
    /// is refused in the system it was given in).
    pub(crate) fn in_wgs84(self) -> Result<CheckIn> {
        let (lat, lon) =
            crate::coords::checked_wgs84(self.lat, self.lon, self.coords.unwrap_or_default())?;
        Ok(CheckIn {
            lat,
            lon,
            coords: None,
            ..self
        })
    }

    /// Validates coordinates, accuracy and times. Returns the device time to record.
    pub(crate) fn validate(&self, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>> {
        crate::coords::checked_wgs84(self.lat, self.lon, self.coords.unwrap_or_default())?;
        if let Some(a) = self.accuracy_m {
            if !a.is_finite() || a < 0.0 {
                return Err(Error::validation(
                    "accuracy",
                    a.to_string(),
                    "accuracy must be a non-negative number of metres",
                ));
            }
        }
        if let Some(e) = self.elapsed_ms {
            if e < 0 {
                return Err(Error::validation(
                    "elapsed_ms",
                    e.to_string(),
                    "monotonic time cannot be negative",
                ));
            }
        }
        match &self.device_time {
            Some(t) => parse_time("device_time", t),
            None => Ok(now),
        }
    }
}

impl CheckOut {
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(n) = &self.notes {
            check_text("notes", n, super::contact::MAX_NOTES_CHARS)?;
        }
        if let Some(d) = &self.next_follow_up {
            parse_day("next_follow_up", d)?;
        }
        Ok(())
    }
}

/// Whether a position is (0, 0) in the Gulf of Guinea: what a platform reports when it has no
/// fix, never where a customer is.
pub(crate) fn is_null_island(lat: f64, lon: f64) -> bool {
    lat == 0.0 && lon == 0.0
}

/// Checks a visit document received from elsewhere: a contact, coordinates in range and not
/// (0, 0).
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    if get_str(doc, "contact_id").is_none_or(|c| c.trim().is_empty()) {
        return Err("contact_id: a visit needs a contact".into());
    }
    match (get_f64(doc, "lat"), get_f64(doc, "lon")) {
        (Some(lat), Some(lon)) if is_null_island(lat, lon) => {
            Err("lat/lon: (0, 0) is not a real position (no fix)".into())
        }
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
        {
            Ok(())
        }
        _ => Err("lat/lon: a visit needs coordinates in range".into()),
    }
}

/// Reads a visit out of its document.
pub(crate) fn from_doc(
    id: &str,
    doc: &AutoCommit,
    updated_at: String,
    sync_state: SyncState,
) -> Visit {
    let device_time = get_str(doc, "device_time").unwrap_or_default();
    let day = DateTime::parse_from_rfc3339(&device_time)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default();
    let checked_out_at = get_str(doc, "checked_out_at");
    Visit {
        id: id.to_string(),
        contact_id: get_str(doc, "contact_id").unwrap_or_default(),
        user: get_str(doc, "user").unwrap_or_default(),
        lat: get_f64(doc, "lat").unwrap_or_default(),
        lon: get_f64(doc, "lon").unwrap_or_default(),
        accuracy_m: get_f64(doc, "accuracy_m"),
        device_time,
        elapsed_ms: get_i64(doc, "elapsed_ms"),
        day,
        status: if checked_out_at.is_some() {
            "closed"
        } else {
            "open"
        }
        .to_string(),
        checked_out_at,
        notes: get_str(doc, "notes"),
        next_follow_up: get_str(doc, "next_follow_up"),
        extra: super::extra(doc, KNOWN_KEYS),
        created_at: get_str(doc, "created_at").unwrap_or_default(),
        updated_at,
        sync_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-11-23T09:00:00+08:00").unwrap_or_default()
    }

    fn check_in(lat: f64, lon: f64) -> CheckIn {
        CheckIn {
            contact_id: "c".into(),
            lat,
            lon,
            accuracy_m: Some(12.0),
            device_time: None,
            elapsed_ms: None,
            coords: None,
        }
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(check_in(22.54, 113.95).validate(now()).is_ok());
        for (lat, lon, field) in [
            (91.0, 0.0, "lat"),
            (0.0, 181.0, "lon"),
            (f64::NAN, 0.0, "lat"),
        ] {
            let e = check_in(lat, lon).validate(now());
            assert!(
                matches!(e, Err(Error::Validation { field: ref f, .. }) if f == field),
                "{lat},{lon}"
            );
        }
        let mut c = check_in(1.0, 1.0);
        c.accuracy_m = Some(-1.0);
        assert!(c.validate(now()).is_err());
        let e = check_in(0.0, 0.0).validate(now());
        assert!(matches!(e, Err(Error::Validation { ref field, .. }) if field == "location"));
        // On the equator or the prime meridian alone is a real place.
        assert!(check_in(0.0, 9.5).validate(now()).is_ok());
        assert!(check_in(51.48, 0.0).validate(now()).is_ok());
    }

    #[test]
    fn follow_up_dates_are_checked() {
        let ok = CheckOut {
            notes: Some("谈了报价".into()),
            next_follow_up: Some("2026-12-01".into()),
        };
        assert!(ok.validate().is_ok());
        let bad = CheckOut {
            notes: None,
            next_follow_up: Some("12/01/2026".into()),
        };
        assert!(
            matches!(bad.validate(), Err(Error::Validation { ref field, .. }) if field == "next_follow_up")
        );
    }
}
