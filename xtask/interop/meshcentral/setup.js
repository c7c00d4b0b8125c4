// Prepares a scratch MeshCentral data directory for `cargo xtask interop` (real-clients.md §1).
//
// Writes config.json (loopback ports, the AMT provisioning server on HELLO_PORT with the repo's
// test provisioning chain as the ACM activation certificate) and appends an ACM device group to
// meshcentral.db. Prints the device group id.
//
// Usage: node setup.js DATA_DIR CERTS_DIR HELLO_PORT WEB_PORT ADMIN_PASSWORD MEBX_PASSWORD
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [dataDir, certsDir, helloPort, webPort, adminPassword, mebxPassword] = process.argv.slice(2);
if (!mebxPassword) {
  console.error('usage: node setup.js DATA_DIR CERTS_DIR HELLO_PORT WEB_PORT ADMIN_PASSWORD MEBX_PASSWORD');
  process.exit(2);
}
fs.mkdirSync(dataDir, { recursive: true });

// The provisioning chain of certs/README.md: prov-oid leaf, its issuing CA, the RSA-2048 root.
const files = {
  'acm-root.crt': 'root-rsa2048.cert.pem',
  'acm-int.crt': 'int-rsa2048.cert.pem',
  'acm-leaf.crt': 'prov-oid.cert.pem',
  'acm-leaf.key': 'prov-oid.TEST-ONLY.key.pem',
};
for (const [to, from] of Object.entries(files)) {
  fs.copyFileSync(path.join(certsDir, from), path.join(dataDir, to));
}
const trustedFqdn = 'provisionserver.corp.amt-sim.test';

// A stable device group id: 64 characters of base64 as MeshCentral makes them ('@' and '$' for '+' and '/').
const meshId = 'mesh//' + crypto.createHash('sha384').update('amt-sim interop').digest('base64')
  .replace(/\+/g, '@').replace(/\//g, '$');

const config = {
  settings: {
    cert: '127.0.0.1',
    port: Number(webPort),
    aliasPort: Number(webPort),
    redirPort: 0,
    mpsPort: 0,
    exactPorts: true,
    lanOnly: true,
    amtScanner: false,
    meshScanner: false,
    selfUpdate: false,
    amtProvisioningServer: {
      port: Number(helloPort),
      ip: '127.0.0.1',
      trustedFqdn,
      deviceGroup: meshId,
      newMebxPassword: mebxPassword,
    },
  },
  domains: {
    '': {
      amtAcmActivation: {
        log: 'amtactivation.log',
        certs: { 'amt-sim-test': { certfiles: ['acm-root.crt', 'acm-int.crt', 'acm-leaf.crt'], keyfile: 'acm-leaf.key' } },
      },
    },
  },
};
fs.writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(config, null, 2));

const dbFile = path.join(dataDir, 'meshcentral.db');
const existing = fs.existsSync(dbFile) ? fs.readFileSync(dbFile, 'utf8') : '';
if (!existing.includes(JSON.stringify(meshId))) {
  const mesh = {
    type: 'mesh', _id: meshId, name: 'amt-sim ACM', mtype: 1, desc: '', domain: '', links: {}, creation: Date.now(),
    amt: { type: 3, badpass: 1, cirasetup: 0, ccm: 0, password: adminPassword },
  };
  fs.appendFileSync(dbFile, JSON.stringify(mesh) + '\n');
}
console.log(meshId);
