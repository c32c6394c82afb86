"""Totals every test result under the results folder into one line:
'N passed, N failed' (the line CI reads)."""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

out = pathlib.Path(sys.argv[1])
passed = failed = 0
for f in sorted(out.glob("*.json")):
    for line in f.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r != "SKIP":
            failed += 1
for f in sorted(out.glob("*.xml")):
    root = ET.parse(f).getroot()
    for tc in root.iter("testcase"):
        if tc.find("failure") is not None or tc.find("error") is not None:
            failed += 1
        elif tc.find("skipped") is None:
            passed += 1
fz = out / "fuzz.txt"
if fz.exists():
    for line in fz.read_text().splitlines():
        if line.endswith(" ok"):
            passed += 1
        elif line.strip():
            failed += 1
expected = ["unit.json", "unit-asan.json", "fuzz.txt"]
for name in expected:
    if not (out / name).exists():
        print(f"missing results: {name}")
        failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
