//! Reading the TOML text into [`Spec`] with every schema problem of the
//! file reported in one run. serde stops at its first error (an unknown
//! key under `deny_unknown_fields`, a value of the wrong type), so five
//! typos would take five rounds. Here the document is parsed once, with
//! spans; each time serde refuses it, the key (or table) the error points
//! at is taken out of the document and serde runs again, until it accepts
//! what is left or an error cannot be located. serde's own schema decides
//! throughout, so nothing here repeats which keys a table takes.
//!
//! An unknown key's message names its table and, when a known key is close
//! (a typo, `-` for `_`, other case), says which one was meant.

use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::spec::Spec;
use crate::proto::diag::edit_distance;

/// Rounds before giving up: more problems than anyone fixes in one go.
const MAX_PROBLEMS: usize = 200;

/// One schema problem: where (a byte offset) and what.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) offset: usize,
    pub(super) message: String,
}

/// What was read.
pub(super) struct Read {
    /// The spec of what was left once the problems were taken out; `None`
    /// when nothing could be read.
    pub(super) spec: Option<Spec>,
    pub(super) problems: Vec<Problem>,
    /// Only keys were taken out (unknown ones, values of a wrong type):
    /// the semantic checks of what is left are worth running, since no
    /// table they might refer to went missing.
    pub(super) only_keys: bool,
}

/// Reads `text`, reporting every schema problem.
pub(super) fn read(text: &str) -> Read {
    let mut doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            return Read {
                spec: None,
                problems: vec![Problem {
                    offset: e.span().map_or(0, |s| s.start),
                    message: e.message().to_string(),
                }],
                only_keys: false,
            }
        }
    };
    let mut problems = Vec::new();
    let mut only_keys = true;
    // Keys taken out, by the span of their table: a "missing field" error
    // for one of them repeats what was already said.
    let mut removed: Vec<(Range<usize>, String, Option<String>)> = Vec::new();
    loop {
        let error = match Spec::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(spec) => {
                return Read {
                    spec: Some(spec),
                    problems,
                    only_keys,
                }
            }
            Err(e) => e,
        };
        let message = error.message().to_string();
        let Some(span) = error.span() else {
            problems.push(Problem { offset: 0, message });
            break;
        };
        let Some(hit) = take_out(&mut doc, &span) else {
            problems.push(Problem {
                offset: span.start,
                message,
            });
            break;
        };
        // A required key missing because it was misspelt (and reported
        // as unknown) is said once.
        let repeated = missing_field(&message).is_some_and(|field| {
            removed.iter().any(|(table, key, meant)| {
                *table == span && (key == field || meant.as_deref() == Some(field))
            })
        });
        if !repeated {
            problems.push(Problem {
                offset: span.start,
                message: explain(&message, &hit),
            });
        }
        match hit {
            Hit::Key {
                key, table_span, ..
            } => {
                let meant = message
                    .strip_prefix("unknown field `")
                    .and_then(|rest| closest(&key, &expected(rest)).map(str::to_string));
                removed.push((table_span, key, meant));
            }
            Hit::Table { .. } => only_keys = false,
        }
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
    }
    Read {
        spec: None,
        problems,
        only_keys: false,
    }
}

/// What was taken out of the document.
#[derive(Debug)]
enum Hit {
    /// A key and its value, from the table at `table` (a header such as
    /// `[server]`, `[[zone]]` or `[health.web]`; empty: the top level).
    Key {
        key: String,
        table: String,
        table_span: Range<usize>,
        value_is_table: bool,
    },
    /// A whole table (one that lacks a required key).
    Table { table: String },
}

/// Finds the key, value or table at `span` and removes it.
fn take_out(doc: &mut Spanned<DeTable<'_>>, span: &Range<usize>) -> Option<Hit> {
    let root_span = doc.span();
    take_from_table(doc.get_mut(), root_span, span, &mut Vec::new(), false)
}

fn take_from_table(
    table: &mut DeTable<'_>,
    table_span: Range<usize>,
    span: &Range<usize>,
    path: &mut Vec<String>,
    in_array: bool,
) -> Option<Hit> {
    fn remove_key<'i>(
        table: &mut DeTable<'i>,
        key: &Spanned<toml::de::DeString<'i>>,
        header: String,
        table_span: Range<usize>,
    ) -> Hit {
        let value_is_table = table.get(key).is_some_and(|v| v.get_ref().is_table());
        table.remove(key);
        Hit::Key {
            key: key.get_ref().to_string(),
            table: header,
            table_span,
            value_is_table,
        }
    }
    // The key itself: unknown.
    if let Some(key) = table.keys().find(|k| k.span() == *span).cloned() {
        return Some(remove_key(table, &key, header(path, in_array), table_span));
    }
    let mut whole: Option<Spanned<toml::de::DeString<'_>>> = None;
    for (key, value) in table.iter_mut() {
        let value_span = value.span();
        path.push(key.get_ref().to_string());
        let found = match value.get_mut() {
            // The table itself (it lacks a key) is decided below.
            DeValue::Table(inner) if value_span != *span => {
                take_from_table(inner, value_span.clone(), span, path, false).map(InArray::Hit)
            }
            DeValue::Array(items) => take_from_array(items, span, path),
            _ => None,
        };
        path.pop();
        match found {
            Some(InArray::Hit(hit)) => return Some(hit),
            Some(InArray::WholeKey) => {
                whole = Some(key.clone());
                break;
            }
            None if value_span == *span => {
                if value.get_ref().is_table() {
                    let name = key.get_ref().to_string();
                    let key = key.clone();
                    path.push(name);
                    let hit = Hit::Table {
                        table: header(path, false),
                    };
                    path.pop();
                    table.remove(&key);
                    return Some(hit);
                }
                whole = Some(key.clone());
                break;
            }
            None => {}
        }
    }
    let key = whole?;
    Some(remove_key(table, &key, header(path, in_array), table_span))
}

/// What an error inside an array points at.
enum InArray {
    /// Handled: a table of an array of tables was taken out, or a key
    /// inside one.
    Hit(Hit),
    /// A plain element is wrong: take the whole key out.
    WholeKey,
}

fn take_from_array(
    items: &mut toml::de::DeArray<'_>,
    span: &Range<usize>,
    path: &mut Vec<String>,
) -> Option<InArray> {
    let mut drop_at = None;
    for (i, item) in items.iter_mut().enumerate() {
        let item_span = item.span();
        if item_span == *span {
            if !item.get_ref().is_table() {
                return Some(InArray::WholeKey);
            }
            drop_at = Some(i);
            break;
        }
        let found = match item.get_mut() {
            DeValue::Table(inner) => {
                take_from_table(inner, item_span, span, path, true).map(InArray::Hit)
            }
            DeValue::Array(inner) => take_from_array(inner, span, path).map(|_| InArray::WholeKey),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    let i = drop_at?;
    let kept = std::mem::replace(items, toml::de::DeArray::new())
        .into_iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, v)| v)
        .collect();
    *items = kept;
    Some(InArray::Hit(Hit::Table {
        table: header(path, true),
    }))
}

/// `[a.b]` or `[[a]]`; empty for the top level.
fn header(path: &[String], array: bool) -> String {
    if path.is_empty() {
        return String::new();
    }
    let dotted: Vec<String> = path.iter().map(|p| quote_key(p)).collect();
    if array {
        format!("[[{}]]", dotted.join("."))
    } else {
        format!("[{}]", dotted.join("."))
    }
}

/// A key as TOML needs it written in a header.
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

/// The field of serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// serde's message, said for a person: an unknown key names its table and
/// the key meant, when one is close.
fn explain(message: &str, hit: &Hit) -> String {
    if let (Hit::Key { key, table, .. }, Some(rest)) = (hit, message.strip_prefix("invalid type: "))
    {
        if let Some((found, want)) = rest.split_once(", expected ") {
            let place = if table.is_empty() {
                String::new()
            } else {
                format!(" in {table}")
            };
            return format!("{key}{place} must be {}, not {found}", human_type(want));
        }
    }
    if let (Hit::Key { key, .. }, Some(rest)) = (hit, message.strip_prefix("unknown variant `")) {
        if let Some((value, choices)) = rest.split_once("`, expected ") {
            let choices: Vec<String> = choices
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|c| format!("\"{c}\""))
                .collect();
            return format!("{key} = \"{value}\": write one of {}", choices.join(", "));
        }
    }
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return match (hit, missing_field(message)) {
            (Hit::Table { table }, Some(field)) if !table.is_empty() => {
                format!("{table} needs {field} = …")
            }
            (Hit::Table { table }, None) if !table.is_empty() => format!("{table}: {message}"),
            _ => message.to_string(),
        };
    };
    let (
        Some(unknown),
        Hit::Key {
            table,
            value_is_table,
            ..
        },
    ) = (rest.split('`').next(), hit)
    else {
        return message.to_string();
    };
    let known = expected(rest);
    let what = if *value_is_table && table.is_empty() {
        format!("unknown table [{unknown}]")
    } else if table.is_empty() {
        format!("unknown key \"{unknown}\" at the top level")
    } else {
        format!("unknown key \"{unknown}\" in {table}")
    };
    match closest(unknown, &known) {
        Some(near) if *value_is_table && table.is_empty() => {
            format!("{what}; did you mean [{near}]?")
        }
        Some(near) => format!("{what}; did you mean \"{near}\"?"),
        None if known.is_empty() => format!("{what}: it takes no keys"),
        None => format!("{what}; known keys: {}", known.join(", ")),
    }
}

/// serde's name for a type, as the config file spells values of it.
fn human_type(want: &str) -> &str {
    match want {
        "usize" | "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" => {
            "a whole number (no quotes)"
        }
        "f32" | "f64" => "a number (no quotes)",
        "a boolean" => "true or false (no quotes)",
        "a string" => "a string in double quotes",
        "a sequence" => "a list like [\"…\"]",
        other => other,
    }
}

/// The names serde lists after "expected": each between backticks.
fn expected(rest: &str) -> Vec<&str> {
    let Some((_, list)) = rest.split_once("expected") else {
        return Vec::new();
    };
    list.split('`').skip(1).step_by(2).collect()
}

/// The known name closest to `unknown`, if it is close enough to be a
/// typo: the same but for case and `-`/`_`, or within an edit distance of
/// one per three characters (at least one).
pub(super) fn closest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let wanted = norm(unknown);
    let limit = (wanted.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&wanted, &norm(k)), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("listen", "listen"), 0);
        assert_eq!(edit_distance("lisetn", "listen"), 1);
        assert_eq!(edit_distance("lsten", "listen"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        let keys = ["listen", "workers", "tcp_idle_timeout", "edns_udp_size"];
        assert_eq!(closest("lisen", &keys), Some("listen"));
        assert_eq!(closest("tcp-idle-timeout", &keys), Some("tcp_idle_timeout"));
        assert_eq!(closest("Workers", &keys), Some("workers"));
        assert_eq!(closest("bogus", &keys), None);
    }
}
