# Thin driver around Meson. See README.md.
DATA_DIR ?= /var/lib/postel

.PHONY: all deps deps-check build build-asan build-fuzz run check unit bench clean

all: build

deps:
	@sh scripts/install-deps.sh run

deps-check:
	@sh scripts/install-deps.sh check

build: deps
	@test -f build/build.ninja || meson setup build
	ninja -C build

build-asan: deps-check
	@test -f build-asan/build.ninja || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-asan

build-fuzz: deps-check
	@test -f build-fuzz/build.ninja || CC=clang-14 meson setup build-fuzz -Dfuzz=true -Dtests=disabled -Db_lundef=false -Dbuildtype=debug -Dc_args=-fsanitize=address,undefined,fuzzer-no-link -Dc_link_args=-fsanitize=address,undefined
	ninja -C build-fuzz

run: build
	./build/postel -d $(DATA_DIR) serve

check: deps-check
	@test -f build/build.ninja || meson setup build
	ninja -C build
	$(MAKE) --no-print-directory build-asan build-fuzz
	@sh scripts/check.sh

# deps-check brings the peers (postfix, dovecot-pop3d) without starting them
bench: deps-check build
	@sh bench/run.sh
	@/usr/bin/python3 bench/pop3.py

clean:
	rm -rf build build-asan build-fuzz
