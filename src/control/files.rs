//! What a zone was read from, and whether that changed: the files (the zone
//! file and every file it `$INCLUDE`s), each with its inode, size and
//! times, plus a hash of their contents.
//!
//! A reload compares the `stat` of each file first and reads nothing when
//! they all match. Like git's "racy" index entries, a file modified within
//! [`RACY`] of the moment it was stamped may have changed again within the
//! same timestamp tick, so its contents are hashed and compared instead.
//! The content hash also tells a real edit from a `touch`, which decides
//! the "content changed but the SOA serial did not" warning.

use std::fs::Metadata;
use std::hash::Hasher;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How close to its stamp time a modification makes a stamp untrustworthy;
/// well above the coarsest timestamp granularity of common file systems.
const RACY: Duration = Duration::from_secs(2);
/// Same limit as the zone-file loader's.
const MAX_INCLUDE_DEPTH: usize = 16;

/// The identity and times of one file, as `stat` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Meta {
    fn of(m: &Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    fn modified(&self) -> SystemTime {
        let secs = u64::try_from(self.mtime.0).unwrap_or(0);
        let nanos = u32::try_from(self.mtime.1).unwrap_or(0);
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }
}

/// One file a zone was read from; `meta` is None when it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    meta: Option<Meta>,
}

/// Everything a zone was read from, taken *before* the zone is parsed, so an
/// edit racing the parse shows up as a change at the next check.
#[derive(Debug, Clone)]
pub(super) struct Fingerprint {
    files: Vec<FileStamp>,
    /// Hash over every file's bytes, in reading order.
    pub(super) hash: u64,
    taken: SystemTime,
}

impl Fingerprint {
    /// Stats and hashes `file` and, recursively, the files it includes.
    pub(super) fn take(file: &Path) -> Self {
        let mut fp = Self {
            files: Vec::new(),
            hash: 0,
            taken: SystemTime::now(),
        };
        let mut hasher = std::hash::DefaultHasher::new();
        fp.visit(file, 0, &mut hasher);
        fp.hash = hasher.finish();
        fp
    }

    fn visit(&mut self, file: &Path, depth: usize, hasher: &mut std::hash::DefaultHasher) {
        if depth > MAX_INCLUDE_DEPTH || self.files.iter().any(|f| f.path == file) {
            return;
        }
        let meta = std::fs::metadata(file).ok().map(|m| Meta::of(&m));
        self.files.push(FileStamp {
            path: file.to_path_buf(),
            meta,
        });
        let Ok(handle) = std::fs::File::open(file) else {
            // An unreadable file hashes differently from an empty one.
            hasher.write_u8(0xff);
            return;
        };
        let mut reader = BufReader::with_capacity(1 << 16, handle);
        let mut line = Vec::with_capacity(256);
        let mut includes = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    hasher.write_u8(0xfe);
                    break;
                }
            }
            hasher.write(&line);
            if let Some(target) = include_target(&line) {
                includes.push(target);
            }
        }
        // Relative to the including file, as the loader resolves them.
        let dir = file.parent().unwrap_or(Path::new(""));
        for target in includes {
            let path = if target.is_absolute() {
                target
            } else {
                dir.join(target)
            };
            self.visit(&path, depth + 1, hasher);
        }
    }

    /// Every file the zone was read from, the zone file first.
    pub(super) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Whether the files may differ from what was fingerprinted: a `stat`
    /// that differs, or a stamp too close to the file's modification to
    /// trust. A "maybe" is settled by [`Fingerprint::take`] and the hash.
    pub(super) fn maybe_changed(&self) -> bool {
        self.files.iter().any(|f| {
            let now = std::fs::metadata(&f.path).ok().map(|m| Meta::of(&m));
            match (now, f.meta) {
                (Some(now), Some(then)) => now != then || now.modified() + RACY > self.taken,
                (None, None) => false,
                _ => true,
            }
        })
    }
}

/// The file named by a `$INCLUDE` line, if `line` is one. A directive
/// starts in the first column (RFC 1035 §5.1); a false positive here only
/// costs a watched file.
fn include_target(line: &[u8]) -> Option<PathBuf> {
    const DIRECTIVE: &[u8] = b"$include";
    let head = line.get(..DIRECTIVE.len())?;
    if !head.eq_ignore_ascii_case(DIRECTIVE) {
        return None;
    }
    let rest = line.get(DIRECTIVE.len()..)?;
    let start = rest.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    if start == 0 {
        return None; // `$INCLUDEfoo` is not the directive
    }
    let rest = rest.get(start..)?;
    let mut name = Vec::new();
    let quoted = rest.first() == Some(&b'"');
    let mut i = usize::from(quoted);
    while let Some(&b) = rest.get(i) {
        match b {
            b'"' if quoted => break,
            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' if !quoted => break,
            b'\\' => {
                // `\DDD` is a decimal byte; `\X` is X.
                let digits = rest
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = digits {
                    let value = d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
                    name.push(u8::try_from(value).ok()?);
                    i += 4;
                } else {
                    name.push(*rest.get(i + 1)?);
                    i += 2;
                }
                continue;
            }
            _ => name.push(b),
        }
        i += 1;
    }
    if name.is_empty() {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines() {
        let t = |s: &str| include_target(s.as_bytes()).map(|p| p.display().to_string());
        assert_eq!(t("$INCLUDE inc/a.inc\n").as_deref(), Some("inc/a.inc"));
        assert_eq!(
            t("$include \"my file\" sub ; c\n").as_deref(),
            Some("my file")
        );
        assert_eq!(t("$INCLUDE a\\032b\n").as_deref(), Some("a b"));
        assert_eq!(t("$INCLUDEx y\n"), None);
        assert_eq!(t(" $INCLUDE a\n"), None);
        assert_eq!(t("www IN A 192.0.2.1\n"), None);
    }

    #[test]
    fn fingerprint_follows_includes_and_sees_edits() {
        let dir = std::env::temp_dir().join(format!("signpost-fp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("inc")).unwrap();
        let top = dir.join("z.zone");
        std::fs::write(&top, "$INCLUDE inc/a.inc\n@ IN A 192.0.2.1\n").unwrap();
        std::fs::write(dir.join("inc/a.inc"), "$INCLUDE b.inc\n").unwrap();
        std::fs::write(dir.join("inc/b.inc"), "x IN A 192.0.2.2\n").unwrap();
        let fp = Fingerprint::take(&top);
        let names: Vec<_> = fp
            .paths()
            .map(|p| p.strip_prefix(&dir).unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("z.zone"),
                PathBuf::from("inc/a.inc"),
                PathBuf::from("inc/b.inc")
            ]
        );
        // Freshly written files are racy: "maybe", and the hash settles it.
        assert!(fp.maybe_changed());
        assert_eq!(Fingerprint::take(&top).hash, fp.hash);
        // Same length, other bytes, in the nested include.
        std::fs::write(dir.join("inc/b.inc"), "x IN A 192.0.2.3\n").unwrap();
        assert_ne!(Fingerprint::take(&top).hash, fp.hash);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
