// The `membrane` / `engineApiClient` of a `run-javascript` action: the decorator
// (osmosis_sandbox::HostObject::decorator) that turns the flat host object into a
// MembraneClient-shaped one.
//
// It receives the host methods `get(path, query?)`, `delete(path, query?)`,
// `post|put|patch(path, data?)` (kept as they are on the result) and
// `request(method, path, body?)` (used here, not passed on), and returns an object
// with the accessors of @membranehq/sdk 0.28's MembraneClient: the same names, the
// same routes, the same selector handling (string selectors go into the path as
// they are, object selectors into the query with `qs`), the server's answer returned
// as it is. Everything goes through the host methods, that is through Osmosis's
// own API as the run's customer: an accessor whose route Osmosis does not serve
// (flow runs) fails with the server's not-found error. Left out: what needs a
// browser or a second connection to the server (open*/embed* screens, connect,
// reconnect, ui, createEventSource, getEmbedUri).
(host) => {
  // ---- query strings and paths, as the SDK builds them ----

  const hex = (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase();

  // `qs.stringify` (RFC 3986, keys encoded, nested objects and arrays as
  // `a[b]=c` / `a[0]=c`, `null` as `a=`, `undefined` left out).
  function qsStringify(object) {
    const encode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, hex);
    const parts = [];
    const add = (key, value) => {
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return;
      if (value === null) {
        parts.push(encode(key) + '=');
      } else if (value instanceof Date) {
        parts.push(encode(key) + '=' + encode(value.toISOString()));
      } else if (Array.isArray(value)) {
        value.forEach((v, i) => add(`${key}[${i}]`, v));
      } else if (typeof value === 'object') {
        Object.keys(value).forEach((k) => add(`${key}[${k}]`, value[k]));
      } else {
        parts.push(encode(key) + '=' + encode(String(value)));
      }
    };
    if (object && typeof object === 'object') {
      Object.keys(object).forEach((k) => add(k, object[k]));
    }
    return parts.join('&');
  }

  // The SDK's `isEmptyValue`: what `omitBy` drops from a query.
  function isEmptyValue(value) {
    if (value === null || value === undefined) return true;
    if (typeof value === 'symbol') return true;
    if (typeof value === 'boolean') return false;
    if (typeof value === 'number') return isNaN(value);
    if (typeof value === 'string') return value.trim().length === 0;
    const tag = value.toString();
    if (tag === '[object Map]' || tag === '[object Set]') return !value.size;
    return typeof value === 'object' && Object.keys(value).length === 0;
  }

  // `new URLSearchParams(omitBy(query, isEmptyValue)).toString()`.
  function searchParams(query) {
    const encode = (s) => encodeURIComponent(s).replace(/[!'()~]/g, hex).replace(/%20/g, '+');
    return Object.entries(query || {})
      .filter(([, value]) => !isEmptyValue(value))
      .map(([key, value]) => encode(key) + '=' + encode(String(value)))
      .join('&');
  }

  // `url-join` 4 for paths.
  function urljoin(...parts) {
    const kept = [];
    parts.forEach((part, i) => {
      if (typeof part !== 'string') throw new TypeError('Url must be a string. Received ' + part);
      if (part === '') return;
      if (i > 0) part = part.replace(/^[/]+/, '');
      part = i < parts.length - 1 ? part.replace(/[/]+$/, '') : part.replace(/[/]+$/, '/');
      kept.push(part);
    });
    const joined = kept.join('/').replace(/\/(\?|&|#[^!])/g, '$1');
    const [head, ...rest] = joined.split('?');
    return head + (rest.length > 0 ? '?' : '') + rest.join('&');
  }

  // ---- the client the accessors call: MembraneApiClient's verbs ----

  const client = {
    get(uri, queryParams) {
      if (queryParams) uri += `${uri.includes('?') ? '&' : '?'}${searchParams(queryParams)}`;
      return host.request('GET', uri);
    },
    post: (uri, data) => host.request('POST', uri, data),
    put: (uri, data) => host.request('PUT', uri, data),
    patch: (uri, data) => host.request('PATCH', uri, data),
    delete: (uri, data) => host.request('DELETE', uri, data),
  };

  // The accessor classes, made on first use: most runs never touch `membrane`, and
  // making ~40 classes up front would double what this decorator costs every run.
  let made;
  const lib = () => (made ??= classes());

  function classes() {
    // ---- workspace elements ----

    class ElementAccessor {
      constructor(options) {
        this.options = options;
      }
      async get() {
        return client.get(this.getPath());
      }
      async put(data) {
        return client.put(this.getPath(), data);
      }
      async patch(data) {
        return client.patch(this.getPath(), data);
      }
      async archive() {
        await client.delete(this.getPath());
      }
      async restore() {
        return client.post(this.getPath('restore'));
      }
      getPath(operation = '') {
        const { path, selector } = this.options;
        if (typeof selector === 'string') {
          return `${path}s/${selector}${operation ? '/' + operation : ''}`;
        }
        return `${path}${operation ? '/' + operation : ''}?${qsStringify(selector)}`;
      }
    }

    class ElementListAccessor {
      constructor(path) {
        this.path = path;
      }
      async find(query) {
        return client.get(this.path, query);
      }
      async findAll(query) {
        let allItems = [];
        let currentCursor = '0';
        for (;;) {
          const { items, cursor } = await client.get(this.path, { ...query, limit: 1000, cursor: currentCursor });
          allItems = allItems.concat(items);
          if (!cursor) break;
          currentCursor = cursor;
        }
        return allItems;
      }
      async create(data) {
        return client.post(this.path, data);
      }
    }

    class ElementInstanceListAccessor {
      constructor(path) {
        this.path = path;
      }
      async find(query) {
        return client.get(this.path, query);
      }
    }

    class ElementInstanceAccessor {
      constructor(options) {
        this.options = options;
      }
      async get() {
        return client.get(this.getPath());
      }
      async getId() {
        if (!this.id) {
          if (this.options.selector && typeof this.options.selector === 'string') {
            this.id = this.options.selector;
          } else {
            const element = await this.get();
            if (!element) {
              throw new Error(`Element not found using selector ${JSON.stringify(this.options.selector)}`);
            }
            this.id = element.id;
          }
        }
        return this.id;
      }
      async create(data) {
        if (this.id) throw new Error('Cannot create: element already exists');
        const element = await client.post(this.getPath(), data);
        this.id = element.id;
        return element;
      }
      async put(data) {
        return client.put(this.getPath(), data);
      }
      async patch(data) {
        return client.patch(this.getPath(), data);
      }
      async archive() {
        return client.delete(this.getPath());
      }
      async delete() {
        return client.delete(this.getPath());
      }
      async restore() {
        return client.post(this.getPath('restore'));
      }
      getPath(operation = '') {
        return this.options.instancePath + (operation ? `/${operation}` : '') + '?' + qsStringify(this.getSelector());
      }
      getSelector() {
        return typeof this.options.selector === 'string' ? { id: this.options.selector } : this.options.selector;
      }
    }

    // `/connections/{c}/{kind}/{selector}`
    class ConnectionLevelElementAccessor {
      constructor(connectionSelector, selector, elementKey, query) {
        this.connectionSelector = connectionSelector;
        this.selector = selector;
        this.elementKey = elementKey;
        this.query = query;
        this.endpoint = `/connections/${connectionSelector}/${elementKey}/${selector}`;
      }
      uri(path = '', query = {}) {
        return this.endpoint + path + '?' + qsStringify({ ...this.query, ...query });
      }
      async get(query = {}) {
        return client.get(this.uri('', query));
      }
      async create() {
        return client.put(this.uri());
      }
      async patch(data) {
        return client.patch(this.uri(), data);
      }
      async put(data) {
        return client.put(this.uri(), data);
      }
      async archive() {
        return client.delete(this.uri());
      }
      async reset() {
        return client.post(this.uri('/reset'));
      }
      async setup() {
        return client.post(this.uri('/setup'));
      }
    }

    class ConnectionLevelElementsListAccessor {
      constructor(connectionSelector, elementKey) {
        this.connectionSelector = connectionSelector;
        this.elementKey = elementKey;
      }
      async list(query) {
        return client.get(`/connections/${this.connectionSelector}/${this.elementKey}?${qsStringify(query ?? {})}`);
      }
    }

    // `/integrations/{i}/{kind}/{selector}`
    class IntegrationLevelElementAccessor {
      constructor(integrationSelector, elementSelector, elementKey) {
        this.endpoint = `/integrations/${integrationSelector}/${elementKey}/${elementSelector}`;
      }
      async get() {
        return client.get(this.endpoint);
      }
      async patch(data) {
        return client.patch(this.endpoint, data);
      }
      async put(data) {
        return client.put(this.endpoint, data);
      }
      async archive() {
        return client.delete(this.endpoint);
      }
      async reset() {
        return client.post(this.endpoint + '/reset');
      }
    }

    class IntegrationLevelElementsListAccessor {
      constructor(integrationSelector, elementKey) {
        this.endpoint = `/integrations/${integrationSelector}/${elementKey}`;
      }
      async list(query) {
        return client.get(this.endpoint, query ?? {});
      }
      async create(data) {
        return client.post(this.endpoint, data);
      }
    }

    // ---- actions ----

    class ActionAccessor extends ElementAccessor {
      constructor(selector) {
        super({ selector, path: 'action' });
      }
      async reset() {
        return client.post(this.getPath('reset'));
      }
      // `{output, actionRunId}`, as the server answers it.
      async run(input, options) {
        const params = options
          ? { integrationKey: options.integrationKey, connectionId: options.connectionId, connectionKey: options.connectionKey }
          : {};
        const query = Object.entries(params)
          .filter(([, v]) => v !== undefined && v !== null)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&');
        const path = this.getPath('run');
        return client.post(query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path, { input });
      }
    }

    class ConnectionLevelActionAccessor extends ConnectionLevelElementAccessor {
      constructor(connectionSelector, actionSelector, query) {
        super(connectionSelector, actionSelector, 'actions', query);
      }
      async run(input) {
        return client.post(this.uri('/run'), input);
      }
    }

    class ActionInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'action-instance', selector });
      }
      async setup() {
        await client.post(this.getPath('setup'));
      }
      async reset() {
        await client.post(this.getPath('reset'));
      }
      async run(input) {
        return client.post(this.getPath('run'), input);
      }
    }

    // ---- flows and flow runs ----

    class FlowAccessor extends ElementAccessor {
      constructor(selector) {
        super({ selector, path: 'flow' });
      }
      async reset() {
        return client.post(this.getPath('reset'));
      }
    }

    class FlowInstancesAccessor extends ElementInstanceListAccessor {
      constructor() {
        super('flow-instances');
      }
      async create(data) {
        return client.post('/flow-instances', data);
      }
    }

    class FlowRunsAccessor {
      async find(query) {
        return client.get('/flow-runs', query);
      }
      async create(request) {
        return client.post('/flow-runs', request);
      }
    }

    class FlowRunAccessor {
      constructor(id) {
        this.id = id;
        this.baseUri = `/flow-runs/${id}`;
      }
      async get() {
        return client.get(this.baseUri);
      }
      async stop() {
        await client.post(`${this.baseUri}/stop`);
      }
      async getOutput() {
        return client.get(`${this.baseUri}/output`);
      }
      async getNodeRuns(nodeKey, parameters) {
        return client.get(`${this.baseUri}/nodes/${nodeKey}/runs/${qsStringify(parameters)}`);
      }
      async getNodeRun(nodeKey, runId) {
        return client.get(`${this.baseUri}/nodes/${nodeKey}/runs/${runId}`);
      }
      async getNodeOutputs(nodeKey, parameters) {
        return client.get(`${this.baseUri}/nodes/${nodeKey}/outputs?${qsStringify(parameters)}`);
      }
      async getNodeOutput(nodeKey, outputId) {
        return client.get(`${this.baseUri}/nodes/${nodeKey}/output/${outputId}`);
      }
      async repeat() {
        const flowRun = await this.get();
        if (flowRun.state === 'running') throw new Error('Cannot repeat a running flow run.');
        return client.post('/flow-runs', {
          flowInstanceId: flowRun.connectionFlowId || flowRun.flowInstanceId,
          startNodeKey: flowRun.startNodeKey,
          input: flowRun.input,
        });
      }
    }

    const MAX_POLLING_ERRORS = 10;

    class FlowInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ selector, instancePath: 'flow-instance' });
      }
      async enable() {
        return this.patch({ enabled: true });
      }
      async disable() {
        return this.patch({ enabled: false });
      }
      async updateToLatestFlow() {
        return client.post(`/flow-instances/${await this.getId()}/update-to-latest-flow`);
      }
      async setup() {
        return client.post(`/flow-instances/${await this.getId()}/setup`);
      }
      async reset(options) {
        return client.post(`/flow-instances/${await this.getId()}/reset`, options);
      }
      async startRun(options = {}) {
        const id = await this.getId();
        return new FlowRunsAccessor().create({ flowInstanceId: id, nodeKey: options.nodeKey, input: options.input });
      }
      // Starts a run and polls it until it completes or fails, as the SDK does, but
      // without its one-second pause between polls: the sandbox has no timers.
      async run(options = {}) {
        const onUpdate = (flowRun) => options.onUpdate?.(flowRun);
        let flowRun = await this.startRun(options);
        onUpdate(flowRun);
        let errors = 0;
        for (;;) {
          try {
            flowRun = await new FlowRunAccessor(flowRun.id).get();
            errors = 0;
          } catch (e) {
            errors += 1;
            if (errors > MAX_POLLING_ERRORS) {
              throw new Error(`Got ${errors} errors while polling flow run ${flowRun.id} state - aborting`);
            }
            continue;
          }
          onUpdate(flowRun);
          if (flowRun.state === 'completed') return flowRun;
          if (flowRun.state === 'failed') {
            throw new Error(`Flow run ${flowRun.id} failed: ${flowRun.errors?.[0]?.message}`);
          }
        }
      }
    }

    class ConnectionLevelFlowAccessor extends ConnectionLevelElementAccessor {
      constructor(connectionSelector, flowSelector, query) {
        super(connectionSelector, flowSelector, 'flows', query);
      }
      async enable() {
        return this.patch({ enabled: true });
      }
      async disable() {
        return this.patch({ enabled: false });
      }
      async run(options) {
        return client.post(this.uri('/run'), options);
      }
    }

    // ---- data sources, field mappings, data links ----

    class DataSourceAccessor extends ElementAccessor {
      constructor(selector) {
        super({ selector, path: 'data-source' });
      }
      async setup() {
        await client.post(this.getPath('setup'));
      }
      async reset() {
        return client.post(this.getPath('reset'));
      }
    }

    class DataSourceInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'data-source-instance', selector });
      }
      async setup() {
        await client.post(this.getPath('setup'));
      }
      async reset() {
        await client.post(this.getPath('reset'));
      }
      async unifiedFieldsToNative(unifiedFields) {
        return client.post(this.getPath('unified-fields-to-native'), unifiedFields);
      }
      async getCollection() {
        return client.get(this.getPath('collection'));
      }
      async listRecords(request = {}) {
        return client.post(this.getPath('collection/list'), request);
      }
      async matchRecord(request) {
        return client.post(this.getPath('collection/match'), request);
      }
      async searchRecords(request) {
        return client.post(this.getPath('collection/search'), request);
      }
      async findRecordById(request) {
        return client.post(this.getPath('collection/find-by-id'), typeof request === 'string' ? { id: request } : request);
      }
      async createRecord(request) {
        return client.post(this.getPath('collection/create'), request);
      }
      async updateRecord(request) {
        return client.post(this.getPath('collection/update'), request);
      }
      async deleteRecord(request) {
        return client.post(this.getPath('collection/delete'), typeof request === 'string' ? { id: request } : request);
      }
      async findRecords(request = {}) {
        return client.post(this.getPath('collection/find'), request);
      }
    }

    class FieldMappingAccessor extends ElementAccessor {
      constructor(selector) {
        super({ selector, path: 'field-mapping' });
      }
      async getAppSchema() {
        return client.get(this.getPath('app-schema'));
      }
      async setup() {
        return client.post(this.getPath('setup'));
      }
      async reset() {
        return client.post(this.getPath('reset'));
      }
    }

    class FieldMappingInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'field-mapping-instance', selector });
      }
      async setup() {
        return client.post(`/field-mapping-instances/${await this.getId()}/setup`);
      }
      async reset() {
        return client.post(`/field-mapping-instances/${await this.getId()}/reset`);
      }
    }

    class DataLinkTableInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'data-link-table-instance', selector });
      }
      async findLinks(query) {
        const queryString = query ? qsStringify(query) : '';
        return client.get(this.getPath('links') + (queryString ? `&${queryString}` : ''));
      }
      async createLink(data) {
        return client.post(this.getPath('links'), data);
      }
      async deleteLink(data) {
        return client.delete(this.getPath('links'), data);
      }
    }

    // ---- the rest of the workspace's element kinds ----

    // An element kind with nothing beyond get/put/patch/archive/restore.
    const element = (path) =>
      class extends ElementAccessor {
        constructor(selector) {
          super({ selector, path });
        }
      };

    class AppEventSubscriptionAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'app-event-subscription', selector });
      }
      async subscribe() {
        return client.post(this.getPath('subscribe'));
      }
    }

    class AppDataSchemaInstanceAccessor extends ElementInstanceAccessor {
      constructor(selector) {
        super({ instancePath: 'app-data-schema-instance', selector });
      }
      async setup() {
        await client.post(this.getPath('setup'));
      }
    }

    class ExternalEventSubscriptionAccessor {
      constructor(id) {
        this.id = id;
      }
      async get() {
        return client.get(this.getPath());
      }
      async setup() {
        await client.post(this.getPath('setup'));
      }
      async subscribe() {
        await client.post(this.getPath('subscribe'));
      }
      async unsubscribe() {
        await client.post(this.getPath('unsubscribe'));
      }
      async resubscribe() {
        await client.post(this.getPath('resubscribe'));
      }
      async refreshWebhook() {
        await client.post(this.getPath('refresh-webhook'));
      }
      async pullEvents() {
        await client.post(this.getPath('pull-events'));
      }
      getPath(operation = '') {
        return `external-event-subscriptions/${this.id}${operation ? '/' + operation : ''}`;
      }
    }

    // ---- integrations ----

    class IntegrationAccessor extends ElementAccessor {
      constructor(integrationSelector) {
        super({ path: 'integration', selector: integrationSelector });
        this.integrationSelector = integrationSelector;
      }
      get actions() {
        return new IntegrationLevelElementsListAccessor(this.integrationSelector, 'actions');
      }
      action(actionSelector) {
        return new IntegrationLevelElementAccessor(this.integrationSelector, actionSelector, 'actions');
      }
      get flows() {
        return new IntegrationLevelElementsListAccessor(this.integrationSelector, 'flows');
      }
      flow(flowSelector) {
        return new IntegrationLevelElementAccessor(this.integrationSelector, flowSelector, 'flows');
      }
      get dataSources() {
        return new IntegrationLevelElementsListAccessor(this.integrationSelector, 'data-sources');
      }
      dataSource(dataSourceSelector) {
        return new IntegrationLevelElementAccessor(this.integrationSelector, dataSourceSelector, 'data-sources');
      }
      get fieldMappings() {
        return new IntegrationLevelElementsListAccessor(this.integrationSelector, 'field-mappings');
      }
      fieldMapping(fieldMappingSelector) {
        return new IntegrationLevelElementAccessor(this.integrationSelector, fieldMappingSelector, 'field-mappings');
      }
      async setup() {
        return client.post(`/integrations/${this.integrationSelector}/setup`);
      }
      async getConnectorSpec() {
        return client.get(`/integrations/${this.integrationSelector}/connector-spec`);
      }
      async getOperations() {
        return client.get(this.getPath('operations'));
      }
      async getOperation(key) {
        return client.get(this.getPath(`operations/${key}`));
      }
      async getDataCollections() {
        return client.get(this.getPath('data'));
      }
      async getDataCollection(key) {
        return client.get(this.getPath(`data/${key}`));
      }
    }

    // ---- connections ----

    class ConnectionsAccessor extends ElementInstanceListAccessor {
      constructor() {
        super('connections');
      }
      create(data) {
        return client.post('/connections', data);
      }
    }

    class ConnectionProxy {
      constructor(connection) {
        this.connection = connection;
      }
      async get(path) {
        return client.get(this.getProxyPath(path));
      }
      async post(path, data) {
        return client.post(this.getProxyPath(path), data);
      }
      async put(path, data) {
        return client.put(this.getProxyPath(path), data);
      }
      async patch(path, data) {
        return client.patch(this.getProxyPath(path), data);
      }
      async delete(path) {
        return client.delete(this.getProxyPath(path));
      }
      getProxyPath(path) {
        return urljoin(`/connections/${this.connection.connectionSelector}/proxy`, path);
      }
    }

    class ConnectionOperationAccessor {
      constructor(connectionAccessor, key) {
        this.connectionAccessor = connectionAccessor;
        this.key = key;
      }
      async get() {
        return client.get(this.connectionAccessor.getPath(`operations/${this.key}`));
      }
      async run(request) {
        return client.post(this.connectionAccessor.getPath(`operations/${this.key}/run`), request);
      }
    }

    class ConnectionDataCollectionAccessor {
      constructor(connectionAccessor, key, parameters) {
        this.connectionAccessor = connectionAccessor;
        this.key = key;
        this.parameters = parameters;
      }
      path(method) {
        return this.connectionAccessor.getPath(method ? `data/${this.key}/${method}` : `data/${this.key}`, this.parameters);
      }
      async get() {
        return client.get(this.path());
      }
      async findById(request) {
        return client.post(this.path('find-by-id'), request);
      }
      async list(request) {
        return client.post(this.path('list'), request);
      }
      async search(request) {
        return client.post(this.path('search'), request);
      }
      async match(request) {
        return client.post(this.path('match'), request);
      }
      async create(request) {
        return client.post(this.path('create'), request);
      }
      async update(request) {
        return client.post(this.path('update'), request);
      }
      async delete(request) {
        return client.post(this.path('delete'), request);
      }
    }

    class ConnectionAccessor {
      constructor(connectionSelector) {
        this.connectionSelector = connectionSelector;
      }
      get actions() {
        return new ConnectionLevelElementsListAccessor(this.connectionSelector, 'actions');
      }
      action(actionSelector, query) {
        return new ConnectionLevelActionAccessor(this.connectionSelector, actionSelector, query ?? {});
      }
      get flows() {
        return new ConnectionLevelElementsListAccessor(this.connectionSelector, 'flows');
      }
      flow(flowSelector, query) {
        return new ConnectionLevelFlowAccessor(this.connectionSelector, flowSelector, query ?? {});
      }
      get dataSources() {
        return new ConnectionLevelElementsListAccessor(this.connectionSelector, 'data-sources');
      }
      dataSource(dataSourceSelector, query) {
        return new ConnectionLevelElementAccessor(this.connectionSelector, dataSourceSelector, 'data-sources', query ?? {});
      }
      get fieldMappings() {
        return new ConnectionLevelElementsListAccessor(this.connectionSelector, 'field-mappings');
      }
      fieldMapping(fieldMappingSelector, query) {
        return new ConnectionLevelElementAccessor(this.connectionSelector, fieldMappingSelector, 'field-mappings', query ?? {});
      }
      async get(query = { includeSecrets: false }) {
        return client.get(`/connections/${this.connectionSelector}`, query);
      }
      async patch(data) {
        return client.patch(`/connections/${this.connectionSelector}`, data);
      }
      async put(data) {
        return client.put(`/connections/${this.connectionSelector}`, data);
      }
      async archive() {
        return client.delete(`/connections/${this.connectionSelector}`);
      }
      async request(path, data = null) {
        const pathWithoutSlash = path.startsWith('/') ? path.slice(1) : path;
        return client.post(`/connections/${this.connectionSelector}/api/${pathWithoutSlash}`, data);
      }
      get proxy() {
        return new ConnectionProxy(this);
      }
      operation(key) {
        return new ConnectionOperationAccessor(this, key);
      }
      dataCollection(key, parameters) {
        return new ConnectionDataCollectionAccessor(this, key, parameters);
      }
      async refreshCredentials() {
        return client.post(`connections/${this.connectionSelector}/refresh-credentials`);
      }
      getPath(subpath, query) {
        const queryString = searchParams(query ?? {});
        return urljoin(`/connections/${this.connectionSelector}`, subpath ?? '') + (queryString ? `?${queryString}` : '');
      }
    }

    return {
      ActionAccessor, ActionInstanceAccessor, AppDataSchemaInstanceAccessor, AppEventSubscriptionAccessor,
      ConnectionAccessor, ConnectionsAccessor, DataLinkTableInstanceAccessor, DataSourceAccessor,
      DataSourceInstanceAccessor, ElementInstanceListAccessor, ElementListAccessor,
      ExternalEventSubscriptionAccessor, FieldMappingAccessor, FieldMappingInstanceAccessor, FlowAccessor,
      FlowInstanceAccessor, FlowInstancesAccessor, FlowRunAccessor, FlowRunsAccessor, IntegrationAccessor,
      element,
    };
  }

  // ---- the client ----

  const list = (path) => () => new (lib().ElementListAccessor)(path);
  const instances = (path) => () => new (lib().ElementInstanceListAccessor)(path);
  const one = (name) => (selector) => new (lib()[name])(selector);
  const plain = (path) => (selector) => new (lib().element(path))(selector);

  const accessors = {
    self: () => ({
      get: async () => client.get('self'),
      patch: async (data) => client.patch('self', data),
    }),
    integrations: list('integrations'),
    connections: () => new (lib().ConnectionsAccessor)(),
    actions: list('actions'),
    actionInstances: instances('action-instances'),
    flows: list('flows'),
    flowInstances: () => new (lib().FlowInstancesAccessor)(),
    flowRuns: () => new (lib().FlowRunsAccessor)(),
    dataSources: list('data-sources'),
    dataSourceInstances: instances('data-source-instances'),
    fieldMappings: list('field-mappings'),
    fieldMappingInstances: instances('field-mapping-instances'),
    dataLinkTables: list('data-link-tables'),
    dataLinkTableInstances: instances('data-link-table-instances'),
    appEventTypes: list('app-event-types'),
    appEventSubscriptions: instances('app-event-subscriptions'),
    appDataSchemas: list('app-data-schemas'),
    appDataSchemaInstances: instances('app-data-schema-instances'),
    customers: list('customers'),
    packages: list('packages'),
    screens: list('screens'),
  };
  const methods = {
    integration: one('IntegrationAccessor'),
    connection: one('ConnectionAccessor'),
    action: one('ActionAccessor'),
    actionInstance: one('ActionInstanceAccessor'),
    flow: one('FlowAccessor'),
    flowInstance: one('FlowInstanceAccessor'),
    flowRun: one('FlowRunAccessor'),
    dataSource: one('DataSourceAccessor'),
    dataSourceInstance: one('DataSourceInstanceAccessor'),
    fieldMapping: one('FieldMappingAccessor'),
    fieldMappingInstance: one('FieldMappingInstanceAccessor'),
    dataLinkTable: plain('data-link-table'),
    dataLinkTableInstance: one('DataLinkTableInstanceAccessor'),
    appEventType: plain('app-event-type'),
    appEventSubscription: one('AppEventSubscriptionAccessor'),
    appDataSchema: plain('app-data-schema'),
    appDataSchemaInstance: one('AppDataSchemaInstanceAccessor'),
    customer: plain('customer'),
    package: plain('package'),
    screen: plain('screen'),
    externalEventSubscriptions: () => new (lib().ElementInstanceListAccessor)('external-event-subscriptions'),
    externalEventSubscription: one('ExternalEventSubscriptionAccessor'),
    setCredentials: async (credentials) => client.patch('/self', { credentials }),
    connectionRequest: async (connectionId, uri, data) =>
      client.post(`connections/${connectionId}/execute-request`, { key: uri, payload: data }),
  };

  const membrane = {
    get: host.get,
    post: host.post,
    put: host.put,
    patch: host.patch,
    delete: host.delete,
    ...methods,
  };
  for (const [name, make] of Object.entries(accessors)) {
    Object.defineProperty(membrane, name, { get: make, enumerable: true });
  }
  return membrane;
}
