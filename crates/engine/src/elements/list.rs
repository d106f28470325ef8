//! Listing elements: `{items, cursor}` pages in creation order.
//!
//! The cursor is the position (`seq`) of the last item returned, as a decimal
//! string; `cursor=0` (what the SDK's `findAll` sends first) is the start. Positions
//! only grow, so a page boundary never skips or repeats an element that existed
//! when the listing began, whatever is created or archived meanwhile.

use osmosis_model::element_type::{Layering, Readers};
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType, Layer};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::Value;

use super::Elements;
use crate::errors::store_error;
use crate::refs::Ref;
use crate::Caller;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub layer: LayerQuery,
    pub search: Option<String>,
    pub include_archived: bool,
    pub limit: Option<i64>,
    pub cursor: Option<i64>,
    /// `parentId` or the type's parent field (`flowId`, `dataSourceId`, …), id or key.
    pub parent: Option<String>,
    /// `tenantId` / `userId`: admin filter by customer.
    pub customer_id: Option<String>,
    pub is_universal: Option<bool>,
    /// Equality on the type's own scalar fields (`isTest`, `enabled`, …).
    pub doc_equals: Vec<(String, Value)>,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Element>,
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 100;

impl Elements<'_> {
    pub async fn list(
        &self,
        caller: &Caller,
        t: ElementType,
        lq: &ListQuery,
    ) -> Result<ListPage, ApiError> {
        let spec = t.spec();
        // `GET /flows?layer=connection&connectionId=…` lists the connection's flow instances.
        if lq.layer.layer == Some(Layer::Connection) {
            if let Some(instance_type) = t.instance_type() {
                return Box::pin(self.list(
                    caller,
                    instance_type,
                    &ListQuery {
                        layer: LayerQuery {
                            layer: None,
                            ..lq.layer.clone()
                        },
                        ..lq.clone()
                    },
                ))
                .await;
            }
        }
        let mut q = ElementQuery::new(caller.workspace_id(), t);
        q.include_archived = lq.include_archived;
        q.search = lq.search.clone().filter(|s| !s.trim().is_empty());
        q.doc_equals = lq.doc_equals.clone();
        q.limit = lq.limit.unwrap_or(DEFAULT_LIMIT) + 1;
        q.after_seq = lq.cursor.unwrap_or(0);
        if let Some(iid) = self.layer_integration(caller, &lq.layer).await? {
            q.integration = RefFilter::Is(iid);
        }
        if spec.layering == Layering::IntegrationLevel {
            match (lq.layer.layer, lq.is_universal) {
                (Some(Layer::Universal), _) | (_, Some(true)) => q.integration = RefFilter::None,
                (Some(Layer::Integration), _) | (_, Some(false))
                    if q.integration == RefFilter::Any =>
                {
                    q.integration = RefFilter::Some
                }
                _ => {}
            }
        }
        if matches!(spec.layering, Layering::Instance(_)) || t == ElementType::Connection {
            if let Some(c) = &lq.layer.connection_id {
                q.connection = RefFilter::Is(c.clone());
                if t == ElementType::Connection {
                    q.id = Some(c.clone());
                    q.connection = RefFilter::Any;
                }
            }
            if let Some(k) = &lq.layer.instance_key {
                q.instance_key = if k.is_empty() {
                    RefFilter::None
                } else {
                    RefFilter::Is(k.clone())
                };
            }
        }
        if let Some(parent) = &lq.parent {
            let parent_type = match spec.layering {
                Layering::Instance(pt) => pt,
                _ => t,
            };
            let found = match self
                .resolve_ref(caller, parent_type, &Ref::Id(parent.clone()), "parentId")
                .await
            {
                Ok(p) => Some(p),
                Err(_) => self
                    .resolve_ref(caller, parent_type, &Ref::Key(parent.clone()), "parentId")
                    .await
                    .ok(),
            };
            match found {
                Some(p) => q.parent = RefFilter::Is(p.id),
                None => {
                    return Ok(ListPage {
                        items: Vec::new(),
                        cursor: None,
                    })
                }
            }
        }
        match (&caller.customer_id, spec.readers) {
            (Some(me), Readers::Owner) => q.customer = RefFilter::Is(me.clone()),
            (None, _) => {
                if let Some(c) = &lq.customer_id {
                    q.customer = RefFilter::Is(c.clone());
                }
            }
            _ => {}
        }
        let limit = q.limit - 1;
        let mut items = self.store.find_elements(&q).await.map_err(store_error)?;
        let cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(ListPage { items, cursor })
    }
}
