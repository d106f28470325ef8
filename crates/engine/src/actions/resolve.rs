//! What a run runs on: the action (across layers) and the connection.
//!
//! **Connection** (semantics §3.2): `connectionId`, else `connectionKey`, else the
//! caller's only connection to the named integration (or to the action's own
//! integration), else — the workspace default — the caller's only connection. A
//! connection that is named but not the caller's, or archived, or whose integration,
//! connector or customer is archived, is `not_found`. Without any connection, only
//! the types that call nothing through one run (`run-javascript` without
//! `externalApiClient`, `http-request`).
//!
//! **Action**: with a connection, its connection-level copy wins, then the copy for
//! the connection's integration, then the universal action. An action for another
//! integration than the connection's is refused.

use osmosis_model::error::keys;
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{json, Value};

use super::{ActionDefinition, Actions};
use crate::caller::only_visible;
use crate::errors::{not_found, store_error};
use crate::refs::Ref;
use crate::{Caller, PathSelector};

/// Which action to run.
#[derive(Debug, Clone)]
pub enum RunSelector {
    /// An action by id, key or uuid, narrowed by an integration (id or key).
    Action {
        selector: String,
        integration: Option<String>,
    },
    /// An action or a connection-level action instance the caller already resolved.
    Element(Element),
    /// A definition given with the request (`/act` with `api` or `code`).
    Inline(ActionDefinition),
}

/// How the request names the connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectionHints {
    pub connection_id: Option<String>,
    pub connection_key: Option<String>,
    pub integration_id: Option<String>,
    pub integration_key: Option<String>,
}

impl ConnectionHints {
    fn is_empty(&self) -> bool {
        self.connection_id.is_none()
            && self.connection_key.is_none()
            && self.integration_id.is_none()
            && self.integration_key.is_none()
    }
}

/// A resolved run target. Only [`Actions::target`] makes one: it checked the
/// connection is callable, which the run relies on.
#[derive(Debug, Clone)]
pub struct ActionTarget {
    /// The stored action that runs (any layer); `None` for an inline definition.
    pub(crate) action: Option<Element>,
    pub(crate) inline: Option<ActionDefinition>,
    pub(crate) connection: Option<Element>,
}

/// The ids a run log carries for each layer of the action.
#[derive(Debug, Default)]
pub(crate) struct LayerIds {
    pub ran: Option<String>,
    pub universal: Option<String>,
    pub integration: Option<String>,
    pub connection: Option<String>,
}

impl LayerIds {
    /// `integrationActionId` (required by the SDK's record): the integration-level
    /// action, or the universal one when the run had no integration-level copy.
    pub(crate) fn integration_or_universal(&self) -> String {
        self.integration
            .clone()
            .or_else(|| self.universal.clone())
            .unwrap_or_default()
    }
}

impl ActionTarget {
    pub(crate) fn label(&self) -> String {
        match (&self.action, &self.inline) {
            (Some(a), _) => a.id.clone(),
            (None, Some(d)) => format!("inline {}", d.kind),
            (None, None) => String::new(),
        }
    }

    pub(crate) fn name(&self) -> String {
        match (&self.action, &self.inline) {
            (Some(a), _) => a.name.clone(),
            (None, Some(d)) => match d.kind.as_str() {
                "run-javascript" => "JavaScript code".into(),
                _ => "API request".into(),
            },
            (None, None) => String::new(),
        }
    }

    pub(crate) fn layer_ids(&self) -> LayerIds {
        let Some(a) = &self.action else {
            return LayerIds::default();
        };
        let mut ids = LayerIds {
            ran: Some(a.id.clone()),
            ..Default::default()
        };
        if a.element_type == ElementType::ActionInstance {
            ids.connection = Some(a.id.clone());
            ids.universal = a.doc_str("universalParentId").map(str::to_owned);
            ids.integration = a
                .parent_id
                .clone()
                .filter(|p| Some(p) != ids.universal.as_ref());
        } else if a.integration_id.is_some() {
            ids.integration = Some(a.id.clone());
            ids.universal = a.parent_id.clone();
        } else {
            ids.universal = Some(a.id.clone());
        }
        ids
    }

    /// The run variables (`getActionRunTimeVariablesSchema`): `input`, `user`,
    /// `connection`, `integration`, `actionInstance`.
    pub(crate) fn variables(&self, input: &Value, user: &Value) -> Value {
        let mut vars = json!({"input": input, "user": user});
        if let Some(c) = &self.connection {
            vars["connection"] = json!({"id": c.id, "name": c.name});
            if let Some(i) = &c.integration_id {
                vars["integration"] = json!({"id": i});
            }
        }
        if let Some(a) = self
            .action
            .as_ref()
            .filter(|a| a.element_type == ElementType::ActionInstance)
        {
            vars["actionInstance"] = json!({"id": a.id, "instanceKey": a.instance_key});
        }
        vars
    }
}

impl Actions<'_> {
    /// Resolves what to run and on which connection (see the module doc).
    pub async fn target(
        &self,
        caller: &Caller,
        selector: RunSelector,
        hints: &ConnectionHints,
    ) -> Result<ActionTarget, ApiError> {
        let elements = &self.calls.elements;
        let (action, inline) = match selector {
            RunSelector::Inline(def) => (None, Some(def)),
            RunSelector::Element(el) => (Some(el), None),
            RunSelector::Action {
                selector,
                integration,
            } => {
                let mut sel = PathSelector::new(selector);
                match integration {
                    Some(i) if ElementType::Integration.is_id(&i) => {
                        sel.layer.integration_id = Some(i)
                    }
                    Some(k) => sel.layer.integration_key = Some(k),
                    None => {}
                }
                let found =
                    if sel.layer.integration_id.is_none() && sel.layer.integration_key.is_none() {
                        // The connection's integration narrows an action key.
                        let conn = self.connection(caller, hints, None).await?;
                        sel.layer = LayerQuery {
                            integration_id: conn.as_ref().and_then(|c| c.integration_id.clone()),
                            ..Default::default()
                        };
                        elements.resolve(caller, ElementType::Action, &sel).await?
                    } else {
                        elements.resolve(caller, ElementType::Action, &sel).await?
                    };
                (Some(found), None)
            }
        };
        if let Some(a) = &action {
            if a.is_archived() {
                return Err(not_found(a.element_type, &a.id));
            }
        }
        // An instance runs on its own connection.
        let connection = match action
            .as_ref()
            .filter(|a| a.element_type == ElementType::ActionInstance)
        {
            Some(instance) => {
                let cid = instance.connection_id.clone().ok_or_else(|| {
                    ApiError::configuration("The action instance has no connection")
                })?;
                let own = elements
                    .resolve(caller, ElementType::Connection, &PathSelector::new(cid))
                    .await?;
                if let Some(named) = self.connection(caller, hints, None).await? {
                    if named.id != own.id {
                        return Err(ApiError::bad_request(
                            keys::INVALID_QUERY,
                            format!(
                                "The action instance `{}` belongs to connection `{}`, not `{}`",
                                instance.id, own.id, named.id
                            ),
                        ));
                    }
                }
                Some(own)
            }
            None => {
                let own_integration = action.as_ref().and_then(|a| a.integration_id.clone());
                self.connection(caller, hints, own_integration).await?
            }
        };
        if let Some(conn) = &connection {
            self.calls.ensure_callable(caller, conn).await?;
        }
        let action = match (action, &connection) {
            (Some(a), Some(conn)) if a.element_type == ElementType::Action => {
                if let (Some(ai), Some(ci)) = (&a.integration_id, &conn.integration_id) {
                    if ai != ci {
                        return Err(ApiError::bad_request(
                            keys::INVALID_QUERY,
                            format!(
                                "The action `{}` belongs to another integration than connection `{}`",
                                a.key.as_deref().unwrap_or(&a.id),
                                conn.id
                            ),
                        ));
                    }
                }
                Some(self.most_specific(caller, a, conn).await?)
            }
            (a, _) => a,
        };
        Ok(ActionTarget {
            action,
            inline,
            connection,
        })
    }

    /// The connection-level copy of `action` for `conn`, else its copy for the
    /// connection's integration, else `action`.
    async fn most_specific(
        &self,
        caller: &Caller,
        action: Element,
        conn: &Element,
    ) -> Result<Element, ApiError> {
        let store = self.calls.elements.store;
        let mut base = action;
        if base.integration_id.is_none() {
            if let Some(iid) = &conn.integration_id {
                let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Action);
                q.parent = RefFilter::Is(base.id.clone());
                q.integration = RefFilter::Is(iid.clone());
                if let Some(copy) = store.first_element(q).await.map_err(store_error)? {
                    base = copy;
                }
            }
        }
        let mut parents = vec![base.id.clone()];
        if let Some(p) = &base.parent_id {
            parents.push(p.clone());
        }
        for parent in parents {
            let mut q = ElementQuery::new(caller.workspace_id(), ElementType::ActionInstance);
            q.parent = RefFilter::Is(parent);
            q.connection = RefFilter::Is(conn.id.clone());
            q.instance_key = RefFilter::None;
            only_visible(caller, &mut q);
            if let Some(instance) = store.first_element(q).await.map_err(store_error)? {
                return Ok(instance);
            }
        }
        Ok(base)
    }

    /// The connection the hints name; without hints, the caller's only connection
    /// to `integration`, or the caller's only connection at all. `None` when
    /// nothing is named and no single connection qualifies.
    pub(crate) async fn connection(
        &self,
        caller: &Caller,
        hints: &ConnectionHints,
        integration: Option<String>,
    ) -> Result<Option<Element>, ApiError> {
        let elements = &self.calls.elements;
        if let Some(id) = &hints.connection_id {
            return elements
                .resolve(
                    caller,
                    ElementType::Connection,
                    &PathSelector::new(id.clone()),
                )
                .await
                .map(Some);
        }
        let named_integration = match (&hints.integration_id, &hints.integration_key) {
            (Some(v), _) | (None, Some(v)) => Some(
                elements
                    .resolve(
                        caller,
                        ElementType::Integration,
                        &PathSelector::new(v.clone()),
                    )
                    .await?,
            ),
            (None, None) => None,
        };
        if let Some(key) = &hints.connection_key {
            return elements
                .resolve_ref_scoped(
                    caller,
                    ElementType::Connection,
                    &Ref::Key(key.clone()),
                    "connectionKey",
                    named_integration.as_ref().map(|i| Some(i.id.as_str())),
                )
                .await
                .map(Some);
        }
        let integration = named_integration.map(|i| i.id).or(integration);
        let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Connection);
        if let Some(iid) = &integration {
            q.integration = RefFilter::Is(iid.clone());
        }
        only_visible(caller, &mut q);
        q.limit = 2;
        let found = self
            .calls
            .elements
            .store
            .find_elements(&q)
            .await
            .map_err(store_error)?;
        match (found.len(), hints.is_empty()) {
            (1, _) => Ok(found.into_iter().next()),
            (0, false) => Err(ApiError::not_found(format!(
                "No connection to integration `{}`",
                integration.unwrap_or_default()
            ))),
            (_, false) => Err(ApiError::bad_request(
                keys::INVALID_BODY,
                "Several connections to this integration: pass `connectionId` or `connectionKey`",
            )),
            (_, true) => Ok(None),
        }
    }
}
