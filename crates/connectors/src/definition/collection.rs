//! Data collections inside a connector: the `DataCollectionSpec` plus the function
//! implementing each method and helper.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::DefinitionError;
use super::function_def::{self, FunctionDef, IMPLEMENTATION_KEYS};

/// The methods of a collection (`DataLocationTypeCollection.methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectionMethod {
    List,
    FindById,
    Search,
    Match,
    Create,
    Update,
    Delete,
    Find,
}

impl CollectionMethod {
    pub const ALL: [CollectionMethod; 8] = [
        CollectionMethod::List,
        CollectionMethod::FindById,
        CollectionMethod::Search,
        CollectionMethod::Match,
        CollectionMethod::Create,
        CollectionMethod::Update,
        CollectionMethod::Delete,
        CollectionMethod::Find,
    ];

    /// The spec key (`findById`).
    pub fn name(self) -> &'static str {
        match self {
            CollectionMethod::List => "list",
            CollectionMethod::FindById => "findById",
            CollectionMethod::Search => "search",
            CollectionMethod::Match => "match",
            CollectionMethod::Create => "create",
            CollectionMethod::Update => "update",
            CollectionMethod::Delete => "delete",
            CollectionMethod::Find => "find",
        }
    }

    /// The file stem and API path segment (`find-by-id`).
    pub fn file_stem(self) -> &'static str {
        match self {
            CollectionMethod::FindById => "find-by-id",
            other => other.name(),
        }
    }

    /// Accepts the spec key or the path segment.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name || m.file_stem() == name)
    }
}

/// Collection-level helper functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectionHelper {
    RecordFromApi,
    FieldsFromApi,
    FieldsToApi,
    RecordFromFields,
    RecordToApi,
    CustomFieldsSchema,
}

impl CollectionHelper {
    pub const ALL: [CollectionHelper; 6] = [
        CollectionHelper::RecordFromApi,
        CollectionHelper::FieldsFromApi,
        CollectionHelper::FieldsToApi,
        CollectionHelper::RecordFromFields,
        CollectionHelper::RecordToApi,
        CollectionHelper::CustomFieldsSchema,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CollectionHelper::RecordFromApi => "recordFromApi",
            CollectionHelper::FieldsFromApi => "fieldsFromApi",
            CollectionHelper::FieldsToApi => "fieldsToApi",
            CollectionHelper::RecordFromFields => "recordFromFields",
            CollectionHelper::RecordToApi => "recordToApi",
            CollectionHelper::CustomFieldsSchema => "customFieldsSchema",
        }
    }

    pub fn file_stem(self) -> &'static str {
        match self {
            CollectionHelper::RecordFromApi => "record-from-api",
            CollectionHelper::FieldsFromApi => "fields-from-api",
            CollectionHelper::FieldsToApi => "fields-to-api",
            CollectionHelper::RecordFromFields => "record-from-fields",
            CollectionHelper::RecordToApi => "record-to-api",
            CollectionHelper::CustomFieldsSchema => "custom-fields-schema",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|h| h.name() == name || h.file_stem() == name)
    }
}

/// How a collection detects one type of change (`events.<created|updated|deleted|all>`,
/// semantics §2.4): the implementation type as written (`webhook`,
/// `pull-latest-records`, `custom-pull`, `full-scan`, …) and its functions by name,
/// inline in the entry or from the files `events-<type>-<function>.<suffix>`:
/// `pullLatestRecords` (`…-pull-latest-records`) for `pull-latest-records`;
/// `subscribe`, `handle`, `unsubscribe` and `refresh` (`…-webhook-subscribe`, …, and
/// the legacy `<type>-webhook-<function>`) for `webhook`. The functions of
/// `custom-pull` and `connector-event` are not read: the engine does not serve them.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionEvent {
    pub implementation: String,
    pub functions: BTreeMap<String, FunctionDef>,
}

impl CollectionEvent {
    pub fn function(&self, name: &str) -> Option<&FunctionDef> {
        self.functions.get(name)
    }
}

/// The field of an event entry holding its `pull-latest-records` function.
pub const PULL_LATEST_RECORDS: &str = "pullLatestRecords";

/// The functions of a `webhook` event entry (semantics §2.4).
pub const WEBHOOK_FUNCTIONS: [&str; 4] = ["subscribe", "handle", "unsubscribe", "refresh"];

/// The function fields an event entry may hold, with the implementation type
/// their file implies when the spec names none.
pub const EVENT_FUNCTIONS: [(&str, &str); 5] = [
    (PULL_LATEST_RECORDS, "pull-latest-records"),
    ("subscribe", "webhook"),
    ("handle", "webhook"),
    ("unsubscribe", "webhook"),
    ("refresh", "webhook"),
];

/// The event type and function a file stem of a collection folder names
/// (`events-created-webhook-handle` → `created`, `handle`), if it names one.
pub fn event_function_file(stem: &str) -> Option<(&str, &'static str, &'static str)> {
    if let Some(event_type) = stem
        .strip_prefix("events-")
        .and_then(|s| s.strip_suffix("-pull-latest-records"))
    {
        return Some((event_type, PULL_LATEST_RECORDS, "pull-latest-records"));
    }
    let rest = stem.strip_prefix("events-").unwrap_or(stem);
    WEBHOOK_FUNCTIONS.iter().find_map(|f| {
        let event_type = rest.strip_suffix(f)?.strip_suffix("-webhook-")?;
        (!event_type.is_empty()).then_some((event_type, *f, "webhook"))
    })
}

/// One data collection.
#[derive(Debug, Clone, PartialEq)]
pub struct DataCollection {
    pub key: String,
    /// The `DataCollectionSpec` with implementations removed (what
    /// `GET …/data/{key}` returns).
    pub spec: Value,
    pub methods: BTreeMap<CollectionMethod, FunctionDef>,
    pub helpers: BTreeMap<CollectionHelper, FunctionDef>,
    /// `events.<type>` by type (`created`, `updated`, `deleted`, `all`).
    pub events: BTreeMap<String, CollectionEvent>,
}

impl DataCollection {
    /// Parses `data.<key>`: the spec, where a method entry (`list: {…}`) may carry its
    /// implementation inline or under `methods.<name>`, and helpers sit beside it.
    pub fn from_value(key: &str, value: &Value) -> Result<Self, DefinitionError> {
        let location = format!("data.{key}");
        let Value::Object(object) = value else {
            return Err(DefinitionError::NotAnObject { location });
        };
        if let Some(t) = object.get("type") {
            if t != "collection" {
                return Err(DefinitionError::WrongType {
                    location,
                    field: "type".into(),
                    expected: "\"collection\"",
                });
            }
        }
        let methods_map = match object.get("methods") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(DefinitionError::WrongType {
                    location,
                    field: "methods".into(),
                    expected: "an object",
                })
            }
        };
        let mut spec = Map::new();
        spec.insert("type".into(), Value::String("collection".into()));
        spec.insert("key".into(), Value::String(key.to_owned()));
        spec.insert("name".into(), Value::String(key.to_owned()));
        let mut methods = BTreeMap::new();
        let mut helpers = BTreeMap::new();
        let mut events = BTreeMap::new();
        for (field, field_value) in object {
            if field == "methods" {
                continue;
            }
            if field == "events" {
                let (event_spec, parsed) = parse_events(field_value, &location)?;
                events = parsed;
                spec.insert(field.clone(), event_spec);
                continue;
            }
            if let Some(method) = CollectionMethod::parse(field).filter(|m| m.name() == field) {
                let Value::Object(entry) = field_value else {
                    return Err(DefinitionError::WrongType {
                        location,
                        field: field.clone(),
                        expected: "an object",
                    });
                };
                if function_def::has_implementation(entry) {
                    let def = FunctionDef::from_value(field_value, &format!("{location}.{field}"))?;
                    methods.insert(method, def);
                }
                let method_spec: Map<String, Value> = entry
                    .iter()
                    .filter(|(k, _)| !IMPLEMENTATION_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                spec.insert(field.clone(), Value::Object(method_spec));
                continue;
            }
            if let Some(helper) = CollectionHelper::parse(field).filter(|h| h.name() == field) {
                let def = FunctionDef::from_value(field_value, &format!("{location}.{field}"))?;
                helpers.insert(helper, def);
                continue;
            }
            spec.insert(field.clone(), field_value.clone());
        }
        if let Some(methods_map) = methods_map {
            for (name, def_value) in methods_map {
                let here = format!("{location}.methods.{name}");
                let Some(method) = CollectionMethod::parse(name) else {
                    return Err(DefinitionError::WrongType {
                        location: here,
                        field: name.clone(),
                        expected: "a collection method (list, findById, search, match, create, update, delete, find)",
                    });
                };
                let def = FunctionDef::from_value(def_value, &here)?;
                if let Some(previous) = methods.insert(method, def) {
                    return Err(DefinitionError::Duplicate {
                        location: here,
                        name: method.name().into(),
                        other: previous.origin,
                    });
                }
                spec.entry(method.name().to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
        }
        Ok(DataCollection {
            key: key.to_owned(),
            spec: Value::Object(spec),
            methods,
            helpers,
            events,
        })
    }

    /// How changes of `event_type` (`created`, `updated`, `deleted`) are detected:
    /// its own entry, else `events.all`.
    pub fn event(&self, event_type: &str) -> Option<&CollectionEvent> {
        self.events
            .get(event_type)
            .or_else(|| self.events.get("all"))
    }

    pub fn method(&self, method: CollectionMethod) -> Option<&FunctionDef> {
        self.methods.get(&method)
    }

    pub fn helper(&self, helper: CollectionHelper) -> Option<&FunctionDef> {
        self.helpers.get(&helper)
    }

    /// `list.filterFields`, when the spec restricts list filters.
    pub fn filter_fields(&self) -> Option<Vec<String>> {
        let fields = self.spec.get("list")?.get("filterFields")?.as_array()?;
        Some(
            fields
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

/// `events` of a collection: the spec without functions, and each entry parsed.
fn parse_events(
    value: &Value,
    location: &str,
) -> Result<(Value, BTreeMap<String, CollectionEvent>), DefinitionError> {
    let here = format!("{location}.events");
    let Value::Object(entries) = value else {
        return Err(DefinitionError::WrongType {
            location: location.to_owned(),
            field: "events".into(),
            expected: "an object",
        });
    };
    let mut spec = Map::new();
    let mut events = BTreeMap::new();
    for (event_type, entry) in entries {
        let Value::Object(entry) = entry else {
            return Err(DefinitionError::WrongType {
                location: here,
                field: event_type.clone(),
                expected: "an object",
            });
        };
        let implementation = entry
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("full-scan")
            .to_owned();
        let mut functions = BTreeMap::new();
        let mut shown = entry.clone();
        for (name, _) in EVENT_FUNCTIONS {
            match shown.remove(name) {
                None | Some(Value::Null) => {}
                Some(def) => {
                    let def =
                        FunctionDef::from_value(&def, &format!("{here}.{event_type}.{name}"))?;
                    functions.insert(name.to_owned(), def);
                }
            }
        }
        spec.insert(event_type.clone(), Value::Object(shown));
        events.insert(
            event_type.clone(),
            CollectionEvent {
                implementation,
                functions,
            },
        );
    }
    Ok((Value::Object(spec), events))
}
