//! File watching: `notify` on the *directories* that hold the config and
//! the zone files (and their includes), debounced, forwarding the paths
//! that matter to the reload thread.
//!
//! Directories rather than files, because an editor that saves by writing
//! a temporary file and renaming it over the old one replaces the inode: a
//! watch on the file itself would follow the old inode and go silent.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify_debouncer_full::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use super::Job;

/// Quiet time after the last event before a reload starts: long enough to
/// see an editor's write-and-rename as one change, short enough to apply an
/// edit well within a couple of seconds.
const DEBOUNCE: Duration = Duration::from_millis(200);

type Debounced = Debouncer<RecommendedWatcher, RecommendedCache>;

/// The watcher and what it currently watches.
pub(super) struct Watcher {
    inner: Debounced,
    dirs: HashSet<PathBuf>,
}

/// A path in the form the watcher reports it: canonical directory plus file
/// name (the file itself may be gone, mid-rename).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(name),
        _ => absolute,
    }
}

impl Watcher {
    /// Starts the debouncer; events go to `jobs` as [`Job::Files`].
    pub(super) fn start(jobs: Sender<Job>) -> Result<Self, notify::Error> {
        let inner = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            match result {
                Ok(events) => {
                    let paths: Vec<PathBuf> = events
                        .into_iter()
                        .flat_map(|e| e.event.paths)
                        .map(|p| normalize(&p))
                        .collect();
                    if !paths.is_empty() {
                        // The reload thread gone means we are shutting down.
                        let _ = jobs.send(Job::Files(paths));
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!("file watch: {e}");
                    }
                }
            }
        })?;
        Ok(Self {
            inner,
            dirs: HashSet::new(),
        })
    }

    /// Watches exactly the parent directories of `files` (already
    /// normalized), adding and dropping watches as the set changes.
    pub(super) fn set_files<'a>(&mut self, files: impl Iterator<Item = &'a Path>) {
        let wanted: HashSet<PathBuf> = files
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&wanted) {
            if let Err(e) = self.inner.unwatch(gone) {
                tracing::debug!("file watch: cannot unwatch {}: {e}", gone.display());
            }
        }
        let mut now = HashSet::new();
        for dir in wanted {
            if self.dirs.contains(&dir) {
                now.insert(dir);
                continue;
            }
            match self.inner.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    now.insert(dir);
                }
                Err(e) => tracing::warn!(
                    "file watch: cannot watch {}: {e}; changes there need SIGHUP or signpostctl reload",
                    dir.display()
                ),
            }
        }
        self.dirs = now;
    }

    pub(super) fn dir_count(&self) -> usize {
        self.dirs.len()
    }
}
