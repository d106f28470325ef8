//! Connector definitions: the parsed, validated form of a connector, read from the
//! JSON the API stores ([`Connector::from_value`]) or from a folder in the Membrane
//! layout ([`Connector::load_dir`]).
//!
//! The stored shape is the SDK's `ConnectorVersionData`: auth type, schemas and the
//! auth functions at the top level (or, in the older layout, under `auth`; a
//! `functions` map is accepted too), `options` of alternative auth methods,
//! `operations`, `data` collections, connector `events` and `globalWebhooks`
//! ([`EventSpec`]). Functions are objects
//! `{type | implementationType, mapping | code | …}`.

mod auth_function;
mod collection;
mod error;
mod events;
mod folder;
mod function_def;

use std::collections::BTreeMap;

use osmosis_model::element_type::AUTH_TYPES;
use serde_json::{Map, Value};

pub use auth_function::AuthFunction;
pub use collection::{
    CollectionEvent, CollectionHelper, CollectionMethod, DataCollection, PULL_LATEST_RECORDS,
};
pub use error::DefinitionError;
pub use events::{EventSpec, CONNECTOR_EVENT_FUNCTIONS, GLOBAL_WEBHOOK_FUNCTIONS};
pub use folder::{assemble_dir, assemble_from, Disk, FileList, FolderSource};
pub use function_def::{
    FileKind, FunctionDef, GraphqlApiMapping, GraphqlField, GraphqlRequest, Implementation,
    ImplementationType, OperationMapping, RestApiMapping,
};

/// `ConnectorAuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    OAuth2,
    OAuth1,
    ClientCredentials,
    MembraneToken,
    IntegrationAppToken,
    Proxy,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::OAuth2 => "oauth2",
            AuthType::OAuth1 => "oauth1",
            AuthType::ClientCredentials => "client-credentials",
            AuthType::MembraneToken => "membrane-token",
            AuthType::IntegrationAppToken => "integration-app-token",
            AuthType::Proxy => "proxy",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            AuthType::OAuth2,
            AuthType::OAuth1,
            AuthType::ClientCredentials,
            AuthType::MembraneToken,
            AuthType::IntegrationAppToken,
            AuthType::Proxy,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// The auth part of a connector, or of one of its options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthConfig {
    pub auth_type: Option<AuthType>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    pub parameters_schema: Option<Value>,
    pub credentials_schema: Option<Value>,
    pub custom_credentials_schema: Option<Value>,
    pub proxy_key: Option<String>,
    pub functions: BTreeMap<AuthFunction, FunctionDef>,
}

impl AuthConfig {
    pub fn function(&self, function: AuthFunction) -> Option<&FunctionDef> {
        self.functions.get(&function)
    }
}

/// A connector operation: `{key, name, inputSchema, outputSchema}` and its `run`
/// implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    pub run: FunctionDef,
}

/// A parsed connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    pub key: Option<String>,
    pub name: Option<String>,
    pub auth: AuthConfig,
    pub options: BTreeMap<String, AuthConfig>,
    pub operations: BTreeMap<String, Operation>,
    pub data_collections: BTreeMap<String, DataCollection>,
    /// Connector events (`events.<key>`, `events/<key>/`), see [`EventSpec`].
    pub events: BTreeMap<String, EventSpec>,
    /// Global webhooks (`globalWebhooks.<key>`, `global-webhooks/<key>/`).
    pub global_webhooks: BTreeMap<String, EventSpec>,
    /// The definition as given (folder loads: as assembled), for spec responses.
    pub raw: Value,
}

impl Connector {
    /// Parses the stored JSON (or YAML turned JSON) shape and validates it: auth
    /// types, implementation types each function allows, operation references.
    pub fn from_value(value: &Value) -> Result<Self, DefinitionError> {
        let Value::Object(root) = value else {
            return Err(DefinitionError::NotAnObject {
                location: "connector".into(),
            });
        };
        let key = opt_string(root, "connector", "key")?;
        let name = opt_string(root, "connector", "name")?;

        // Older layout nests auth under `auth`; newer puts it at the top level. Both
        // plus a `functions` map are read, `auth` winning over the top level.
        let mut auth_fields = root.clone();
        if let Some(auth) = root.get("auth") {
            let Value::Object(auth) = auth else {
                return Err(DefinitionError::WrongType {
                    location: "connector".into(),
                    field: "auth".into(),
                    expected: "an object",
                });
            };
            for (k, v) in auth {
                if is_function_name(k) && root.contains_key(k) {
                    return Err(DefinitionError::Duplicate {
                        location: format!("auth.{k}"),
                        name: k.clone(),
                        other: k.clone(),
                    });
                }
                auth_fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(functions) = root.get("functions") {
            let Value::Object(functions) = functions else {
                return Err(DefinitionError::WrongType {
                    location: "connector".into(),
                    field: "functions".into(),
                    expected: "an object",
                });
            };
            for (k, v) in functions {
                if auth_fields.contains_key(k) {
                    return Err(DefinitionError::Duplicate {
                        location: format!("functions.{k}"),
                        name: k.clone(),
                        other: "the connector's own fields or `auth`".into(),
                    });
                }
                auth_fields.insert(k.clone(), v.clone());
            }
        }
        let auth = parse_auth(&auth_fields, "connector")?;

        let mut options = BTreeMap::new();
        let option_source = auth_fields.get("options");
        if let Some(option_values) = option_source {
            let Value::Object(option_values) = option_values else {
                return Err(DefinitionError::WrongType {
                    location: "connector".into(),
                    field: "options".into(),
                    expected: "an object of auth options",
                });
            };
            for (option_key, option) in option_values {
                let location = format!("options.{option_key}");
                let Value::Object(option) = option else {
                    return Err(DefinitionError::NotAnObject { location });
                };
                options.insert(option_key.clone(), parse_auth(option, &location)?);
            }
        }

        let operations = parse_operations(root.get("operations"))?;
        let mut data_collections = BTreeMap::new();
        if let Some(data) = root.get("data") {
            let Value::Object(data) = data else {
                return Err(DefinitionError::WrongType {
                    location: "connector".into(),
                    field: "data".into(),
                    expected: "an object of data collections",
                });
            };
            for (collection_key, spec) in data {
                let collection = DataCollection::from_value(collection_key, spec)?;
                data_collections.insert(collection_key.clone(), collection);
            }
        }

        let events = events::parse_map(root, "events", &CONNECTOR_EVENT_FUNCTIONS)?;
        let global_webhooks = events::parse_map(root, "globalWebhooks", &GLOBAL_WEBHOOK_FUNCTIONS)?;
        let connector = Connector {
            key,
            name,
            auth,
            options,
            operations,
            data_collections,
            events,
            global_webhooks,
            raw: value.clone(),
        };
        connector.check_operation_references()?;
        Ok(connector)
    }

    /// The effective auth config of an option (`getEffectiveConnectorOption`): the
    /// option over the connector, schemas merged, `makeApiClient`/`test`/`disconnect`
    /// falling back to the connector's. Option key `""` is the connector itself.
    /// `None` for an unknown option.
    pub fn effective_auth(&self, option_key: &str) -> Option<AuthConfig> {
        let Some(option) = self.options.get(option_key) else {
            return (option_key.is_empty()).then(|| self.auth.clone());
        };
        let merge = |a: &Option<Value>, b: &Option<Value>| match (a, b) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => {
                osmosis_runtime::schema::merge_schema_values(vec![Some(x.clone()), Some(y.clone())])
                    .ok()
                    .flatten()
            }
        };
        let mut functions = option.functions.clone();
        for inherited in [
            AuthFunction::MakeApiClient,
            AuthFunction::Test,
            AuthFunction::Disconnect,
        ] {
            if let (None, Some(def)) = (functions.get(&inherited), self.auth.function(inherited)) {
                functions.insert(inherited, def.clone());
            }
        }
        Some(AuthConfig {
            auth_type: option.auth_type.or(self.auth.auth_type),
            title: option.title.clone().or_else(|| self.auth.title.clone()),
            description: option
                .description
                .clone()
                .or_else(|| self.auth.description.clone()),
            input_schema: merge(&self.auth.input_schema, &option.input_schema),
            parameters_schema: merge(&self.auth.parameters_schema, &option.parameters_schema),
            credentials_schema: merge(&self.auth.credentials_schema, &option.credentials_schema),
            custom_credentials_schema: option
                .custom_credentials_schema
                .clone()
                .or_else(|| self.auth.custom_credentials_schema.clone()),
            proxy_key: option
                .proxy_key
                .clone()
                .or_else(|| self.auth.proxy_key.clone()),
            functions,
        })
    }

    pub fn operation(&self, key: &str) -> Option<&Operation> {
        self.operations.get(key)
    }

    pub fn data_collection(&self, key: &str) -> Option<&DataCollection> {
        self.data_collections.get(key)
    }

    /// Connector event `key`.
    pub fn event(&self, key: &str) -> Option<&EventSpec> {
        self.events.get(key)
    }

    /// Global webhook `key`.
    pub fn global_webhook(&self, key: &str) -> Option<&EventSpec> {
        self.global_webhooks.get(key)
    }

    /// Every function of the connector with where it lives, for validation.
    fn all_functions(&self) -> Vec<&FunctionDef> {
        let mut all: Vec<&FunctionDef> = self.auth.functions.values().collect();
        for option in self.options.values() {
            all.extend(option.functions.values());
        }
        for operation in self.operations.values() {
            all.push(&operation.run);
        }
        for collection in self.data_collections.values() {
            all.extend(collection.methods.values());
            all.extend(collection.helpers.values());
        }
        for spec in self.events.values().chain(self.global_webhooks.values()) {
            all.extend(spec.functions.values());
        }
        all
    }

    fn check_operation_references(&self) -> Result<(), DefinitionError> {
        for def in self.all_functions() {
            if let Implementation::Operation(mapping) = &def.implementation {
                if !self.operations.contains_key(&mapping.operation_key) {
                    return Err(DefinitionError::UnknownOperation {
                        location: def.origin.clone(),
                        operation: mapping.operation_key.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn is_function_name(name: &str) -> bool {
    AuthFunction::ALL.iter().any(|f| f.name() == name)
}

pub(crate) fn opt_string(
    object: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<Option<String>, DefinitionError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DefinitionError::WrongType {
            location: location.to_owned(),
            field: field.to_owned(),
            expected: "a string",
        }),
    }
}

fn opt_schema(
    object: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<Option<Value>, DefinitionError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(DefinitionError::WrongType {
            location: location.to_owned(),
            field: field.to_owned(),
            expected: "a JSON Schema object",
        }),
    }
}

fn parse_auth(object: &Map<String, Value>, location: &str) -> Result<AuthConfig, DefinitionError> {
    let auth_type = match opt_string(object, location, "type")? {
        None => None,
        Some(name) => {
            Some(
                AuthType::parse(&name).ok_or_else(|| DefinitionError::UnknownAuthType {
                    location: format!("{location}.type"),
                    found: name,
                    expected: AUTH_TYPES.join(", "),
                })?,
            )
        }
    };
    let input_schema = match opt_schema(object, location, "inputSchema")? {
        Some(schema) => Some(schema),
        // `ui.schema` is the deprecated spelling of `inputSchema`.
        None => object
            .get("ui")
            .and_then(|ui| ui.get("schema"))
            .filter(|s| s.is_object())
            .cloned(),
    };
    let mut functions = BTreeMap::new();
    for function in AuthFunction::ALL {
        let value = match object.get(function.name()) {
            Some(v) => Some(v),
            // `oAuthConfig` is an SDK alias of `getOAuthConfig`.
            None if function == AuthFunction::GetOAuthConfig => object.get("oAuthConfig"),
            None => None,
        };
        let Some(value) = value else { continue };
        if value.is_null() {
            continue;
        }
        let field_location = format!("{location}.{}", function.name());
        let def = FunctionDef::from_value(value, &field_location)?;
        let found = def.implementation.implementation_type();
        if found != ImplementationType::NotSupported && !function.allowed().contains(&found) {
            return Err(DefinitionError::ImplementationNotAllowed {
                location: def.origin,
                function: function.name().into(),
                found: found.as_str(),
                allowed: function
                    .allowed()
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        functions.insert(function, def);
    }
    Ok(AuthConfig {
        auth_type,
        title: opt_string(object, location, "title")?,
        description: opt_string(object, location, "description")?,
        input_schema,
        parameters_schema: opt_schema(object, location, "parametersSchema")?,
        credentials_schema: opt_schema(object, location, "credentialsSchema")?,
        custom_credentials_schema: opt_schema(object, location, "customCredentialsSchema")?,
        proxy_key: opt_string(object, location, "proxyKey")?,
        functions,
    })
}

fn parse_operations(value: Option<&Value>) -> Result<BTreeMap<String, Operation>, DefinitionError> {
    let mut operations = BTreeMap::new();
    let entries: Vec<(Option<String>, &Value, String)> = match value {
        None | Some(Value::Null) => return Ok(operations),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (None, v, format!("operations[{i}]")))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (Some(k.clone()), v, format!("operations.{k}")))
            .collect(),
        Some(_) => {
            return Err(DefinitionError::WrongType {
                location: "connector".into(),
                field: "operations".into(),
                expected: "an array or an object of operations",
            })
        }
    };
    for (map_key, value, location) in entries {
        let Value::Object(object) = value else {
            return Err(DefinitionError::NotAnObject { location });
        };
        let key = match (opt_string(object, &location, "key")?, map_key) {
            (Some(k), _) | (None, Some(k)) => k,
            (None, None) => {
                return Err(DefinitionError::MissingField {
                    location,
                    field: "key",
                })
            }
        };
        // `run`, or `methods.run` (the SDK's `ConnectorOperationHandler`), or the
        // implementation written on the operation itself.
        let run_value = object
            .get("run")
            .or_else(|| object.get("methods").and_then(|m| m.get("run")));
        let run = match run_value {
            Some(v) => FunctionDef::from_value(v, &format!("{location}.run"))?,
            None if function_def::has_implementation(object) => {
                FunctionDef::from_value(value, &location)?
            }
            None => {
                return Err(DefinitionError::MissingField {
                    location,
                    field: "run",
                })
            }
        };
        if operations.contains_key(&key) {
            return Err(DefinitionError::Duplicate {
                location,
                name: key,
                other: "another operation".into(),
            });
        }
        operations.insert(
            key.clone(),
            Operation {
                key,
                name: opt_string(object, &location, "name")?,
                description: opt_string(object, &location, "description")?,
                input_schema: opt_schema(object, &location, "inputSchema")?,
                output_schema: opt_schema(object, &location, "outputSchema")?,
                run,
            },
        );
    }
    Ok(operations)
}
