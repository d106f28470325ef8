//! The registry of workspace element types (docs/spec/semantics.md §0,
//! docs/spec/api-surface.md §3.2).
//!
//! Every behaviour that differs between types is data here — paths, id prefix, who
//! may write, how the type is layered, which field points at its parent, and the
//! type's own fields — so one generic element core serves them all.

use serde::{Deserialize, Serialize};

use crate::fields::{field, FieldKind::*, FieldSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ElementType {
    Customer,
    Connector,
    Integration,
    Connection,
    Package,
    Action,
    ActionInstance,
    Flow,
    FlowInstance,
    FieldMapping,
    FieldMappingInstance,
    DataSource,
    DataSourceInstance,
    DataLinkTable,
    DataLinkTableInstance,
    AppEventType,
    AppEventSubscription,
    AppDataSchema,
    AppDataSchemaInstance,
    ExternalEventSubscription,
    Screen,
}

/// Who may create, change and archive elements of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    /// Workspace definitions: admin tokens only.
    Admin,
    /// Customer-owned records (connections, instances): the owning customer or an admin.
    Owner,
    /// Created by the engine only (subscriptions it manages).
    Engine,
    /// Not writable through this build at all; the text says what is missing.
    Unavailable(&'static str),
}

/// Who may read elements of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// Every token of the workspace.
    Workspace,
    /// The owning customer and admins.
    Owner,
}

/// How a type sits in the universal → integration → connection layering
/// (docs/spec/api-surface.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layering {
    /// Not layered (customers, connectors, integrations, screens, …).
    None,
    /// Universal (no integration) or integration-level with an optional universal
    /// parent of the same type.
    IntegrationLevel,
    /// A connection-level instance of an element of another type.
    Instance(ElementType),
}

#[derive(Debug)]
pub struct TypeSpec {
    pub element_type: ElementType,
    /// `WorkspaceElementType` name, e.g. `flow-instance`.
    pub name: &'static str,
    /// Collection path, e.g. `flow-instances`.
    pub api_path: &'static str,
    /// Singular path for object selectors (style B), e.g. `flow-instance`.
    pub singular_path: Option<&'static str>,
    /// Prefix of server-assigned ids, so an id names its type.
    pub id_prefix: &'static str,
    pub has_key: bool,
    pub writers: Writers,
    pub readers: Readers,
    pub layering: Layering,
    /// API name of the field that holds the direct parent's id.
    pub parent_field: Option<&'static str>,
    /// API name of the field that holds the universal (root) parent's id, on types
    /// where it differs from `parent_field` (instances).
    pub universal_parent_field: Option<&'static str>,
    /// May reference an integration (`integrationId`/`Key`/`Uuid`).
    pub has_integration: bool,
    /// The type's own stored fields, beyond the envelope.
    pub fields: &'static [&'static [FieldSpec]],
    /// Fields a create request must carry.
    pub required_on_create: &'static [&'static str],
}

impl ElementType {
    pub const ALL: [ElementType; 21] = [
        ElementType::Customer,
        ElementType::Connector,
        ElementType::Integration,
        ElementType::Connection,
        ElementType::Package,
        ElementType::Action,
        ElementType::ActionInstance,
        ElementType::Flow,
        ElementType::FlowInstance,
        ElementType::FieldMapping,
        ElementType::FieldMappingInstance,
        ElementType::DataSource,
        ElementType::DataSourceInstance,
        ElementType::DataLinkTable,
        ElementType::DataLinkTableInstance,
        ElementType::AppEventType,
        ElementType::AppEventSubscription,
        ElementType::AppDataSchema,
        ElementType::AppDataSchemaInstance,
        ElementType::ExternalEventSubscription,
        ElementType::Screen,
    ];

    pub fn spec(self) -> &'static TypeSpec {
        SPECS
            .iter()
            .find(|s| s.element_type == self)
            .expect("every element type has a spec")
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn from_name(name: &str) -> Option<ElementType> {
        SPECS
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.element_type)
    }

    pub fn from_api_path(path: &str) -> Option<ElementType> {
        SPECS
            .iter()
            .find(|s| s.api_path == path)
            .map(|s| s.element_type)
    }

    pub fn from_singular_path(path: &str) -> Option<ElementType> {
        SPECS
            .iter()
            .find(|s| s.singular_path == Some(path))
            .map(|s| s.element_type)
    }

    /// Whether `s` has the shape of an id of this type (`{prefix}_…`).
    pub fn is_id(self, s: &str) -> bool {
        s.strip_prefix(self.spec().id_prefix)
            .is_some_and(|rest| rest.starts_with('_'))
    }

    /// The instance type of a layered element type, if it has one.
    pub fn instance_type(self) -> Option<ElementType> {
        SPECS
            .iter()
            .find(|s| s.layering == Layering::Instance(self))
            .map(|s| s.element_type)
    }

    /// Types that may be put into a package (`canBeAddedToPackage`).
    pub fn can_be_in_package(self) -> bool {
        matches!(
            self,
            ElementType::Action
                | ElementType::Flow
                | ElementType::FieldMapping
                | ElementType::DataSource
                | ElementType::DataLinkTable
                | ElementType::AppEventType
                | ElementType::AppDataSchema
        )
    }
}

pub const ACTION_TYPES: &[&str] = &[
    "list-data-records",
    "find-data-record-by-id",
    "match-data-record",
    "create-data-record",
    "find-or-create-data-record",
    "update-data-record",
    "delete-data-record",
    "search-data-record",
    "connector-operation",
    "api-request-to-external-app",
    "api-request-to-your-app",
    "http-request",
    "run-javascript",
    "api-request",
];

pub const AUTH_TYPES: &[&str] = &[
    "integration-app-token",
    "membrane-token",
    "oauth2",
    "oauth1",
    "client-credentials",
    "proxy",
];

const INTEGRATION_FIELDS: &[FieldSpec] = &[
    field("logoUri", String),
    field("externalAppId", String),
    field("externalAppUuid", String),
    field("appUuid", String),
    field("oAuthCallbackUri", UrlOrEmpty),
    field("logoBase64", String),
    field("connectorVersion", String),
    field("parameters", Object),
    field("optionsConfig", Object),
];

const CONNECTOR_FUNCTIONS: &[FieldSpec] = &[
    field("getCredentialsFromConnectionParameters", Object),
    field("refreshCredentials", Object),
    field("makeApiClient", Object),
    field("getOAuthConfig", Object),
    field("getTokenData", Object),
    field("getCredentialsFromAccessTokenResponse", Object),
    field("getCredentialsFromRefreshTokenResponse", Object),
    field("test", Object),
    field("disconnect", Object),
];

const CONNECTOR_FIELDS: &[FieldSpec] = &[
    field("logoUri", String),
    field("externalAppId", String),
    field("externalAppUuid", String),
    field("appUuid", String),
    field("categories", StringArray),
    field("type", Enum(AUTH_TYPES)),
    field("customCredentialsSchema", Schema),
    field("inputSchema", Schema),
    field("parametersSchema", Schema),
    field("proxyKey", String),
    field("ui", Object),
    field("options", Object),
    // The rest of a connector definition in the Membrane layout (docs/spec/semantics.md §1.1-1.2).
    field("baseUri", String),
    field("version", String),
    field("appUri", String),
    field("status", Enum(&["production", "beta", "planned"])),
    field("auth", Object),
    field("api", Object),
    field("data", Object),
    field("operations", Any),
    field("events", Object),
    field("globalWebhooks", Object),
    field("udm", Object),
    field("udms", StringArray),
    field("docs", Any),
];

const ACTION_FIELDS: &[FieldSpec] = &[
    field("inputSchema", Schema),
    field("type", Enum(ACTION_TYPES)),
    field("config", Object),
    field("outputMapping", Any),
    field("customOutputSchema", Schema),
];

const FLOW_FIELDS: &[FieldSpec] = &[
    field("parametersSchema", Schema),
    field("parameters", Any),
    field("enabled", Bool),
    field("nodes", Object),
    field("autoCreateInstances", Bool),
];

const FLOW_INSTANCE_FIELDS: &[FieldSpec] = &[field("customized", Object)];

const DATA_SOURCE_FIELDS: &[FieldSpec] = &[
    field("udm", String),
    field("pullUpdatesIntervalSeconds", NumberAtLeast(60)),
    field("fullSyncIntervalSeconds", NumberAtLeast(60)),
    field("collectionKey", String),
    field("collectionParameters", Any),
    field("path", String),
    field("defaultPath", String),
];

const DATA_SOURCE_INSTANCE_FIELDS: &[FieldSpec] = &[field("subscribedTo", Object)];

const FIELD_MAPPING_FIELDS: &[FieldSpec] = &[
    field("dataSourceId", String),
    field("dataSourceUuid", String),
    field("dataSourceKey", String),
    field("appSchema", Schema),
    field("direction", Enum(&["import", "export", "both"])),
    field("defaultImportValue", Any),
    field("defaultExportValue", Any),
    field("importValue", Any),
    field("exportValue", Any),
    field("unifiedImportValue", Any),
    field("unifiedExportValue", Any),
    field("frozenImportFields", Any),
    field("frozenExportFields", Any),
    field("frozenUnifiedExportFields", Any),
];

const APP_DATA_SCHEMA_FIELDS: &[FieldSpec] = &[field("schema", Schema), field("code", String)];

const APP_EVENT_TYPE_FIELDS: &[FieldSpec] = &[
    field("schema", Schema),
    field("example", Any),
    field("subscribeRequest", Object),
    field("userIdFormula", Any),
    field("tenantIdFormula", Any),
];

const PACKAGE_FIELDS: &[FieldSpec] = &[
    field("scenarioTemplateId", String),
    field("elements", ObjectArray),
];

const SCREEN_FIELDS: &[FieldSpec] = &[
    field("type", Enum(&["integration"])),
    field("blocks", ObjectArray),
];

const CUSTOMER_FIELDS: &[FieldSpec] = &[
    field("internalId", String),
    field("fields", Any),
    field("credentials", Any),
    field("aiCreditsRolling30DayLimit", NullableNumber),
];

const CONNECTION_FIELDS: &[FieldSpec] = &[
    field("authOptionKey", String),
    field("connectorVersion", String),
    field("externalAppId", String),
    field("connectorParameters", Any),
    field("input", Any),
];

const NONE: &[FieldSpec] = &[];

macro_rules! spec {
    ($t:ident, $name:literal, $path:literal, $singular:expr, $prefix:literal, key: $key:literal,
     writers: $w:expr, readers: $r:ident, layering: $l:expr, parent: $p:expr, universal_parent: $up:expr,
     integration: $i:literal, fields: $f:expr, required: $req:expr) => {
        TypeSpec {
            element_type: ElementType::$t,
            name: $name,
            api_path: $path,
            singular_path: $singular,
            id_prefix: $prefix,
            has_key: $key,
            writers: $w,
            readers: Readers::$r,
            layering: $l,
            parent_field: $p,
            universal_parent_field: $up,
            has_integration: $i,
            fields: $f,
            required_on_create: $req,
        }
    };
}

use Layering::{Instance, IntegrationLevel};

pub static SPECS: [TypeSpec; 21] = [
    spec!(Customer, "customer", "customers", Some("customer"), "cus", key: false, writers: Writers::Admin, readers: Owner,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[CUSTOMER_FIELDS], required: &["name"]),
    spec!(Connector, "connector", "connectors", None, "con", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[CONNECTOR_FIELDS, CONNECTOR_FUNCTIONS], required: &[]),
    spec!(Integration, "integration", "integrations", Some("integration"), "int", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[INTEGRATION_FIELDS], required: &[]),
    spec!(Connection, "connection", "connections", None, "cnn", key: true,
        writers: Writers::Owner, readers: Owner,
        layering: Layering::None, parent: None, universal_parent: None, integration: true,
        fields: &[CONNECTION_FIELDS], required: &[]),
    spec!(Package, "package", "packages", Some("package"), "pkg", key: true, writers: Writers::Admin, readers: Workspace,
        layering: IntegrationLevel, parent: Some("parentId"), universal_parent: None, integration: true,
        fields: &[PACKAGE_FIELDS], required: &[]),
    spec!(Action, "action", "actions", Some("action"), "act", key: true, writers: Writers::Admin, readers: Workspace,
        layering: IntegrationLevel, parent: Some("parentId"), universal_parent: None, integration: true,
        fields: &[ACTION_FIELDS], required: &[]),
    spec!(ActionInstance, "action-instance", "action-instances", Some("action-instance"), "aci", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::Action), parent: Some("parentId"), universal_parent: Some("universalParentId"), integration: true,
        fields: &[ACTION_FIELDS], required: &[]),
    spec!(Flow, "flow", "flows", Some("flow"), "flw", key: true, writers: Writers::Admin, readers: Workspace,
        layering: IntegrationLevel, parent: Some("universalFlowId"), universal_parent: None, integration: true,
        fields: &[FLOW_FIELDS], required: &[]),
    spec!(FlowInstance, "flow-instance", "flow-instances", Some("flow-instance"), "fli", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::Flow), parent: Some("flowId"), universal_parent: Some("universalFlowId"), integration: true,
        fields: &[FLOW_FIELDS, FLOW_INSTANCE_FIELDS], required: &[]),
    spec!(FieldMapping, "field-mapping", "field-mappings", Some("field-mapping"), "fmp", key: true, writers: Writers::Admin, readers: Workspace,
        layering: IntegrationLevel, parent: Some("universalFieldMappingId"), universal_parent: None, integration: true,
        fields: &[FIELD_MAPPING_FIELDS], required: &[]),
    spec!(FieldMappingInstance, "field-mapping-instance", "field-mapping-instances", Some("field-mapping-instance"), "fmi", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::FieldMapping), parent: Some("fieldMappingId"), universal_parent: Some("universalFieldMappingId"), integration: true,
        fields: &[FIELD_MAPPING_FIELDS], required: &[]),
    spec!(DataSource, "data-source", "data-sources", Some("data-source"), "dsr", key: true, writers: Writers::Admin, readers: Workspace,
        layering: IntegrationLevel, parent: Some("universalDataSourceId"), universal_parent: None, integration: true,
        fields: &[DATA_SOURCE_FIELDS], required: &[]),
    spec!(DataSourceInstance, "data-source-instance", "data-source-instances", Some("data-source-instance"), "dsi", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::DataSource), parent: Some("dataSourceId"), universal_parent: Some("universalDataSourceId"), integration: true,
        fields: &[DATA_SOURCE_FIELDS, DATA_SOURCE_INSTANCE_FIELDS], required: &[]),
    spec!(DataLinkTable, "data-link-table", "data-link-tables", Some("data-link-table"), "dlt", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[NONE], required: &[]),
    spec!(DataLinkTableInstance, "data-link-table-instance", "data-link-table-instances", Some("data-link-table-instance"), "dli", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::DataLinkTable), parent: Some("dataLinkTableId"), universal_parent: None, integration: true,
        fields: &[NONE], required: &[]),
    spec!(AppEventType, "app-event-type", "app-event-types", Some("app-event-type"), "aet", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[APP_EVENT_TYPE_FIELDS], required: &[]),
    spec!(AppEventSubscription, "app-event-subscription", "app-event-subscriptions", Some("app-event-subscription"), "aes", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::AppEventType), parent: Some("appEventTypeId"), universal_parent: None, integration: false,
        fields: &[NONE], required: &[]),
    spec!(AppDataSchema, "app-data-schema", "app-data-schemas", Some("app-data-schema"), "ads", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[APP_DATA_SCHEMA_FIELDS], required: &[]),
    spec!(AppDataSchemaInstance, "app-data-schema-instance", "app-data-schema-instances", Some("app-data-schema-instance"), "adi", key: true, writers: Writers::Owner, readers: Owner,
        layering: Instance(ElementType::AppDataSchema), parent: Some("appDataSchemaId"), universal_parent: None, integration: false,
        fields: &[APP_DATA_SCHEMA_FIELDS], required: &[]),
    spec!(ExternalEventSubscription, "external-event-subscription", "external-event-subscriptions", None, "ees", key: false, writers: Writers::Engine, readers: Owner,
        layering: Layering::None, parent: None, universal_parent: None, integration: true,
        fields: &[NONE], required: &[]),
    spec!(Screen, "screen", "screens", Some("screen"), "scr", key: true, writers: Writers::Admin, readers: Workspace,
        layering: Layering::None, parent: None, universal_parent: None, integration: false,
        fields: &[SCREEN_FIELDS], required: &["type"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_exactly_one_spec_with_unique_paths_and_prefixes() {
        for t in ElementType::ALL {
            assert_eq!(
                SPECS.iter().filter(|s| s.element_type == t).count(),
                1,
                "{t:?}"
            );
        }
        let mut paths: Vec<_> = SPECS.iter().map(|s| s.api_path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), SPECS.len());
        let mut prefixes: Vec<_> = SPECS.iter().map(|s| s.id_prefix).collect();
        prefixes.sort();
        prefixes.dedup();
        assert_eq!(prefixes.len(), SPECS.len());
    }

    #[test]
    fn instance_types_point_at_their_element_type() {
        assert_eq!(
            ElementType::Flow.instance_type(),
            Some(ElementType::FlowInstance)
        );
        assert_eq!(ElementType::Integration.instance_type(), None);
        assert_eq!(
            ElementType::from_singular_path("flow-instance"),
            Some(ElementType::FlowInstance)
        );
    }
}
