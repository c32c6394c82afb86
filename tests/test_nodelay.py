"""Accepted sockets set TCP_NODELAY: a reply's last small segment is not held
by Nagle for the client's delayed ACK. After an implicit-TLS handshake the
server's last flight (TLS 1.3 session tickets) is still unacknowledged when
the greeting is written; with Nagle the greeting waited ~40 ms for the
client's delayed ACK on every connection (found by the test-suite timing:
every implicit-TLS connection took 48 ms). The client here deliberately does
NOT use quick_ack, so the server's socket option is what is measured."""
import socket
import time

import pytest

from conftest import client_tls_context

TRIES = 5


def greeting_delay(port):
    """Seconds from the end of the handshake to the greeting's first line."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with client_tls_context().wrap_socket(raw) as s:
        t0 = time.monotonic()
        data = b""
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        dt = time.monotonic() - t0
        assert b"\n" in data, data
        return dt


@pytest.mark.parametrize("service", ["submissions", "pop3s", "imaps"])
def test_greeting_after_tls_handshake_is_not_held(postel, service):
    port = getattr(postel, f"{service}_port")
    # the minimum over a few tries: load can only add delay, and with Nagle
    # every try waits for the 40 ms delayed ACK
    best = min(greeting_delay(port) for _ in range(TRIES))
    assert best < 0.025, f"{service}: greeting {best * 1000:.1f} ms after the handshake"
