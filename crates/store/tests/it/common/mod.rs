//! A fresh database per test, of the backend `OSMOSIS_TEST_DATABASE` names, as the
//! API tests' harness does: `postgres` creates a new database on
//! `OSMOSIS_TEST_PG_URL` (default `postgres://127.0.0.1:5432/test`) and drops it at
//! the end, anything else uses a new SQLite file in a temp dir. The suite runs once
//! per backend (scripts/test.sh), so every test here holds on both.

#![allow(dead_code)]

use osmosis_model::{ids, Element, ElementType};
use osmosis_store::{ElementStore, Stores, Workspace};

pub const WS: &str = "ws_1";

pub struct TestDb {
    pub url: String,
    pg_database: Option<String>,
    _dir: tempfile::TempDir,
}

pub fn is_postgres() -> bool {
    std::env::var("OSMOSIS_TEST_DATABASE").is_ok_and(|b| b == "postgres")
}

fn pg_admin_url() -> String {
    std::env::var("OSMOSIS_TEST_PG_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into())
}

async fn pg_admin(sql: &str) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg_admin_url())
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query(sql)
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
}

impl TestDb {
    /// An empty, migrated database with the workspace [`WS`].
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = if is_postgres() {
            let name = format!("osmosis_store_t_{}", ids::object_id());
            pg_admin(&format!("CREATE DATABASE {name}")).await;
            let admin = pg_admin_url();
            let (base, _) = admin.rsplit_once('/').expect("database URL has a path");
            TestDb {
                url: format!("{base}/{name}"),
                pg_database: Some(name),
                _dir: dir,
            }
        } else {
            TestDb {
                url: format!("sqlite://{}", dir.path().join("t.db").display()),
                pg_database: None,
                _dir: dir,
            }
        };
        db.node()
            .await
            .workspaces
            .insert_workspace(&workspace(WS))
            .await
            .expect("workspace");
        db
    }

    /// A node on this database: its own pool (and on SQLite its own read cache),
    /// opened the way the server opens it.
    pub async fn node(&self) -> Stores {
        osmosis_store::open(&self.url, 4, true)
            .await
            .expect("store opens")
    }

    /// Drops a PostgreSQL test database (its nodes' connections with it).
    pub async fn finish(self) {
        if let Some(name) = self.pg_database {
            pg_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

pub fn workspace(id: &str) -> Workspace {
    Workspace {
        id: id.into(),
        key: format!("key-{id}"),
        secret: "s".into(),
        name: id.into(),
        created_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

/// A new, unsaved element of type `t` named and keyed `key`, at revision 1 of its life.
pub fn element(workspace_id: &str, t: ElementType, key: &str) -> Element {
    Element {
        key: Some(key.into()),
        uuid: ids::uuid_v4(),
        name: key.into(),
        ..Element::new(workspace_id, t, "2026-01-01T00:00:00.000Z")
    }
}

/// Inserts `e` and returns it as stored (with its `seq`).
pub async fn insert(store: &dyn ElementStore, mut e: Element) -> Element {
    e.seq = store.insert_element(&e, "").await.expect("insert");
    e
}

/// The element as the database holds it now, read by a node opened for the purpose
/// (so no node's cache answers).
pub async fn stored(db: &TestDb, e: &Element) -> Element {
    let node = db.node().await;
    let found = node
        .elements
        .element_by_id(&e.workspace_id, &e.id)
        .await
        .expect("read")
        .expect("the element exists");
    node.database.close().await;
    found
}
