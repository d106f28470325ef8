// Prints an admin token for workspace argv[2] signed with secret argv[3] (HS256).
const crypto = require('crypto');
const [key, secret] = process.argv.slice(2);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: key, isAdmin: true, exp: Math.floor(Date.now() / 1000) + 7200 })}`;
console.log(`${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`);
