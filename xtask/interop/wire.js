// Wire-level interop with real AMT clients' own code (installed from npm by `cargo xtask interop`).
//
// 1. MeshCentral's WS-MAN response parser (`meshcentral/amt/amt-xml.js`, the one its provisioning
//    server and management code use) reads every response and fault amt-wire emits (the golden
//    files in crates/amt-wire/testdata/wsman/golden): each must parse, with the header fields and
//    body values MeshCentral reads.
// 2. Intel's message library (`@device-management-toolkit/wsman-messages`) generates every request
//    it can build without live data; they are written to OUT_DIR for amt-wire's parser to read
//    (`cargo run -p amt-wire --example parse_envelopes -- OUT_DIR`).
//
// Usage: node wire.js GOLDEN_DIR OUT_DIR   (run with NODE_PATH pointing at the npm cache)
'use strict';
const fs = require('fs');
const path = require('path');

const [goldenDir, outDir] = process.argv.slice(2);
if (!goldenDir || !outDir) {
  console.error('usage: node wire.js GOLDEN_DIR OUT_DIR');
  process.exit(2);
}

let failures = 0;

// --- 1. MeshCentral parses our responses --------------------------------------------------
const amtXml = require('meshcentral/amt/amt-xml.js');
const goldens = fs.readdirSync(goldenDir).filter((f) => f.endsWith('.xml')).sort();
let meshOk = 0;
for (const file of goldens) {
  const xml = fs.readFileSync(path.join(goldenDir, file), 'utf8');
  const parsed = amtXml.ParseWsman(xml);
  const problems = [];
  if (parsed == null) {
    problems.push('ParseWsman returned null');
  } else {
    for (const field of ['Action', 'MessageID', 'RelatesTo', 'Method']) {
      if (parsed.Header[field] == null || parsed.Header[field] === '') problems.push(`Header.${field} missing`);
    }
    if (parsed.Body == null) problems.push('Body missing');
    if (parsed.Header.Method === 'Fault') {
      const code = parsed.Body && parsed.Body.Code;
      if (!code || !code.Value || !code.Subcode || !code.Subcode.Value) problems.push('Fault Code/Subcode not readable');
      if (!parsed.Body.Reason || !parsed.Body.Reason.Text) problems.push('Fault Reason not readable');
    }
  }
  if (problems.length === 0) {
    meshOk++;
    console.log(`meshcentral-parse ${file}: ok (Method ${parsed.Header.Method}, body keys ${Object.keys(parsed.Body).join(',')})`);
  } else {
    failures++;
    console.log(`meshcentral-parse ${file}: FAIL ${problems.join('; ')}`);
  }
}
console.log(`meshcentral-parse: ${meshOk} of ${goldens.length} responses parsed`);

// --- 2. wsman-messages generates requests ---------------------------------------------------
const wsman = require('@device-management-toolkit/wsman-messages');
fs.mkdirSync(outDir, { recursive: true });
const families = { AMT: new wsman.AMT.Messages(), CIM: new wsman.CIM.Messages(), IPS: new wsman.IPS.Messages() };
// Arguments tried in turn until a call returns a message; most methods need none.
const argSets = [[], ['14000000-0000-0000-0000-000000000000'], [{}], [1], ['Intel(r) AMT Test', 1]];
// Realistic arguments for the methods real clients call, tried first, so that the device-level
// replay (`cargo xtask interop wsman`) exercises them as a management console would.
const realArgs = {
  'CIM.PowerManagementService.RequestPowerStateChange': [8], // power off
  'AMT.RedirectionService.RequestStateChange': [32771], // IDER and SOL enabled
  'CIM.KVMRedirectionSAP.RequestStateChange': [2], // KVM enabled
  'AMT.AuthorizationService.SetAdminACLEntryEx': ['admin', '0123456789abcdef0123456789abcdef'],
  'AMT.SetupAndConfigurationService.SetMEBXPassword': ['Mebx-Sim-Pass2!'],
  'AMT.PublicKeyManagementService.GenerateKeyPair': [{ KeyAlgorithm: 0, KeyLength: 2048 }],
};
let generated = 0;
let skipped = [];
for (const [family, messages] of Object.entries(families)) {
  for (const [className, cls] of Object.entries(messages)) {
    if (cls == null || typeof cls !== 'object' || typeof cls.className !== 'string') continue;
    for (const [method, fn] of Object.entries(cls)) {
      if (typeof fn !== 'function' || method.startsWith('protected') || method === 'wsmanMessageCreator') continue;
      let xml = null;
      const name = `${family}.${className}.${method}`;
      for (const args of realArgs[name] ? [realArgs[name], ...argSets] : argSets) {
        try {
          const out = fn.apply(cls, args);
          if (typeof out === 'string' && out.includes('Envelope')) { xml = out; break; }
        } catch (e) { /* try the next argument set */ }
      }
      if (xml == null) { skipped.push(`${family}.${className}.${method}`); continue; }
      fs.writeFileSync(path.join(outDir, `${family}.${className}.${method}.xml`), xml);
      generated++;
    }
  }
}
console.log(`wsman-messages: generated ${generated} requests into ${outDir}; ${skipped.length} methods need live data and were skipped${skipped.length ? ': ' + skipped.join(' ') : ''}`);
if (generated === 0) failures++;
process.exit(failures === 0 ? 0 : 1);
