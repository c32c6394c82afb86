"""Loopback ports for the servers the tests start, without races between
test processes.

The old way (bind n sockets to port 0, read the ports, close them) let the
kernel hand the same port to another process before the server bound it:
another pytest run of the suite (release and ASan side by side, or two
worktrees), or any client's ephemeral source port, since port 0 binds and
connects draw from the same ephemeral range.

Now ports come from below that range (net.ipv4.ip_local_port_range starts
at 32768 here), cut into blocks of BLOCK ports. Each process claims a block
of its own with an flock on LOCK_DIR/block-K.lock that it holds while it
lives (the kernel drops it when the process dies, however it dies), and
hands the block's ports out in turn, skipping any it cannot bind with
SO_REUSEADDR (a listener still on it: one of its own servers, or anything
else). Ports from the ephemeral range are used only when every block is
taken. No conftest import: bench/*.py and tests/peers.py use this too."""
import fcntl
import os
import socket

FIRST = 10000
BLOCK = 512
LOCK_DIR = "/tmp/postel-test-ports"

_state = {}


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _claim_block():
    """(first port, lock fd) of a block no other live process holds, or
    None when all are taken."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    try:
        os.chmod(LOCK_DIR, 0o1777)
    except OSError:
        pass
    blocks = (_ephemeral_start() - FIRST) // BLOCK
    start = os.getpid() % max(blocks, 1)
    for i in range(blocks):
        k = (start + i) % blocks
        fd = os.open(f"{LOCK_DIR}/block-{k}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return FIRST + k * BLOCK, fd
    return None


def _bindable(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_ports(n, host):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def free_ports(n, host="127.0.0.1"):
    """n distinct ports nothing listens on, from this process's block."""
    if _state.get("pid") != os.getpid():      # a fork claims its own block
        _state.clear()
        _state["pid"] = os.getpid()
        _state["block"] = _claim_block()
        _state["next"] = 0
    if _state["block"] is None:
        return _ephemeral_ports(n, host)
    first, _ = _state["block"]
    ports = []
    for _ in range(BLOCK):
        port = first + _state["next"]
        _state["next"] = (_state["next"] + 1) % BLOCK
        if port not in ports and _bindable(host, port):
            ports.append(port)
            if len(ports) == n:
                return ports
    raise AssertionError(f"fewer than {n} free ports in block {first}-{first + BLOCK - 1}")


def free_port(host="127.0.0.1"):
    return free_ports(1, host)[0]
