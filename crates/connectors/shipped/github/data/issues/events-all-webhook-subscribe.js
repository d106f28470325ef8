// Registers a repository webhook for the issues of `owner/repo` (`subscribe`, semantics
// §2.4 `webhook`): `POST /repos/{owner}/{repo}/hooks` with `events: ["issues"]`, JSON
// payloads, and a secret of this subscription's own
// (https://docs.github.com/en/rest/repos/webhooks#create-a-repository-webhook). The
// three files `events-all-webhook-*.js` serve created, updated and deleted issues
// alike (`events.all`); each subscription of the connection registers its own hook.
//
// The secret. GitHub signs every delivery with it (`X-Hub-Signature-256`) and asks for
// "a random string of text with high entropy"; the sandbox has no `crypto`, and its
// `Math.random` (QuickJS: xorshift64* seeded from the clock in microseconds when the
// run starts) can be guessed by whoever knows roughly when the hook was made. So the
// secret is an HMAC-SHA256 (below) keyed with what only Osmosis and GitHub hold — the
// connection's credentials (the OAuth access token: high entropy, never sent to the
// webhook URL) and the OAuth app's client secret — over what makes it this
// subscription's: its webhook URL (whose key is 128 bits from the server's OS random
// generator), the time and `Math.random` draws. Knowing the URL and the time, without
// the token, does not give the secret; HMAC outputs do not give the token back.
// Whoever holds the token can replace the hook's secret anyway, so nothing is lost
// that the token did not already grant. The secret is kept in the subscription's
// state (`webhookSecret`) for `handle`; GitHub never returns it (its API shows
// `********`).
const EVENTS = ['issues']

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

function repoPath(parameters) {
  const { owner, repo } = parameters || {}
  if (!owner || !repo) throw new Error('The issues collection needs its `owner` and `repo` parameters')
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`
}

function newSecret(webhookUri, credentials, connectorParameters) {
  const key = JSON.stringify([credentials || {}, (connectorParameters || {}).clientSecret || ''])
  let salt = `${webhookUri}|${Date.now()}`
  for (let i = 0; i < 8; i++) salt += `|${Math.random()}`
  return hmacSha256Hex(key, salt)
}

export default async function ({ apiClient, input, credentials, connectorParameters }) {
  const path = repoPath(input.parameters)
  if (!input.webhookUri) throw new Error('No webhookUri to register')
  const secret = newSecret(input.webhookUri, credentials, connectorParameters)
  const hook = await apiClient.post(`${path}/hooks`, {
    name: 'web',
    active: true,
    events: EVENTS,
    config: { url: input.webhookUri, content_type: 'json', insecure_ssl: '0', secret },
  })
  if (!hook || hook.id == null) throw new Error('GitHub answered the hook registration without a hook id')
  return { state: { hookId: hook.id, webhookSecret: secret } }
}
