// A delivery of the webhook endpoint `subscribe` registered (`handle`, semantics
// §2.4 `webhook`), verified as Stripe documents
// (https://docs.stripe.com/webhooks#verify-manually): `Stripe-Signature` is
// `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`; the delivery is genuine when one
// `v1` is the hex HMAC-SHA256 of `<t>.<raw body>` under the endpoint's secret
// (compared without stopping at the first difference; any `v1` may match, as Stripe
// sends several while a secret is rolled). It is refused (thrown: the delivery is
// logged `error` and makes no event) without a timestamp or a `v1`, when none
// matches, or when `t` is more than 300 s from now (Stripe's libraries' default
// tolerance): a captured delivery replayed later is refused. Only then is the body
// read, from `rawBody` (the bytes signed).
//
// `invoice.created`, `invoice.updated`, `invoice.deleted` become one `created`,
// `updated`, `deleted` event whose record is `data.object`; the event id is
// Stripe's event id (`evt_…`), which its retries keep, so a retried delivery starts
// no second run. The engine keeps the events of the subscription's own type; events of
// other objects make none.
const OBJECT = 'invoice'
const TYPES = { 'invoice.created': 'created', 'invoice.updated': 'updated', 'invoice.deleted': 'deleted' }
const TOLERANCE_SECONDS = 300

// ---- HMAC-SHA256 (FIPS 180-4, RFC 2104) in plain JavaScript: the sandbox has no
// `crypto` and no imports, so every webhook file of the shipped connectors that signs
// or verifies carries this same block (tests/it/shipped_webhooks.rs in crate `osmosis`
// checks the copies are identical and agree with a native HMAC).
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

/** The UTF-8 bytes of a string, as an array. */
function utf8(text) {
  const out = []
  for (const ch of String(text)) {
    const c = ch.codePointAt(0)
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return out
}

/** SHA-256 of an array of bytes: 32 bytes. */
function sha256(bytes) {
  const n = bytes.length
  const total = ((n + 72) >> 6) << 6
  const m = new Uint8Array(total)
  m.set(bytes)
  m[n] = 0x80
  const high = Math.floor(n / 0x20000000)
  const low = (n * 8) >>> 0
  for (let i = 0; i < 4; i++) {
    m[total - 8 + i] = high >>> (24 - 8 * i)
    m[total - 4 + i] = low >>> (24 - 8 * i)
  }
  const h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
  const w = new Int32Array(64)
  for (let o = 0; o < total; o += 64) {
    for (let i = 0; i < 16; i++) {
      const j = o + 4 * i
      w[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3]
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]
      const y = w[i - 2]
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7]
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (k + S1 + ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k
  }
  const out = new Uint8Array(32)
  for (let i = 0; i < 8; i++) {
    out[4 * i] = h[i] >>> 24
    out[4 * i + 1] = h[i] >>> 16
    out[4 * i + 2] = h[i] >>> 8
    out[4 * i + 3] = h[i]
  }
  return out
}

/** Lower-case hex HMAC-SHA256 of the UTF-8 of `message` under the UTF-8 of `key`. */
function hmacSha256Hex(key, message) {
  let k = utf8(key)
  if (k.length > 64) k = Array.from(sha256(k))
  const inner = []
  const outer = []
  for (let i = 0; i < 64; i++) {
    const b = i < k.length ? k[i] : 0
    inner.push(b ^ 0x36)
    outer.push(b ^ 0x5c)
  }
  const digest = sha256(outer.concat(Array.from(sha256(inner.concat(utf8(message))))))
  let hex = ''
  for (const b of digest) hex += (b < 16 ? '0' : '') + b.toString(16)
  return hex
}

/** Whether two strings are equal, looking at every character whatever differs first. */
function sameText(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}
// ---- end of HMAC-SHA256

function header(headers, name) {
  for (const key of Object.keys(headers || {})) {
    if (key.toLowerCase() === name) {
      const value = headers[key]
      return Array.isArray(value) ? value[0] : value
    }
  }
  return undefined
}

export default async function ({ input }) {
  const secret = (input.state || {}).webhookSecret
  if (typeof secret !== 'string' || secret === '') {
    throw new Error('Refused: this subscription has no webhook secret (subscribe it again)')
  }
  let timestamp = null
  const signatures = []
  for (const part of String(header(input.headers, 'stripe-signature') || '').split(',')) {
    const at = part.indexOf('=')
    if (at < 0) continue
    const name = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (name === 't') timestamp = value
    else if (name === 'v1') signatures.push(value.toLowerCase())
  }
  if (timestamp === null || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) {
    throw new Error('Refused: the delivery carries no Stripe-Signature with a timestamp and a v1 signature')
  }
  const raw = typeof input.rawBody === 'string' ? input.rawBody : ''
  const expected = hmacSha256Hex(secret, `${timestamp}.${raw}`)
  let matched = false
  for (const signature of signatures) matched = sameText(signature, expected) || matched
  if (!matched) throw new Error('Refused: no v1 signature of the Stripe-Signature header matches the body')
  const drift = Math.abs(Date.now() / 1000 - Number(timestamp))
  if (drift > TOLERANCE_SECONDS) {
    throw new Error(`Refused: the Stripe-Signature timestamp is ${Math.round(drift)} s from now, more than ${TOLERANCE_SECONDS} s`)
  }
  const event = JSON.parse(raw)
  const record = event && event.data && event.data.object
  const type = event && TYPES[event.type]
  if (!type || !record || typeof record !== 'object' || record.object !== OBJECT) return { events: [] }
  const out = { type, record }
  if (event.id) out.id = String(event.id)
  return { events: [out] }
}
