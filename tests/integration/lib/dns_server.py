#!/usr/bin/env python3
"""A scripted, authoritative-style DNS responder for `edge trace`'s tests: the first label of
the query name picks the failure, so one server in the test topology produces every DNS
outcome. Standard library only; UDP and TCP on the same address and port.

  python3 dns_server.py ADDR PORT [--no-tcp]

  --no-tcp     serve UDP only: nothing listens on PORT/tcp, so a TCP query is refused (RST),
               as when 53/tcp is blocked; with truncated.* this breaks name resolution

  nxdomain.*   RCODE 3 (NXDOMAIN), SOA in authority
  servfail.*   RCODE 2 (SERVFAIL)
  refused.*    RCODE 5 (REFUSED)
  nodata.*     RCODE 0, no answer, SOA in authority
  timeout.*    no reply at all (UDP and TCP)
  v6only.*     AAAA fd99:2::2; NODATA (with SOA) for A
  truncated.*  over UDP: TC bit set, no answer (a client should retry over TCP);
               over TCP: the normal answer
  slow.*       the normal answer, 0.5 s late
  dyn.*        A from the file named by $EDGE_T_DNS_DYN (its first line), TTL 1: the answer
               a test changes under a client that should follow TTLs; NODATA for AAAA;
               NXDOMAIN while the file is empty
  anything else (ok.test, www.test, ...): A 10.99.2.2 / AAAA fd99:2::2, TTL 5; NODATA for
               other types

Replies echo the query ID, flags RD and opcode, and the question as sent (case kept); set QR
and AA. An EDNS OPT record in the query is ignored (the reply carries none). Queries with an
opcode other than QUERY get NOTIMP, unparsable ones FORMERR. One line per query on stdout:
  <proto> <client> id=<id> <type> <name> -> <outcome>
"""
import os
import socket
import socketserver
import struct
import sys
import threading
import time

A_ADDR = "10.99.2.2"
AAAA_ADDR = "fd99:2::2"
TTL = 5
T_A, T_SOA, T_AAAA = 1, 6, 28
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
              28: "AAAA", 33: "SRV", 41: "OPT", 65: "HTTPS", 255: "ANY"}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED"}
_log_lock = threading.Lock()


def log(line):
    with _log_lock:
        print(line, flush=True)


def read_name(msg, off):
    """Returns (labels, offset after the name); follows compression pointers."""
    labels, end, jumps = [], None, 0
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or jumps > 20:
                raise ValueError("bad pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            continue
        if n & 0xC0:
            raise ValueError("bad label type")
        off += 1
        if n == 0:
            return labels, (end if end is not None else off)
        labels.append(msg[off:off + n])
        off += n


def encode_name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name_bytes, rtype, ttl, rdata):
    return name_bytes + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa_rr(labels):
    """SOA for the zone = the query name without its first label (the root for one label)."""
    zone = b".".join(labels[1:]).decode(errors="replace")
    zone_name = encode_name(zone)
    rdata = (encode_name("ns." + zone) + encode_name("hostmaster." + zone)
             + struct.pack("!IIIII", 1, 60, 60, 600, TTL))
    return rr(zone_name, T_SOA, TTL, rdata)


def answer(query, proto):
    """Returns (reply bytes or None for no reply, delay seconds, log text)."""
    if len(query) < 12:
        return None, 0, "dropped: shorter than a header"
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:
        return None, 0, "dropped: a response, not a query"
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100

    def header(rcode, an, ns, tc=0):
        f = 0x8000 | (opcode << 11) | 0x0400 | tc | rd | rcode
        return struct.pack("!HHHHHH", qid, f, 1 if question else 0, an, ns, 0)

    question = b""
    if opcode != 0:
        return header(4, 0, 0), 0, f"id={qid} opcode={opcode} -> NOTIMP"
    try:
        if qdcount != 1:
            raise ValueError(f"qdcount={qdcount}")
        labels, off = read_name(query, 12)
        if off + 4 > len(query):
            raise ValueError("question truncated")
        qtype, qclass = struct.unpack("!HH", query[off:off + 4])
        question = query[12:off + 4]
    except (ValueError, UnicodeDecodeError) as e:
        question = b""
        return header(1, 0, 0), 0, f"id={qid} -> FORMERR ({e})"

    name = b".".join(labels).decode(errors="replace")
    first = labels[0].lower() if labels else b""
    desc = f"id={qid} {TYPE_NAMES.get(qtype, qtype)} {name or '.'}"
    ptr = b"\xc0\x0c"  # the question's name
    a = rr(ptr, T_A, TTL, socket.inet_pton(socket.AF_INET, A_ADDR))
    aaaa = rr(ptr, T_AAAA, TTL, socket.inet_pton(socket.AF_INET6, AAAA_ADDR))

    def reply(rcode, answers=(), authority=(), tc=0):
        body = header(rcode, len(answers), len(authority), tc) + question
        return body + b"".join(answers) + b"".join(authority)

    def outcome(rcode, answers=()):
        return f"{RCODE_NAMES.get(rcode, rcode)}" + (f" {len(answers)} answer(s)" if answers
                                                     else " no answer")

    delay = 0
    if first == b"timeout":
        return None, 0, desc + " -> no reply (timeout)"
    if first == b"nxdomain":
        return reply(3, authority=[soa_rr(labels)]), 0, desc + " -> NXDOMAIN"
    if first == b"servfail":
        return reply(2), 0, desc + " -> SERVFAIL"
    if first == b"refused":
        return reply(5), 0, desc + " -> REFUSED"
    if first == b"nodata":
        return reply(0, authority=[soa_rr(labels)]), 0, desc + " -> NOERROR no answer (NODATA)"
    if first == b"truncated" and proto == "udp":
        return reply(0, tc=0x0200), 0, desc + " -> TC set, no answer"
    if first == b"slow":
        delay = 0.5
    if first == b"dyn":
        addr = open(os.environ["EDGE_T_DNS_DYN"]).readline().strip()
        if not addr:
            return reply(3, authority=[soa_rr(labels)]), 0, desc + " -> NXDOMAIN (dyn: no address)"
        answers = [rr(ptr, T_A, 1, socket.inet_pton(socket.AF_INET, addr))] if qtype == T_A else []
    elif first == b"v6only":
        answers = [aaaa] if qtype == T_AAAA else []
    else:
        answers = {T_A: [a], T_AAAA: [aaaa]}.get(qtype, [])
    authority = [] if answers else [soa_rr(labels)]
    text = desc + " -> " + outcome(0, answers) + (f" after {delay} s" if delay else "")
    return reply(0, answers, authority), delay, text


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        resp, delay, text = answer(data, "udp")
        log(f"udp {self.client_address[0]}:{self.client_address[1]} {text}")
        if resp is not None:
            if delay:
                time.sleep(delay)
            sock.sendto(resp, self.client_address)


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        while True:
            head = self._read(2)
            if head is None:
                return
            (length,) = struct.unpack("!H", head)
            data = self._read(length)
            if data is None:
                return
            resp, delay, text = answer(data, "tcp")
            log(f"tcp {self.client_address[0]}:{self.client_address[1]} {text}")
            if resp is None:
                continue  # keep the connection open and silent
            if delay:
                time.sleep(delay)
            conn.sendall(struct.pack("!H", len(resp)) + resp)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


def server_classes(addr):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    class UDP(socketserver.ThreadingUDPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    class TCP(socketserver.ThreadingTCPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    return UDP, TCP


def main():
    args = sys.argv[1:]
    no_tcp = "--no-tcp" in args
    args = [a for a in args if a != "--no-tcp"]
    if len(args) != 2:
        sys.exit("usage: dns_server.py ADDR PORT [--no-tcp]")
    addr, port = args[0], int(args[1])
    UDP, TCP = server_classes(addr)
    udp = UDP((addr, port), UDPHandler)
    if not no_tcp:
        tcp = TCP((addr, port), TCPHandler)
        threading.Thread(target=tcp.serve_forever, daemon=True).start()
    log(f"listening on {addr} port {port} ({'udp only' if no_tcp else 'udp, tcp'})")
    udp.serve_forever()


if __name__ == "__main__":
    main()
