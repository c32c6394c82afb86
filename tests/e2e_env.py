"""The test run's environment and the standard accounts every server gets.

POSTEL_BIN   the binary (default /work/main/build/postel)
POSTEL_ASAN  "1" when POSTEL_BIN is a sanitizer build: timeouts are
             stretched (scaled()); sanitizer reports in a log fail the test
POSTEL_KEEP  "1" keeps data and log directories after the run
Imported by conftest.py, which re-exports every name for the tests."""
import os

POSTEL_BIN = os.environ.get("POSTEL_BIN", "/work/main/build/postel")
ASAN = os.environ.get("POSTEL_ASAN") == "1"
KEEP = os.environ.get("POSTEL_KEEP") == "1"
# sanitizer builds are several times slower
SCALE = 3.0 if ASAN else 1.0
# a service manager's socket that this test run itself may have been given:
# servers under test must not notify it (tests that want sd_notify set
# their own with monkeypatch)
INHERITED_NOTIFY_SOCKET = os.environ.get("NOTIFY_SOCKET")

HOSTNAME = "mail.example.org"
DOMAIN = "example.org"
CATCH_DOMAIN = "catch.example"
USERS = {
    "alice@example.org": "Alice-secret-7 horse",
    "bob@example.org": "bob-Pa55word",
}
ALICE = "alice@example.org"
BOB = "bob@example.org"
# postmaster@example.org -> alice, @catch.example -> bob
ALIASES = [
    ("postmaster@example.org", ALICE),
    ("@" + CATCH_DOMAIN, BOB),
]
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "UndefinedBehaviorSanitizer")
# services whose readiness start() checks, and whether they use implicit TLS
SERVICES = {"smtp": False, "submission": False, "submissions": True,
            "pop3": False, "pop3s": True, "imap": False, "imaps": True}


def scaled(seconds):
    return seconds * SCALE
