// Companies created since the cursor, for Osmosis's polling (`pull-latest-records`, semantics
// §2.4): HubSpot's CRM search, `POST /crm/v3/objects/companies/search`, filtered on
// `createdate` from the cursor and sorted ascending on it
// (https://developers.hubspot.com/docs/api/crm/search). The four HubSpot event files
// (contacts, companies × created, updated) are this function with other constants.
//
// The cursor is `createdate` in epoch milliseconds, the newest value seen. A pull
// searches `GTE` it, so the records of that very millisecond come again (the engine
// drops a record it has seen unchanged: no duplicate event) and one changed in the
// same millisecond after the pull is not lost. Paging is by the timestamp itself (the
// next call starts at the last one seen), never by `after`: `after` is an offset, a
// record modified while the pull pages moves to the end and shifts the rest back, so
// offset paging skips records, and HubSpot refuses offsets past 10,000 results. A page
// that is all one timestamp cannot move the cursor: then the cursor becomes
// `<ms>|<id>` and the next calls take that millisecond's records again, by
// `hs_object_id GT` from 0 (HubSpot sorts on one property only, and ties of the
// timestamp sort come in no promised order), then `<ms>>` those after it
// (`GT`: that millisecond was read whole) and on as before. Each step moves the cursor
// forward, so a pull ends: on a page with nothing newer, the cursor unchanged. Without
// a cursor (the baseline) the search starts at 0 and reads the whole collection once.
const OBJECT = 'companies'
const PROP = 'createdate'
const PROPERTIES = ['name', 'domain', 'industry', 'phone', 'city']
const LIMIT = 100

export default async function ({ apiClient, input }) {
  const cursor = input.cursor == null ? '' : String(input.cursor)
  let mode = 'GTE'
  let since = cursor === '' ? '0' : cursor
  let afterId = null
  if (cursor.includes('|')) {
    ;[since, afterId] = cursor.split('|')
    mode = 'TIE'
  } else if (cursor.endsWith('>')) {
    since = cursor.slice(0, -1)
    mode = 'GT'
  }
  const body = { properties: PROPERTIES.concat([PROP]), limit: LIMIT }
  if (mode === 'TIE') {
    body.filterGroups = [{ filters: [
      { propertyName: PROP, operator: 'EQ', value: since },
      { propertyName: 'hs_object_id', operator: 'GT', value: afterId },
    ] }]
    body.sorts = [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }]
  } else {
    body.filterGroups = [{ filters: [{ propertyName: PROP, operator: mode, value: since }] }]
    body.sorts = [{ propertyName: PROP, direction: 'ASCENDING' }]
  }
  const page = await apiClient.post(`/crm/v3/objects/${OBJECT}/search`, body)
  const records = (page && page.results) || []
  const stamp = (r) => {
    const v = (r.properties || {})[PROP]
    const ms = /^\d+$/.test(String(v)) ? Number(v) : Date.parse(v)
    return String(Number.isFinite(ms) ? ms : Date.parse(PROP === 'createdate' ? r.createdAt : r.updatedAt))
  }
  const last = records[records.length - 1]
  let next
  if (mode === 'TIE') {
    next = records.length === LIMIT ? `${since}|${last.id}` : `${since}>`
  } else if (records.length === 0) {
    next = cursor === '' ? null : cursor
  } else {
    const lastStamp = stamp(last)
    if (records.length === LIMIT && stamp(records[0]) === lastStamp) {
      // The page is one instant, in no promised order: that instant again, by id.
      next = `${lastStamp}|0`
    } else {
      next = lastStamp
    }
  }
  return { records, cursor: next }
}
