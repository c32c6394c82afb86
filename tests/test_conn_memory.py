"""What an idle connection costs (issue 9, ground item 5; issue 9 item 15
sets 16 KiB per idle IMAP-over-TLS connection as the target).

- 500 POP3S connections, each through the TLS handshake, the greeting and
  one CAPA, then left idle: the one worker's resident memory may grow by
  at most IDLE_KIB_MAX per connection. OpenSSL itself keeps about 14 KiB
  per idle connection (SSL_MODE_RELEASE_BUFFERS frees its record buffers);
  before this change the input buffer of a connection kept 32 KiB of
  capacity (a 16 KiB read reserved each time) and the output buffer kept
  whatever its largest reply needed.
- 20 connections each retrieve a 2 MB message in turn and stay open: the
  output buffer that streamed it (up to 512 KiB) is given back once the
  connection has been quiet for CONN_SHRINK_DELAY_MS (src/lib/conn_private.h:
  up to twice that after the last traffic, so that back-to-back RETRs reuse
  it), so after that wait the worker has grown by about one buffer, not
  twenty.

- IMAP_IDLE_CONNS IMAPS connections over IMAP_IDLE_USERS users, each
  logged in, INBOX selected and in IDLE (the state bench/imap_idle.py
  holds 10,000 in): the worker may grow by at most IMAP_IDLE_KIB_MAX per
  connection. OpenSSL keeps about 13.7 KiB of it (its SSL object 7.4,
  two AES-GCM contexts 1.9, the session 0.9, a CERT copy 0.5, ...);
  before this check an idle session also kept its empty buffers (up to
  4 KiB each), a 1 KiB command pool block, a 1 KiB pool for the selected
  mailbox's name and SELECT's list of every message's flags; and until
  session 7 the parser's argument arrays, list stack and last strings
  (~440 bytes), a 288-byte pool block for the session id, the view's
  whole struct store_address (321 bytes), a 64-UID map for any mailbox
  and 16 inline \\Recent ranges (128 bytes); until session 8 an SSL
  ex_data stack (96 bytes), SHA-384 transcript states (192 bytes more than
  SHA-256's), a 160-byte parser error buffer and a second peer_ip.

- The worker's pool threads (LOGIN's hash on one, SELECT's job on the
  user's lane on another) allocate from the loop's malloc arena: glibc
  keeps a second arena as a 64 MiB-aligned heap of its own, and there the
  views a lane opens pinned the pages of the SQLite handles it closed
  (src/server/worker.c, WORKER_MALLOC_ARENAS; 3-4 MiB at 10,000 idle
  IMAPS connections). Skipped under ASan, whose allocator has no arenas.

Under POSTEL_ASAN memory is not judged (the sanitizer's shadow memory and
quarantine dominate), but the run must still complete."""
import concurrent.futures
import socket
import ssl
import time

import pytest

from conftest import ASAN, client_tls_context, quick_ack, running_postel, scaled
from pop3_helpers import deliver, new_user
from test_memory_flat import worker_rss_kb

# Under ASan nothing is judged, the run only has to complete: a fifth of
# the connections goes through the same code (a third of ASan's e2e
# minute here went on 700 TLS handshakes whose memory nobody looks at)
IDLE_CONNS = 100 if ASAN else 500
# measured: see the commit message; the bound leaves room for the heap's
# own slack (malloc rounds, pages partly used)
IDLE_KIB_MAX = 20
IMAP_IDLE_CONNS = 48 if ASAN else 240
IMAP_IDLE_USERS = 4
# measured on a loaded 2-core machine: 21.0 KiB before this check (main
# at eeb4f76), 17.5 with it; 17.4 at 4a4defc and 16.4 once the parser gives
# its buffers back at each reset, the session id lives inline, the view
# keeps its address packed and its map exact and \Recent ranges grow
# (session 7); the bound leaves room for heap noise. Session 8: 16.4-16.6
# at 60cf7b8, 16.0-16.1 once OpenSSL's record buffers have a pool of their
# own (src/lib/tls_mem.c), the SSL keeps no ex_data, TLS 1.3 prefers the
# SHA-256 suite (a smaller transcript hash), the parser allocates its
# error text on error only and the session shares the connection's
# peer_ip (~0.45 KiB of heap per connection less). Logins 5x cheaper
# (yescrypt on huge pages, src/auth/password_scratch.c) let 4 opening
# threads overlap handshakes and logins far more, and the heap fragments
# by 0.3-0.6 KiB per connection more (16.3-16.7): opened one at a time
# the figure is the connection's own cost, 16.1-16.2 (bench/imap_idle.py
# with 8 opening threads at 10,000 connections: 16.1-16.3). Session 10:
# 16.1 at 3c060ea, 15.5 once SQLite and OpenSSL's small blocks come from
# zones of their own (src/lib/zone.c): the bound is issue 9's target
IMAP_IDLE_KIB_MAX = 16.0
IMAP_OPEN_THREADS = 1
RETR_CONNS = 8 if ASAN else 20
# twenty kept 512 KiB output buffers would be 10 MiB
RETR_GROWTH_MAX_KIB = 3 * 1024
# twice CONN_SHRINK_DELAY_MS (1 s) and a margin
SHRINK_WAIT_S = 2.5


def read_until(s, end):
    buf = b""
    while not buf.endswith(end):
        data = s.recv(65536)
        assert data, f"closed early after {buf[-200:]!r}"
        buf += data
    return buf


def open_pop3s(srv, ctx):
    raw = socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=scaled(10))
    s = quick_ack(ctx.wrap_socket(raw))
    assert read_until(s, b"\r\n").startswith(b"+OK")
    s.sendall(b"CAPA\r\n")
    read_until(s, b"\r\n.\r\n")
    return s


def close_all(conns):
    for s in conns:
        try:
            s.sendall(b"QUIT\r\n")
            s.close()
        except (OSError, ssl.SSLError):
            pass


def judge_per_conn(what, before, after, conns, kib_max):
    """Worker RSS growth per connection below kib_max (not under ASan)."""
    per_conn = (after - before) / conns
    print(f"{what}: {per_conn:.1f} KiB per connection "
          f"(worker RSS {before} -> {after} kB)")
    if not ASAN:
        assert per_conn < kib_max, (before, after, per_conn)


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1, max_connections_per_ip=2000) as s:
        yield s


def test_idle_pop3s_connection_cost(srv):
    ctx = client_tls_context()
    warm = [open_pop3s(srv, ctx) for _ in range(20)]
    close_all(warm)
    before = worker_rss_kb(srv)
    conns = []
    try:
        for _ in range(IDLE_CONNS):
            conns.append(open_pop3s(srv, ctx))
        after = worker_rss_kb(srv)
    finally:
        close_all(conns)
    judge_per_conn("idle POP3S", before, after, IDLE_CONNS, IDLE_KIB_MAX)


def login(srv, ctx, user, password):
    s = open_pop3s(srv, ctx)
    s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
    assert read_until(s, b"\r\n").startswith(b"+OK")
    buf = b""
    while buf.count(b"\r\n") < 1:
        buf += s.recv(4096)
    assert buf.startswith(b"+OK"), buf
    return s


def test_streamed_retr_gives_buffers_back(srv):
    # a POP3 maildrop is locked by its session: one user per connection
    body = ["x" * 998] * (2 * 1024 * 1024 // 1000)
    ctx = client_tls_context()
    conns = []
    for _ in range(RETR_CONNS):
        user, password = new_user(srv)
        deliver(srv, user, body=body)
        conns.append(login(srv, ctx, user, password))
    try:
        before = worker_rss_kb(srv)
        for s in conns:
            s.sendall(b"RETR 1\r\n")
            got = read_until(s, b"\r\n.\r\n")
            assert len(got) > 2 * 1000 * 1000
        time.sleep(SHRINK_WAIT_S)
        after = worker_rss_kb(srv)
    finally:
        close_all(conns)
    growth = after - before
    print(f"{RETR_CONNS} RETRs of 2 MB kept open: worker RSS {before} -> "
          f"{after} kB (+{growth})")
    if not ASAN:
        assert growth < RETR_GROWTH_MAX_KIB, (before, after)


def open_imaps_idle(srv, ctx, user, password):
    """An IMAPS connection logged in, INBOX selected, in IDLE."""
    raw = socket.create_connection(("127.0.0.1", srv.imaps_port), timeout=scaled(30))
    s = quick_ack(ctx.wrap_socket(raw))
    assert read_until(s, b"\r\n").startswith(b"* OK")
    for tag, cmd in ((b"a", f'LOGIN "{user}" "{password}"'.encode()),
                     (b"b", b"SELECT INBOX")):
        s.sendall(tag + b" " + cmd + b"\r\n")
        reply = read_until(s, b"\r\n")
        while not reply.split(b"\r\n")[-2].startswith(tag + b" "):
            reply += read_until(s, b"\r\n")
        assert reply.split(b"\r\n")[-2].startswith(tag + b" OK"), reply
    s.sendall(b"c IDLE\r\n")
    assert read_until(s, b"\r\n").startswith(b"+ ")
    return s


@pytest.fixture
def fresh_srv():
    """A server of its own: heap freed by the other tests would be reused
    by these connections and hide their cost."""
    with running_postel(workers=1, max_connections_per_ip=2000) as s:
        yield s


def test_idle_imaps_logged_in_selected_idle_cost(fresh_srv):
    srv = fresh_srv
    users = [new_user(srv) for _ in range(IMAP_IDLE_USERS)]
    ctx = client_tls_context()
    # warm-up: every user's lane and store handle, TLS, the login threads
    close_all([open_imaps_idle(srv, ctx, *u) for u in users])
    time.sleep(SHRINK_WAIT_S)
    before = worker_rss_kb(srv)
    conns = []
    try:
        with concurrent.futures.ThreadPoolExecutor(IMAP_OPEN_THREADS) as ex:
            futures = [ex.submit(open_imaps_idle, srv, ctx, *users[i % len(users)])
                       for i in range(IMAP_IDLE_CONNS)]
            for f in futures:
                conns.append(f.result(timeout=scaled(300)))
        # the buffers of the last commands are given back after the delay
        time.sleep(SHRINK_WAIT_S)
        after = worker_rss_kb(srv)
    finally:
        close_all(conns)
    judge_per_conn("idle IMAPS (logged in, selected, IDLE)", before, after,
                   IMAP_IDLE_CONNS, IMAP_IDLE_KIB_MAX)


# glibc (malloc/arena.c): a thread arena's heap is a mapping of its own,
# aligned to HEAP_MAX_SIZE (64 MiB on 64-bit), read-write from its start
# and reserved (---p) up to that size
ARENA_HEAP = 64 << 20


def malloc_arena_heaps(pid):
    """Start addresses of glibc's thread-arena heaps in pid's maps."""
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            maps.append((start, end, fields[1], len(fields) > 5))
    heaps = []
    for i, (start, end, perm, named) in enumerate(maps):
        if named or perm != "rw-p" or start % ARENA_HEAP != 0:
            continue
        if end - start == ARENA_HEAP:
            heaps.append(start)
            continue
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        if (nxt is not None and nxt[0] == end and nxt[2] == "---p" and not nxt[3]
                and nxt[1] == start + ARENA_HEAP):
            heaps.append(start)
    return heaps


def test_worker_pool_threads_use_the_loops_malloc_arena(fresh_srv):
    if ASAN:
        pytest.skip("ASan's allocator has no glibc malloc arenas")
    srv = fresh_srv
    ctx = client_tls_context()
    # LOGIN hashes on the hash pool; SELECT opens the store and the view
    # on the user's lane (the delivery pool)
    conns = [open_imaps_idle(srv, ctx, *new_user(srv)) for _ in range(3)]
    try:
        kids = srv.children()
        assert len(kids) == 1, kids
        heaps = malloc_arena_heaps(kids[0])
    finally:
        close_all(conns)
    assert heaps == [], [hex(h) for h in heaps]
