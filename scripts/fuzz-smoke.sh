#!/bin/sh
# Runs each libFuzzer target briefly from its seed corpus, FUZZ_JOBS of them
# at once (default: one per core; each target is single-threaded). Writes
# one "name ok|fail" line per target to $1, in name order.
res="$1"; : > "$res"
secs="${FUZZ_SECONDS:-15}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
tmp=$(mktemp -d)

run_one() {
	bin="$1"; name=$(basename "$bin")
	seeds="fuzz/corpus/${name#fuzz-}"
	work="$tmp/$name.d"; mkdir -p "$work"
	[ -d "$seeds" ] && cp -r "$seeds/." "$work/"
	if "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024 "$work" \
			>"$tmp/$name.log" 2>&1; then
		echo ok > "$tmp/$name.res"
	else
		echo fail > "$tmp/$name.res"
	fi
	rm -rf "$work"
}

n=0
for bin in build-fuzz/fuzz-*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	run_one "$bin" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then wait; n=0; fi
done
wait

for bin in build-fuzz/fuzz-*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	if [ "$(cat "$tmp/$name.res" 2>/dev/null)" = ok ]; then
		echo "$name ok" >> "$res"; echo "fuzz $name: ok"
	else
		echo "$name fail" >> "$res"; echo "fuzz $name: FAILED"; tail -40 "$tmp/$name.log"
	fi
done
rm -rf "$tmp"
