"""A loopback authoritative DNS server for the `postel probe --dns` tests,
built on dnslib (Debian's python3-dnslib): it answers UDP and TCP on
127.0.0.1 from a zone given as text, NXDOMAIN for names it does not
hold, and NOERROR with no answer for types a name does not have. In a
zone signed with NSEC (dnssec-signzone) both come with their proof."""
import socket
import threading

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from ports import free_ports

POLL_S = 0.05


class ZoneResolver(BaseResolver):
    def __init__(self, zone_text, servfail=()):
        self.records = RR.fromZone(zone_text)
        self.servfail = tuple(d.rstrip(".").lower() for d in servfail)
        self.queries = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname, qtype = request.q.qname, request.q.qtype
        self.queries.append((str(qname), QTYPE[qtype]))
        name = str(qname).rstrip(".").lower()
        if any(name == d or name.endswith("." + d) for d in self.servfail):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        known = False
        for rr in self.records:
            if rr.rname == qname:
                known = True
                if rr.rtype == qtype or (rr.rtype == QTYPE.RRSIG and
                                         rr.rdata.covered == qtype):
                    reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
            self.deny_name(reply, qname)
        elif not reply.rr:
            # a signed zone's NODATA: its NSEC and signature prove it
            # (RFC 4035 3.1.3.1)
            for rr in self.records:
                if rr.rname == qname and (rr.rtype == QTYPE.NSEC or (
                        rr.rtype == QTYPE.RRSIG and rr.rdata.covered == QTYPE.NSEC)):
                    reply.add_auth(rr)
        reply.header.aa = 1
        return reply


    def deny_name(self, reply, qname):
        """RFC 4035 3.1.3.2: the NSEC records (and their signatures)
        covering the name and the wildcard at its closest encloser."""
        nsecs = [rr for rr in self.records if rr.rtype == QTYPE.NSEC]
        owners = {canonical(rr.rname) for rr in self.records}
        name = canonical(qname)
        encloser = name[:-1]
        # the closest encloser: the longest ancestor that exists (or has
        # names beneath it: an empty non-terminal)
        while encloser and not any(o[:len(encloser)] == encloser for o in owners):
            encloser = encloser[:-1]
        proofs = []
        for target in (name, encloser + (b"*",)):
            for rr in nsecs:
                own, nxt = canonical(rr.rname), canonical(rr.rdata.label)
                if (own < target < nxt) or (nxt <= own and (target > own or target < nxt)):
                    if rr not in proofs:
                        proofs.append(rr)
        for nsec in proofs:
            reply.add_auth(nsec)
            for rr in self.records:
                if (rr.rname == nsec.rname and rr.rtype == QTYPE.RRSIG and
                        rr.rdata.covered == QTYPE.NSEC):
                    reply.add_auth(rr)


def canonical(label):
    """RFC 4034 6.1 order: labels from the right, lower case."""
    return tuple(part.lower() for part in reversed(label.label))


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data")


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1, from this test
    process's block (ports.py: no other test process is handed it)."""
    for _ in range(50):
        port = free_ports(1)[0]          # nothing listens on it over TCP
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


class ZoneServer:
    def __init__(self, zone_text, servfail=()):
        self.resolver = ZoneResolver(zone_text, servfail)
        self.port = free_udp_tcp_port()
        self.udp = DNSServer(self.resolver, address="127.0.0.1", port=self.port,
                             logger=QuietLogger())
        self.tcp = DNSServer(self.resolver, address="127.0.0.1", port=self.port,
                             tcp=True, logger=QuietLogger())
        # DNSServer.start_thread() with socketserver's default poll of 0.5 s:
        # each stop() waited up to that, twice a zone, in every relay test
        for server in (self.udp, self.tcp):
            server.thread = threading.Thread(target=server.server.serve_forever,
                                             kwargs={"poll_interval": POLL_S}, daemon=True)
            server.thread.start()

    @property
    def address(self):
        return f"127.0.0.1@{self.port}"

    def close(self):
        self.udp.stop()
        self.tcp.stop()
