"""Workers run in an OS sandbox (issue 8, item 3): no_new_privs, a seccomp
filter and a Landlock rule set, seen from outside in /proc/PID/status and
in the log, on a server that delivers mail. What the filter and the rule
set refuse (exec, fork, /etc/hostname, ...) is asserted from inside in
src/server/test-server-sandbox.c; the other suites run with it on."""
import ctypes
import smtplib

import pytest

from conftest import ALICE, make_message, token

# landlock_create_ruleset has one number on every architecture (5.13+)
SYS_LANDLOCK_CREATE_RULESET = 444
LANDLOCK_CREATE_RULESET_VERSION = 1


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None,
                       ctypes.c_size_t(0), ctypes.c_uint(LANDLOCK_CREATE_RULESET_VERSION))
    return max(abi, 0)


def require_seccomp():
    if "Seccomp_filters" not in proc_status("self"):
        pytest.skip("kernel without seccomp filters")


def deliver_one(srv):
    tok = token()
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
        s.sendmail("someone@remote.example", [ALICE], make_message(tok))
    return tok


def test_workers_run_sandboxed(postel):
    require_seccomp()
    tok = deliver_one(postel)
    assert any(tok in p.read_text("utf-8", "replace")
               for p in (postel.maildir(ALICE) / "new").iterdir())
    workers = postel.children()
    assert workers
    for pid in workers:
        st = proc_status(pid)
        assert st["NoNewPrivs"] == "1", (pid, st)
        assert st["Seccomp"] == "2", (pid, st)
        assert int(st["Seccomp_filters"]) >= 1, (pid, st)
    active = [line for line in postel.log().splitlines()
              if "event=sandbox_active" in line]
    assert len(active) >= len(workers), postel.log_tail()
    abi = landlock_abi()
    for line in active:
        assert "no_new_privs=yes seccomp=yes" in line, line
        if abi > 0:
            assert f"landlock=abi{abi}" in line, line
        else:
            assert "landlock=no" in line, line
    # the workers survived the delivery under the filter
    assert sorted(postel.children()) == sorted(workers)


def test_sandbox_no_turns_it_off(postel_factory):
    require_seccomp()
    srv = postel_factory(sandbox="no")
    deliver_one(srv)
    workers = srv.children()
    assert workers
    for pid in workers:
        st = proc_status(pid)
        assert st["NoNewPrivs"] == "0", (pid, st)
        assert st["Seccomp"] == "0", (pid, st)
    log = srv.log()
    assert "event=sandbox_active" not in log
    assert log.count("event=sandbox_skipped what=all") >= len(workers)
