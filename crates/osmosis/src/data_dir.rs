//! The data dir and the SQLite file, private to the user Osmosis runs as.
//!
//! The database holds every workspace's secret (anyone who reads it can mint
//! admin tokens) and the sealed credentials; the key file opens them. So the data
//! dir is created `0700`, the database file `0600` before SQLite opens it (SQLite
//! gives its `-wal` and `-shm` files the database file's mode), and at start every
//! existing entry that other users could read is reported with the command that
//! tightens it. Existing modes are not changed behind the operator's back: a
//! shared group may be on purpose.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Mode bits that let other users (group or world) in.
const OTHERS: u32 = 0o077;

/// Refuses a data dir that is a file, or lies under one, in words that say so
/// (the system's own "File exists" or "Not a directory" do not).
pub fn check(dir: &Path) -> anyhow::Result<()> {
    for at in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        let Ok(meta) = std::fs::metadata(at) else {
            continue;
        };
        if !meta.is_dir() {
            if at == dir {
                anyhow::bail!("--data-dir {} is a file, not a folder", dir.display());
            }
            anyhow::bail!(
                "--data-dir {}: {} is a file, not a folder",
                dir.display(),
                at.display()
            );
        }
        return Ok(());
    }
    Ok(())
}

/// Creates `dir` (mode 0700) when missing and answers its canonical path.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    check(dir)?;
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Creates the SQLite database file (mode 0600) when missing, so it and the
/// journal files SQLite derives from it are never readable by other users.
pub fn create_private_file(path: &Path) -> anyhow::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// What a start is about to create on disk — the data dir (from its topmost
/// missing folder) and a SQLite file named by URL outside it — so that a start that
/// fails can remove them again and leave nothing behind.
pub struct Created {
    dir: Option<PathBuf>,
    file: Option<PathBuf>,
}

impl Created {
    /// Notes which of `data_dir` and `sqlite_file` do not exist yet.
    pub fn note(data_dir: &Path, sqlite_file: Option<&Path>) -> Created {
        let missing = |p: &Path| std::fs::symlink_metadata(p).is_err();
        let dir = data_dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && missing(a))
            .last()
            .map(Path::to_path_buf);
        let file = sqlite_file
            .filter(|f| missing(f) && !dir.as_ref().is_some_and(|d| f.starts_with(d)))
            .map(Path::to_path_buf);
        Created { dir, file }
    }

    /// Removes what was missing when [`Created::note`] looked (best effort).
    pub fn remove(self) {
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The database file of a `sqlite:` URL (`sqlite://path?options`).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The entries of `dir` (and `dir` itself) that other users may read or enter.
pub fn too_open(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut check = |path: PathBuf| {
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            let mode = meta.mode() & 0o777;
            if mode & OTHERS != 0 {
                found.push((path, mode));
            }
        }
    };
    check(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        paths.into_iter().for_each(&mut check);
    }
    found
}

/// Logs a warning for each entry of the data dir other users can get at.
pub fn warn_if_open(dir: &Path) {
    for (path, mode) in too_open(dir) {
        let fix = if path.is_dir() { "0700" } else { "0600" };
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:04o}"),
            "readable by other users; it holds workspace secrets: chmod {fix} {}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/o/osmosis.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/o/osmosis.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:data/o.db"),
            Some(PathBuf::from("data/o.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    #[test]
    fn a_data_dir_that_is_a_file_says_so() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        std::fs::write(&file, "").unwrap();
        let e = prepare(&file).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("--data-dir {} is a file, not a folder", file.display())
        );
        let e = prepare(&file.join("sub")).unwrap_err().to_string();
        assert!(
            e.ends_with(&format!("{} is a file, not a folder", file.display())),
            "{e}"
        );
    }

    #[test]
    fn created_removes_only_what_was_missing() {
        let root = tempfile::tempdir().unwrap();
        let created = Created::note(&root.path().join("a/b"), None);
        prepare(&root.path().join("a/b")).unwrap();
        created.remove();
        assert!(!root.path().join("a").exists());
        assert!(root.path().exists());
        // An existing data dir stays, with what it held.
        std::fs::write(root.path().join("keep"), "").unwrap();
        let db = root.path().join("osmosis.db");
        Created::note(root.path(), Some(&db)).remove();
        assert!(root.path().join("keep").exists());
        // A database file named outside the data dir goes when it was made.
        let other = tempfile::tempdir().unwrap();
        let db = other.path().join("o.db");
        let created = Created::note(root.path(), Some(&db));
        create_private_file(&db).unwrap();
        created.remove();
        assert!(!db.exists() && root.path().join("keep").exists());
    }

    #[test]
    fn a_new_data_dir_and_database_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = prepare(&root.path().join("a/b")).unwrap();
        let db = dir.join("osmosis.db");
        create_private_file(&db).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&db).unwrap().mode() & 0o777, 0o600);
        assert!(too_open(&dir).is_empty());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(too_open(&dir), vec![(db, 0o644)]);
    }
}
