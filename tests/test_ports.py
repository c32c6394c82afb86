"""free_ports() (tests/ports.py) never gives one port to two test processes
at once: two pytest runs side by side (release and ASan, or two
worktrees) used to pick the same port now and then, since the old way
bound to port 0, read the port and released it, and the other process's
next bind to port 0 could draw the same one before the server bound it."""
import json
import pathlib
import socket
import subprocess
import sys

from conftest import free_ports, scaled

TESTS = pathlib.Path(__file__).resolve().parent
ROUNDS = 300       # free_ports(7) calls per process, as many servers
CHILD = f"""
import json, sys
sys.path.insert(0, {str(TESTS)!r})
from conftest import free_ports
sys.stdin.readline()           # start together
seen = set()
for _ in range({ROUNDS}):
    seen.update(free_ports(7))
print(json.dumps(sorted(seen)))
"""


def ephemeral_start():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        return int(f.read().split()[0])


def test_two_processes_never_share_a_port():
    procs = [subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = []
    try:
        for p in procs:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        for p in procs:
            out, err = p.communicate(timeout=scaled(60))
            assert p.returncode == 0, err.decode(errors="replace")
            outs.append(set(json.loads(out)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    both = outs[0] & outs[1]
    assert not both, f"{len(both)} ports handed to both processes, e.g. {sorted(both)[:10]}"


def test_ports_distinct_bindable_and_outside_the_ephemeral_range():
    ports = free_ports(7)
    assert len(set(ports)) == 7, ports
    # clients' source ports come from the ephemeral range: a server port
    # there could be taken by any connect() before the server binds it
    assert all(p < ephemeral_start() for p in ports), ports
    for p in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))


def test_a_listening_port_is_skipped():
    """A port still held by a listener (a server of this process that has
    not stopped, or anything else) is not handed out again."""
    first = free_ports(1)[0]
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", first))
    held.listen(1)
    try:
        seen = set()
        for _ in range(200):             # more than once round a block
            seen.update(free_ports(7))
        assert first not in seen
    finally:
        held.close()
