// Contacts created since the cursor, for Osmosis's polling (`pull-latest-records`, semantics
// §2.4): a SOQL query (`GET /query?q=…`) on `CreatedDate`, ordered by it then `Id`, 200
// at a time (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
// for the datetime literals). Not the getUpdated API: it answers ids only (one more
// call per record to read it) and has no "created" form.
// The four Salesforce event files (accounts, contacts × created, updated) are this
// function with other constants.
//
// The cursor is the newest `CreatedDate` seen, as a SOQL literal (`2024-05-01T10:00:00Z`).
// A pull starts with `CreatedDate >= cursor`: the field has one-second precision, so
// records changed in that second after the last pull come again with those already
// seen (the engine drops a record it has seen unchanged: no duplicate event). Within a
// pull the next page starts after the last record by (`CreatedDate`, `Id`) — cursor
// `<literal>|<Id>` — so a second with more changes than a page still moves on; the
// page after the last comes back empty and the cursor is the plain literal again,
// which the next pull starts from. Without a cursor (the baseline) the query has no
// condition and reads the whole object once.
const OBJECT = 'Contact'
const FIELD = 'CreatedDate'
const FIELDS = 'Id, Name, FirstName, LastName, Email, Phone, AccountId, CreatedDate, LastModifiedDate'
const LIMIT = 200

// A datetime as Salesforce returns it (`2024-05-01T10:00:00.000+0000`) as a SOQL
// literal.
function literal(value) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.exec(String(value))
  if (!m) {
    throw new Error(`${FIELD} is not a Salesforce datetime: ${value}`)
  }
  const offset = m[2] === 'Z' || /^[+-]00:?00$/.test(m[2]) ? 'Z' : `${m[2].slice(0, 3)}:${m[2].slice(-2)}`
  return m[1] + offset
}

export default async function ({ apiClient, input }) {
  const cursor = input.cursor == null ? '' : String(input.cursor)
  const [since, afterId] = cursor.split('|')
  if (since !== '') {
    literal(since)
  }
  if (afterId !== undefined && !/^[A-Za-z0-9]{15,18}$/.test(afterId)) {
    throw new Error(`not a Salesforce id: ${afterId}`)
  }
  let where = ''
  if (afterId !== undefined) {
    where = ` WHERE ${FIELD} > ${since} OR (${FIELD} = ${since} AND Id > '${afterId}')`
  } else if (since !== '') {
    where = ` WHERE ${FIELD} >= ${since}`
  }
  const q = `SELECT ${FIELDS} FROM ${OBJECT}${where} ORDER BY ${FIELD}, Id LIMIT ${LIMIT}`
  const page = await apiClient.get('/query', { q })
  const records = (page && page.records) || []
  let next
  if (records.length === 0) {
    next = since === '' ? null : since
  } else {
    const last = records[records.length - 1]
    const at = literal(last[FIELD])
    next = records.length === LIMIT || afterId !== undefined ? `${at}|${last.Id}` : at
  }
  return { records, cursor: next }
}
