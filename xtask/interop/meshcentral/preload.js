// Preloaded into MeshCentral (`node -r preload.js`) by `cargo xtask interop`; edits nothing on disk.
//
// 1. MeshCentral calls `listen(port)` without a host, so every listener would bind all interfaces:
//    bind them to loopback instead (MC_BIND, default 127.0.0.1).
// 2. MeshCentral bug: its Hello path passes the provisioning chain to `tls.connect` root first
//    (`certs.reverse().join('')`), so Node throws ERR_OSSL_X509_KEY_VALUES_MISMATCH and the server
//    dies. Reorder `options.cert` so the certificate matching `options.key` comes first, followed by
//    its issuers in order.
// 3. It connects back to the reverse-DNS name of the Hello's source; where `localhost` resolves to
//    ::1 first, that misses a device on 127.0.0.1: prefer IPv4 answers.
'use strict';
require('dns').setDefaultResultOrder('ipv4first');
const net = require('net');
const tls = require('tls');
const crypto = require('crypto');

const bindHost = process.env.MC_BIND || '127.0.0.1';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    // listen(port[, host][, backlog][, cb]): insert or replace the host.
    if (typeof args[1] === 'string') { args[1] = bindHost; } else { args.splice(1, 0, bindHost); }
  } else if (args[0] != null && typeof args[0] === 'object' && !Array.isArray(args[0]) && args[0].path == null && args[0].fd == null && args[0]._handle == null) {
    args[0] = Object.assign({}, args[0], { host: bindHost });
  }
  return listen.apply(this, args);
};

function splitPem(pem) {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\r?\n?/g) || [];
}

function leafFirst(certOption, keyOption) {
  const text = Buffer.isBuffer(certOption) ? certOption.toString() : certOption;
  if (typeof text !== 'string') return certOption;
  const pems = splitPem(text);
  if (pems.length < 2) return certOption;
  let key;
  try { key = crypto.createPrivateKey(keyOption); } catch (e) { return certOption; }
  const certs = pems.map((pem) => ({ pem, x509: new crypto.X509Certificate(pem) }));
  const leaf = certs.find((c) => { try { return c.x509.checkPrivateKey(key); } catch (e) { return false; } });
  if (leaf == null) return certOption;
  const ordered = [leaf];
  let rest = certs.filter((c) => c !== leaf);
  while (rest.length > 0) {
    const last = ordered[ordered.length - 1];
    const issuer = rest.find((c) => last.x509.checkIssued(c.x509));
    if (issuer == null) break;
    ordered.push(issuer);
    rest = rest.filter((c) => c !== issuer);
  }
  ordered.push(...rest);
  return ordered.map((c) => c.pem.trim() + '\n').join('');
}

const connect = tls.connect;
tls.connect = function (...args) {
  for (const a of args) {
    if (a != null && typeof a === 'object' && a.cert != null && a.key != null) {
      a.cert = leafFirst(a.cert, a.key);
    }
  }
  return connect.apply(this, args);
};
