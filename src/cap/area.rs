//! Where a warning applies: which panels stand inside a CAP `<area>`. A
//! panel is inside an area when one of its administrative units is one of
//! the area's unit codes (`<geocode>` with a configured value name), or
//! its location is inside one of the area's polygons or circles.
//!
//! Polygons are tested in the plane of latitude and longitude (even-odd
//! ray casting), as CAP's WGS 84 pairs are meant to be read at the scale
//! of a province; circles by great-circle distance.

use super::doc::{Area, Point};
use crate::domain::{Location, Panel};

/// Mean Earth radius, km (the spherical model is good to 0.5 % here).
const EARTH_KM: f64 = 6371.0088;

/// Whether `p` lies inside the closed ring `ring` (first point = last).
pub(crate) fn in_polygon(p: &Point, ring: &[Point]) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 4 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (&ring[i], &ring[j]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let lon_at = a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
            if p.lon < lon_at {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Great-circle distance in km (haversine).
pub(crate) fn distance_km(a: &Point, b: &Point) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

/// Whether the panel stands in `area`. `unit_names` are the `<geocode>`
/// value names read as Vietnam's administrative unit codes.
pub(crate) fn panel_in_area(panel: &Panel, area: &Area, unit_names: &[String]) -> bool {
    let by_unit = area.geocodes.iter().any(|g| {
        unit_names.iter().any(|n| n.eq_ignore_ascii_case(&g.name))
            && panel.units.iter().any(|u| u == &g.value)
    });
    by_unit
        || panel
            .location
            .as_ref()
            .is_some_and(|l| location_in_area(l, area))
}

/// Whether a location is inside one of the area's shapes.
pub(crate) fn location_in_area(l: &Location, area: &Area) -> bool {
    let p = Point {
        lat: l.lat,
        lon: l.lon,
    };
    area.polygons.iter().any(|ring| in_polygon(&p, ring))
        || area
            .circles
            .iter()
            .any(|c| distance_km(&p, &c.center) <= c.radius_km)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(lat: f64, lon: f64) -> Point {
        Point { lat, lon }
    }

    #[test]
    fn polygons_contain_what_is_inside_them() {
        // A square and a concave "C" shape.
        let square = vec![
            pt(18.0, 105.0),
            pt(18.0, 106.0),
            pt(19.0, 106.0),
            pt(19.0, 105.0),
            pt(18.0, 105.0),
        ];
        assert!(in_polygon(&pt(18.5, 105.5), &square));
        assert!(!in_polygon(&pt(19.5, 105.5), &square));
        assert!(!in_polygon(&pt(18.5, 104.9), &square));
        let c = vec![
            pt(0.0, 0.0),
            pt(0.0, 3.0),
            pt(1.0, 3.0),
            pt(1.0, 1.0),
            pt(2.0, 1.0),
            pt(2.0, 3.0),
            pt(3.0, 3.0),
            pt(3.0, 0.0),
            pt(0.0, 0.0),
        ];
        assert!(in_polygon(&pt(0.5, 2.0), &c));
        assert!(!in_polygon(&pt(1.5, 2.0), &c), "the notch is outside");
        assert!(in_polygon(&pt(1.5, 0.5), &c));
    }

    #[test]
    fn circles_use_great_circle_distance() {
        // Vinh to Hà Tĩnh is about 40 km.
        let vinh = pt(18.6796, 105.6813);
        let ha_tinh = pt(18.3428, 105.9057);
        let d = distance_km(&vinh, &ha_tinh);
        assert!((40.0..46.0).contains(&d), "{d}");
        // A degree of latitude is 111.2 km.
        let deg = distance_km(&pt(18.0, 105.0), &pt(19.0, 105.0));
        assert!((deg - 111.2).abs() < 0.2, "{deg}");
    }
}
