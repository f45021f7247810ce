//! Comments that are, or look like, `;@` policy annotations.
//!
//! Another server reads every comment as a comment, so an annotation that
//! is misspelled (`; @ weighted …`, `;;@ weighted …`) would make Signpost
//! load a plain record too, and traffic would go where the operator does
//! not expect, silently. So:
//!
//! | comment                                   | on a record's line | on a line without a record |
//! |-------------------------------------------|--------------------|----------------------------|
//! | `;@ TEXT [; comment]`                     | the annotation     | warning if TEXT names a policy or has `=` |
//! | a second `;@` for the same record         | error              | —                          |
//! | `; @ POLICY …`, `;;@ POLICY …`            | error              | warning                    |
//! | `; POLICY key=value …` (no `@`)           | warning            | nothing (documentation)    |
//! | anything else (`; @ is the apex`)         | nothing            | nothing                    |
//!
//! POLICY is a routing-policy name (`policy::annotation::names_a_policy`),
//! in any case.

use crate::policy::annotation::names_a_policy;

/// What one comment is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape<'t> {
    Plain,
    /// `;@ TEXT`: TEXT (up to any `;`) starts `at` bytes into the comment;
    /// what follows the `;` after it, if anything, is a comment.
    Annotation {
        text: &'t [u8],
        at: usize,
        trailing: Option<(&'t [u8], usize)>,
    },
    /// `; @ POLICY …` or `;;@ POLICY …`: the prefix as written (up to the
    /// `@`) and the text after the `@`.
    Misspelled {
        prefix: &'t [u8],
        text: &'t [u8],
    },
    /// `; POLICY key=value …`: the text after the `;`s.
    NoAt {
        text: &'t [u8],
    },
}

fn first_word(text: &[u8]) -> &str {
    let word = text
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    std::str::from_utf8(word).unwrap_or("")
}

/// `text` up to (not including) its first `;`, and the rest from it.
fn until_semicolon(text: &[u8]) -> (&[u8], Option<&[u8]>) {
    match text.iter().position(|&b| b == b';') {
        Some(i) => (
            text.get(..i).unwrap_or_default(),
            text.get(i..).filter(|rest| !rest.is_empty()),
        ),
        None => (text, None),
    }
}

/// Classifies `comment`, which starts with its `;`.
pub(crate) fn shape(comment: &[u8]) -> Shape<'_> {
    let body = comment.get(1..).unwrap_or_default();
    if let Some(after) = body.strip_prefix(b"@") {
        let (text, trailing) = until_semicolon(after);
        let trailing = trailing.map(|t| (t, comment.len() - t.len()));
        return Shape::Annotation {
            text,
            at: 2,
            trailing,
        };
    }
    let skipped = body
        .iter()
        .take_while(|&&b| matches!(b, b';' | b' ' | b'\t'))
        .count();
    let rest = body.get(skipped..).unwrap_or_default();
    if let Some(after) = rest.strip_prefix(b"@") {
        let (text, _) = until_semicolon(after);
        if names_a_policy(first_word(text)) {
            let prefix = comment.get(..skipped + 2).unwrap_or(comment);
            return Shape::Misspelled { prefix, text };
        }
        return Shape::Plain;
    }
    let (text, _) = until_semicolon(rest);
    let has_value = text
        .split(|b| b.is_ascii_whitespace())
        .skip(1)
        .any(|w| w.contains(&b'='));
    if names_a_policy(first_word(text)) && has_value {
        return Shape::NoAt { text };
    }
    Shape::Plain
}

/// Whether the text of a `;@` comment on a line without a record was
/// meant as an annotation: it names a policy or sets a key (a banner such
/// as `;@@@@` is not).
pub(crate) fn meant_as_annotation(text: &[u8]) -> bool {
    names_a_policy(first_word(text)) || text.contains(&b'=')
}

/// The text as a user would retype it.
pub(crate) fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).trim().to_string()
}

/// A misspelled annotation on a record's line.
pub(crate) fn misspelled(prefix: &[u8], text: &[u8]) -> String {
    format!(
        "\"{}\" does not start an annotation, so this record would load as a plain record: write \";@ {}\" (\";\" then \"@\", nothing between; see signpost-zone(5))",
        String::from_utf8_lossy(prefix),
        show(text)
    )
}

/// A policy annotation written without its `@`, on a record's line.
pub(crate) fn without_at(text: &[u8]) -> String {
    let text = show(text);
    format!(
        "comment \"; {text}\" reads like an annotation without its \"@\", so the record is plain: write \";@ {text}\" to route by it (signpost-zone(5))"
    )
}

/// An annotation, or what looks like one, on a line without a record.
pub(crate) fn loose(text: &[u8]) -> String {
    format!(
        "annotation \";@ {}\" is on a line without a record and is ignored: write it at the end of the record's line (signpost-zone(5))",
        show(text)
    )
}

/// A second annotation for the same record.
pub(crate) const SECOND: &str =
    "a record takes one ;@ annotation: merge the two, or start a plain comment with \";\" alone";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            shape(b";@ weighted id=a weight=1 ; canary"),
            Shape::Annotation {
                text: b" weighted id=a weight=1 ",
                at: 2,
                trailing: Some((b"; canary", 26)),
            }
        );
        assert_eq!(
            shape(b"; @ weighted id=a"),
            Shape::Misspelled {
                prefix: b"; @",
                text: b" weighted id=a"
            }
        );
        assert_eq!(
            shape(b";;@Failover id=a"),
            Shape::Misspelled {
                prefix: b";;@",
                text: b"Failover id=a"
            }
        );
        assert_eq!(
            shape(b"; weighted id=a weight=1"),
            Shape::NoAt {
                text: b"weighted id=a weight=1"
            }
        );
        assert_eq!(shape(b"; @ is the apex"), Shape::Plain);
        assert_eq!(shape(b"; weighted 70/30 split"), Shape::Plain);
        assert_eq!(shape(b"; www A 192.0.2.1 ;@ weighted id=a"), Shape::Plain);
        assert_eq!(shape(b"; plain comment"), Shape::Plain);
    }
}
