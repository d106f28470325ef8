//! The configuration pages: a connection's field mapping, flow, data source and
//! action instances, edited by their customer and saved with the engine call the
//! API's `PATCH /{instances}/{id}` makes (see the module doc of `embed`).
//!
//! Decisions where the Membrane docs are silent:
//! * **Field mappings** show one table per direction the mapping has: importing,
//!   each of the app's fields (`appSchema`) beside the value that fills it from
//!   the customer's fields; exporting, each of the customer's fields (the
//!   `dataSourceSchema` setup recorded) beside the value that fills it from the
//!   app's. A value is JSON — a formula such as `{"$var": "$.email"}`, a string,
//!   a number — and an empty one leaves the field unmapped.
//! * **Flows** show the flow's parameters (one input per `parametersSchema`
//!   property: text for strings, JSON for the rest; the whole object as JSON
//!   when the schema names none) and each node's `userConfig` as JSON — only the
//!   `nodeKey` node when the SDK names one (an unknown key is a 404 naming it).
//!   The engine checks the parameters against the schema when they are saved.
//! * **Data sources** offer the collections of the connection's connector and
//!   their parameters as JSON.
//! * **Actions** show the instance's `config` as JSON.
//!
//! A save that changes nothing writes nothing (so opening and saving does not
//! customise an instance that follows its parent).

use axum::http::StatusCode;
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::{Element, ElementType};
use serde_json::{Map, Value};

use super::{json_text, parse_json, Answer, Ctx, Failure, CLOSE};
use crate::html::{embed_error, escape};

/// One editable value on a page.
struct Row {
    /// The form field's name, also the name errors use (`importValue.email`).
    name: String,
    label: String,
    /// A note under the label (the field's type, a node's type).
    note: String,
    /// The text shown: what was typed when the page comes back, else the value.
    text: String,
    /// What applies while the field is empty (the flow's own parameter value).
    placeholder: String,
    area: bool,
}

fn row_html(r: &Row, i: usize) -> String {
    let id = format!("embed-field-{i}");
    let note = if r.note.is_empty() {
        String::new()
    } else {
        format!("<span class=\"field-type\">{}</span>", escape(&r.note))
    };
    let placeholder = if r.placeholder.is_empty() {
        String::new()
    } else {
        format!(" placeholder=\"{}\"", escape(&r.placeholder))
    };
    let input = if r.area {
        format!(
            "<textarea id=\"{id}\" name=\"{}\" rows=\"3\" spellcheck=\"false\"{placeholder}>{}</textarea>",
            escape(&r.name),
            escape(&r.text)
        )
    } else {
        format!(
            "<input id=\"{id}\" name=\"{}\" type=\"text\" value=\"{}\" autocomplete=\"off\" spellcheck=\"false\"{placeholder}>",
            escape(&r.name),
            escape(&r.text)
        )
    };
    format!(
        "<tr data-field=\"{}\"><td><label for=\"{id}\">{}</label>{note}</td><td>{input}</td></tr>",
        escape(&r.name),
        escape(&r.label)
    )
}

/// A table of rows under a caption; `counter` numbers the inputs page-wide.
fn table(caption: &str, left: &str, right: &str, rows: &[Row], counter: &mut usize) -> String {
    let mut out = format!(
        "<table><caption class=\"sr-only\">{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        escape(caption),
        escape(left),
        escape(right)
    );
    for r in rows {
        out.push_str(&row_html(r, *counter));
        *counter += 1;
    }
    out.push_str("</tbody></table>");
    out
}

/// The page around a form: title, outcome, the form posting to the page itself.
fn form_page(
    ctx: &Ctx,
    title: &str,
    intro: &str,
    outcome: &Outcome,
    inner: &str,
    carry: &[&str],
) -> Answer {
    let notice = match outcome {
        Outcome::Shown => String::new(),
        Outcome::Saved => "<p id=\"embed-saved\" role=\"status\">Saved.</p>".to_owned(),
        Outcome::Unchanged => {
            "<p id=\"embed-saved\" role=\"status\">Nothing changed.</p>".to_owned()
        }
        Outcome::Invalid(errors) => embed_error(&errors.join(" "), ctx.reference.as_deref()),
    };
    let body = format!(
        "<h1>{}</h1>{notice}{intro}<form id=\"embed-form\" method=\"post\" action=\"{}\">{}{inner}\
         <div class=\"actions\"><button type=\"submit\" id=\"embed-save\">Save</button>{CLOSE}</div></form>",
        escape(title),
        escape(&ctx.path),
        ctx.carry(carry),
    );
    let status = match outcome {
        Outcome::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    Answer::ok(title, body).wide().status(status)
}

enum Outcome {
    Shown,
    Saved,
    Unchanged,
    Invalid(Vec<String>),
}

/// What a posted form comes to: the `errors` found reading it, else nothing to
/// write, else `body` written on `el` (which, with its `view`, becomes what was
/// saved). One path for every configuration page, so each refuses, skips and
/// saves alike.
async fn settle(
    ctx: &Ctx,
    t: ElementType,
    el: &mut Element,
    view: &mut Value,
    body: Map<String, Value>,
    errors: Vec<String>,
) -> Result<Outcome, Failure> {
    if !errors.is_empty() {
        return Ok(Outcome::Invalid(errors));
    }
    if body.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    match save(ctx, el.clone(), body).await {
        Ok(saved) => {
            *view = ctx
                .render(&saved)
                .await
                .map_err(|e| Failure::from_engine(e, t))?;
            *el = saved;
            Ok(Outcome::Saved)
        }
        Err(e) => Ok(Outcome::Invalid(vec![e])),
    }
}

/// Writes `body` on `el` as the API's PATCH does; an engine refusal is the
/// customer's to read (it names the field).
async fn save(ctx: &Ctx, el: Element, body: Map<String, Value>) -> Result<Element, String> {
    ctx.state
        .engine
        .elements()
        .patch_element(&ctx.caller, el, body)
        .await
        .map_err(|e| e.message)
}

/// The properties of a JSON schema, `(name, title, type)` in the schema's order.
fn properties(schema: &Value) -> Vec<(String, String, String)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(k, v)| {
                    let title = v
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or(k)
                        .to_owned();
                    let kind = v
                        .get("type")
                        .map(|t| match t {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    (k.clone(), title, kind)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The text typed in `name`, when the page comes back from a save.
fn typed<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a str> {
    if ctx.posted {
        ctx.field(name)
    } else {
        None
    }
}

/// `/embed/field-mapping-instances/{id}/configuration`.
pub(super) async fn field_mapping(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let t = ElementType::FieldMappingInstance;
    let mut el = ctx.instance(t, id).await?;
    let mut outcome = Outcome::Shown;
    let mut view = ctx
        .render(&el)
        .await
        .map_err(|e| Failure::from_engine(e, t))?;
    let directions: Vec<(&str, &str)> = match view["direction"].as_str() {
        Some("import") => vec![("importValue", "appSchema")],
        Some("export") => vec![("exportValue", "dataSourceSchema")],
        _ => vec![
            ("importValue", "appSchema"),
            ("exportValue", "dataSourceSchema"),
        ],
    };
    if ctx.posted {
        let mut errors = Vec::new();
        let mut body = Map::new();
        for (value_field, schema_field) in &directions {
            let current = view[*value_field].as_object().cloned().unwrap_or_default();
            let mut next = Map::new();
            for name in field_names(&view[*schema_field], &current) {
                let input = format!("{value_field}.{name}");
                let text = ctx
                    .field(&input)
                    .map(str::to_owned)
                    .unwrap_or_else(|| json_text(current.get(&name)));
                match parse_json(&input, &text) {
                    Ok(Some(v)) => {
                        next.insert(name, v);
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
            if next != current {
                body.insert((*value_field).to_owned(), Value::Object(next));
            }
        }
        outcome = settle(ctx, t, &mut el, &mut view, body, errors).await?;
    }
    let keep_typed = matches!(outcome, Outcome::Invalid(_));
    let mut inner = String::new();
    let mut counter = 0;
    let theirs = field_list(&view["dataSourceSchema"]);
    let ours = field_list(&view["appSchema"]);
    for (value_field, schema_field) in &directions {
        let current = view[*value_field].as_object().cloned().unwrap_or_default();
        let schema = &view[*schema_field];
        let rows: Vec<Row> = field_names(schema, &current)
            .into_iter()
            .map(|name| {
                let input = format!("{value_field}.{name}");
                let (label, note) = properties(schema)
                    .into_iter()
                    .find(|(k, _, _)| *k == name)
                    .map(|(_, title, kind)| (title, kind))
                    .unwrap_or_else(|| (name.clone(), String::new()));
                let text = keep_typed
                    .then(|| typed(ctx, &input).map(str::to_owned))
                    .flatten()
                    .unwrap_or_else(|| json_text(current.get(&name)));
                Row {
                    name: input,
                    label,
                    note,
                    text,
                    placeholder: String::new(),
                    area: false,
                }
            })
            .collect();
        let (legend, left, right, source) = if *value_field == "importValue" {
            (
                "Data coming into the app",
                "App field",
                "Value (from your fields)",
                &theirs,
            )
        } else {
            (
                "Data going to your account",
                "Your field",
                "Value (from the app's fields)",
                &ours,
            )
        };
        let help = if source.is_empty() {
            String::new()
        } else {
            format!(
                "<p class=\"help\">Fields you can use: {}. Refer to one as <code>{{\"$var\": \"$.{}\"}}</code>; an empty value leaves the field unmapped.</p>",
                source
                    .iter()
                    .map(|f| format!("<code>{}</code>", escape(f)))
                    .collect::<Vec<_>>()
                    .join(", "),
                escape(&source[0])
            )
        };
        let content = if rows.is_empty() {
            "<p class=\"help\">There are no fields to map yet.</p>".to_owned()
        } else {
            table(legend, left, right, &rows, &mut counter)
        };
        inner.push_str(&format!(
            "<fieldset data-direction=\"{}\"><legend>{}</legend>{help}{content}</fieldset>",
            escape(value_field),
            escape(legend)
        ));
    }
    let intro = "<p class=\"help\">Values are JSON: a formula such as <code>{\"$var\": \"$.email\"}</code>, a text in quotes, or a number.</p>";
    Ok(form_page(
        ctx,
        &format!("Field mapping: {}", el.name),
        intro,
        &outcome,
        &inner,
        &[],
    ))
}

/// The names a schema's properties give, then the other keys `value` maps.
fn field_names(schema: &Value, value: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = properties(schema).into_iter().map(|p| p.0).collect();
    for k in value.keys() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names
}

fn field_list(schema: &Value) -> Vec<String> {
    properties(schema).into_iter().map(|p| p.0).collect()
}

/// `/embed/flow-instances/{id}/configuration?nodeKey=`.
pub(super) async fn flow(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let t = ElementType::FlowInstance;
    let mut el = ctx.instance(t, id).await?;
    let mut view = ctx
        .render(&el)
        .await
        .map_err(|e| Failure::from_engine(e, t))?;
    let node_key = ctx.field("nodeKey").filter(|k| !k.is_empty());
    if let Some(k) = node_key {
        if view["nodes"].get(k).is_none() {
            return Err(Failure {
                status: StatusCode::NOT_FOUND,
                message: format!("nodeKey: this flow has no step `{k}`."),
            });
        }
    }
    let mut outcome = Outcome::Shown;
    if ctx.posted {
        let (body, errors) = flow_changes(ctx, &view, node_key);
        outcome = settle(ctx, t, &mut el, &mut view, body, errors).await?;
    }
    let keep_typed = matches!(outcome, Outcome::Invalid(_));
    let text_of = |name: &str, value: String| {
        keep_typed
            .then(|| typed(ctx, name).map(str::to_owned))
            .flatten()
            .unwrap_or(value)
    };
    let mut inner = String::new();
    let mut counter = 0;
    if node_key.is_none() {
        let params = properties(&view["parametersSchema"]);
        let current = view["parameters"].as_object().cloned().unwrap_or_default();
        let rows: Vec<Row> = if params.is_empty() {
            if current.is_empty() {
                Vec::new()
            } else {
                vec![Row {
                    name: "parameters".into(),
                    label: "Parameters".into(),
                    note: "JSON object".into(),
                    text: text_of("parameters", json_text(view.get("parameters"))),
                    placeholder: json_text(view["flow"].get("parameters")),
                    area: true,
                }]
            }
        } else {
            params
                .into_iter()
                .map(|(name, title, kind)| {
                    let input = format!("parameters.{name}");
                    let value = match current.get(&name) {
                        Some(Value::String(s)) if kind == "string" => s.clone(),
                        other => json_text(other),
                    };
                    // Empty, the flow's own value applies: shown, not copied.
                    let inherited = match view["flow"]["parameters"].get(&name) {
                        Some(Value::String(s)) if kind == "string" => s.clone(),
                        other => json_text(other),
                    };
                    Row {
                        text: text_of(&input, value),
                        placeholder: inherited,
                        name: input,
                        label: title,
                        note: if kind == "string" {
                            "text".into()
                        } else {
                            format!("{kind} (JSON)")
                        },
                        area: false,
                    }
                })
                .collect()
        };
        if !rows.is_empty() {
            inner.push_str(&format!(
                "<fieldset data-part=\"parameters\"><legend>Parameters</legend>{}</fieldset>",
                table("Parameters", "Parameter", "Value", &rows, &mut counter)
            ));
        }
    }
    let nodes = view["nodes"].as_object().cloned().unwrap_or_default();
    let rows: Vec<Row> = nodes
        .iter()
        .filter(|(k, _)| node_key.is_none_or(|n| n == k.as_str()))
        .map(|(k, node)| {
            let input = format!("nodes.{k}.userConfig");
            Row {
                text: text_of(&input, json_text(node.get("userConfig"))),
                placeholder: String::new(),
                name: input,
                label: node
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(k)
                    .to_owned(),
                note: node
                    .get("type")
                    .and_then(Value::as_str)
                    .map(|t| format!("{t} · JSON"))
                    .unwrap_or_else(|| "JSON".into()),
                area: true,
            }
        })
        .collect();
    if !rows.is_empty() {
        inner.push_str(&format!(
            "<fieldset data-part=\"nodes\"><legend>Step settings</legend>{}</fieldset>",
            table("Step settings", "Step", "Settings", &rows, &mut counter)
        ));
    }
    if inner.is_empty() {
        inner.push_str("<p class=\"help\">This flow has nothing to configure.</p>");
    }
    Ok(form_page(
        ctx,
        &format!("Configure {}", el.name),
        "",
        &outcome,
        &inner,
        &["nodeKey"],
    ))
}

/// What a posted flow form changes, and the errors naming each bad value.
fn flow_changes(
    ctx: &Ctx,
    view: &Value,
    node_key: Option<&str>,
) -> (Map<String, Value>, Vec<String>) {
    let mut body = Map::new();
    let mut errors = Vec::new();
    if node_key.is_none() {
        let params = properties(&view["parametersSchema"]);
        let current = view["parameters"].as_object().cloned().unwrap_or_default();
        if params.is_empty() {
            if let Some(text) = ctx.field("parameters") {
                match parse_json("parameters", text) {
                    Ok(Some(Value::Object(next))) if next != current => {
                        body.insert("parameters".into(), Value::Object(next));
                    }
                    Ok(Some(Value::Object(_))) => {}
                    Ok(None) if !current.is_empty() => {
                        body.insert("parameters".into(), Value::Object(Map::new()));
                    }
                    Ok(None) => {}
                    Ok(Some(_)) => errors.push("parameters: must be a JSON object".into()),
                    Err(e) => errors.push(e),
                }
            }
        } else {
            let mut next = current.clone();
            for (name, _, kind) in params {
                let input = format!("parameters.{name}");
                let Some(text) = ctx.field(&input) else {
                    continue;
                };
                let parsed = if kind == "string" {
                    Ok((!text.is_empty()).then(|| Value::String(text.to_owned())))
                } else {
                    parse_json(&input, text)
                };
                match parsed {
                    Ok(Some(v)) => {
                        next.insert(name, v);
                    }
                    Ok(None) => {
                        next.remove(&name);
                    }
                    Err(e) => errors.push(e),
                }
            }
            if next != current {
                body.insert("parameters".into(), Value::Object(next));
            }
        }
    }
    let mut nodes = Map::new();
    if let Some(all) = view["nodes"].as_object() {
        for (k, node) in all {
            if node_key.is_some_and(|n| n != k) {
                continue;
            }
            let input = format!("nodes.{k}.userConfig");
            let Some(text) = ctx.field(&input) else {
                continue;
            };
            let current = node.get("userConfig").filter(|v| !v.is_null());
            match parse_json(&input, text) {
                Ok(next) if next.as_ref() == current => {}
                Ok(next) => {
                    let mut n = Map::new();
                    n.insert("userConfig".into(), next.unwrap_or(Value::Null));
                    nodes.insert(k.clone(), Value::Object(n));
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if !nodes.is_empty() {
        body.insert("nodes".into(), Value::Object(nodes));
    }
    (body, errors)
}

/// The collections of the connector behind `el`'s integration, `(key, name)`.
async fn collections(ctx: &Ctx, el: &Element) -> Vec<(String, String)> {
    let Some(iid) = el.integration_id.clone() else {
        return Vec::new();
    };
    let elements = ctx.state.engine.elements();
    let Ok(integration) = elements
        .resolve(
            &ctx.caller,
            ElementType::Integration,
            &PathSelector::new(iid),
        )
        .await
    else {
        return Vec::new();
    };
    let Some(cid) = integration.doc_str("connectorId").map(str::to_owned) else {
        return Vec::new();
    };
    // Connectors are the workspace's; the customer reads only their collections.
    let admin = Caller::admin(ctx.caller.workspace.clone());
    let Ok(connector) = elements
        .resolve(&admin, ElementType::Connector, &PathSelector::new(cid))
        .await
    else {
        return Vec::new();
    };
    connector
        .doc
        .get("data")
        .and_then(Value::as_object)
        .map(|data| {
            data.iter()
                .filter(|(_, spec)| spec.get("isHidden") != Some(&Value::Bool(true)))
                .map(|(k, spec)| {
                    (
                        k.clone(),
                        spec.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or(k)
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `/embed/data-source-instances/{id}/configuration`.
pub(super) async fn data_source(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let t = ElementType::DataSourceInstance;
    let mut el = ctx.instance(t, id).await?;
    let mut view = ctx
        .render(&el)
        .await
        .map_err(|e| Failure::from_engine(e, t))?;
    let options = collections(ctx, &el).await;
    let mut outcome = Outcome::Shown;
    if ctx.posted {
        let mut errors = Vec::new();
        let mut body = Map::new();
        let current_key = view["collectionKey"].as_str().unwrap_or_default();
        if let Some(key) = ctx.field("collectionKey") {
            if !key.is_empty() && !options.iter().any(|(k, _)| k == key) {
                errors.push(format!(
                    "collectionKey: `{key}` is not one of this app's collections."
                ));
            } else if !key.is_empty() && key != current_key {
                body.insert("collectionKey".into(), Value::String(key.to_owned()));
            }
        }
        if let Some(text) = ctx.field("collectionParameters") {
            match parse_json("collectionParameters", text) {
                Ok(Some(v)) if !v.is_object() => {
                    errors.push("collectionParameters: must be a JSON object".into())
                }
                Ok(next) => {
                    let current = view.get("collectionParameters").filter(|v| !v.is_null());
                    if next.as_ref() != current {
                        body.insert(
                            "collectionParameters".into(),
                            next.unwrap_or_else(|| Value::Object(Map::new())),
                        );
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        outcome = settle(ctx, t, &mut el, &mut view, body, errors).await?;
    }
    let keep_typed = matches!(outcome, Outcome::Invalid(_));
    let chosen = keep_typed
        .then(|| typed(ctx, "collectionKey").map(str::to_owned))
        .flatten()
        .unwrap_or_else(|| {
            view["collectionKey"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
    let mut select = String::from(
        "<label for=\"embed-collection\">Collection</label><select id=\"embed-collection\" name=\"collectionKey\">",
    );
    if chosen.is_empty() {
        select.push_str("<option value=\"\" selected>Choose a collection</option>");
    }
    for (k, name) in &options {
        select.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            escape(k),
            if *k == chosen { " selected" } else { "" },
            escape(name)
        ));
    }
    select.push_str("</select>");
    let params = keep_typed
        .then(|| typed(ctx, "collectionParameters").map(str::to_owned))
        .flatten()
        .unwrap_or_else(|| json_text(view.get("collectionParameters")));
    let state = view["state"].as_str().unwrap_or_default();
    let inner = format!(
        "{select}<label for=\"embed-collection-parameters\">Collection parameters</label>\
         <textarea id=\"embed-collection-parameters\" name=\"collectionParameters\" rows=\"3\" spellcheck=\"false\" aria-describedby=\"embed-parameters-help\">{}</textarea>\
         <p class=\"help\" id=\"embed-parameters-help\">A JSON object, or empty for none.</p>\
         <p class=\"help\" id=\"embed-state\" data-state=\"{}\">Status: {}</p>",
        escape(&params),
        escape(state),
        escape(&state.to_lowercase().replace('_', " "))
    );
    Ok(form_page(
        ctx,
        &format!("Data source: {}", el.name),
        "",
        &outcome,
        &inner,
        &[],
    ))
}

/// `/embed/action-instances/{id}/configuration`.
pub(super) async fn action(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let t = ElementType::ActionInstance;
    let mut el = ctx.instance(t, id).await?;
    let mut view = ctx
        .render(&el)
        .await
        .map_err(|e| Failure::from_engine(e, t))?;
    let mut outcome = Outcome::Shown;
    if ctx.posted {
        let text = ctx.field("config").unwrap_or_default();
        let current = view.get("config").filter(|v| !v.is_null());
        outcome = match parse_json("config", text) {
            Err(e) => Outcome::Invalid(vec![e]),
            Ok(Some(v)) if !v.is_object() => {
                Outcome::Invalid(vec!["config: must be a JSON object".into()])
            }
            Ok(next) if next.as_ref() == current => Outcome::Unchanged,
            Ok(next) => {
                let mut body = Map::new();
                body.insert(
                    "config".into(),
                    next.unwrap_or_else(|| Value::Object(Map::new())),
                );
                settle(ctx, t, &mut el, &mut view, body, Vec::new()).await?
            }
        };
    }
    let text = matches!(outcome, Outcome::Invalid(_))
        .then(|| typed(ctx, "config").map(str::to_owned))
        .flatten()
        .unwrap_or_else(|| json_text(view.get("config")));
    let inner = format!(
        "<label for=\"embed-config\">Configuration</label>\
         <textarea id=\"embed-config\" name=\"config\" rows=\"8\" spellcheck=\"false\" aria-describedby=\"embed-config-help\">{}</textarea>\
         <p class=\"help\" id=\"embed-config-help\">A JSON object.</p>",
        escape(&text)
    );
    Ok(form_page(
        ctx,
        &format!("Action: {}", el.name),
        "",
        &outcome,
        &inner,
        &[],
    ))
}
