//! Element writes held in memory over the stored ones, so an import runs every
//! element through the element core — the same checks, references and derived
//! fields as the API's writes — without writing anything, then commits what it
//! staged in one transaction ([`ElementStore::write_elements`]) or drops it.
//!
//! [`StagedElements`] is an [`ElementStore`]: reads answer the staged rows where
//! there are any and the stored ones otherwise; writes land in memory, each
//! checked as the database would check it (uniqueness of uuid and of key within
//! its scope, the revision compare-and-swap). A row staged several times is
//! written once, with the revision it had when it was first read, so the commit
//! fails as a whole if anybody wrote it since.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use osmosis_model::{Element, ElementType};
use osmosis_store::{
    BatchWriteError, ElementQuery, ElementStore, ElementWrite, StoreError, UniqueField,
};

use crate::elements::hooks::HooksRegistry;

/// Positions handed to staged inserts: after every stored row, so lists page
/// over them last, as they would once committed.
const FIRST_STAGED_SEQ: i64 = i64::MAX / 2;

/// One staged row.
#[derive(Debug, Clone)]
pub(crate) struct StagedRow {
    pub element: Element,
    pub key_scope: String,
    /// The stored row's revision when it was first staged; `None` for a new one.
    pub stored_revision: Option<String>,
    /// The stored row as it was before the import touched it.
    pub before: Option<Element>,
}

/// Element ids by an identity (type and uuid, or type and key).
type Index = HashMap<(ElementType, String), Vec<String>>;

/// Adds `e` to the uuid and key indexes (an id listed twice is harmless: every
/// candidate is checked against the query).
fn index(uuids: &mut Index, keys: &mut Index, e: &Element) {
    uuids
        .entry((e.element_type, e.uuid.clone()))
        .or_default()
        .push(e.id.clone());
    if let Some(key) = &e.key {
        keys.entry((e.element_type, key.clone()))
            .or_default()
            .push(e.id.clone());
    }
}

#[derive(Default)]
struct Staged {
    rows: Vec<StagedRow>,
    by_id: HashMap<String, usize>,
    by_uuid: Index,
    by_key: Index,
}

/// The stored elements of some types, as the import read them.
#[derive(Default)]
struct Snapshot {
    types: HashSet<ElementType>,
    by_id: HashMap<String, Element>,
    by_type: HashMap<ElementType, Vec<String>>,
    by_uuid: Index,
    by_key: Index,
}

pub(crate) struct StagedElements {
    stored: Arc<dyn ElementStore>,
    registry: HooksRegistry,
    snapshot: Snapshot,
    staged: Mutex<Staged>,
}

impl StagedElements {
    /// Staging over `stored`; every element of `types` is one of `elements`
    /// (all of them, archived ones included), read from those alone.
    pub(crate) fn with_snapshot(
        stored: Arc<dyn ElementStore>,
        registry: HooksRegistry,
        types: &[ElementType],
        elements: &[Element],
    ) -> Self {
        let mut snapshot = Snapshot {
            types: types.iter().copied().collect(),
            ..Default::default()
        };
        for e in elements {
            index(&mut snapshot.by_uuid, &mut snapshot.by_key, e);
            snapshot
                .by_type
                .entry(e.element_type)
                .or_default()
                .push(e.id.clone());
            snapshot.by_id.insert(e.id.clone(), e.clone());
        }
        StagedElements {
            stored,
            registry,
            snapshot,
            staged: Mutex::default(),
        }
    }

    /// Whether elements of type `t` are read from the snapshot.
    fn snapshotted(&self, t: ElementType) -> bool {
        self.snapshot.types.contains(&t)
    }

    /// The element with this id as staged, else as the snapshot holds it.
    fn current(&self, staged: &Staged, id: &str) -> Option<Element> {
        match staged.by_id.get(id) {
            Some(&i) => Some(staged.rows[i].element.clone()),
            None => self.snapshot.by_id.get(id).cloned(),
        }
    }

    /// A query of a snapshotted type, answered from memory: the candidates its
    /// identity fields name (every element of the type without one), as they
    /// are now, that it matches.
    fn find_in_memory(&self, q: &ElementQuery) -> Vec<Element> {
        let staged = self.staged();
        let t = q.element_type;
        let mut ids: Vec<String> = if let Some(id) = &q.id {
            vec![id.clone()]
        } else if let Some(uuid) = &q.uuid {
            let key = (t, uuid.clone());
            [&self.snapshot.by_uuid, &staged.by_uuid]
                .iter()
                .filter_map(|index| index.get(&key))
                .flatten()
                .cloned()
                .collect()
        } else if let Some(k) = &q.key {
            let key = (t, k.clone());
            [&self.snapshot.by_key, &staged.by_key]
                .iter()
                .filter_map(|index| index.get(&key))
                .flatten()
                .cloned()
                .collect()
        } else {
            let stored = self.snapshot.by_type.get(&t).into_iter().flatten();
            let new = staged
                .rows
                .iter()
                .filter(|r| r.before.is_none() && r.element.element_type == t)
                .map(|r| &r.element.id);
            stored.chain(new).cloned().collect()
        };
        ids.sort();
        ids.dedup();
        let mut found: Vec<Element> = ids
            .iter()
            .filter_map(|id| self.current(&staged, id))
            .filter(|e| q.matches(e))
            .collect();
        found.sort_by_key(|e| e.seq);
        found.truncate(usize::try_from(q.limit.max(0)).unwrap_or(usize::MAX));
        found
    }

    fn staged(&self) -> MutexGuard<'_, Staged> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What was staged, in the order first written.
    pub(crate) fn rows(&self) -> Vec<StagedRow> {
        self.staged().rows.clone()
    }

    fn key_scope(&self, e: &Element) -> String {
        (self.registry)(e.element_type).key_scope(e)
    }

    /// Fails as the database's unique indexes would if `e` were written now: its
    /// uuid taken by another element of its type, or, while it is live, its key
    /// by another live one of its scope.
    async fn check_unique(&self, e: &Element, key_scope: &str) -> Result<(), StoreError> {
        let mut by_uuid = ElementQuery::new(&e.workspace_id, e.element_type);
        by_uuid.uuid = Some(e.uuid.clone());
        by_uuid.include_archived = true;
        if self
            .find_elements(&by_uuid)
            .await?
            .iter()
            .any(|o| o.id != e.id)
        {
            return Err(StoreError::Unique(UniqueField::Uuid));
        }
        if let (Some(key), None) = (&e.key, &e.archived_at) {
            let mut by_key = ElementQuery::new(&e.workspace_id, e.element_type);
            by_key.key = Some(key.clone());
            let taken = self
                .find_elements(&by_key)
                .await?
                .iter()
                .any(|o| o.id != e.id && self.key_scope(o) == key_scope);
            if taken {
                return Err(StoreError::Unique(UniqueField::Key));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ElementStore for StagedElements {
    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError> {
        if self
            .element_by_id(&element.workspace_id, &element.id)
            .await?
            .is_some()
        {
            return Err(StoreError::Unique(UniqueField::Id));
        }
        self.check_unique(element, key_scope).await?;
        let mut staged = self.staged();
        let mut element = element.clone();
        element.seq = FIRST_STAGED_SEQ + staged.rows.len() as i64;
        let seq = element.seq;
        let i = staged.rows.len();
        staged.by_id.insert(element.id.clone(), i);
        let Staged {
            by_uuid, by_key, ..
        } = &mut *staged;
        index(by_uuid, by_key, &element);
        staged.rows.push(StagedRow {
            element,
            key_scope: key_scope.to_owned(),
            stored_revision: None,
            before: None,
        });
        Ok(seq)
    }

    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        let current = self
            .element_by_id(&element.workspace_id, &element.id)
            .await?;
        match current {
            Some(c) if c.revision == expected_revision => {}
            _ => return Err(StoreError::RevisionConflict),
        }
        self.check_unique(element, key_scope).await?;
        let stored = if self.staged().by_id.contains_key(&element.id) {
            None
        } else if self.snapshotted(element.element_type) {
            self.snapshot.by_id.get(&element.id).cloned()
        } else {
            self.stored
                .element_by_id(&element.workspace_id, &element.id)
                .await?
        };
        let mut staged = self.staged();
        let Staged {
            by_uuid, by_key, ..
        } = &mut *staged;
        index(by_uuid, by_key, element);
        match staged.by_id.get(&element.id).copied() {
            Some(i) => {
                let row = &mut staged.rows[i];
                row.element = element.clone();
                row.key_scope = key_scope.to_owned();
            }
            None => {
                let i = staged.rows.len();
                staged.by_id.insert(element.id.clone(), i);
                staged.rows.push(StagedRow {
                    element: element.clone(),
                    key_scope: key_scope.to_owned(),
                    stored_revision: stored.as_ref().map(|s| s.revision.clone()),
                    before: stored,
                });
            }
        }
        Ok(())
    }

    /// Staging is itself the batch; an import commits through the stored one.
    async fn write_elements(&self, writes: &[ElementWrite]) -> Result<Vec<i64>, BatchWriteError> {
        let mut seqs = Vec::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            let failed = |error| BatchWriteError {
                index: Some(i),
                error,
            };
            match &w.expected_revision {
                None => seqs.push(
                    self.insert_element(&w.element, &w.key_scope)
                        .await
                        .map_err(failed)?,
                ),
                Some(expected) => {
                    self.update_element(&w.element, &w.key_scope, expected)
                        .await
                        .map_err(failed)?;
                    seqs.push(w.element.seq);
                }
            }
        }
        Ok(seqs)
    }

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError> {
        {
            let staged = self.staged();
            if let Some(&i) = staged.by_id.get(id) {
                let e = &staged.rows[i].element;
                return Ok((e.workspace_id == workspace_id).then(|| e.clone()));
            }
        }
        if ElementType::ALL
            .into_iter()
            .any(|t| t.is_id(id) && self.snapshotted(t))
        {
            return Ok(self
                .snapshot
                .by_id
                .get(id)
                .filter(|e| e.workspace_id == workspace_id)
                .cloned());
        }
        self.stored.element_by_id(workspace_id, id).await
    }

    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
        if self.snapshotted(query.element_type) {
            return Ok(self.find_in_memory(query));
        }
        let (shadowed, matching) = {
            let staged = self.staged();
            let of_type = staged
                .rows
                .iter()
                .filter(|r| r.element.element_type == query.element_type);
            let shadowed = of_type.clone().filter(|r| r.before.is_some()).count();
            let matching: Vec<Element> = of_type
                .filter(|r| query.matches(&r.element))
                .map(|r| r.element.clone())
                .collect();
            (shadowed as i64, matching)
        };
        // Every stored row a staged one replaces may be among those read: read as
        // many more, so the page is still full after they are dropped.
        let mut wider = query.clone();
        wider.limit = query.limit.saturating_add(shadowed);
        let mut found: Vec<Element> = {
            let stored = self.stored.find_elements(&wider).await?;
            let staged = self.staged();
            stored
                .into_iter()
                .filter(|e| !staged.by_id.contains_key(&e.id))
                .collect()
        };
        found.extend(matching);
        found.sort_by_key(|e| e.seq);
        found.truncate(usize::try_from(query.limit.max(0)).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn archived_among(
        &self,
        workspace_id: &str,
        ids: &[&str],
    ) -> Result<Vec<Element>, StoreError> {
        let mut out = Vec::new();
        let mut unstaged = Vec::new();
        {
            let staged = self.staged();
            for id in ids {
                match staged.by_id.get(*id) {
                    Some(&i) => {
                        let e = &staged.rows[i].element;
                        if e.workspace_id == workspace_id && e.is_archived() {
                            out.push(e.clone());
                        }
                    }
                    None => unstaged.push(*id),
                }
            }
        }
        out.extend(self.stored.archived_among(workspace_id, &unstaged).await?);
        Ok(out)
    }
}
