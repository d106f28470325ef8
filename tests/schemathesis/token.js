// Prints a token for workspace argv[2] signed with secret argv[3] (HS256): an admin
// token, or with argv[4] the token of the customer of that internal id.
const crypto = require('crypto');
const [key, secret, customer] = process.argv.slice(2);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const claims = customer ? { iss: key, id: customer } : { iss: key, isAdmin: true };
const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 7200 })}`;
console.log(`${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`);
