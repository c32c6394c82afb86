#!/bin/sh
# Runs every test: unit tests (normal and ASan/UBSan builds), end-to-end
# tests with real clients (normal and ASan/UBSan binaries), fuzz smoke.
# Last line: "N passed, N failed".
cd "$(dirname "$0")/.." || exit 2
out=.check-results
rm -rf "$out"; mkdir -p "$out"

meson test -C build --suite unit --print-errorlogs --no-rebuild
cp build/meson-logs/testlog.json "$out/unit.json" 2>/dev/null
meson test -C build-asan --suite unit --print-errorlogs --no-rebuild
cp build-asan/meson-logs/testlog.json "$out/unit-asan.json" 2>/dev/null

if [ -d tests ] && ls tests/test_*.py >/dev/null 2>&1; then
	POSTEL_BIN="$PWD/build/postel" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		--junitxml="$out/e2e.xml" tests
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 POSTEL_ASAN=1 \
		POSTEL_BIN="$PWD/build-asan/postel" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		--junitxml="$out/e2e-asan.xml" tests
fi

sh scripts/fuzz-smoke.sh "$out/fuzz.txt"

/usr/bin/python3 scripts/summary.py "$out"
