//! What an element type adds to the generic core, as one interface.
//!
//! The core (create, write, archive, refresh, render) calls these hooks at fixed
//! points and never names a type; each type implements the ones it needs in its own
//! module and is registered once (`types::hooks_of`). So adding an element type
//! touches the registry and its own module only, and the core imports neither the
//! types nor the connection lifecycle — they import it.

use async_trait::async_trait;
use osmosis_model::element_type::Layering;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

use super::Elements;
use super::{Depth, WriteMode};
use crate::Caller;
use crate::Engine;

/// What a type's [`ElementHooks::before_write`] decided.
pub enum BeforeWrite {
    /// Go on with the generic write of this body to this element.
    Continue {
        current: Element,
        body: Map<String, Value>,
    },
    /// The hook wrote the element itself; this is the result.
    Done(Element),
}

/// A type's behaviour at the core's fixed points. Every method has a default that
/// does nothing special, so a type implements only what it adds.
#[async_trait]
pub trait ElementHooks: Send + Sync + 'static {
    /// Validates the type's own fields and derives what it stores from them, before
    /// every write (create, patch, put, reset, refresh). `body` is the request body,
    /// for references only the type knows.
    async fn prepare(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        _el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Before the first insert. By default the same as [`ElementHooks::prepare`]; a
    /// connection connects here instead (nothing is stored when that fails).
    async fn before_insert(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        self.prepare(engine, caller, el, body).await
    }

    /// After the first insert landed (side effects that must not precede it).
    async fn after_insert(&self, _engine: &Engine, _el: &Element) {}

    /// Before a PATCH or PUT of a stored element; may take the write over.
    async fn before_write(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        current: Element,
        body: Map<String, Value>,
        _mode: WriteMode,
    ) -> Result<BeforeWrite, ApiError> {
        Ok(BeforeWrite::Continue { current, body })
    }

    /// After any stored change of an element of this type: node-local caches it
    /// invalidates.
    fn after_write(&self, _engine: &Engine, _before: &Element, _after: &Element) {}

    /// Before a live element is archived (a connection revokes its credentials).
    async fn before_archive(&self, _engine: &Engine, _caller: &Caller, _el: &Element) {}

    /// After a live element was archived.
    async fn after_archive(&self, _engine: &Engine, _el: &Element) {}

    /// `POST …/refresh` when it means something else than re-validating the element
    /// (a connection's is a credentials refresh). `None`: the generic refresh.
    async fn refresh(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        _current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        None
    }

    /// Adds the fields the type computes when it is read.
    async fn render(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        _el: &Element,
        _m: &mut Map<String, Value>,
        _depth: Depth,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// The scope within which an element's key must be unique
    /// (docs/spec/semantics.md §0): by default the integration for layered
    /// definitions, the (parent, connection, instance key) for instances, the
    /// workspace otherwise.
    fn key_scope(&self, el: &Element) -> String {
        default_key_scope(el)
    }

    /// The key an element created without one gets: by default its name as a slug,
    /// or its id when the name gives none; `None` when the type has no key.
    fn derived_key(&self, el: &Element) -> Option<String> {
        el.element_type.spec().has_key.then(|| {
            let slug = super::input::slugify(&el.name);
            if slug.is_empty() {
                el.id.clone()
            } else {
                slug
            }
        })
    }

    /// Whether changing the type's own fields of an element made from a parent marks
    /// it `isCustomized`.
    fn tracks_customization(&self) -> bool {
        true
    }

    /// Whether an instance of this type must name a connection when created.
    fn instance_needs_connection(&self) -> bool {
        true
    }
}

/// A type that adds nothing to the core.
pub struct NoHooks;

impl ElementHooks for NoHooks {}

pub(crate) fn default_key_scope(el: &Element) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    match el.element_type.spec().layering {
        Layering::IntegrationLevel => o(&el.integration_id),
        // One instance per (element, connection, instance key); an instance made
        // without a connection (an app data schema's, per customer) is its
        // customer's.
        Layering::Instance(_) => format!(
            "{}|{}|{}",
            o(&el.parent_id),
            el.connection_id
                .clone()
                .or_else(|| el.customer_id.as_ref().map(|c| format!("customer:{c}")))
                .unwrap_or_default(),
            o(&el.instance_key)
        ),
        Layering::None => String::new(),
    }
}

/// Where the engine finds each type's hooks; set once when the engine is built.
pub type HooksRegistry = fn(ElementType) -> &'static dyn ElementHooks;

impl Elements<'_> {
    /// The hooks of element type `t`.
    pub(crate) fn hooks(&self, t: ElementType) -> &'static dyn ElementHooks {
        (self.registry)(t)
    }

    /// The key scope of `el`, as its type defines it.
    pub(crate) fn key_scope(&self, el: &Element) -> String {
        self.hooks(el.element_type).key_scope(el)
    }
}
