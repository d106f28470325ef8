//! What a console page reads from its request besides the session: the query
//! string (filters, search, cursors) and the element its path names. One place,
//! so every list pages, searches and refuses a bad cursor the same way, and every
//! page treats an archived element alike.

use std::collections::HashMap;

use osmosis_engine::{Caller, ListQuery, PathSelector};
use osmosis_model::error::keys;
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType};

use crate::AppState;

/// Rows of a list page: enough to scan, few enough that a page's per-row work
/// stays small.
pub(crate) const PAGE_SIZE: i64 = 50;

/// A page's query string, the last of a repeated name winning (as forms send).
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Params(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// A parameter, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).map(|v| v.trim()).unwrap_or("")
    }

    /// The list's cursor (`cursor`).
    pub(crate) fn cursor(&self) -> Result<Option<i64>, ApiError> {
        self.cursor_named("cursor")
    }

    /// A cursor of an element list: a number this server gave, or nothing for
    /// the first page. `name` tells apart the lists of one page
    /// (`instances_cursor`, `logs_cursor`).
    pub(crate) fn cursor_named(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            "" => Ok(None),
            c => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| ApiError::invalid_query(name, "is not a cursor this server gave")),
        }
    }

    /// The list query of a searchable, paged list.
    pub(crate) fn list_query(&self) -> Result<ListQuery, ApiError> {
        Ok(ListQuery {
            search: Some(self.get("search").to_owned()).filter(|s| !s.is_empty()),
            cursor: self.cursor()?,
            limit: Some(PAGE_SIZE),
            ..Default::default()
        })
    }
}

/// A layer query naming `integration` by id or by key (empty: none).
pub(crate) fn integration_layer(integration: &str) -> LayerQuery {
    let mut layer = LayerQuery::default();
    if ElementType::Integration.is_id(integration) {
        layer.integration_id = Some(integration.to_owned());
    } else if !integration.is_empty() {
        layer.integration_key = Some(integration.to_owned());
    }
    layer
}

/// A live element of this workspace by id or key, as the API's `/{plural}/{id}`
/// resolves it: another workspace's or an unknown id is `not_found`. An archived
/// one is `gone` (410): the API still reads it by id, but nothing on its console
/// page could act on it (the API refuses runs and calls through archived
/// elements), so the page says so instead.
pub(crate) async fn live_element(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    id: &str,
) -> Result<Element, ApiError> {
    let el = state
        .engine
        .elements()
        .resolve(caller, t, &PathSelector::new(id))
        .await?;
    if el.is_archived() {
        return Err(ApiError::bad_request(
            keys::GONE,
            format!(
                "The {} `{}` is archived; restore it to use it",
                t.name(),
                el.name
            ),
        ));
    }
    Ok(el)
}
