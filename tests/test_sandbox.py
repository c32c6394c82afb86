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
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
        s.sendmail("someone@remote.example", [ALICE], make_message(token()))


def sandbox_fields(srv):
    """Deliver one message, then {worker pid: (NoNewPrivs, Seccomp)}."""
    deliver_one(srv)
    workers = srv.children()
    assert workers
    fields = {}
    for pid in workers:
        st = proc_status(pid)
        fields[pid] = (st["NoNewPrivs"], st["Seccomp"])
    return fields


def test_workers_run_sandboxed(postel):
    require_seccomp()
    fields = sandbox_fields(postel)
    assert set(fields.values()) == {("1", "2")}, fields
    assert len(list((postel.maildir(ALICE) / "new").iterdir())) == 1
    workers = list(fields)
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
    fields = sandbox_fields(srv)
    assert set(fields.values()) == {("0", "0")}, fields
    workers = list(fields)
    log = srv.log()
    assert "event=sandbox_active" not in log
    assert log.count("event=sandbox_skipped what=all") >= len(workers)
