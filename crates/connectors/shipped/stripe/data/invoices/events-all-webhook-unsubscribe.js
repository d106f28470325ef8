// Deletes the webhook endpoint `subscribe` registered (`unsubscribe`, semantics §2.4
// `webhook`): `DELETE /v1/webhook_endpoints/{id}`
// (https://docs.stripe.com/api/webhook_endpoints/delete). An endpoint already gone
// (404: deleted in the Dashboard) is what was wanted.
function statusOf(error) {
  const data = error && error.data
  return (data && data.data && data.data.response && data.data.response.status) || null
}

export default async function ({ apiClient, input }) {
  const endpointId = (input.state || {}).endpointId
  if (!endpointId) return {}
  try {
    await apiClient.delete(`/webhook_endpoints/${encodeURIComponent(endpointId)}`)
  } catch (error) {
    if (statusOf(error) !== 404) throw error
  }
  return {}
}
