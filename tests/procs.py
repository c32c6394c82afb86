"""Processes and descriptors of a running server, read from /proc."""
import os


def children_of(pid):
    """Live child pids of pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the comm field may hold spaces and parens: split after the last ")"
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) >= 2 and int(rest[1]) == pid and rest[0] != b"Z":
            out.append(int(entry))
    return sorted(out)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def socket_fds(pid):
    """Number of socket descriptors pid holds (-1 if unreadable)."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        return -1
    return n


def worker_kib(srv, path, field):
    """proc_kib() of the one worker of a workers=1 server."""
    kids = srv.children()
    assert len(kids) == 1, f"expected one worker, got {kids}"
    return proc_kib(kids[0], path, field)


def proc_kib(pid, path, field):
    """A "Field:  N kB" value of /proc/pid/<path> (status: VmRSS,
    smaps_rollup: Pss), in KiB."""
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/{path}")
