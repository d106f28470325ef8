use osmosis_model::ElementType;

/// A condition on an optional reference column (integration, parent, connection, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum RefFilter {
    #[default]
    Any,
    /// The reference is unset.
    None,
    /// The reference is set, to anything.
    Some,
    Is(String),
}

/// What to look up in the element table. Every field narrows the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementQuery {
    pub workspace_id: String,
    pub element_type: ElementType,
    pub id: Option<String>,
    pub key: Option<String>,
    pub uuid: Option<String>,
    pub integration: RefFilter,
    pub parent: RefFilter,
    pub connection: RefFilter,
    pub instance_key: RefFilter,
    pub customer: RefFilter,
    pub include_archived: bool,
    /// Case-insensitive substring of name or key.
    pub search: Option<String>,
    /// Equality on scalar fields of the type's document, e.g. `("isTest", true)`.
    pub doc_equals: Vec<(String, serde_json::Value)>,
    /// Only elements after this position (the list cursor).
    pub after_seq: i64,
    pub limit: i64,
}

impl ElementQuery {
    pub fn new(workspace_id: &str, element_type: ElementType) -> Self {
        ElementQuery {
            workspace_id: workspace_id.to_string(),
            element_type,
            id: None,
            key: None,
            uuid: None,
            integration: RefFilter::Any,
            parent: RefFilter::Any,
            connection: RefFilter::Any,
            instance_key: RefFilter::Any,
            customer: RefFilter::Any,
            include_archived: false,
            search: None,
            doc_equals: Vec::new(),
            after_seq: 0,
            limit: 1000,
        }
    }
}
