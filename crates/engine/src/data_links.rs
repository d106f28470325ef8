//! Data links (docs/spec/semantics.md §5.3): a customer's registry of which of
//! their records in the external app is which of the application's, kept per data
//! link table instance (one per table and connection) so a sync can tell whether a
//! record it meets was already created on the other side.
//!
//! Where the spec is silent, Osmosis decides:
//! * A link has a direction, `import` or `export`. Creating one `both` ways (the
//!   default when no direction is given) stores two links, one per direction.
//! * Within an instance and a direction an app record is linked to at most one
//!   external record and the other way round: creating a link replaces the older
//!   link of either record in that direction. Creating a link that exists changes
//!   nothing (no error, same id).
//! * Deleting names the pair; without a direction it deletes both directions. A
//!   pair that is not linked deletes nothing and is no error.
//! * Finding with `direction=both` is finding without a direction: links of either.
//! * Record ids are non-empty strings of at most [`MAX_RECORD_ID`] bytes without NUL;
//!   a number is taken as its decimal text (record ids are often numeric).
//! * Every operation first checks the instance is the caller's and live, its table
//!   live, and its connection callable (live, with its customer, integration and
//!   connector): links of an instance that is out of service are not found, as the
//!   calls through its connection are not.
//!
//! Links are not elements: they live in their own table (`osmosis_store::DataLinkStore`).
//! Archiving an instance leaves its links in place, found again once it is restored.

use async_trait::async_trait;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::{FormulaHost, HostCallback};
use osmosis_runtime::{JsValue, RuntimeError};
use osmosis_store::{DataLinkQuery, DataLinkStore, ElementQuery, RefFilter};
use serde::Serialize;
use serde_json::{json, Value};

use crate::caller::{only_visible, visible_to};
use crate::connections::Calls;
use crate::errors::{not_found, store_error};
use crate::refs::Ref;
use crate::{Caller, Engine};

/// Longest record id taken, in bytes: ids are keys of records, not documents; a
/// bound keeps one link from growing the table by megabytes.
pub const MAX_RECORD_ID: usize = 1000;

/// Links of one page when the request names no `limit`.
pub const DEFAULT_LIMIT: i64 = 100;

/// The data links service. A borrowed view of the engine's parts
/// ([`Engine::data_links`]): the calls service for the connection checks (and,
/// through it, the element rows) and the link store.
#[derive(Clone, Copy)]
pub struct DataLinks<'e> {
    pub(crate) calls: Calls<'e>,
    pub(crate) store: &'e dyn DataLinkStore,
}

impl<'e> DataLinks<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        DataLinks {
            calls: engine.calls(),
            store: engine.stores.data_links.as_ref(),
        }
    }
}

/// The direction of a link, or of a request (`both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Import,
    Export,
    Both,
}

impl Direction {
    pub fn parse(v: &str) -> Option<Direction> {
        match v {
            "import" => Some(Direction::Import),
            "export" => Some(Direction::Export),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    /// The directions links are stored in.
    fn stored(self) -> &'static [&'static str] {
        match self {
            Direction::Import => &["import"],
            Direction::Export => &["export"],
            Direction::Both => &["import", "export"],
        }
    }
}

/// One link as the API answers it (`DataLink`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub id: String,
    pub data_link_table_instance_id: String,
    pub external_record_id: String,
    pub app_record_id: String,
    pub direction: Direction,
}

impl Link {
    fn of(row: osmosis_store::DataLink) -> Link {
        Link {
            direction: Direction::parse(&row.direction).unwrap_or(Direction::Both),
            id: row.id,
            data_link_table_instance_id: row.instance_id,
            external_record_id: row.external_record_id,
            app_record_id: row.app_record_id,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// A create or delete request, checked: two record ids and a direction.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRequest {
    pub app_record_id: String,
    pub external_record_id: String,
    pub direction: Direction,
}

impl LinkRequest {
    /// The request from its body fields as given (absent or `null` alike); a missing,
    /// empty or mistyped field is `invalid_field` naming it. Without a direction the
    /// request means both.
    pub fn from_fields(
        app_record_id: Option<&Value>,
        external_record_id: Option<&Value>,
        direction: Option<&Value>,
    ) -> Result<LinkRequest, ApiError> {
        Ok(LinkRequest {
            app_record_id: record_id("appRecordId", app_record_id)?,
            external_record_id: record_id("externalRecordId", external_record_id)?,
            direction: match direction {
                None | Some(Value::Null) => Direction::Both,
                Some(Value::String(s)) => Direction::parse(s).ok_or_else(|| {
                    ApiError::invalid_field(
                        "direction",
                        format!("unknown direction `{s}`; expected import, export or both"),
                    )
                })?,
                Some(_) => {
                    return Err(ApiError::invalid_field(
                        "direction",
                        "must be import, export or both",
                    ))
                }
            },
        })
    }
}

/// A record id field: a string, or a number taken as its text.
fn record_id(field: &str, value: Option<&Value>) -> Result<String, ApiError> {
    let id = match value {
        None | Some(Value::Null) => return Err(ApiError::invalid_field(field, "is required")),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                field,
                "must be a string (or a number)",
            ))
        }
    };
    match record_id_problem(&id) {
        Some(problem) => Err(ApiError::invalid_field(field, problem)),
        None => Ok(id),
    }
}

/// What is wrong with a record id, if anything.
fn record_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("must not be empty".into())
    } else if id.len() > MAX_RECORD_ID {
        Some(format!("is longer than {MAX_RECORD_ID} bytes"))
    } else if id.contains('\0') {
        Some("must not contain a NUL character".into())
    } else {
        None
    }
}

/// The query of `GET /data-link-table-instance/links` as given (strings, empty
/// meaning not given); [`DataLinks::find`] checks it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindLinksParams {
    pub direction: Option<String>,
    pub app_record_id: Option<String>,
    pub external_record_id: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// [`FindLinksParams`] checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FindLinks {
    pub direction: Option<Direction>,
    pub app_record_id: Option<String>,
    pub external_record_id: Option<String>,
    pub limit: i64,
    pub cursor: Option<i64>,
}

impl FindLinksParams {
    /// A bad parameter is `invalid_query` naming it.
    pub fn check(&self) -> Result<FindLinks, ApiError> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let record = |name: &str, v: &Option<String>| -> Result<Option<String>, ApiError> {
            given(v)
                .map(|id| match record_id_problem(&id) {
                    Some(problem) => Err(ApiError::invalid_query(name, problem)),
                    None => Ok(id),
                })
                .transpose()
        };
        Ok(FindLinks {
            direction: match given(&self.direction) {
                None => None,
                Some(d) => Some(Direction::parse(&d).ok_or_else(|| {
                    ApiError::invalid_query(
                        "direction",
                        format!("unknown direction `{d}`; expected import, export or both"),
                    )
                })?),
            },
            app_record_id: record("appRecordId", &self.app_record_id)?,
            external_record_id: record("externalRecordId", &self.external_record_id)?,
            limit: match given(&self.limit) {
                None => DEFAULT_LIMIT,
                Some(l) => l
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_query(
                            "limit",
                            format!("expected an integer from 1 to 1000, got `{l}`"),
                        )
                    })?,
            },
            cursor: match given(&self.cursor) {
                None => None,
                Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::invalid_query(
                        "cursor",
                        format!("`{c}` is not a cursor this server returned"),
                    )
                })?),
            },
        })
    }
}

/// One page of links: a cursor only when more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPage {
    pub items: Vec<Link>,
    pub cursor: Option<String>,
}

impl LinkPage {
    /// `{items, cursor?}`.
    pub fn to_json(&self) -> Value {
        let mut page = json!({"items": self.items.iter().map(Link::to_json).collect::<Vec<_>>()});
        if let Some(c) = &self.cursor {
            page["cursor"] = json!(c);
        }
        page
    }
}

impl<'e> DataLinks<'e> {
    /// Refuses any link operation on `instance` unless it is a data link table
    /// instance the caller sees, live, of a live table, on a callable connection.
    /// Each refusal is `not_found`, as for an instance that does not exist.
    pub async fn ensure_usable(&self, caller: &Caller, instance: &Element) -> Result<(), ApiError> {
        let t = ElementType::DataLinkTableInstance;
        if instance.element_type != t
            || !visible_to(caller, instance)
            || instance.workspace_id != caller.workspace_id()
        {
            return Err(not_found(t, &instance.id));
        }
        if instance.is_archived() {
            return Err(ApiError::not_found(format!(
                "The data-link-table-instance `{}` is archived; restore it to use its links",
                instance.id
            )));
        }
        let table = match &instance.parent_id {
            Some(id) => self.element(&instance.workspace_id, id).await?,
            None => None,
        };
        match table {
            Some(table) if table.element_type == ElementType::DataLinkTable => {
                if table.is_archived() {
                    return Err(ApiError::not_found(format!(
                        "The data-link-table `{}` is archived; restore it to use its links",
                        table.key.as_deref().unwrap_or(&table.id)
                    )));
                }
            }
            _ => return Err(not_found(t, &instance.id)),
        }
        if let Some(conn_id) = &instance.connection_id {
            let conn = self
                .element(&instance.workspace_id, conn_id)
                .await?
                .ok_or_else(|| not_found(ElementType::Connection, conn_id))?;
            self.calls.ensure_callable(caller, &conn).await?;
        }
        Ok(())
    }

    async fn element(&self, workspace_id: &str, id: &str) -> Result<Option<Element>, ApiError> {
        self.calls
            .elements
            .store
            .element_by_id(workspace_id, id)
            .await
            .map_err(store_error)
    }

    /// One page of the instance's links, oldest first.
    pub async fn find(
        &self,
        caller: &Caller,
        instance: &Element,
        find: &FindLinks,
    ) -> Result<LinkPage, ApiError> {
        self.ensure_usable(caller, instance).await?;
        let direction = find
            .direction
            .filter(|d| *d != Direction::Both)
            .map(|d| d.stored()[0].to_string());
        let mut rows = self
            .store
            .find_data_links(&DataLinkQuery {
                workspace_id: instance.workspace_id.clone(),
                instance_id: instance.id.clone(),
                direction,
                app_record_id: find.app_record_id.clone(),
                external_record_id: find.external_record_id.clone(),
                cursor: find.cursor,
                // One more than the page tells whether another page follows.
                limit: find.limit + 1,
            })
            .await
            .map_err(store_error)?;
        let more = rows.len() as i64 > find.limit;
        rows.truncate(find.limit as usize);
        let cursor = if more {
            rows.last().map(|r| r.seq.to_string())
        } else {
            None
        };
        Ok(LinkPage {
            items: rows.into_iter().map(Link::of).collect(),
            cursor,
        })
    }

    /// Links the two records (see the module doc for what it replaces); answers the
    /// links as stored, one per direction.
    pub async fn create(
        &self,
        caller: &Caller,
        instance: &Element,
        request: &LinkRequest,
    ) -> Result<Vec<Link>, ApiError> {
        self.ensure_usable(caller, instance).await?;
        let now = crate::clock::now_iso();
        let rows: Vec<osmosis_store::DataLink> = request
            .direction
            .stored()
            .iter()
            .map(|d| osmosis_store::DataLink {
                seq: 0,
                id: osmosis_model::ids::object_id(),
                workspace_id: instance.workspace_id.clone(),
                instance_id: instance.id.clone(),
                external_record_id: request.external_record_id.clone(),
                app_record_id: request.app_record_id.clone(),
                direction: (*d).to_string(),
                created_at: now.clone(),
            })
            .collect();
        let stored = self
            .store
            .put_data_links(&rows)
            .await
            .map_err(store_error)?;
        Ok(stored.into_iter().map(Link::of).collect())
    }

    /// Unlinks the two records in the request's direction(s); answers how many links
    /// there were.
    pub async fn delete(
        &self,
        caller: &Caller,
        instance: &Element,
        request: &LinkRequest,
    ) -> Result<u64, ApiError> {
        self.ensure_usable(caller, instance).await?;
        self.store
            .delete_data_links(
                &instance.workspace_id,
                &instance.id,
                &request.app_record_id,
                &request.external_record_id,
                request.direction.stored(),
            )
            .await
            .map_err(store_error)
    }

    /// The formula host answering `$findAppRecordId` and `$findExternalRecordId` for
    /// runs on `connection`, which must be callable by `caller`.
    pub async fn formula_host(
        &self,
        caller: &Caller,
        connection: &Element,
    ) -> Result<DataLinkFormulaHost<'e>, ApiError> {
        self.calls.ensure_callable(caller, connection).await?;
        Ok(self.formula_host_on_checked(caller, connection))
    }

    /// [`DataLinks::formula_host`] for a connection the caller already checked
    /// with `Calls::ensure_callable` (an action run's target), so a run does not
    /// read the connection's customer, integration and connector once more.
    pub(crate) fn formula_host_on_checked(
        &self,
        caller: &Caller,
        connection: &Element,
    ) -> DataLinkFormulaHost<'e> {
        DataLinkFormulaHost {
            links: *self,
            caller: caller.clone(),
            connection_id: connection.id.clone(),
        }
    }

    /// The record linked to `record_id` in `direction` (`import`: the app record of
    /// an external one; `export`: the external record of an app one) in the
    /// connection's instance of the table keyed `table_key`. No instance yet means
    /// no link; a table that does not exist (or is archived) is an error, not "no
    /// link": a sync taking it for one would create the record again.
    async fn linked(
        &self,
        caller: &Caller,
        connection_id: &str,
        table_key: &str,
        record_id: &str,
        direction: Direction,
    ) -> Result<Option<String>, ApiError> {
        let table = self
            .calls
            .elements
            .resolve_ref(
                caller,
                ElementType::DataLinkTable,
                &Ref::Key(table_key.to_owned()),
                "dataLinkTable",
            )
            .await?;
        let mut q = ElementQuery::new(caller.workspace_id(), ElementType::DataLinkTableInstance);
        q.parent = RefFilter::Is(table.id);
        q.connection = RefFilter::Is(connection_id.to_owned());
        q.instance_key = RefFilter::None;
        only_visible(caller, &mut q);
        let found = self
            .calls
            .elements
            .store
            .first_element(q)
            .await
            .map_err(store_error)?;
        let Some(instance) = found else {
            return Ok(None);
        };
        let (app, external) = match direction {
            Direction::Import => (None, Some(record_id.to_owned())),
            _ => (Some(record_id.to_owned()), None),
        };
        let rows = self
            .store
            .find_data_links(&DataLinkQuery {
                workspace_id: instance.workspace_id,
                instance_id: instance.id,
                direction: Some(direction.stored()[0].to_owned()),
                app_record_id: app,
                external_record_id: external,
                cursor: None,
                limit: 1,
            })
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().next().map(|l| match direction {
            Direction::Import => l.app_record_id,
            _ => l.external_record_id,
        }))
    }
}

/// `resolveImportDataLink` / `resolveExportDataLink` of `resolveFormulas` for runs
/// on one connection: the data link formulas of a config resolve through the
/// caller's instance of the named table on that connection. Made by
/// [`DataLinks::formula_host`], which checked the connection once.
pub struct DataLinkFormulaHost<'e> {
    links: DataLinks<'e>,
    caller: Caller,
    connection_id: String,
}

impl DataLinkFormulaHost<'_> {
    async fn resolve(
        &self,
        table_key: Value,
        record_id: Value,
        direction: Direction,
    ) -> osmosis_runtime::Result<JsValue> {
        // The runtime passes on what the formula built; only text (or a number) can
        // name a table or a record.
        let (Some(key), Some(record)) = (as_text(&table_key), as_text(&record_id)) else {
            return Ok(None);
        };
        let found = self
            .links
            .linked(&self.caller, &self.connection_id, &key, &record, direction)
            .await
            .map_err(|e| RuntimeError::Callback(e.message))?;
        Ok(found.map(Value::String))
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl FormulaHost for DataLinkFormulaHost<'_> {
    fn provides(&self, callback: HostCallback) -> bool {
        matches!(
            callback,
            HostCallback::ResolveImportDataLink | HostCallback::ResolveExportDataLink
        )
    }

    async fn resolve_import_data_link(
        &self,
        data_link_table_key: Value,
        record_id: Value,
    ) -> osmosis_runtime::Result<JsValue> {
        self.resolve(data_link_table_key, record_id, Direction::Import)
            .await
    }

    async fn resolve_export_data_link(
        &self,
        data_link_table_key: Value,
        record_id: Value,
    ) -> osmosis_runtime::Result<JsValue> {
        self.resolve(data_link_table_key, record_id, Direction::Export)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_takes_string_or_numeric_ids_and_defaults_to_both_directions() {
        let r = LinkRequest::from_fields(Some(&json!("a1")), Some(&json!(42)), None).unwrap();
        assert_eq!(
            r,
            LinkRequest {
                app_record_id: "a1".into(),
                external_record_id: "42".into(),
                direction: Direction::Both
            }
        );
        let r =
            LinkRequest::from_fields(Some(&json!(1.5)), Some(&json!("e")), Some(&json!("export")))
                .unwrap();
        assert_eq!(
            (r.app_record_id.as_str(), r.direction),
            ("1.5", Direction::Export)
        );
    }

    #[test]
    fn a_bad_request_field_is_invalid_field_naming_it() {
        let long = "x".repeat(MAX_RECORD_ID + 1);
        let cases = [
            (None, Some(json!("e")), None, "appRecordId"),
            (Some(json!(null)), Some(json!("e")), None, "appRecordId"),
            (Some(json!("")), Some(json!("e")), None, "appRecordId"),
            (Some(json!(["a"])), Some(json!("e")), None, "appRecordId"),
            (
                Some(json!({"id": "a"})),
                Some(json!("e")),
                None,
                "appRecordId",
            ),
            (Some(json!(true)), Some(json!("e")), None, "appRecordId"),
            (
                Some(json!("a")),
                Some(json!(long)),
                None,
                "externalRecordId",
            ),
            (
                Some(json!("a")),
                Some(json!("e\u{0}")),
                None,
                "externalRecordId",
            ),
            (
                Some(json!("a")),
                Some(json!("e")),
                Some(json!("sideways")),
                "direction",
            ),
            (
                Some(json!("a")),
                Some(json!("e")),
                Some(json!("")),
                "direction",
            ),
            (
                Some(json!("a")),
                Some(json!("e")),
                Some(json!(1)),
                "direction",
            ),
        ];
        for (app, ext, dir, field) in cases {
            let e = LinkRequest::from_fields(app.as_ref(), ext.as_ref(), dir.as_ref())
                .expect_err(field);
            assert_eq!(
                e.key.as_deref(),
                Some(osmosis_model::error::keys::INVALID_FIELD)
            );
            assert_eq!(
                e.data,
                Some(Box::new(json!({"field": field}))),
                "{app:?} {ext:?} {dir:?}"
            );
        }
    }

    #[test]
    fn find_parameters_are_checked_and_empty_ones_are_not_given() {
        let p = FindLinksParams {
            direction: Some("both".into()),
            app_record_id: Some("".into()),
            external_record_id: Some("e1".into()),
            limit: None,
            cursor: Some("".into()),
        };
        assert_eq!(
            p.check().unwrap(),
            FindLinks {
                direction: Some(Direction::Both),
                app_record_id: None,
                external_record_id: Some("e1".into()),
                limit: DEFAULT_LIMIT,
                cursor: None
            }
        );
        for (p, name) in [
            (
                FindLinksParams {
                    direction: Some("up".into()),
                    ..Default::default()
                },
                "direction",
            ),
            (
                FindLinksParams {
                    limit: Some("0".into()),
                    ..Default::default()
                },
                "limit",
            ),
            (
                FindLinksParams {
                    limit: Some("1001".into()),
                    ..Default::default()
                },
                "limit",
            ),
            (
                FindLinksParams {
                    cursor: Some("-1".into()),
                    ..Default::default()
                },
                "cursor",
            ),
            (
                FindLinksParams {
                    cursor: Some("x".into()),
                    ..Default::default()
                },
                "cursor",
            ),
        ] {
            let e = p.check().expect_err(name);
            assert_eq!(
                e.key.as_deref(),
                Some(osmosis_model::error::keys::INVALID_QUERY)
            );
            assert_eq!(e.data, Some(Box::new(json!({"parameter": name}))));
        }
    }

    #[test]
    fn a_link_answers_the_sdk_shape() {
        let link = Link::of(osmosis_store::DataLink {
            seq: 3,
            id: "l1".into(),
            workspace_id: "w".into(),
            instance_id: "dli_1".into(),
            external_record_id: "e".into(),
            app_record_id: "a".into(),
            direction: "export".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&link.to_json()).unwrap(),
            r#"{"id":"l1","dataLinkTableInstanceId":"dli_1","externalRecordId":"e","appRecordId":"a","direction":"export"}"#
        );
    }
}
