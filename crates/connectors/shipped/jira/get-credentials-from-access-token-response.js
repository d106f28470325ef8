// The token is for the gateway; calls go to one site, named by its cloud id. Ask which
// sites the token reaches and keep the first:
// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#3-1-get-the-cloudid-for-your-site
export default async function ({ externalApiClient, input }) {
  const gateway = (input.connectorParameters && input.connectorParameters.apiBaseUri) || 'https://api.atlassian.com'
  const sites = await externalApiClient.get(`${gateway}/oauth/token/accessible-resources`, undefined, {
    headers: { Authorization: `Bearer ${input.access_token}` },
  })
  const site = (sites || [])[0]
  if (!site) {
    throw new Error('The Atlassian account has no Jira site this app may access')
  }
  return { ...input.tokenResponse, cloudId: site.id, siteUrl: site.url, siteName: site.name }
}
