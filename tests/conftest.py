"""End-to-end test harness for Postel.

Every test talks to a real `postel serve` process started here on free
loopback ports, in a fresh data directory, with real clients (smtplib,
swaks, curl, openssl s_client) or raw sockets for byte-exact exchanges.

The harness lives in modules by role; this file holds the fixtures and
re-exports their names (tests write `from conftest import ...`):
  e2e_env.py        environment (POSTEL_BIN, POSTEL_ASAN, POSTEL_KEEP),
                    scaled(), the standard accounts
  ports.py          free_ports(): a block of ports per test process
  procs.py          children, descriptors of a server, from /proc
  smtp_client.py    SMTPConn and other client helpers
  postel_server.py  Postel (the server), running_postel(), finish()
  mail_checks.py    token(), make_message(), check_delivered()

Rules kept everywhere: every socket has a timeout, every loop is bounded,
only loopback addresses are used.
"""
import os

import pytest

from e2e_env import (ALIASES, ALICE, ASAN, BOB, CATCH_DOMAIN, DOMAIN, HOSTNAME,
                     INHERITED_NOTIFY_SOCKET, KEEP, POSTEL_BIN, SANITIZER_MARKERS, SCALE,
                     SERVICES, USERS, scaled)
from mail_checks import (assert_not_delivered, check_delivered, header_fields,
                         make_message, token)
from ports import free_ports
from postel_server import Postel, account_template, finish, running_postel
from procs import children_of, fd_count, pid_alive, socket_fds
from smtp_client import (ConnectionClosed, Reply, SMTPConn, assert_all_dropped,
                         b64, client_tls_context, dot_stuff, plain_auth_blob, quick_ack,
                         stalled_connections)

__all__ = [  # re-exported for the tests
    "ALIASES",
    "ALICE",
    "ASAN",
    "BOB",
    "CATCH_DOMAIN",
    "ConnectionClosed",
    "DOMAIN",
    "HOSTNAME",
    "INHERITED_NOTIFY_SOCKET",
    "KEEP",
    "POSTEL_BIN",
    "Postel",
    "Reply",
    "SANITIZER_MARKERS",
    "SCALE",
    "SERVICES",
    "SMTPConn",
    "USERS",
    "account_template",
    "assert_all_dropped",
    "assert_not_delivered",
    "b64",
    "check_delivered",
    "children_of",
    "client_tls_context",
    "dot_stuff",
    "fd_count",
    "finish",
    "free_ports",
    "header_fields",
    "make_message",
    "pid_alive",
    "plain_auth_blob",
    "quick_ack",
    "running_postel",
    "scaled",
    "socket_fds",
    "stalled_connections",
    "token",
]


@pytest.fixture(scope="session", autouse=True)
def _binary():
    if not os.access(POSTEL_BIN, os.X_OK):
        pytest.exit(f"POSTEL_BIN {POSTEL_BIN} is not an executable", returncode=2)


@pytest.fixture(scope="module")
def postel():
    """The default server of a test module, shared by its tests."""
    with running_postel() as srv:
        yield srv


@pytest.fixture
def postel_factory():
    """Start extra servers with config overrides: postel_factory(key=value...)."""
    started = []

    def make(accounts=True, **overrides):
        cm = running_postel(accounts=accounts, **overrides)
        srv = cm.__enter__()
        started.append(cm)
        return srv

    yield make
    errors = []
    for cm in reversed(started):
        try:
            cm.__exit__(None, None, None)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n\n".join(errors)
