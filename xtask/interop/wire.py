"""Wire-level interop with the PyPI `amt` package (amtctrl), installed by `cargo xtask interop`.

1. amtctrl's response readers (`amt.client._find_value`, `_return_value`, ElementTree underneath)
   read the responses amt-wire emits (golden files): the values must come out right.
2. amtctrl's request builders (`amt.wsman`) write every request amtctrl sends into OUT_DIR, for
   amt-wire's parser to read.

Usage: python wire.py GOLDEN_DIR OUT_DIR
"""
import os
import sys

import amt.client
import amt.wsman

golden_dir, out_dir = sys.argv[1], sys.argv[2]
failures = 0

# --- 1. amtctrl reads our responses -------------------------------------------------------
GS = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings"
with open(os.path.join(golden_dir, "get_general_settings_response.xml"), "rb") as f:
    body = f.read()
realm = amt.client._find_value(body, GS, "DigestRealm")
if realm and realm.startswith("Digest:") and len(realm) == 39:
    print(f"amtctrl-parse get_general_settings_response.xml: ok (DigestRealm {realm})")
else:
    failures += 1
    print(f"amtctrl-parse get_general_settings_response.xml: FAIL DigestRealm read as {realm!r}")

# --- 2. amtctrl's requests ----------------------------------------------------------------
os.makedirs(out_dir, exist_ok=True)
uri = "http://127.0.0.1:16992/wsman"
requests = {
    "get_power_state": amt.wsman.get_request(
        uri, "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AssociatedPowerManagementService"),
    "get_kvm_settings": amt.wsman.get_request(
        uri, "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_KVMRedirectionSettingData"),
    "enable_remote_kvm": amt.wsman.enable_remote_kvm(uri, "Passw0rd!"),
    "kvm_redirect": amt.wsman.kvm_redirect(uri),
    "change_boot_to_pxe": amt.wsman.change_boot_to_pxe_request(uri),
    "enable_boot_config": amt.wsman.enable_boot_config_request(uri),
}
for state in sorted(amt.wsman.POWER_STATES):
    requests[f"power_{state}"] = amt.wsman.power_state_request(uri, state)
for name, xml in requests.items():
    with open(os.path.join(out_dir, f"PyPI-amt.{name}.xml"), "w", encoding="utf-8") as f:
        f.write(xml)
print(f"amtctrl: generated {len(requests)} requests into {out_dir}")
sys.exit(1 if failures else 0)
