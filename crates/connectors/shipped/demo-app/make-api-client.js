// `apiBaseUri` is this server's own address, which the server supplies when it serves
// the demo app (`osmosis serve --demo`; crates/demo-app/src/lib.rs); an integration may
// set it to reach another server's demo app. Without it there is nothing to call.
export default async function ({ credentials, connectorParameters }) {
  const base = connectorParameters && connectorParameters.apiBaseUri
  if (!base) {
    throw new Error(
      'The demo app is not served by this Osmosis: start it with --demo (OSMOSIS_DEMO=1), ' +
        'or set the integration parameter apiBaseUri to a server that serves it',
    )
  }
  const key = (credentials && credentials.apiKey) || ''
  return {
    baseUri: `${String(base).replace(/\/+$/, '')}/demo-app/api`,
    headers: { Authorization: `Bearer ${key}` },
  }
}
