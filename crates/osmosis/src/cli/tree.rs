//! The `membrane/` tree on disk: what `osmosis export` and `osmosis pull` write
//! into a folder, and what `osmosis import` and `osmosis push` read back.
//!
//! A folder given to these commands is the one holding `membrane/` (a
//! repository's root, say); only files under `membrane/` are its elements, with
//! paths relative to the folder and `/` separators, as in the zip
//! `GET /export` serves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use osmosis_engine::config_as_code::export::ROOT;
use osmosis_engine::config_as_code::WorkspaceFiles;

/// Whether `path` names a zip rather than a folder (by its extension).
pub fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// The files of a `.zip` file, or of the `membrane/` tree of a folder.
pub fn read_source(path: &Path) -> anyhow::Result<WorkspaceFiles> {
    if is_zip(path) && !path.is_dir() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        WorkspaceFiles::from_zip(&bytes)
            .map_err(|e| anyhow::anyhow!("reading {}: {}", path.display(), e.message))
    } else {
        read_tree(path)
    }
}

/// The files of `<dir>/membrane`, keyed `membrane/…` with `/` separators.
/// Symbolic links are followed; a folder without a `membrane/` tree is refused
/// (an empty tree is read as no files).
pub fn read_tree(dir: &Path) -> anyhow::Result<WorkspaceFiles> {
    let root = dir.join(ROOT);
    let meta = std::fs::metadata(&root).with_context(|| {
        format!(
            "no `{ROOT}/` folder in {} (export or pull a workspace there first)",
            dir.display()
        )
    })?;
    anyhow::ensure!(meta.is_dir(), "{} is not a folder", root.display());
    let mut files = BTreeMap::new();
    let mut todo: Vec<(PathBuf, String)> = vec![(root, ROOT.to_owned())];
    while let Some((folder, prefix)) = todo.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", folder.display()))?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .with_context(|| format!("{} is not a UTF-8 file name", entry.path().display()))?;
            let path = entry.path();
            let rel = format!("{prefix}/{name}");
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                todo.push((path, rel));
            } else {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                files.insert(rel, bytes);
            }
        }
    }
    Ok(WorkspaceFiles { files })
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_of(path);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes).context("writing the export")?;
    tmp.persist(path)
        .with_context(|| format!("moving the export to {}", path.display()))?;
    Ok(())
}

/// Writes the tree into a temporary folder beside `<dir>/membrane`, then swaps
/// it in for the old tree: an element gone from `files` is gone from the
/// folder, and nothing outside `membrane/` is touched.
pub fn write_tree(dir: &Path, files: &WorkspaceFiles) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".membrane-export-")
        .tempdir_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    for (path, bytes) in &files.files {
        let target = staging.path().join(path);
        std::fs::create_dir_all(parent_of(&target))
            .with_context(|| format!("creating the folder of {path}"))?;
        std::fs::write(&target, bytes).with_context(|| format!("writing {path}"))?;
    }
    let tree = dir.join(ROOT);
    let new_tree = staging.path().join(ROOT);
    if files.files.is_empty() {
        std::fs::create_dir_all(&new_tree).context("creating an empty tree")?;
    }
    // The old tree is moved into the staging folder (removed with it) rather
    // than deleted first, so a failure in between leaves one of the two whole.
    if tree.exists() {
        std::fs::rename(&tree, staging.path().join(".previous"))
            .with_context(|| format!("moving the old {} aside", tree.display()))?;
    }
    std::fs::rename(&new_tree, &tree).with_context(|| format!("writing {}", tree.display()))?;
    Ok(())
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_tree_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let files = WorkspaceFiles {
            files: BTreeMap::from([
                (
                    "membrane/actions/a/spec.yaml".to_owned(),
                    b"key: a\n".to_vec(),
                ),
                (
                    "membrane/integrations/crm/actions/b/spec.yaml".to_owned(),
                    b"key: b\n".to_vec(),
                ),
            ]),
        };
        std::fs::write(dir.path().join("README.md"), "kept").unwrap();
        write_tree(dir.path(), &files).unwrap();
        assert_eq!(read_tree(dir.path()).unwrap().files, files.files);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
            "kept"
        );
        let empty = WorkspaceFiles::default();
        write_tree(dir.path(), &empty).unwrap();
        assert!(read_tree(dir.path()).unwrap().files.is_empty());
        assert!(read_tree(&dir.path().join("nowhere")).is_err());
    }
}
