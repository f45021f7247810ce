//! The `;@ POLICY key=value …` annotation of a record, checked against the
//! config (health checks, regions, CIDR collections) and the standard
//! location codes, and compiled to a [`Rule`]. Every problem of an
//! annotation is reported, each at the byte offset of the offending word
//! so the zone builder can report `file:line:col`; Route 53's spellings of
//! keys and values are either accepted or answered with the spelling to
//! write instead.

use super::codes;
use super::regions::similar;
use super::{GeoMatch, Kind, PolicyConfig, Rule};

/// A parsed annotation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotated {
    pub(crate) id: Box<str>,
    pub(crate) rule: Rule,
    pub(crate) health: Option<u32>,
    pub(crate) evaluate_health: bool,
}

/// An error at a byte offset of the annotation text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnnotationError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Words of the text with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_ascii_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

const POLICIES: &str = "weighted, failover, geolocation, geoproximity, latency, cidr or multivalue";

/// The policy a word names (`weighted`, `geo`, `ip-based`, …, in any
/// case), if it names one.
pub(crate) fn policy_kind(word: &str) -> Option<Kind> {
    Some(match word.to_ascii_lowercase().as_str() {
        "weighted" => Kind::Weighted,
        "failover" => Kind::Failover,
        "geolocation" | "geo" => Kind::Geolocation,
        "geoproximity" => Kind::Geoproximity,
        "latency" => Kind::Latency,
        "cidr" | "ip" | "ip-based" => Kind::Cidr,
        "multivalue" => Kind::Multivalue,
        _ => return None,
    })
}

/// Whether a comment that starts with `word` was meant as an annotation:
/// a policy name, or `simple` (which needs none).
pub(crate) fn names_a_policy(word: &str) -> bool {
    policy_kind(word).is_some() || word.eq_ignore_ascii_case("simple")
}

const COMMON_KEYS: [&str; 3] = ["id", "health", "evaluate-health"];

fn keys_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Weighted => &["weight"],
        Kind::Failover => &["role"],
        Kind::Geolocation => &["continent", "country", "subdivision", "location"],
        Kind::Geoproximity => &["region", "coordinates", "bias"],
        Kind::Latency => &["region"],
        Kind::Cidr => &["collection", "location"],
        Kind::Multivalue => &[],
    }
}

const KINDS: [Kind; 7] = [
    Kind::Weighted,
    Kind::Failover,
    Kind::Geolocation,
    Kind::Geoproximity,
    Kind::Latency,
    Kind::Cidr,
    Kind::Multivalue,
];

/// Route 53's names (and near spellings) of our keys, compared without
/// case, `-` or `_`.
const ROUTE53_KEYS: &[(&str, &str)] = &[
    ("setidentifier", "id"),
    ("setid", "id"),
    ("identifier", "id"),
    ("healthcheck", "health"),
    ("healthcheckid", "health"),
    ("evaluatetargethealth", "evaluate-health"),
    ("awsregion", "region"),
    ("countrycode", "country"),
    ("continentcode", "continent"),
    ("subdivisioncode", "subdivision"),
    ("collectionid", "collection"),
    ("cidrcollection", "collection"),
    ("locationname", "location"),
    ("latitude", "coordinates"),
    ("longitude", "coordinates"),
    ("failover", "role"),
];

fn squash(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What to say about a key the policy does not take.
fn unknown_key(kind: Kind, key: &str) -> String {
    let mut allowed: Vec<&str> = COMMON_KEYS.to_vec();
    allowed.extend_from_slice(keys_for(kind));
    let policy = kind.name();
    let squashed = squash(key);
    let write = |k: &str| {
        if k == "coordinates" {
            "write coordinates=LAT,LON (e.g. coordinates=37.77,-122.41)".to_string()
        } else if k == "evaluate-health" {
            "write evaluate-health".to_string()
        } else {
            format!("write {k}=…")
        }
    };
    if let Some(k) = allowed.iter().find(|k| squash(k) == squashed) {
        return format!("unknown key \"{key}\" for the {policy} policy: {}", write(k));
    }
    if let Some((_, k)) = ROUTE53_KEYS.iter().find(|(r, _)| *r == squashed) {
        if allowed.contains(k) {
            return format!("unknown key \"{key}\" for the {policy} policy: {}", write(k));
        }
    }
    let owners: Vec<&str> = KINDS
        .iter()
        .filter(|k| **k != kind && keys_for(**k).contains(&key))
        .map(|k| k.name())
        .collect();
    if !owners.is_empty() {
        let (which, policies) = match owners.as_slice() {
            [one] => (one.to_string(), "policy"),
            [init @ .., last] => (format!("{} and {last}", init.join(", ")), "policies"),
            [] => (String::new(), "policy"),
        };
        return format!(
            "key \"{key}\" belongs to the {which} {policies}, not {policy} (allowed here: {})",
            allowed.join(", ")
        );
    }
    let near = similar(key, allowed.iter().copied());
    match near.first() {
        Some(k) => format!(
            "unknown key \"{key}\" for the {policy} policy: did you mean {k}? (allowed: {})",
            allowed.join(", ")
        ),
        None => format!(
            "unknown key \"{key}\" for the {policy} policy (allowed: {})",
            allowed.join(", ")
        ),
    }
}

/// Collects every problem of one annotation.
struct Problems(Vec<AnnotationError>);

impl Problems {
    fn add(&mut self, offset: usize, message: impl Into<String>) {
        self.0.push(AnnotationError {
            offset,
            message: message.into(),
        });
    }
}

/// One `key=value` word.
#[derive(Clone, Copy)]
struct Value<'t> {
    at: usize,
    key: &'t str,
    value: &'t str,
}

/// Parses `text` (what follows `;@`, without any trailing `; comment`).
pub(crate) fn parse(text: &str, config: &PolicyConfig) -> Result<Annotated, Vec<AnnotationError>> {
    let mut problems = Problems(Vec::new());
    let mut it = words(text);
    let Some((at, name)) = it.next() else {
        problems.add(0, format!("empty policy annotation: expected {POLICIES}"));
        return Err(problems.0);
    };
    let Some(kind) = policy_kind(name) else {
        let message = if name.eq_ignore_ascii_case("simple") {
            "simple routing needs no annotation: remove the ;@ annotation".to_string()
        } else {
            let names = [
                "weighted",
                "failover",
                "geolocation",
                "geoproximity",
                "latency",
                "cidr",
                "multivalue",
            ];
            match similar(&name.to_ascii_lowercase(), names.iter().copied()).first() {
                Some(near) => format!("unknown routing policy \"{name}\": did you mean {near}?"),
                None => format!("unknown routing policy \"{name}\": expected {POLICIES}"),
            }
        };
        problems.add(at, message);
        return Err(problems.0);
    };
    let mut values: Vec<Value<'_>> = Vec::new();
    // `coordinates=37.77 -122.41`: the longitude written as its own word.
    let mut split_coordinates: Option<String> = None;
    let mut last: Option<Value<'_>> = None;
    for (at, word) in it {
        let Some((key, value)) = word.split_once('=') else {
            if let Some(prev) = last.filter(|v| v.key == "coordinates") {
                if word.parse::<f64>().is_ok() && !prev.value.contains(",-") {
                    let lat = prev.value.trim_end_matches(',');
                    split_coordinates = Some(format!("coordinates={lat},{word}"));
                    continue;
                }
            }
            if word == "evaluate-health" {
                let v = Value {
                    at,
                    key: word,
                    value: "",
                };
                if values.iter().any(|v| v.key == word) {
                    problems.add(at, format!("key \"{word}\" given twice"));
                } else {
                    values.push(v);
                }
                last = Some(v);
                continue;
            }
            if COMMON_KEYS.contains(&word) || keys_for(kind).contains(&word) {
                problems.add(at, format!("key \"{word}\" needs a value: {word}=…"));
            } else {
                problems.add(at, unknown_key(kind, word));
            }
            last = None;
            continue;
        };
        if !COMMON_KEYS.contains(&key) && !keys_for(kind).contains(&key) {
            problems.add(at, unknown_key(kind, key));
            last = None;
            continue;
        }
        if values.iter().any(|v| v.key == key) {
            problems.add(at, format!("key \"{key}\" given twice"));
            last = None;
            continue;
        }
        if value.is_empty() && key != "evaluate-health" {
            problems.add(at, format!("key \"{key}\" needs a value: {key}=…"));
            last = None;
            continue;
        }
        let v = Value { at, key, value };
        values.push(v);
        last = Some(v);
    }
    let get = |key: &str| values.iter().find(|v| v.key == key).map(|v| (v.at, v.value));
    let id = get("id").map(|(_, id)| id);
    if id.is_none() {
        problems.add(at, format!("the {} policy needs id=… (the set's id)", kind.name()));
    }
    let health = get("health").and_then(|(at, name)| {
        let index = config.health_index(name);
        if index.is_none() {
            problems.add(
                at,
                format!("unknown health check \"{name}\": define [health.{name}] in the config (signpost.toml(5))"),
            );
        }
        index
    });
    let evaluate_health = match get("evaluate-health") {
        None => false,
        Some((at, value)) => match value.to_ascii_lowercase().as_str() {
            "" | "true" | "yes" => true,
            "false" | "no" => false,
            _ => {
                problems.add(
                    at,
                    format!("evaluate-health takes true or false, not \"{value}\""),
                );
                false
            }
        },
    };
    let mut need = |key: &str, what: &str| {
        let found = get(key);
        if found.is_none() {
            problems.add(at, format!("the {} policy needs {key}={what}", kind.name()));
        }
        found
    };
    let rule = match kind {
        Kind::Weighted => need("weight", "0…255").and_then(|(at, value)| {
            let weight = value.parse::<u8>().ok();
            if weight.is_none() {
                problems.add(
                    at,
                    format!("weight \"{value}\" is not a whole number from 0 to 255"),
                );
            }
            weight.map(|weight| Rule::Weighted { weight })
        }),
        Kind::Failover => need("role", "primary or role=secondary").and_then(|(at, value)| {
            // Route 53 writes PRIMARY and SECONDARY.
            match value.to_ascii_lowercase().as_str() {
                "primary" => Some(Rule::Failover { primary: true }),
                "secondary" => Some(Rule::Failover { primary: false }),
                _ => {
                    problems.add(
                        at,
                        format!("role \"{value}\" must be primary or secondary"),
                    );
                    None
                }
            }
        }),
        Kind::Geolocation => geo_match(&get, at, &mut problems).map(Rule::Geolocation),
        Kind::Geoproximity => {
            geoproximity(&get, at, split_coordinates.take(), config, &mut problems)
        }
        Kind::Latency => need("region", "NAME (e.g. region=us-east-1)")
            .and_then(|(at, name)| region(config, at, name, &mut problems))
            .map(|region| Rule::Latency { region }),
        Kind::Cidr => cidr(&get, at, config, &mut problems),
        Kind::Multivalue => Some(Rule::Multivalue),
    };
    if kind != Kind::Geoproximity {
        if let Some(fixed) = split_coordinates {
            problems.add(at, format!("stray number after coordinates: write {fixed}"));
        }
    }
    match (rule, id) {
        (Some(rule), Some(id)) if problems.0.is_empty() => Ok(Annotated {
            id: id.into(),
            rule,
            health,
            evaluate_health,
        }),
        _ => {
            problems.0.sort_by_key(|p| p.offset);
            Err(problems.0)
        }
    }
}

type Get<'a, 't> = &'a dyn Fn(&str) -> Option<(usize, &'t str)>;

fn geoproximity(
    get: Get<'_, '_>,
    at: usize,
    split_coordinates: Option<String>,
    config: &PolicyConfig,
    problems: &mut Problems,
) -> Option<Rule> {
    let coordinates = match (get("region"), get("coordinates")) {
        (Some(_), Some((at, _))) => {
            problems.add(at, "give either region= or coordinates=, not both");
            None
        }
        (Some((at, name)), None) => region(config, at, name, problems).and_then(|index| {
            config
                .regions
                .get(index as usize)
                .map(|r| r.coordinates)
        }),
        (None, Some((at, text))) => match split_coordinates {
            Some(fixed) => {
                problems.add(
                    at,
                    format!("coordinates are one word, LAT,LON with a comma and no space: write {fixed}"),
                );
                None
            }
            None => coordinates(at, text, problems),
        },
        (None, None) => {
            problems.add(
                at,
                "the geoproximity policy needs region=… or coordinates=LAT,LON",
            );
            None
        }
    };
    let bias = match get("bias") {
        None => Some(0),
        Some((at, value)) => {
            let bias = value
                .parse::<i8>()
                .ok()
                .filter(|b| (-99..=99).contains(b));
            if bias.is_none() {
                problems.add(at, format!("bias \"{value}\" must be from -99 to 99"));
            }
            bias
        }
    };
    Some(Rule::Geoproximity {
        coordinates: coordinates?,
        bias: bias?,
    })
}

fn cidr(
    get: Get<'_, '_>,
    at: usize,
    config: &PolicyConfig,
    problems: &mut Problems,
) -> Option<Rule> {
    let collection = match get("collection") {
        None => {
            problems.add(at, "the cidr policy needs collection=NAME");
            None
        }
        Some((at, name)) => {
            let index = config.collection_index(name);
            if index.is_none() {
                problems.add(
                    at,
                    format!("unknown CIDR collection \"{name}\": define [cidr.{name}] in the config (signpost.toml(5))"),
                );
            }
            index.map(|i| (i, name))
        }
    };
    let Some((at, loc)) = get("location") else {
        problems.add(at, "the cidr policy needs location=NAME or location=*");
        return None;
    };
    let (collection, name) = collection?;
    let location = if loc == "*" {
        None
    } else {
        let locations = config
            .collections
            .get(collection as usize)
            .map(|c| &c.locations);
        let index = locations.and_then(|l| l.iter().position(|(n, _)| n == loc));
        if index.is_none() {
            let known: Vec<&str> = locations
                .map(|l| l.iter().map(|(n, _)| n.as_str()).collect())
                .unwrap_or_default();
            problems.add(
                at,
                format!(
                    "unknown location \"{loc}\" in CIDR collection \"{name}\" (it has: {}; * is the default)",
                    known.join(", ")
                ),
            );
        }
        Some(index? as u32)
    };
    Some(Rule::Cidr {
        collection,
        location,
    })
}

fn region(config: &PolicyConfig, at: usize, name: &str, problems: &mut Problems) -> Option<u32> {
    let index = config.region_index(name);
    if index.is_none() {
        let known = config.regions.iter().map(|r| r.name.as_str());
        let near = similar(name, known.clone());
        let hint = match near.first() {
            Some(n) => format!("did you mean {n}? "),
            None => String::new(),
        };
        let mut all: Vec<&str> = known.collect();
        all.sort_unstable();
        problems.add(
            at,
            format!(
                "unknown region \"{name}\": {hint}known regions are {}; a [[region]] table in the config adds one (signpost.toml(5))",
                all.join(", ")
            ),
        );
    }
    index
}

fn coordinates(at: usize, text: &str, problems: &mut Problems) -> Option<(f64, f64)> {
    let parsed = text.split_once(',').and_then(|(lat, lon)| {
        let lat: f64 = lat.trim().parse().ok()?;
        let lon: f64 = lon.trim().parse().ok()?;
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    });
    if parsed.is_none() {
        problems.add(
            at,
            format!("coordinates \"{text}\" must be LAT,LON in degrees (-90..90, -180..180), e.g. coordinates=37.77,-122.41"),
        );
    }
    parsed
}

fn geo_match(get: Get<'_, '_>, at: usize, problems: &mut Problems) -> Option<GeoMatch> {
    let given = ["continent", "country", "subdivision", "location"]
        .iter()
        .filter(|k| get(k).is_some())
        .count();
    if let Some((at, value)) = get("location") {
        if value != "*" {
            problems.add(
                at,
                format!("location=\"{value}\" is not a geolocation: location= only takes * (the default set); use continent=, country= or subdivision="),
            );
            return None;
        }
        if given > 1 {
            problems.add(
                at,
                "location=* is the default set and stands alone: remove continent=, country= and subdivision=",
            );
            return None;
        }
        return Some(GeoMatch::Default);
    }
    if let Some((at, value)) = get("continent") {
        let code = codes::continent(value).map_err(|m| problems.add(at, m)).ok();
        if given > 1 {
            problems.add(
                at,
                "continent= stands alone: remove country= and subdivision=, or write them in another set",
            );
            return None;
        }
        return code.map(GeoMatch::Continent);
    }
    let country = get("country").map(|(at, value)| {
        codes::country(value)
            .map_err(|m| problems.add(at, m))
            .ok()
    });
    match (country, get("subdivision")) {
        (country, Some((at, value))) => {
            if value == "*" {
                let _ = codes::subdivision(*b"ZZ", "*").map_err(|m| problems.add(at, m));
                return None;
            }
            // `subdivision=US-CA`, or `country=US subdivision=CA`.
            let (c, sub) = match (country, value.split_once('-')) {
                (Some(c), None) => (c?, value),
                (None, Some((c, sub))) => {
                    let c = codes::country(c)
                        .map_err(|m| problems.add(at, format!("in subdivision \"{value}\": {m}")))
                        .ok()?;
                    (c, sub)
                }
                (Some(Some(c)), Some((c2, sub)))
                    if c2.eq_ignore_ascii_case(&String::from_utf8_lossy(&c)) =>
                {
                    (c, sub)
                }
                (Some(None), Some(_)) => return None,
                _ => {
                    problems.add(
                        at,
                        format!("subdivision \"{value}\" must be CC-SUB, e.g. US-CA, or go with country=CC as subdivision=SUB"),
                    );
                    return None;
                }
            };
            let sub = codes::subdivision(c, sub)
                .map_err(|m| problems.add(at, m))
                .ok()?;
            Some(GeoMatch::Subdivision(c, sub))
        }
        (Some(c), None) => c.map(GeoMatch::Country),
        (None, None) => {
            problems.add(
                at,
                "the geolocation policy needs continent=, country=, subdivision= or location=*",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Region;

    fn config() -> PolicyConfig {
        let mut regions = crate::policy::regions::predefined();
        regions.push(Region {
            name: "eu-west".into(),
            coordinates: (53.3, -6.3),
        });
        PolicyConfig::new(vec!["web".into()], regions, Vec::new(), Vec::new(), None)
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        parse(text, &config())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.offset, e.message))
            .collect()
    }

    fn one_error(text: &str) -> (usize, String) {
        let e = errors(text);
        assert_eq!(e.len(), 1, "{text}: {e:?}");
        e.into_iter().next().unwrap()
    }

    #[test]
    fn parses_each_policy() {
        let c = config();
        let a = parse("weighted id=blue weight=70 health=web", &c).unwrap();
        assert_eq!(a.rule, Rule::Weighted { weight: 70 });
        assert_eq!(a.health, Some(0));
        let a = parse("geolocation id=ca subdivision=US-CA", &c).unwrap();
        assert_eq!(
            a.rule,
            Rule::Geolocation(GeoMatch::Subdivision(*b"US", "CA".into()))
        );
        let a = parse("geo id=ny country=us subdivision=ny", &c).unwrap();
        assert_eq!(
            a.rule,
            Rule::Geolocation(GeoMatch::Subdivision(*b"US", "NY".into()))
        );
        let a = parse("geoproximity id=x region=eu-west bias=-20", &c).unwrap();
        assert_eq!(
            a.rule,
            Rule::Geoproximity {
                coordinates: (53.3, -6.3),
                bias: -20
            }
        );
        let a = parse("latency id=x region=ap-southeast-1", &c).unwrap();
        let index = c.region_index("ap-southeast-1").unwrap();
        assert_eq!(a.rule, Rule::Latency { region: index });
        let a = parse("multivalue id=m1 evaluate-health", &c).unwrap();
        assert!(a.evaluate_health);
    }

    #[test]
    fn route53_spellings_accepted() {
        let c = config();
        let a = parse("failover id=p role=PRIMARY", &c).unwrap();
        assert_eq!(a.rule, Rule::Failover { primary: true });
        let a = parse("failover id=s role=Secondary evaluate-health=TRUE", &c).unwrap();
        assert_eq!(a.rule, Rule::Failover { primary: false });
        assert!(a.evaluate_health);
    }

    #[test]
    fn route53_spellings_rejected_with_what_to_write() {
        let (at, m) = one_error("geolocation id=d continent=*");
        assert_eq!(at, 17);
        assert!(m.contains("write location=*"), "{m}");
        let (at, m) = one_error("geoproximity id=sf coordinates=37.77 -122.41");
        assert_eq!(at, 19);
        assert!(m.contains("write coordinates=37.77,-122.41"), "{m}");
        let (_, m) = one_error("geoproximity id=sf coordinates=37.77, -122.41");
        assert!(m.contains("write coordinates=37.77,-122.41"), "{m}");
        let (at, m) = one_error("weighted SetIdentifier=a weight=1 id=a");
        assert_eq!(at, 9);
        assert!(m.contains("write id="), "{m}");
        let (_, m) = one_error("weighted id=a Weight=1 weight=1");
        assert!(m.contains("write weight="), "{m}");
        let (_, m) = one_error("latency id=a region=us-east-1 HealthCheckId=web");
        assert!(m.contains("write health="), "{m}");
        let (_, m) = one_error("weighted id=a weight=1 region=us-east-1");
        assert!(
            m.contains("belongs to the geoproximity and latency policies"),
            "{m}"
        );
        let (_, m) = one_error("simple id=a");
        assert!(m.contains("needs no annotation"), "{m}");
        let (_, m) = one_error("weigthed id=a weight=1");
        assert!(m.contains("did you mean weighted?"), "{m}");
    }

    #[test]
    fn wrong_codes_are_errors() {
        let (at, m) = one_error("geolocation id=uk country=UK");
        assert_eq!(at, 18);
        assert!(m.contains("write country=GB"), "{m}");
        let (_, m) = one_error("geolocation id=zz country=ZZ");
        assert!(m.contains("not an ISO 3166-1"), "{m}");
        let (_, m) = one_error("geolocation id=xx subdivision=US-XX");
        assert!(m.contains("not an ISO 3166-2"), "{m}");
        let (_, m) = one_error("geolocation id=a continent=XX");
        assert!(m.contains("AF, AN, AS, EU, NA, OC, SA"), "{m}");
    }

    #[test]
    fn unknown_region_lists_the_known_ones() {
        let (at, m) = one_error("latency id=a region=us-east-7");
        assert_eq!(at, 13);
        assert!(m.contains("did you mean us-east-1?"), "{m}");
        assert!(m.contains("eu-west-1") && m.contains("eu-west,"), "{m}");
    }

    #[test]
    fn every_problem_is_reported() {
        let e = errors("geolocation country=UK weight=5 health=nope");
        let offsets: Vec<usize> = e.iter().map(|(at, _)| *at).collect();
        assert_eq!(offsets, [0, 12, 23, 32], "{e:?}");
        assert!(e[0].1.contains("needs id="));
        assert!(e[1].1.contains("country=GB"));
        assert!(e[2].1.contains("belongs to the weighted policy"));
        assert!(e[3].1.contains("unknown health check"));
    }

    #[test]
    fn errors_point_at_the_word() {
        let (at, _) = one_error("weighted id=a weight=300");
        assert_eq!(at, 14);
        let (at, m) = one_error("weighted id=a weight=1 health=nope");
        assert_eq!(at, 23);
        assert!(m.contains("unknown health check"));
        let (at, _) = one_error("roundrobin id=a");
        assert_eq!(at, 0);
        let (_, m) = one_error("failover role=primary");
        assert!(m.contains("needs id="));
        let (at, _) = one_error("geolocation id=a continent=XX");
        assert_eq!(at, 17);
    }
}
