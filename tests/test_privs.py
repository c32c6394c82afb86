"""Root never follows a link in a directory the `postel` user can write
(issue 8 item 1; TESTING.md item 32).

The `postel` user plants links to root-owned files wherever it can write
in the data directory (accounts.db-wal/-shm, the mail/queue/spool
directories, the self-signed TLS files); then root runs an account command
and starts and stops `serve`. The root-owned targets must keep their owner,
mode and contents. A data directory with unsafe owners or modes is refused
with an error naming the path. These tests need root (they switch to the
`postel` user to plant the links) and are skipped otherwise.
"""
import json
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import DOMAIN, Postel, scaled

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: the server drops to the postel user")

# Run as postel: try each plant, report which ones it could make. A
# directory is moved aside first so its name can become a link.
PLANT = r"""
import json, os, sys
done = []
for path, target, kind in json.loads(sys.argv[1]):
    try:
        if kind == "mkdir":
            os.makedirs(path, exist_ok=True)
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            os.rename(path, path + ".moved")
        elif os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)
        done.append(path)
    except OSError:
        pass
print(json.dumps(done))
"""


def as_postel(*args, timeout=20):
    pw = pwd.getpwnam("postel")
    return subprocess.run(["/usr/bin/python3", *args], user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=[], capture_output=True, timeout=timeout, cwd="/")


class Targets:
    """Root-owned files and directories in a root-only directory."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="postel-privs-targets-", dir="/tmp"))
        self.items = {}

    def file(self, name):
        p = self.dir / name
        p.write_bytes(f"root-owned {name} must not change\n".encode() * 8)
        os.chmod(p, 0o600)
        self.items[p] = None
        return p

    def directory(self, name):
        p = self.dir / name
        p.mkdir(mode=0o700)
        (p / "keep").write_bytes(b"root-owned directory content\n")
        self.items[p] = None
        return p

    def snapshot(self):
        snap = {}
        for p in self.items:
            st = os.lstat(p)
            content = (p / "keep").read_bytes() if p.is_dir() else p.read_bytes()
            snap[p] = (st.st_uid, st.st_gid, st.st_mode, content,
                       sorted(x.name for x in p.iterdir()) if p.is_dir() else None)
        return snap

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def serve_briefly(srv, seconds=3.0):
    """Start `serve`, give it a moment, stop it; its exit status (it may
    refuse to start) and its log."""
    log = open(srv.log_path, "ab")
    p = subprocess.Popen(srv.global_args() + ["serve"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True)
    log.close()
    try:
        rc = p.wait(timeout=scaled(seconds))
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=scaled(15))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait(timeout=10)
    # whatever is left of the process group (workers) goes too
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return rc, srv.log()


@pytest.fixture
def fresh():
    srv = Postel()
    targets = Targets()
    yield srv, targets
    srv.kill_all()
    srv.cleanup()
    targets.cleanup()


def test_links_planted_by_postel_are_not_followed(fresh):
    srv, targets = fresh
    srv.cli("domain", "add", DOMAIN)   # creates postel and the layout
    data = srv.datadir
    plants = []
    for d in (data, data / "db"):
        for suffix in ("-wal", "-shm"):
            plants.append((str(d / f"accounts.db{suffix}"),
                           str(targets.file(f"{d.name}{suffix}")), "link"))
    for name in ("mail", "queue", "spool"):
        plants.append((str(data / name), str(targets.directory(name)), "link"))
    # the self-signed files, if postel can make DATA/tls before root does
    plants.append((str(data / "tls"), "", "mkdir"))
    for name in ("selfsigned.key", "selfsigned.crt"):
        plants.append((str(data / "tls" / name), str(targets.file(name)), "link"))
    before = targets.snapshot()
    p = as_postel("-c", PLANT, json.dumps(plants))
    assert p.returncode == 0, p.stderr
    planted = json.loads(p.stdout)
    # the test means something only if postel could plant a link somewhere
    assert planted, "postel could plant no link at all"

    rc, out, err = srv.cli("domain", "list", check=False)
    after = targets.snapshot()
    assert after == before, (f"`postel domain list` as root changed a link's target "
                             f"(planted: {planted}; rc={rc} err={err!r})")

    rc, log = serve_briefly(srv)
    after = targets.snapshot()
    assert after == before, (f"`postel serve` as root changed a link's target "
                             f"(planted: {planted}; rc={rc}):\n{log[-3000:]}")


def unsafe_world_writable(data, target):
    os.chmod(data, 0o777)


def unsafe_other_owner(data, target):
    os.chown(data, 65534, 65534)


def unsafe_tls_owned_by_postel(data, target):
    (data / "tls").mkdir(mode=0o700)
    pw = pwd.getpwnam("postel")
    os.chown(data / "tls", pw.pw_uid, pw.pw_gid)


def unsafe_tls_link(data, target):
    (data / "tls").symlink_to(target)


def unsafe_conf_owned_by_postel(data, target):
    conf = data / "postel.conf"
    conf.write_text("# written by postel\n")
    pw = pwd.getpwnam("postel")
    os.chown(conf, pw.pw_uid, pw.pw_gid)


def unsafe_mail_link(data, target):
    shutil.rmtree(data / "mail")
    (data / "mail").symlink_to(target)


UNSAFE = {
    "world-writable": (unsafe_world_writable, ""),
    "other-owner": (unsafe_other_owner, ""),
    "tls-owned-by-postel": (unsafe_tls_owned_by_postel, "/tls"),
    "tls-link": (unsafe_tls_link, "/tls"),
    "conf-owned-by-postel": (unsafe_conf_owned_by_postel, "/postel.conf"),
    "mail-link": (unsafe_mail_link, "/mail"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_data_dir_refused(fresh, case):
    srv, targets = fresh
    srv.cli("domain", "add", DOMAIN)
    data = srv.datadir
    make, suffix = UNSAFE[case]
    # a link's target is a throwaway root-owned directory, never a
    # system one: old code chowned what the link named
    make(data, targets.directory("victim"))
    before = targets.snapshot()
    path = f"{data}{suffix}"

    rc, out, err = srv.cli("domain", "list", check=False)
    assert rc != 0, f"an unsafe data directory ({case}) was used: {out!r} {err!r}"
    assert path in err and "expected" in err, err

    rc, log = serve_briefly(srv, seconds=10)
    assert rc != 0, f"serve started on an unsafe data directory ({case}):\n{log[-2000:]}"
    line = [x for x in log.splitlines() if "event=start_failed" in x]
    assert line and path in line[-1] and "expected" in line[-1], log[-2000:]
    assert targets.snapshot() == before


def test_old_layout_taken_over(fresh):
    """A data directory of the old layout (DATA and accounts.db in it owned
    by postel) is taken over by root and accounts.db moved into DATA/db."""
    srv, _ = fresh
    srv.cli("domain", "add", DOMAIN)
    data = srv.datadir
    pw = pwd.getpwnam("postel")
    # rebuild the old layout: accounts.db directly in a postel-owned DATA
    db = data / "db" / "accounts.db"
    if db.exists():
        for suffix in ("", "-wal", "-shm"):
            old = data / "db" / f"accounts.db{suffix}"
            if old.exists():
                old.rename(data / f"accounts.db{suffix}")
        (data / "db").rmdir()
    os.chown(data, pw.pw_uid, pw.pw_gid)
    os.chmod(data, 0o750)

    _, out, _ = srv.cli("domain", "list")
    assert DOMAIN in out.split(), out
    st = os.stat(data)
    assert st.st_uid == 0 and st.st_mode & 0o022 == 0, oct(st.st_mode)
    assert (data / "db" / "accounts.db").is_file()
    assert os.stat(data / "db").st_uid == pw.pw_uid
    assert not (data / "accounts.db").exists()
    # and the server runs on it
    srv.start()
    problems = srv.stop()
    assert not problems, "\n".join(problems) + srv.log_tail()
    # postel cannot write DATA any more
    p = as_postel("-c", f"open({str(data / 'x')!r}, 'w')")
    assert p.returncode != 0 and b"PermissionError" in p.stderr, p.stderr
