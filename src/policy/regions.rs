//! The cloud regions every config knows without a `[[region]]` table: each
//! current commercial AWS region (the `aws` partition; not GovCloud, China
//! or the European Sovereign Cloud) with approximate coordinates of the
//! metro area it is in. Latency (by distance) and geoproximity routing
//! only compare distances of thousands of kilometres, so a city's centre
//! is close enough. A config may override any of these or add its own
//! (signpost.toml(5), `[[region]]`).

use super::Region;
use crate::proto::diag::edit_distance;

/// (name, where, latitude, longitude), in name order.
const AWS: &[(&str, &str, f64, f64)] = &[
    ("af-south-1", "Cape Town", -33.92, 18.42),
    ("ap-east-1", "Hong Kong", 22.32, 114.17),
    ("ap-east-2", "Taipei", 25.03, 121.57),
    ("ap-northeast-1", "Tokyo", 35.68, 139.69),
    ("ap-northeast-2", "Seoul", 37.57, 126.98),
    ("ap-northeast-3", "Osaka", 34.69, 135.50),
    ("ap-south-1", "Mumbai", 19.08, 72.88),
    ("ap-south-2", "Hyderabad", 17.39, 78.49),
    ("ap-southeast-1", "Singapore", 1.35, 103.82),
    ("ap-southeast-2", "Sydney", -33.87, 151.21),
    ("ap-southeast-3", "Jakarta", -6.21, 106.85),
    ("ap-southeast-4", "Melbourne", -37.81, 144.96),
    ("ap-southeast-5", "Kuala Lumpur", 3.15, 101.69),
    ("ap-southeast-6", "Auckland", -36.85, 174.76),
    ("ap-southeast-7", "Bangkok", 13.76, 100.50),
    ("ca-central-1", "Montreal", 45.50, -73.57),
    ("ca-west-1", "Calgary", 51.05, -114.07),
    ("eu-central-1", "Frankfurt", 50.11, 8.68),
    ("eu-central-2", "Zurich", 47.37, 8.54),
    ("eu-north-1", "Stockholm", 59.33, 18.07),
    ("eu-south-1", "Milan", 45.46, 9.19),
    ("eu-south-2", "Zaragoza", 41.65, -0.88),
    ("eu-west-1", "Dublin", 53.35, -6.26),
    ("eu-west-2", "London", 51.51, -0.13),
    ("eu-west-3", "Paris", 48.86, 2.35),
    ("il-central-1", "Tel Aviv", 32.09, 34.78),
    ("me-central-1", "Dubai", 25.20, 55.27),
    ("me-south-1", "Manama", 26.23, 50.59),
    ("mx-central-1", "Queretaro", 20.59, -100.39),
    ("sa-east-1", "Sao Paulo", -23.55, -46.63),
    ("us-east-1", "Ashburn, Virginia", 39.04, -77.49),
    ("us-east-2", "Columbus, Ohio", 39.96, -83.00),
    ("us-west-1", "San Jose, California", 37.34, -121.89),
    ("us-west-2", "Boardman, Oregon", 45.84, -119.70),
];

/// The predefined regions, in name order.
pub(crate) fn predefined() -> Vec<Region> {
    AWS.iter()
        .map(|&(name, _, lat, lon)| Region {
            name: name.to_string(),
            coordinates: (lat, lon),
        })
        .collect()
}

/// Every predefined region and its place, for the man page's check.
#[cfg(test)]
pub(crate) fn places() -> impl Iterator<Item = (&'static str, &'static str)> {
    AWS.iter().map(|&(name, place, _, _)| (name, place))
}

/// The known names nearest to `name` by edit distance (at most two edits),
/// best first: the "did you mean" of an unknown region.
pub(crate) fn similar<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut near: Vec<(usize, &str)> = known
        .map(|k| (edit_distance(name, k), k))
        .filter(|&(d, _)| d <= 2)
        .collect();
    near.sort();
    near.into_iter().map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_unique_and_coordinates_valid() {
        let regions = predefined();
        assert!(regions.len() >= 34, "{}", regions.len());
        for pair in regions.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} {}", pair[0].name, pair[1].name);
        }
        for r in &regions {
            let (lat, lon) = r.coordinates;
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
        }
        for name in ["us-east-1", "eu-west-1", "ap-southeast-1", "sa-east-1"] {
            assert!(regions.iter().any(|r| r.name == name), "{name}");
        }
    }

    /// signpost-zone(5) lists every predefined region with its place.
    #[test]
    fn the_man_page_lists_every_region() {
        let page = include_str!("../../man/signpost-zone.5");
        for (name, place) in places() {
            let row = format!(".B {}\n{place}\n", name.replace('-', "\\-"));
            assert!(page.contains(&row), "signpost-zone(5) lacks the row {row:?}");
        }
    }

    #[test]
    fn similar_names_come_first() {
        let names = ["us-east-1", "us-east-2", "eu-west-1"];
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            similar("us-east1", names.iter().copied()),
            ["us-east-1", "us-east-2"]
        );
        assert!(similar("mars-north-1", names.iter().copied()).is_empty());
    }
}
