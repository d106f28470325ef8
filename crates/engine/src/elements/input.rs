//! Reading the envelope part of a request body: identity, references and scope.
//!
//! References may be given as id, uuid or key (`integrationId`/`integrationUuid`/
//! `integrationKey`, `parentId`/…, and the type's own parent field such as
//! `universalFlowId`); they are resolved to ids here so rows only ever hold ids.

use crate::refs::Ref;
use osmosis_model::element_type::Layering;
use osmosis_model::patch::Patch;
use osmosis_model::{ApiError, ElementType};
use serde_json::{Map, Value};

use super::limits::{
    check_description, check_identifier, check_name, check_reference, validate_key, MAX_KEY_LEN,
};

/// Envelope fields a body may set, all optional; the [`Patch`] ones may also be
/// cleared with `null`.
#[derive(Debug, Default)]
pub(crate) struct EnvelopeInput {
    pub uuid: Option<String>,
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Patch<String>,
    pub meta: Patch<Map<String, Value>>,
    pub integration: Option<Ref>,
    pub parent: Option<Ref>,
    pub connection_id: Option<String>,
    pub instance_key: Patch<String>,
    pub is_universal: Option<bool>,
    pub external_app_id: Option<String>,
    pub revision: Option<String>,
}

fn string_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid_field(
            name,
            format!(
                "expected a string, got {}",
                osmosis_model::fields::json_type_name(other)
            ),
        )),
    }
}

/// Reads `{prefix}Id`, `{prefix}Uuid`, `{prefix}Key` (and an extra id field name);
/// at most one way of naming the element is allowed to disagree with none.
pub(crate) fn read_ref(
    body: &Map<String, Value>,
    id_fields: &[&str],
    uuid_field: &str,
    key_field: &str,
) -> Result<Option<Ref>, ApiError> {
    let named = |field: &str| -> Result<Option<String>, ApiError> {
        let value = string_field(body, field)?.filter(|v| !v.is_empty());
        if let Some(v) = &value {
            check_reference(field, v)?;
        }
        Ok(value)
    };
    for f in id_fields {
        if let Some(v) = named(f)? {
            return Ok(Some(Ref::Id(v)));
        }
    }
    if let Some(v) = named(uuid_field)? {
        return Ok(Some(Ref::Uuid(v)));
    }
    if let Some(v) = named(key_field)? {
        return Ok(Some(Ref::Key(v)));
    }
    Ok(None)
}

pub(crate) fn parse_envelope(
    t: ElementType,
    body: &Map<String, Value>,
) -> Result<EnvelopeInput, ApiError> {
    let spec = t.spec();
    let mut input = EnvelopeInput {
        uuid: string_field(body, "uuid")?,
        ..Default::default()
    };
    if let Some(uuid) = &input.uuid {
        check_identifier("uuid", uuid)?;
    }
    let key_field = if t == ElementType::Customer {
        "internalId"
    } else {
        "key"
    };
    if spec.has_key || t == ElementType::Customer {
        input.key = string_field(body, key_field)?;
        if let Some(key) = &input.key {
            validate_key(key_field, key)?;
        }
    }
    input.name = string_field(body, "name")?;
    if let Some(name) = &input.name {
        check_name("name", name)?;
    }
    if body.contains_key("description") {
        input.description = string_field(body, "description")?.into();
    }
    if let Some(description) = input.description.value() {
        check_description(description)?;
    }
    match body.get("meta") {
        None => {}
        Some(Value::Null) => input.meta = Patch::Null,
        Some(Value::Object(m)) => input.meta = Patch::Value(m.clone()),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "meta",
                format!(
                    "expected an object, got {}",
                    osmosis_model::fields::json_type_name(other)
                ),
            ))
        }
    }
    if spec.has_integration {
        input.integration = read_ref(
            body,
            &["integrationId"],
            "integrationUuid",
            "integrationKey",
        )?;
    }
    if let Some(parent_field) = spec.parent_field {
        let id_fields: &[&str] = if parent_field == "parentId" {
            &["parentId"]
        } else {
            &[parent_field, "parentId"]
        };
        input.parent = read_ref(body, id_fields, "parentUuid", "parentKey")?;
        if input.parent.is_none() {
            // Instance selectors name the parent by its type: `flowKey`, `dataSourceKey`, …
            if let Layering::Instance(parent_type) = spec.layering {
                let stem = camel_stem(parent_type);
                input.parent = read_ref(body, &[], &format!("{stem}Uuid"), &format!("{stem}Key"))?;
            }
        }
    }
    if matches!(
        spec.layering,
        Layering::Instance(_) | Layering::IntegrationLevel
    ) || t == ElementType::Connection
    {
        input.connection_id = string_field(body, "connectionId")?.filter(|s| !s.is_empty());
        if let Some(id) = &input.connection_id {
            check_reference("connectionId", id)?;
        }
        if body.contains_key("instanceKey") {
            let instance_key = string_field(body, "instanceKey")?.filter(|s| !s.is_empty());
            if let Some(k) = &instance_key {
                check_identifier("instanceKey", k)?;
            }
            input.instance_key = instance_key.into();
        }
    }
    match body.get("isUniversal") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => input.is_universal = Some(*b),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "isUniversal",
                format!(
                    "expected a boolean, got {}",
                    osmosis_model::fields::json_type_name(other)
                ),
            ))
        }
    }
    if spec.has_integration && !matches!(t, ElementType::Integration) {
        input.external_app_id = string_field(body, "externalAppId")?;
        if let Some(app) = &input.external_app_id {
            check_reference("externalAppId", app)?;
        }
    }
    input.revision = string_field(body, "revision")?;
    if let Some(intent) = string_field(body, "intent")? {
        if !intent.is_empty() {
            return Err(ApiError::bad_request(
                osmosis_model::error::keys::INVALID_FIELD,
                "Field `intent` is not supported: Osmosis has no agent that builds elements from instructions",
            )
            .with_data(serde_json::json!({ "field": "intent" })));
        }
    }
    Ok(input)
}

/// `flow-instance` → `flowInstance`: the stem of `…Id`/`…Key` query fields.
pub(crate) fn camel_stem(t: ElementType) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in t.name().chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A key derived from a name: lowercase words joined by dashes.
pub(crate) fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out.truncate(MAX_KEY_LEN - 8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_dashed_words() {
        assert_eq!(
            slugify("  Sync Contacts -> HubSpot!"),
            "sync-contacts-hubspot"
        );
        assert_eq!(slugify("***"), "");
    }

    #[test]
    fn stems_are_camel_case() {
        assert_eq!(camel_stem(ElementType::FieldMapping), "fieldMapping");
        assert_eq!(camel_stem(ElementType::Flow), "flow");
    }
}
