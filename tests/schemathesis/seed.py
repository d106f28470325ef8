"""Seeds a fresh Osmosis server with real data through its API, and writes a copy of
its OpenAPI document in which that data fills the parameters naming elements: the
path and selector parameters take the seeded ids and keys (as their examples, and
as the only values of their schema, so every positive case names a real element
and negative cases still send others), and request bodies get an example the
operation accepts. So the success paths are reached and their 2xx answers checked
against the document, not only the 404s random ids get. Nothing else of Osmosis's
own document changes.

Reads use shared elements; every operation that changes, archives or restores its
target gets an element of its own, so one operation's fuzzing (an archive, a PUT of
random fields) cannot turn another operation's example into a 404. Which element an
operation targets is read from its path; a route the rules below do not know fails
the seeding, so a new route gets real data rather than fuzzing on random ids.

usage: seed.py BASE_URL ADMIN_TOKEN MOCK_API_URL DOCUMENT_OUT
Prints the internal id of the seeded customer (the one `/self` is fuzzed as).
"""

import itertools
import json
import sys
import time
import urllib.error
import urllib.request

API_KEY = "sk-fuzz-5b0e1c7d9a3f"  # mock_api.py's key
# What the seeded connector's `contacts` collection defines, for
# `POST /connections/{selector}/data/{key}/{method}`.
DATA_METHODS = ["list", "find-by-id", "search", "match", "create", "update", "delete"]
# One body every data method above accepts.
DATA_BODY = {"id": "1", "query": {"email": "p1@x.io"}, "fields": {"name": "Ada", "email": "ada@x.io"}}


def var(path):
    return {"$var": path}


# Integration-level kinds: a universal element and the integration's own of each,
# with what a create needs beside its name.
LEVEL_BODIES = {
    "actions": {"type": "run-javascript", "config": {"code": "export default async () => 1"}},
    # An api-trigger, so the flow's instances can be run through the API.
    "flows": {"nodes": {"start": {"type": "api-trigger", "links": [{"key": "shape"}]},
                        "shape": {"type": "transform-data", "config": {"output": {"got": var("$.input.start")}}}}},
    "data-sources": {"collectionKey": "contacts"},
    "field-mappings": {
        "dataSourceKey": "contacts",
        "appSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "direction": "both",
    },
    "packages": {},
}
# Element types neither layered nor instances, with what a create needs beside its name.
PLAIN_BODIES = {
    "data-link-tables": {},
    "app-event-types": {"schema": {"type": "object"}},
    "app-data-schemas": {"schema": {"type": "object"}},
    "screens": {"type": "integration"},
}
# Instance collections: the collection of their parent and the field naming it.
INSTANCE_PARENTS = {
    "action-instances": ("actions", "parentId"),
    "flow-instances": ("flows", "flowId"),
    "field-mapping-instances": ("field-mappings", "fieldMappingId"),
    "data-source-instances": ("data-sources", "dataSourceId"),
    "data-link-table-instances": ("data-link-tables", "dataLinkTableId"),
    "app-event-subscriptions": ("app-event-types", "appEventTypeId"),
    "app-data-schema-instances": ("app-data-schemas", "appDataSchemaId"),
}
# Element types only the engine creates: there is nothing to seed them with through
# the API, so their operations can only answer 404 (or refuse the write).
ENGINE_ONLY = {"external-event-subscriptions"}
# What deliveries make (app events, incoming webhooks, external event logs and
# pulls) and the webhook URLs themselves (unguessable keys): their lists answer
# from what exists, and a fuzzed id or key names nothing.
DELIVERY_MADE = {
    "webhooks",
    "app-events",
    "incoming-webhooks",
    "external-event-log-records",
    "external-event-pulls",
}
READS = {"get"}
# Other names of element routes (the older SDK's scenarios are packages): planned
# as the routes they alias.
ALIASES = {"scenarios": "packages", "scenario": "package"}
# `/{collection}/{selector}/...` routes of every element type.
# A data source instance's collection routes, by their last path segment.
DATA_SOURCE_CALLS = {"collection", "{method}", "unified-fields-to-native"}
ELEMENT_ACTIONS = ([], ["restore"], ["refresh"], ["setup"], ["reset"], ["run"], ["export"])
# `/connectors/{selector}/...` routes of connector sources and versions.
CONNECTOR_SOURCE_ROUTES = {"upload", "download", "versions", "publish-version", "files"}


class SeedError(Exception):
    pass


class Api:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def ok(self, method, path, body=None):
        status, answer = self.call(method, path, body)
        if not 200 <= status < 300:
            raise SeedError(f"{method} {path} {json.dumps(body)} answered {status}: {answer}")
        return answer


def rest(path, method, request=None, response=None):
    mapping = {"path": path, "method": method}
    if request:
        mapping["requestMapping"] = request
    if response:
        mapping["responseMapping"] = response
    return {"type": "rest-api-mapping", "mapping": mapping}


def connector_definition(key, mock):
    """The mock API's client-credentials connector, with an operation and a collection
    defining every data method (the shape of crates/osmosis/tests/it/calls.rs)."""
    return {
        "key": key,
        "name": "Mock API",
        "type": "client-credentials",
        "makeApiClient": {
            "type": "mapping",
            "mapping": {"baseUri": mock, "headers": {"x-api-key": var("$.credentials.apiKey")}},
        },
        "test": rest("/me", "GET"),
        "disconnect": {
            "type": "javascript",
            "code": "export default async ({apiClient}) => { await apiClient.post('/revoke', {}); }",
        },
        "operations": [
            {
                "key": "whoami",
                "name": "Who am I",
                "inputSchema": {"type": "object"},
                "run": rest("/me", "GET", None, {"name": var("$.response.data.name")}),
            }
        ],
        "data": {
            "contacts": {
                "name": "Contacts",
                "list": rest(
                    "/contacts",
                    "GET",
                    {"query": {"cursor": var("$.cursor")}},
                    {"records": var("$.response.data.items"), "cursor": var("$.response.data.next")},
                ),
                "search": rest("/contacts", "GET", {"query": {"q": var("$.query")}}, {"records": var("$.response.data.items")}),
                "match": {
                    "type": "javascript",
                    "code": "export default async ({apiClient, input}) => "
                    "{ const r = await apiClient.get('/contacts', {email: input.query.email}); return {record: r.items[0]} }",
                },
                "findById": rest("/contacts/{id}", "GET", {"pathParameters": {"id": var("$.id")}}),
                "create": rest("/contacts", "POST", {"data": var("$.fields")}, {"id": var("$.response.data.id")}),
                "update": rest("/contacts/{id}", "PATCH", {"pathParameters": {"id": var("$.id")}, "data": var("$.fields")}),
                "delete": rest("/contacts/{id}", "DELETE", {"pathParameters": {"id": var("$.id")}}),
                "recordFromApi": {
                    "type": "mapping",
                    "mapping": {"id": var("$.id"), "name": var("$.full_name"), "fields": {"email": var("$.email")}},
                },
                "fieldsToApi": {"type": "mapping", "mapping": {"full_name": var("$.fields.name"), "email": var("$.fields.email")}},
            }
        },
    }


class World:
    """The seeded workspace: shared elements for reads, and fresh ones on demand."""

    def __init__(self, api, mock):
        self.api = api
        self.mock = mock
        self.counter = itertools.count(1)

    def unique(self, stem):
        return f"{stem}-{next(self.counter)}"

    def seed(self):
        api = self.api
        self.connector = api.ok("POST", "/connectors", connector_definition("mock", self.mock))
        self.integration = api.ok(
            "POST", "/integrations", {"key": "mock", "name": "Mock", "connectorId": self.connector["id"]}
        )
        self.customer = self.fresh_customer()
        self.connection = self.fresh_connection(self.customer)
        self.universal = {k: api.ok("POST", f"/{k}", {"key": "contacts", "name": k, **b}) for k, b in LEVEL_BODIES.items()}
        self.level = {}
        for kind, body in LEVEL_BODIES.items():
            self.level[kind] = self.fresh_level(kind, key="contacts", parent=self.universal[kind])
        self.plain = {k: api.ok("POST", f"/{k}", {"key": k, "name": k, **b}) for k, b in PLAIN_BODIES.items()}
        # The shared connection's instance (no instance key) of each element that has
        # one; fresh_level made those of the integration's own elements already.
        self.instances = {}
        for path, (parent_path, field) in INSTANCE_PARENTS.items():
            parent = self.parent_of(path)
            if parent_path in KINDS_WITH_INSTANCES:
                made = api.ok("PUT", f"/connections/{self.connection['id']}/{parent_path}/{parent['id']}")
            else:
                made = api.ok("POST", f"/{path}", {field: parent["id"], "connectionId": self.connection["id"]})
            self.instances[path] = made
        # Something to read back: a call's log, and a pending connection request.
        api.ok("POST", f"/connections/{self.connection['id']}/operations/whoami/run", {"input": {}})
        for _ in range(100):  # logs are written asynchronously
            logs = api.ok("GET", "/external-api-logs")["items"]
            if logs:
                break
            time.sleep(0.05)
        else:
            raise SeedError("a call through the connection left no external API log")
        self.log = logs[0]
        # An action run, for its run log.
        run = api.ok("POST", "/act", {"id": self.level["actions"]["id"], "connectionId": self.connection["id"]})
        self.run_log = run["actionRunId"]
        self.connection_request = api.ok(
            "POST", "/connection-requests", {"integrationId": self.integration["id"], "userId": self.customer["internalId"]}
        )
        # A completed flow run of the shared flow instance, with its start node's
        # run and that run's output.
        started = api.ok("POST", "/flow-runs", {"flowInstanceId": self.instances["flow-instances"]["id"], "input": {"n": 1}})
        self.flow_run = api.ok("GET", f"/flow-runs/{started['id']}?wait=30")
        if self.flow_run["state"] != "completed":
            raise SeedError(f"the seeded flow run did not complete: {json.dumps(self.flow_run)}")
        self.flow_node = self.flow_run["startNodeKey"]
        node_runs = api.ok("GET", f"/flow-runs/{started['id']}/nodes/{self.flow_node}/runs")["items"]
        if not node_runs or not node_runs[0]["outputs"]:
            raise SeedError(f"the seeded flow run left no node run with an output: {json.dumps(node_runs)}")
        self.node_run = node_runs[0]
        # A completed workspace export, for the background job routes.
        job = api.ok("GET", "/export")
        for _ in range(600):
            job = api.ok("GET", f"/background-jobs/{job['id']}")
            if job["status"] != "running":
                break
            time.sleep(0.05)
        if job["status"] != "completed":
            raise SeedError(f"the seeded export did not complete: {json.dumps(job)}")
        self.export_job = job

    def fresh_customer(self):
        internal = self.unique("fuzz-customer")
        return self.api.ok("POST", "/customers", {"name": internal, "internalId": internal})

    def fresh_connection(self, customer=None):
        customer = customer or self.fresh_customer()
        return self.api.ok(
            "POST",
            "/connections",
            {"integrationId": self.integration["id"], "userId": customer["internalId"], "input": {"apiKey": API_KEY}},
        )

    def fresh_level(self, kind, key=None, parent=None):
        """The integration's own element of `kind`, with its instance on the shared
        connection, so selectors naming that connection find something too."""
        body = {"key": key or self.unique("fuzz"), "name": kind, "integrationId": self.integration["id"], **LEVEL_BODIES[kind]}
        if parent:
            body["parentId"] = parent["id"]
        element = self.api.ok("POST", f"/{kind}", body)
        if kind in KINDS_WITH_INSTANCES:
            self.api.ok("PUT", f"/connections/{self.connection['id']}/{kind}/{element['id']}")
        return element

    def fresh(self, path):
        """A new element of collection `path`, for one operation to change."""
        api = self.api
        if path == "customers":
            return self.fresh_customer()
        if path == "connections":
            return self.fresh_connection()
        if path == "connectors":
            return api.ok("POST", "/connectors", connector_definition(self.unique("mock"), self.mock))
        if path == "integrations":
            key = self.unique("mock")
            return api.ok("POST", "/integrations", {"key": key, "name": key, "connectorId": self.connector["id"]})
        if path in INSTANCE_PARENTS:
            field = INSTANCE_PARENTS[path][1]
            body = {field: self.parent_of(path)["id"], "connectionId": self.connection["id"]}
            return api.ok("POST", f"/{path}", {**body, "instanceKey": self.unique("fuzz")})
        if path in LEVEL_BODIES:
            return self.fresh_level(path)
        if path in PLAIN_BODIES:
            return api.ok("POST", f"/{path}", {"key": self.unique("fuzz"), "name": path, **PLAIN_BODIES[path]})
        raise SeedError(f"no recipe for a fresh element of /{path}")

    def shared(self, path):
        """The element every read of collection `path` uses."""
        found = {
            "customers": self.customer,
            "connections": self.connection,
            "connectors": self.connector,
            "integrations": self.integration,
            **self.instances,
            **self.level,
            **self.plain,
        }.get(path)
        if found is None:
            raise SeedError(f"no shared element of /{path}")
        return found

    def create_body(self, path):
        """A body that creates an element of collection `path` (keys are generated)."""
        if path == "customers":
            return {"name": "Fuzzed"}
        if path == "connections":
            return {"integrationId": self.integration["id"], "userId": self.customer["internalId"], "input": {"apiKey": API_KEY}}
        if path == "connectors":
            return {"name": "Fuzzed", "type": "client-credentials"}
        if path == "integrations":
            return {"name": "Fuzzed", "connectorId": self.connector["id"]}
        if path in INSTANCE_PARENTS:
            # On a connection of its own: instances made beside the shared ones could
            # only be told apart by instance key.
            field = INSTANCE_PARENTS[path][1]
            return {field: self.parent_of(path)["id"], "connectionId": self.fresh_connection()["id"]}
        if path in LEVEL_BODIES:
            return {"name": "Fuzzed", "integrationId": self.integration["id"], **LEVEL_BODIES[path]}
        if path in PLAIN_BODIES:
            return {"name": "Fuzzed", **PLAIN_BODIES[path]}
        return None

    def layer(self):
        """Q-layer query values naming the shared integration and connection (the
        connection's instance without an instance key, where the type has one)."""
        return {
            "integrationId": self.integration["id"],
            "integrationKey": self.integration["key"],
            "connectionId": self.connection["id"],
            "connectionKey": self.connection["key"],
            "instanceKey": "",
        }

    def parent_of(self, path):
        """The shared element the instances of collection `path` are made of."""
        parent_path = INSTANCE_PARENTS[path][0]
        return self.level.get(parent_path) or self.plain[parent_path]

    def instance_selector(self, path, element):
        """The object selector of an instance: by id, and by parent and connection too."""
        field = INSTANCE_PARENTS[path][1]
        parent = self.parent_of(path)
        stem = field[: -len("Id")] if field != "parentId" else "action"
        return {
            "id": element["id"],
            f"{stem}Id": parent["id"],
            f"{stem}Key": parent["key"],
            "parentId": parent["id"],
            "parentKey": parent["key"],
            "connectionId": self.connection["id"],
            "connectionKey": self.connection["key"],
            "integrationId": self.integration["id"],
            "integrationKey": self.integration["key"],
            "instanceKey": element.get("instanceKey") or "",
        }


# Kinds routed under a connection (`/connections/{connection}/{kind}/{selector}`).
KINDS_WITH_INSTANCES = {"actions", "flows", "data-sources", "field-mappings"}


def plan(world, method, path, operation, collections, singulars):
    """The examples of one operation: `({(location, name): [values]}, body or None)`."""
    write = method not in READS

    def write_body():
        """A change of name for an update, nothing for the rest (reset: `{}`)."""
        if "requestBody" not in operation:
            return None
        return {"name": "Fuzzed"} if method in {"patch", "put"} else {}

    pick = world.fresh if write else world.shared
    segments = path.strip("/").split("/")
    head, rest = ALIASES.get(segments[0], segments[0]), segments[1:]
    params, body = {}, None

    def query(values):
        params.update({("query", k): [v] for k, v in values.items()})

    if head in ENGINE_ONLY or head in DELIVERY_MADE:
        return params, body
    if path == "/act":
        body = {"connectionId": world.connection["id"], "api": {"method": "get", "path": "/echo/act"}}
    elif path == "/connection-options":
        body = {"integrationId": world.integration["id"]}
    elif path == "/connection-requests":
        body = {"integrationId": world.integration["id"], "userId": world.customer["internalId"]}
    elif path == "/settings":
        body = {"webhookUri": "http://127.0.0.1:9/hook"} if write else None
    elif path == "/self":
        body = {"name": "Renamed"} if write else None
    elif path in {"/health", "/openapi.json", "/external-api-logs", "/action-run-logs", "/export", "/import", "/org-workspace-id"}:
        pass
    elif head == "background-jobs":
        params[("path", "id")] = [world.export_job["id"]]
    elif head == "external-api-logs":
        params[("path", "selector")] = [world.log["id"]]
    elif head == "action-run-logs":
        params[("path", "selector")] = [world.run_log]
    elif head == "connection-requests":
        params[("path", "selector")] = [world.connection_request["requestId"]]
    elif head == "flow-runs":
        flow_plan(world, method, rest, params, query)
        body = {"flowInstanceId": world.instances["flow-instances"]["id"], "input": {"n": 2}} if not rest and write else None
    elif head == "flow-instances" and rest[1:] == ["update-to-latest-flow"]:
        params[("path", "id")] = [world.fresh("flow-instances")["id"]]
    elif head == "flow-instances" and rest[1:] == ["run"]:
        # Runs change nothing of the instance: the shared one.
        params[("path", "id")] = [world.instances["flow-instances"]["id"]]
        body = {"input": {"n": 3}}
    elif head == "data-link-table-instance" and rest == ["links"]:
        # The shared connection's instance of the shared table, and one link in it.
        instance = world.instances["data-link-table-instances"]
        query(world.instance_selector("data-link-table-instances", instance))
        if method != "get":
            body = {"appRecordId": "app-1", "externalRecordId": "ext-1"}
    elif head in {"data-source-instance", "data-source-instances"} and rest and rest[-1] in DATA_SOURCE_CALLS:
        # The shared connection's instance of the shared data source (the contacts
        # collection of the mock API).
        instance = world.instances["data-source-instances"]
        if head == "data-source-instances":
            params[("path", "selector")] = [instance["id"]]
        else:
            query(world.instance_selector("data-source-instances", instance))
        if rest[-1] == "{method}":
            params[("path", "method")] = DATA_METHODS
            body = DATA_BODY
        elif method == "post":
            body = {"email": "ada@x.io"}
    elif head == "connectors" and rest[:1] == ["{selector}"] and rest[1:2] and rest[1] in CONNECTOR_SOURCE_ROUTES:
        # Connector sources: reads of the shared connector (its source is built
        # from its definition), writes to one of their own.
        connector = pick("connectors")
        params[("path", "selector")] = [connector["id"]]
        kind = rest[1]
        if kind == "download":
            query({"version": "development"})
        elif kind == "files":
            params[("path", "path")] = ["data/fuzz/spec.yml"]
            if method == "delete":
                # A file to delete (JSON is YAML too).
                world.api.ok("PUT", f"/connectors/{connector['id']}/files/data/fuzz/spec.yml", {"name": "Fuzz"})
        elif kind == "publish-version":
            body = {"version": "1.0.0", "changelog": "Fuzzed"}
    elif head == "packages" and rest in (["{selector}", "publish"], ["{selector}", "unpublish"]):
        # Public packages: a package of its own with a published version, so
        # a publish may succeed (an unpublish always does); universal, as a
        # public package must be.
        package = world.api.ok("POST", "/packages", {"key": world.unique("pub"), "name": "Public"})
        world.api.ok("POST", f"/packages/{package['id']}/versions", {"version": "1.0.0"})
        params[("path", "selector")] = [package["id"]]
    elif head == "packages" and rest == ["{selector}", "upgrade"]:
        params[("path", "selector")] = [pick("packages")["id"]]
        body = {}
    elif head == "public-packages":
        if rest:
            # The seeded workspace's own public package (an install of it is
            # refused: see no-success.txt).
            package = world.api.ok("POST", "/packages", {"key": world.unique("pub"), "name": "Public"})
            world.api.ok("POST", f"/packages/{package['id']}/versions", {"version": "1.0.0"})
            world.api.ok("POST", f"/packages/{package['id']}/publish", {})
            params[("path", "id")] = [package["id"]]
            body = {}
    elif head in collections and rest[1:] == ["apply"]:
        # A universal element of its own, applied to the shared integration.
        extra = LEVEL_BODIES.get(head) or PLAIN_BODIES.get(head) or {}
        element = world.api.ok("POST", f"/{head}", {"key": world.unique("fuzz"), "name": head, **extra})
        params[("path", "selector")] = [element["id"]]
        return params, {"integrationKeys": [world.integration["key"]]}
    elif head == "packages" and rest == ["{selector}", "versions"]:
        # Package versions: the list of the shared package; a publish of one of
        # its own, under a version name no call has used.
        package = pick("packages")
        params[("path", "selector")] = [package["id"]]
        if method == "post":
            body = {"version": f"1.0.{world.unique('v').split('-')[-1]}", "changelog": "Fuzzed"}
    elif head in collections and not rest:
        if method == "post":
            body = world.create_body(head)
        else:
            query(world.layer())
    elif head == "field-mappings" and rest[1:] == ["app-schema"]:
        params[("path", "selector")] = [world.level["field-mappings"]["id"]]
        query(world.layer())
    elif head in collections and rest[0] == "{selector}" and rest[1:] in ELEMENT_ACTIONS:
        element = pick(head)
        params[("path", "selector")] = [element["id"]]
        # An instance's id names it alone: its run takes no layer query.
        if not (rest[1:] == ["run"] and head in INSTANCE_PARENTS):
            query(world.layer())
        body = write_body()
    elif head in singulars:
        collection = singulars[head]
        if rest == ["apply"]:
            # A universal element of its own, applied to the shared integration.
            extra = LEVEL_BODIES.get(collection) or PLAIN_BODIES.get(collection) or {}
            element = world.api.ok("POST", f"/{collection}", {"key": world.unique("fuzz"), "name": collection, **extra})
            query({"key": element["key"]})
            return params, {"integrationKeys": [world.integration["key"]]}
        if rest == ["app-schema"]:
            element = world.shared(collection)
        elif not rest and method == "post":
            # Create: the selector names the parent, connection and instance key.
            body = world.create_body(collection)
            return params, body
        else:
            element = pick(collection)
        if collection in INSTANCE_PARENTS:
            query(world.instance_selector(collection, element))
        else:
            query({"id": element["id"], "key": element.get("key") or element["id"], **world.layer()})
        body = write_body()
    elif head == "integrations" and rest[0] == "{integration}":
        kind = rest[1]
        if kind == "parameters":
            params[("path", "integration")] = [pick("integrations")["id"]]
            body = {"region": "eu"} if write else None
            return params, body
        params[("path", "integration")] = [world.integration["id"]]
        if kind in LEVEL_BODIES and len(rest) == 2:
            body = {"name": "Fuzzed", **LEVEL_BODIES[kind]} if write else None
        elif kind in LEVEL_BODIES:
            element = world.fresh_level(kind) if write else world.level[kind]
            # A fuzzed write may change the key; the id stays.
            params[("path", "selector")] = [element["id"]] if write else [element["key"], element["id"]]
            body = write_body()
        elif kind == "operations" and len(rest) == 3:
            params[("path", "key")] = ["whoami"]
        elif kind == "data" and len(rest) == 3:
            params[("path", "key")] = ["contacts"]
        elif kind not in {"connector-spec", "operations", "data"}:
            raise SeedError(f"no rule for {method.upper()} {path}")
    elif head == "connections" and rest[0] == "{connection}":
        kind = rest[1]
        if kind in KINDS_WITH_INSTANCES:
            connection = world.connection
            if write:
                # Its own connection, with the instance made already.
                connection = world.fresh_connection()
                world.api.ok("PUT", f"/connections/{connection['id']}/{kind}/{world.level[kind]['key']}")
            params[("path", "connection")] = [connection["id"]]
            if len(rest) >= 3:
                params[("path", "selector")] = [world.level[kind]["key"]]
                query({"instanceKey": ""})
            body = write_body()
        elif kind == "execute-request":
            params[("path", "connection")] = [world.connection["id"]]
            body = {"key": "POST /echo/execute", "payload": {"hello": "world"}}
        elif kind in {"proxy", "api"}:
            params[("path", "connection")] = [world.connection["id"]]
            if len(rest) == 3:
                params[("path", "path")] = ["echo/fuzz"]
            if method not in {"get", "delete"}:
                body = {"hello": "world"}
        else:
            raise SeedError(f"no rule for {method.upper()} {path}")
    elif head == "connections" and rest[0] == "{selector}":
        kind = rest[1]
        if kind in {"refresh-credentials", "test"}:
            params[("path", "selector")] = [world.fresh_connection()["id"]]
            return params, body
        params[("path", "selector")] = [world.connection["id"], world.connection["key"]]
        if kind == "operations" and len(rest) >= 3:
            params[("path", "key")] = ["whoami"]
            body = {"input": {}} if write else None
        elif kind == "data" and len(rest) >= 3:
            params[("path", "key")] = ["contacts"]
            if len(rest) == 4:
                params[("path", "method")] = DATA_METHODS
                body = DATA_BODY
        elif kind not in {"operations", "data"}:
            raise SeedError(f"no rule for {method.upper()} {path}")
    else:
        raise SeedError(f"no rule for {method.upper()} {path}")
    return params, body


def flow_plan(world, method, rest, params, query):
    """`/flow-runs…`: the seeded run, its start node, that node's run and output.
    A stop of it changes nothing (it has ended), so every operation shares it."""
    run = world.flow_run
    if not rest:
        if method == "get":
            query({
                "connectionFlowId": run["connectionFlowId"],
                "connectionId": run["connectionId"],
                "integrationId": run["integrationId"],
                "tenantId": world.customer["internalId"],
            })
        return
    params[("path", "id")] = [run["id"]]
    if len(rest) > 2:  # nodes/{node}/…
        params[("path", "node")] = [world.flow_node]
    if rest[-1] == "{run}":
        params[("path", "run")] = [world.node_run["id"]]
    elif rest[-1] == "{output}":
        params[("path", "output")] = [world.node_run["outputs"][0]["id"]]


def add_examples(operation, params, body):
    """Writes the plan into the operation. A planned parameter's schema is narrowed
    to its seeded values (`enum`), so that every positive case names a real element
    and only negative cases send other values; the values are its examples too. The
    request body gets its planned body as `example`, mixed into the generated ones."""
    names = set()
    for parameter in operation.get("parameters", []):
        values = params.get((parameter["in"], parameter["name"]))
        if values is None:
            continue
        names.add((parameter["in"], parameter["name"]))
        parameter["schema"] = {**parameter["schema"], "enum": values}
        if len(values) == 1:
            parameter["example"] = values[0]
        else:
            parameter["examples"] = {str(v): {"value": v} for v in values}
    unknown = set(params) - names
    if unknown:
        raise SeedError(f"planned examples for parameters {operation.get('summary')!r} lacks: {sorted(unknown)}")
    if body is not None:
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            raise SeedError("planned a body for an operation without a JSON body")
        media["example"] = body


def element_collections(document):
    """Collection paths of element types: `/x` whose GET answers a page of elements."""
    out = set()
    for path, item in document["paths"].items():
        schema = item.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        schema = schema.get("application/json", {}).get("schema", {})
        items = schema.get("properties", {}).get("items", {}).get("items", {})
        # `/public-packages` pages packages too, but of every workspace and
        # made by publishing, not by a POST of its own.
        if path.count("/") == 1 and "$ref" in items and path != "/public-packages":
            out.add(path[1:])
    return out


def main():
    base, token, mock, out = sys.argv[1:5]
    api = Api(base, token)
    world = World(api, mock)
    world.seed()
    document = api.ok("GET", "/openapi.json")
    collections = element_collections(document)
    known = {"customers", "connections", "connectors", "integrations", *INSTANCE_PARENTS, *LEVEL_BODIES, *PLAIN_BODIES}
    unknown = collections - known - ENGINE_ONLY - set(ALIASES)
    if unknown:
        raise SeedError(f"element collections the seeding has no recipe for: {sorted(unknown)}")
    # Object-selector routes: `/x` beside a collection `/xs`.
    singulars = {p[1:]: p[1:] + "s" for p in document["paths"] if p.count("/") == 1 and p[1:] + "s" in collections}
    seeded = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            params, body = plan(world, method, path, operation, collections, singulars)
            add_examples(operation, params, body)
            seeded += bool(params or body)
    with open(out, "w") as f:
        json.dump(document, f)
    print(f"seeding: examples for {seeded} operations", file=sys.stderr)
    print(world.customer["internalId"])


if __name__ == "__main__":
    try:
        main()
    except SeedError as error:
        print(f"seeding failed: {error}", file=sys.stderr)
        sys.exit(1)
