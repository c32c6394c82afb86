"""The master and its workers (hardening issue items 9 and 10; TESTING.md
item 31): workers die with their master, and reloads with long-lived
connections neither keep old workers forever nor lose track of them."""
import os
import re
import signal
import time

from conftest import pid_alive, scaled


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def count_lines(srv, pattern):
    rx = re.compile(pattern)
    return sum(1 for line in srv.log().splitlines() if rx.search(line))


def reload_and_hold(srv, n_done):
    """SIGHUP, wait for the reload to be logged, then a connection to the
    new generation, greeted and kept open."""
    os.kill(srv.pid, signal.SIGHUP)
    assert wait_until(lambda: count_lines(srv, r"event=reload ") > n_done, 10, 0.02), \
        f"reload {n_done + 1} not logged:\n" + srv.log_tail()
    c = srv.smtp(timeout=10)
    assert c.greeting.code == 220, c.greeting
    return c


def test_master_death_takes_workers(postel_factory):
    srv = postel_factory(workers=2)
    idle = srv.smtp()
    kids = srv.children()
    assert len(kids) == 2
    try:
        os.kill(srv.pid, signal.SIGKILL)
        srv.proc.wait(timeout=10)
        srv.proc = None
        gone = wait_until(lambda: not any(pid_alive(k) for k in kids), 5)
        assert gone, f"workers outlived the master: {[k for k in kids if pid_alive(k)]}"
        # the idle client was told (RFC 5321 3.8: 421 before closing)
        line = idle.read_line(timeout=5)
        assert line.startswith(b"421 "), line
        # a new serve on the same ports binds and greets at once
        srv.start(timeout=10)
        with srv.smtp() as c:
            assert c.greeting.code == 220
    finally:
        idle.close()
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_retire_timeout_ends_old_generations(postel_factory):
    srv = postel_factory(workers=1, retire_timeout=2, max_connections_per_ip=1000)
    srv.stable_workers = False
    first = srv.smtp()
    held = [first]
    try:
        for i in range(5):
            held.append(reload_and_hold(srv, i))
        # every generation but the newest is retiring with a client
        assert len(srv.children()) >= 2, srv.children()
        assert wait_until(lambda: len(srv.children()) == 1, 2 + 8, 0.1), \
            f"old workers still running after retire_timeout: {srv.children()}\n" + \
            srv.log_tail()
        assert count_lines(srv, r"event=retire_deadline") >= 1, srv.log_tail()
        # the oldest client was closed politely (RFC 5321 3.8)
        line = first.read_line(timeout=5)
        assert line and line.startswith(b"421 "), line
        # the newest generation's client is untouched
        r = held[-1].cmd("NOOP")
        assert r.code == 250, r
    finally:
        for c in held:
            c.close()


def test_many_reloads_stay_bounded(postel_factory):
    """300 reloads, each leaving a client on the old generation: the
    master keeps spawning, stops the oldest retiring workers itself, and
    no worker is forgotten (the old master overwrote a slot after 256 and
    could not spawn after 320)."""
    srv = postel_factory(workers=1, max_connections_per_ip=1000)
    srv.stable_workers = False
    reloads = 300
    held = []
    deadline = time.monotonic() + scaled(120)
    try:
        for i in range(reloads):
            assert time.monotonic() < deadline, f"only {i} reloads in time"
            held.append(reload_and_hold(srv, i))
        kids = srv.children()
        # MASTER_MAX_RETIRING (128) serving, one current, and a few stopped
        # ones on their way out
        assert len(kids) <= 128 + 1 + 8, len(kids)
        log = srv.log()
        assert "spawn_failed" not in log, srv.log_tail()
        assert count_lines(srv, r"event=retiring_stopped") >= reloads - 128 - 8
        # a new client is still served, and the newest held one too
        with srv.smtp() as c:
            assert c.greeting.code == 220
        assert held[-1].cmd("NOOP").code == 250
    finally:
        for c in held:
            c.close()
    # with the clients gone, every old generation leaves
    assert wait_until(lambda: len(srv.children()) == 1, 20, 0.2), srv.children()
