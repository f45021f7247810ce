//! Label values (zone, view, policy set, health check names) as small
//! numbers, so that a query records integers and never a string.
//!
//! The table is process-wide and only grows: a name keeps its number
//! across reloads, so a counter continues where it was when a zone is
//! recompiled, and nothing on the query path ever looks a name up. It is
//! written when a snapshot is assembled and read when metrics are shown.

use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use rustc_hash::FxHashMap;

/// A label value's number. [`NONE`] stands for "no zone" or "no view".
pub type LabelId = u32;

/// The empty label: a name outside every zone, a query no view serves.
pub const NONE: LabelId = 0;

/// The parts of one label value, in the order the interning caller gave.
pub type Parts = Arc<[Box<str>]>;

#[derive(Default)]
struct Table {
    ids: FxHashMap<Parts, LabelId>,
    values: Vec<Parts>,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    let empty: Parts = Arc::from(Vec::new());
    Mutex::new(Table {
        ids: FxHashMap::from_iter([(empty.clone(), NONE)]),
        values: vec![empty],
    })
});

/// The number of a label value made of `parts` (one part for a zone or a
/// view; zone, owner, type and set id for a policy set).
pub fn intern(parts: &[&str]) -> LabelId {
    let key: Parts = parts.iter().map(|p| Box::from(*p)).collect();
    let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&id) = table.ids.get(&key) {
        return id;
    }
    let id = LabelId::try_from(table.values.len()).unwrap_or(LabelId::MAX);
    table.values.push(key.clone());
    table.ids.insert(key, id);
    id
}

/// The value numbered `id`.
pub fn get(id: LabelId) -> Option<Parts> {
    let table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    table.values.get(usize::try_from(id).ok()?).cloned()
}

/// Every label value so far, indexed by its number.
pub fn all() -> Vec<Parts> {
    TABLE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_keeps_its_number() {
        let zone = intern(&["labels-test.example."]);
        let set = intern(&["labels-test.example.", "www", "A", "eu"]);
        assert_ne!(zone, NONE);
        assert_ne!(zone, set);
        assert_eq!(intern(&["labels-test.example."]), zone);
        assert_eq!(intern(&[]), NONE);
        let all = all();
        assert_eq!(&*all[set as usize][3], "eu");
        assert!(all[NONE as usize].is_empty());
    }
}
