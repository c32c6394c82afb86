#!/bin/sh
# Runs each libFuzzer target briefly from its seed corpus. Writes one
# "name ok|fail" line per target to $1.
res="$1"; : > "$res"
secs="${FUZZ_SECONDS:-20}"
for bin in build-fuzz/fuzz-*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds="fuzz/corpus/${name#fuzz-}"
	work=$(mktemp -d)
	[ -d "$seeds" ] && cp -r "$seeds/." "$work/"
	if "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024 "$work" \
			>"$work.log" 2>&1; then
		echo "$name ok" >> "$res"; echo "fuzz $name: ok"
	else
		echo "$name fail" >> "$res"; echo "fuzz $name: FAILED"; tail -40 "$work.log"
	fi
	rm -rf "$work" "$work.log"
done
