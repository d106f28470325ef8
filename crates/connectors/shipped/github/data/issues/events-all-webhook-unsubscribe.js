// Deletes the repository webhook `subscribe` registered (`unsubscribe`, semantics §2.4
// `webhook`): `DELETE /repos/{owner}/{repo}/hooks/{hook_id}`
// (https://docs.github.com/en/rest/repos/webhooks#delete-a-repository-webhook). A hook
// already gone (404: deleted by hand, or the repository with it) is what was wanted.
// GitHub's hooks do not expire: there is no `refresh`.
function statusOf(error) {
  const data = error && error.data
  return (data && data.data && data.data.response && data.data.response.status) || null
}

export default async function ({ apiClient, input }) {
  const { owner, repo } = input.parameters || {}
  const hookId = (input.state || {}).hookId
  if (hookId == null || !owner || !repo) return {}
  const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/hooks/${encodeURIComponent(hookId)}`
  try {
    await apiClient.delete(path)
  } catch (error) {
    if (statusOf(error) !== 404) throw error
  }
  return {}
}
