//! Map coordinate systems used in China, and their conversion to WGS-84.
//!
//! Positions are stored in WGS-84 (what GPS reports and what the rest of the world uses). Chinese
//! map SDKs hand apps other systems: AMap (高德), Tencent Maps and Google Maps in mainland China
//! use **GCJ-02**, an obfuscated datum that moves a point by 100–700 m; Baidu Maps uses
//! **BD-09**, a further transform of GCJ-02. A check-in or customer location taken from those
//! SDKs and stored as if it were WGS-84 is hundreds of metres off, enough to flag a real visit
//! `far_from_customer`.
//!
//! The formulas are the published ones (as in the `coordtransform` libraries of many languages).
//! WGS-84 → GCJ-02 is a closed formula; its inverse is found by fixed-point iteration, which
//! converges to well under a millimetre in a few steps (the one-step inverse most libraries use
//! is off by up to a few metres). Outside mainland China's bounding box GCJ-02 equals WGS-84, as
//! the map SDKs treat it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// The coordinate system a position was given in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum CoordSystem {
    /// GPS, Apple Core Location outside China, Android's `LocationManager`: stored as given.
    #[default]
    Wgs84,
    /// 国测局 "Mars" coordinates: AMap (高德), Tencent Maps, Apple and Google maps in China.
    Gcj02,
    /// Baidu Maps.
    Bd09,
}

impl CoordSystem {
    /// `wgs84`, `gcj02` or `bd09`.
    pub fn as_str(self) -> &'static str {
        match self {
            CoordSystem::Wgs84 => "wgs84",
            CoordSystem::Gcj02 => "gcj02",
            CoordSystem::Bd09 => "bd09",
        }
    }

    /// Parses `wgs84`, `gcj02` or `bd09` (case and `-`/`_` ignored: `GCJ-02`, `bd_09`).
    pub fn parse(s: &str) -> Result<CoordSystem> {
        let folded: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "wgs84" => Ok(CoordSystem::Wgs84),
            "gcj02" => Ok(CoordSystem::Gcj02),
            "bd09" | "bd09ll" => Ok(CoordSystem::Bd09),
            _ => Err(Error::validation(
                "coords",
                s,
                "expected a coordinate system: wgs84, gcj02 (AMap, Tencent) or bd09 (Baidu)",
            )),
        }
    }

    /// The WGS-84 `(lat, lon)` of a position given in this system.
    pub fn to_wgs84(self, lat: f64, lon: f64) -> (f64, f64) {
        match self {
            CoordSystem::Wgs84 => (lat, lon),
            CoordSystem::Gcj02 => gcj02_to_wgs84(lat, lon),
            CoordSystem::Bd09 => {
                let (lat, lon) = bd09_to_gcj02(lat, lon);
                gcj02_to_wgs84(lat, lon)
            }
        }
    }
}

impl std::fmt::Display for CoordSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Krasovsky 1940 ellipsoid, as GCJ-02 defines it.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
/// BD-09's rotation constant.
const X_PI: f64 = PI * 3000.0 / 180.0;

/// Mainland China as GCJ-02 covers it, in rectangles (north, west, south, east), and the
/// rectangles cut out of them (Taiwan, the northern parts of Vietnam and Laos, Mongolia and
/// Russia's Far East): the approximation map libraries use, finer than one bounding box (which
/// would shift Singapore, Seoul or Hanoi).
const CHINA: [[f64; 4]; 6] = [
    [49.2204, 79.4462, 42.8899, 96.33],
    [54.1415, 109.6872, 39.3742, 135.0002],
    [42.8899, 73.1246, 29.5297, 124.143_255],
    [29.5297, 82.9684, 26.7186, 97.0352],
    [29.5297, 97.0253, 20.414_096, 124.367_395],
    [20.414_096, 107.975_793, 17.871_542, 111.744_104],
];
const NOT_CHINA: [[f64; 4]; 6] = [
    [25.398_623, 119.921_265, 21.785_006, 122.497_559],
    [22.284, 101.8652, 20.0988, 106.665],
    [21.5422, 106.4525, 20.4878, 108.051],
    [55.8175, 109.0323, 50.3257, 119.127],
    [55.8175, 127.4568, 49.5574, 137.0227],
    [44.8922, 131.2662, 42.5692, 137.0227],
];

/// Whether GCJ-02 leaves the point alone (outside mainland China).
fn outside_china(lat: f64, lon: f64) -> bool {
    let within = |[north, west, south, east]: &[f64; 4]| {
        (*south..=*north).contains(&lat) && (*west..=*east).contains(&lon)
    };
    !CHINA.iter().any(within) || NOT_CHINA.iter().any(within)
}

fn shift_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn shift_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02.
pub fn wgs84_to_gcj02(lat: f64, lon: f64) -> (f64, f64) {
    if outside_china(lat, lon) {
        return (lat, lon);
    }
    let (x, y) = (lon - 105.0, lat - 35.0);
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = shift_lat(x, y) * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = shift_lon(x, y) * 180.0 / (A / sqrt_magic * rad.cos() * PI);
    (lat + d_lat, lon + d_lon)
}

/// GCJ-02 → WGS-84, by iterating the forward transform until it lands on the given point
/// (under 1e-10 degrees, about 0.01 mm).
pub fn gcj02_to_wgs84(lat: f64, lon: f64) -> (f64, f64) {
    if outside_china(lat, lon) {
        return (lat, lon);
    }
    let (mut w_lat, mut w_lon) = (lat, lon);
    for _ in 0..30 {
        let (g_lat, g_lon) = wgs84_to_gcj02(w_lat, w_lon);
        let (e_lat, e_lon) = (lat - g_lat, lon - g_lon);
        w_lat += e_lat;
        w_lon += e_lon;
        if e_lat.abs() < 1e-10 && e_lon.abs() < 1e-10 {
            break;
        }
    }
    (w_lat, w_lon)
}

/// BD-09 → GCJ-02: the published approximate inverse, refined until [`gcj02_to_bd09`] lands on
/// the given point (the approximation alone is off by up to 0.1 m).
pub fn bd09_to_gcj02(lat: f64, lon: f64) -> (f64, f64) {
    let (x, y) = (lon - 0.0065, lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * X_PI).cos();
    let (mut g_lat, mut g_lon) = (z * theta.sin(), z * theta.cos());
    for _ in 0..10 {
        let (b_lat, b_lon) = gcj02_to_bd09(g_lat, g_lon);
        let (e_lat, e_lon) = (lat - b_lat, lon - b_lon);
        g_lat += e_lat;
        g_lon += e_lon;
        if e_lat.abs() < 1e-12 && e_lon.abs() < 1e-12 {
            break;
        }
    }
    (g_lat, g_lon)
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(lat: f64, lon: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.000_02 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000_003 * (lon * X_PI).cos();
    (z * theta.sin() + 0.006, z * theta.cos() + 0.0065)
}

/// Checks a position's range (and that it is not the (0, 0) a platform reports without a fix),
/// then converts it from `system` to WGS-84.
pub(crate) fn checked_wgs84(lat: f64, lon: f64, system: CoordSystem) -> Result<(f64, f64)> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::validation(
            "lat",
            lat.to_string(),
            "latitude must be between -90 and 90",
        ));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(Error::validation(
            "lon",
            lon.to_string(),
            "longitude must be between -180 and 180",
        ));
    }
    if crate::record::visit::is_null_island(lat, lon) {
        return Err(Error::validation(
            "location",
            "0, 0",
            "(0, 0) is not a real position: the platform reported no fix",
        ));
    }
    Ok(system.to_wgs84(lat, lon))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::distance_m;

    fn close(a: (f64, f64), b: (f64, f64), tolerance_deg: f64) -> bool {
        (a.0 - b.0).abs() < tolerance_deg && (a.1 - b.1).abs() < tolerance_deg
    }

    /// The reference values printed by the `coordtransform` library's own test (Tiananmen,
    /// 116.404 E 39.915 N).
    #[test]
    fn matches_the_published_reference_points() {
        let gcj = wgs84_to_gcj02(39.915, 116.404);
        assert!(
            close(gcj, (39.916_404_281_501_64, 116.410_244_499_169_38), 1e-12),
            "{gcj:?}"
        );
        // The published BD-09 inverse is approximate; the refined one is within 0.1 m of it.
        let gcj = bd09_to_gcj02(39.915, 116.404);
        assert!(
            close(gcj, (39.908_656_739_576_31, 116.397_627_291_193_15), 1e-6),
            "{gcj:?}"
        );
        assert!(close(gcj02_to_bd09(gcj.0, gcj.1), (39.915, 116.404), 1e-11));
        let bd = gcj02_to_bd09(39.915, 116.404);
        assert!(
            close(bd, (39.921_336_993_510_21, 116.410_369_493_710_29), 1e-12),
            "{bd:?}"
        );
        // The libraries' one-step inverse gives 39.913596, 116.397756; the exact inverse is
        // within a metre of it and lands back on the point.
        let wgs = gcj02_to_wgs84(39.915, 116.404);
        assert!(
            close(wgs, (39.913_595_718_498_36, 116.397_755_500_830_61), 1e-5),
            "{wgs:?}"
        );
        assert!(close(wgs84_to_gcj02(wgs.0, wgs.1), (39.915, 116.404), 1e-9));
    }

    #[test]
    fn inverse_is_exact_across_china() {
        for (lat, lon) in [
            (22.5431, 113.9480), // Shenzhen Nanshan
            (31.2304, 121.4737), // Shanghai
            (43.8256, 87.6168),  // Urumqi
            (45.8038, 126.5350), // Harbin
            (18.2528, 109.5119), // Sanya
            (29.6520, 91.1721),  // Lhasa
        ] {
            let gcj = wgs84_to_gcj02(lat, lon);
            let shift = distance_m((lat, lon), gcj);
            assert!((50.0..1_000.0).contains(&shift), "{lat},{lon}: {shift} m");
            let back = CoordSystem::Gcj02.to_wgs84(gcj.0, gcj.1);
            assert!(
                distance_m(back, (lat, lon)) < 0.001,
                "{lat},{lon} -> {back:?}"
            );
            let bd = gcj02_to_bd09(gcj.0, gcj.1);
            let back = CoordSystem::Bd09.to_wgs84(bd.0, bd.1);
            assert!(
                distance_m(back, (lat, lon)) < 0.001,
                "bd09 {lat},{lon} -> {back:?}"
            );
        }
    }

    #[test]
    fn outside_china_gcj02_is_wgs84() {
        // Paris, Sydney, Singapore, Seoul, Hanoi, Taipei.
        for p in [
            (48.8566, 2.3522),
            (-33.8688, 151.2093),
            (1.2903, 103.8519),
            (37.5665, 126.978),
            (21.0285, 105.8542),
            (25.033, 121.5654),
        ] {
            assert_eq!(wgs84_to_gcj02(p.0, p.1), p);
            assert_eq!(CoordSystem::Gcj02.to_wgs84(p.0, p.1), p);
        }
    }

    #[test]
    fn parses_the_usual_spellings() -> Result<()> {
        assert_eq!(CoordSystem::parse("GCJ-02")?, CoordSystem::Gcj02);
        assert_eq!(CoordSystem::parse("bd09ll")?, CoordSystem::Bd09);
        assert_eq!(CoordSystem::parse(" wgs84 ")?, CoordSystem::Wgs84);
        let e = CoordSystem::parse("mars")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("coords") && e.contains("gcj02"), "{e}");
        Ok(())
    }

    #[test]
    fn checked_refuses_out_of_range_and_no_fix() {
        for (lat, lon) in [(91.0, 0.0), (0.0, 181.0), (f64::NAN, 1.0), (0.0, 0.0)] {
            assert!(
                checked_wgs84(lat, lon, CoordSystem::Gcj02).is_err(),
                "{lat},{lon}"
            );
        }
    }
}
