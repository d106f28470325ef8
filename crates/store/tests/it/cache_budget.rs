//! The read cache stays within its byte budget however many distinct queries list
//! the same large element, keeps answering correctly, and a write still
//! invalidates what it cached.

use std::sync::Arc;

use osmosis_model::{ids, Element, ElementType};
use osmosis_store::{CachedElementStore, ElementQuery, ElementStore, SqliteStore, WorkspaceStore};
use serde_json::json;

use crate::common;
use crate::common::{insert, workspace, WS};

const MIB: u64 = 1024 * 1024;

struct Fixture {
    /// The database, written behind the cache's back to see what it answers.
    sqlite: Arc<dyn ElementStore>,
    cache: CachedElementStore,
    element: Element,
    _dir: tempfile::TempDir,
}

/// A cache of `budget` bytes over a fresh SQLite file holding one flow whose
/// document carries `doc_bytes` of text.
async fn fixture(budget: u64, doc_bytes: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let sqlite = Arc::new(SqliteStore::connect(&url, 4, true).await.unwrap());
    sqlite.insert_workspace(&workspace(WS)).await.unwrap();
    let sqlite: Arc<dyn ElementStore> = sqlite;
    let mut element = common::element(WS, ElementType::Flow, "big");
    element.name = "Big".into();
    element
        .doc
        .insert("blob".into(), json!("x".repeat(doc_bytes)));
    let element = insert(&*sqlite, element).await;
    let cache = CachedElementStore::new(sqlite.clone(), budget);
    Fixture {
        sqlite,
        cache,
        element,
        _dir: dir,
    }
}

/// The `n`th of many distinct queries that all find the one flow.
fn query(n: i64) -> ElementQuery {
    let mut q = ElementQuery::new(WS, ElementType::Flow);
    q.limit = 1000 + n;
    q
}

/// Writes a new name straight to the database, past the cache.
async fn rename_behind_the_cache(f: &mut Fixture, name: &str) {
    let previous = f.element.revision.clone();
    f.element.name = name.into();
    f.element.revision = ids::revision();
    f.sqlite
        .update_element(&f.element, "", &previous)
        .await
        .unwrap();
}

async fn names(store: &dyn ElementStore, q: &ElementQuery) -> Vec<String> {
    let found = store.find_elements(q).await.unwrap();
    found.iter().map(|e| e.name.clone()).collect()
}

#[tokio::test]
async fn many_queries_of_a_large_element_stay_within_the_budget() {
    let budget = 16 * MIB;
    let mut f = fixture(budget, MIB as usize).await;
    assert!(f.cache.budget() <= budget);
    for n in 0..500 {
        let found = f.cache.find_elements(&query(n)).await.unwrap();
        assert_eq!(found.len(), 1, "query {n}");
        assert_eq!(
            found[0].doc["blob"].as_str().map(str::len),
            Some(MIB as usize)
        );
        assert!(
            f.cache.weight() <= budget,
            "after query {n}: {} bytes cached, budget {budget}",
            f.cache.weight()
        );
    }
    // It did cache (the last answers are kept): a change made behind its back is
    // not seen …
    assert!(f.cache.weight() > MIB, "{} bytes cached", f.cache.weight());
    rename_behind_the_cache(&mut f, "Renamed behind").await;
    assert_eq!(names(&f.cache, &query(499)).await, ["Big"]);
    // … and a write through it invalidates every cached query of the type.
    let previous = f.element.revision.clone();
    f.element.name = "Renamed".into();
    f.element.revision = ids::revision();
    f.cache
        .update_element(&f.element, "", &previous)
        .await
        .unwrap();
    assert_eq!(names(&f.cache, &query(499)).await, ["Renamed"]);
    assert_eq!(names(&f.cache, &query(0)).await, ["Renamed"]);
}

#[tokio::test]
async fn an_answer_heavier_than_an_eighth_of_the_budget_is_not_cached() {
    let budget = 8 * MIB;
    let mut f = fixture(budget, (budget / 8) as usize).await;
    assert_eq!(names(&f.cache, &query(0)).await, ["Big"]);
    assert_eq!(f.cache.weight(), 0);
    assert!(f.cache.is_empty());
    // Read from the database each time, so a change behind the cache is seen.
    rename_behind_the_cache(&mut f, "Renamed behind").await;
    assert_eq!(names(&f.cache, &query(0)).await, ["Renamed behind"]);
}

#[tokio::test]
async fn lookups_by_id_are_cached_and_invalidated_too() {
    let mut f = fixture(8 * MIB, 1000).await;
    let id = f.element.id.clone();
    let one = f.cache.element_by_id(WS, &id).await.unwrap().unwrap();
    assert_eq!(one.name, "Big");
    rename_behind_the_cache(&mut f, "Renamed behind").await;
    let cached = f.cache.element_by_id(WS, &id).await.unwrap().unwrap();
    assert_eq!(cached.name, "Big");
    f.cache
        .insert_element(&f.element_copy("flw_other"), "")
        .await
        .unwrap();
    let fresh = f.cache.element_by_id(WS, &id).await.unwrap().unwrap();
    assert_eq!(fresh.name, "Renamed behind");
}

impl Fixture {
    /// Another flow like this one, under `id` (a write of the same type).
    fn element_copy(&self, id: &str) -> Element {
        Element {
            id: id.into(),
            key: Some(id.into()),
            uuid: ids::uuid_v4(),
            ..self.element.clone()
        }
    }
}

#[tokio::test]
async fn a_zero_budget_caches_nothing() {
    let mut f = fixture(0, 10).await;
    assert_eq!(names(&f.cache, &query(0)).await, ["Big"]);
    assert!(f.cache.is_empty());
    rename_behind_the_cache(&mut f, "Renamed behind").await;
    assert_eq!(names(&f.cache, &query(0)).await, ["Renamed behind"]);
}
