# Thin driver around Meson. See README.md.
DATA_DIR ?= /var/lib/postel
# make run: options for serve before the command, e.g. -c FILE or -o key=value
POSTEL_OPTS ?=
# make install: the binary on the PATH, the systemd unit, the README
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DOCDIR ?= $(PREFIX)/share/doc/postel
UNITDIR ?= /etc/systemd/system
RUN_USER ?= postel
INSTALL_BIN ?= build/postel

.PHONY: all deps deps-check build build-asan build-fuzz install install-files run check unit bench clean

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

# DESTDIR for a staged install (packaging, tests): then no user is made
# and systemd is not told. The run user is made here because the unit's
# ProtectSystem=strict keeps serve from running useradd itself.
install: build
	@$(MAKE) --no-print-directory install-files

install-files:
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/postel
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/sbin/postel|$(SBINDIR)/postel|g' \
	    -e 's|/usr/local/share/doc/postel|$(DOCDIR)|g' \
	    dist/postel.service > $(DESTDIR)$(UNITDIR)/postel.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/postel.service
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! id -u $(RUN_USER) >/dev/null 2>&1; then \
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin $(RUN_USER); fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

run: install
	$(SBINDIR)/postel -d $(DATA_DIR) $(POSTEL_OPTS) serve

check: deps-check
	@test -f build/build.ninja || meson setup build
	ninja -C build
	$(MAKE) --no-print-directory build-asan build-fuzz
	@sh scripts/check.sh

# deps-check brings the peers (postfix, dovecot-pop3d, dovecot-imapd) without starting them
bench: deps-check build
	@sh bench/run.sh
	@/usr/bin/python3 bench/pop3.py
	@/usr/bin/python3 bench/imap.py
	@/usr/bin/python3 bench/imap_idle.py
	@/usr/bin/python3 bench/resync.py
	@/usr/bin/python3 bench/sort.py
	@/usr/bin/python3 bench/relay.py

clean:
	rm -rf build build-asan build-fuzz
