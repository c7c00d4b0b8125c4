// Replays WS-MAN request envelopes (as built by Intel's wsman-messages) against a device over HTTP
// with digest authentication, and classifies each answer. Used by `cargo xtask interop`.
//
// One keep-alive connection; digest as real clients do it: the first request draws a 401, later
// requests reuse the nonce with an increasing nc and one cnonce; a 401 (nonce expired, the
// connection closed) is answered once with the new challenge.
//
// Prints one JSON line per file: {"name", "status", "outcome"} where outcome is
//   "ok"                 HTTP 200, no fault, ReturnValue absent or 0
//   "ok rv=N"            HTTP 200 with a non-zero ReturnValue
//   "fault SUBCODE"      a SOAP fault (its Subcode value, prefix dropped), with "reason"
//   "http STATUS"        any other HTTP status without a SOAP fault
//   "error MESSAGE"      no answer at all (connection refused or reset)
//
// Usage: node replay.js HOST PORT USER PASSWORD FILE...
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const crypto = require('crypto');

const [host, port, user, password, ...files] = process.argv.slice(2);
if (!password || files.length === 0) {
  console.error('usage: node replay.js HOST PORT USER PASSWORD FILE...');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const cnonce = crypto.randomBytes(8).toString('hex');
let challenge = null;
let nc = 0;

function parseChallenge(header) {
  if (typeof header !== 'string' || !/^Digest\s/i.test(header)) return null;
  const out = {};
  const re = /(\w+)=(?:"([^"]*)"|([^,\s]*))/g;
  let m;
  while ((m = re.exec(header)) !== null) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2] : m[3];
  return out.nonce ? out : null;
}

function authorization() {
  if (challenge == null) return null;
  nc += 1;
  const ncHex = nc.toString(16).padStart(8, '0');
  const ha1 = md5(`${user}:${challenge.realm}:${password}`);
  const ha2 = md5('POST:/wsman');
  const response = md5(`${ha1}:${challenge.nonce}:${ncHex}:${cnonce}:auth:${ha2}`);
  let h = `Digest username="${user}", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="/wsman", ` +
    `response="${response}", qop=auth, nc=${ncHex}, cnonce="${cnonce}"`;
  if (challenge.opaque) h += `, opaque="${challenge.opaque}"`;
  return h;
}

function post(body) {
  return new Promise((resolve) => {
    const headers = { 'Content-Type': 'application/soap+xml; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) };
    const auth = authorization();
    if (auth) headers.Authorization = auth;
    const req = http.request({ host, port: Number(port), path: '/wsman', method: 'POST', headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(body);
  });
}

async function send(body) {
  let res = await post(body);
  for (let tries = 0; tries < 2 && res.status === 401; tries++) {
    const next = parseChallenge(res.headers['www-authenticate']);
    if (next == null) break;
    challenge = next;
    nc = 0;
    res = await post(body);
  }
  return res;
}

function localText(xml, name) {
  const m = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)<`).exec(xml);
  return m ? m[1].trim() : null;
}

function classify(res) {
  if (res.error) return { outcome: `error ${res.error}` };
  const body = res.body || '';
  if (/<(?:[\w.-]+:)?Fault[\s>]/.test(body)) {
    const sub = /<(?:[\w.-]+:)?Subcode>\s*<(?:[\w.-]+:)?Value>([^<]*)</.exec(body);
    const code = sub ? sub[1].trim().replace(/^[\w.-]+:/, '') : (localText(body, 'Value') || 'unknown');
    return { outcome: `fault ${code}`, reason: localText(body, 'Text') };
  }
  if (res.status !== 200) return { outcome: `http ${res.status}` };
  const rv = localText(body, 'ReturnValue');
  if (rv != null && rv !== '0') return { outcome: `ok rv=${rv}` };
  return { outcome: 'ok' };
}

(async () => {
  for (const file of files) {
    const body = fs.readFileSync(file, 'utf8');
    const res = await send(body);
    const name = path.basename(file).replace(/\.xml$/, '');
    console.log(JSON.stringify(Object.assign({ name, status: res.status || 0 }, classify(res))));
  }
  agent.destroy();
})();
