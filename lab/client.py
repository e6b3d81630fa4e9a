#!/usr/bin/env python3
"""A lab client: asks a resolver for a name, then sends an HTTP GET to the first address of the answer, as a
simple LAN client does; one JSON line per request (wall time, address, the pod that answered or the error).

  client.py RESOLVER[:PORT] NAME A|AAAA COUNT INTERVAL_SECONDS [HTTP_TIMEOUT_SECONDS]
"""
import json
import random
import socket
import struct
import sys
import time
import urllib.request

resolver, name, qtype, count, interval = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
# Short when measuring failover (a request to a dead pod must not hold up the next), longer when counting spread.
http_timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 2.0
host, _, port = resolver.partition(":")
port = int(port or 53)
TYPES = {"A": 1, "AAAA": 28}


def query(name, qtype):
    """One DNS query over UDP (with TCP on truncation); the addresses in answer order."""
    ident = random.randrange(65536)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", TYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(packet, (host, port))
        reply = s.recv(65535)
    if reply[2] & 0x02:  # TC: ask again over TCP
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(struct.pack("!H", len(packet)) + packet)
            length = struct.unpack("!H", s.recv(2))[0]
            reply = b""
            while len(reply) < length:
                reply += s.recv(length - len(reply))
    answers = struct.unpack("!H", reply[6:8])[0]
    offset = 12 + len(question) + 4
    addresses = []
    for _ in range(answers):
        while reply[offset] != 0 and reply[offset] & 0xC0 != 0xC0:
            offset += reply[offset] + 1
        offset += 2 if reply[offset] & 0xC0 == 0xC0 else 1
        rtype, _, _, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        data = reply[offset:offset + length]
        offset += length
        if rtype == 1:
            addresses.append(socket.inet_ntop(socket.AF_INET, data))
        elif rtype == 28:
            addresses.append(socket.inet_ntop(socket.AF_INET6, data))
    return addresses


# No proxy from the environment: the lab's addresses are reached directly.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for _ in range(count):
    started = time.time()
    line = {"t": started}
    try:
        addresses = query(name, qtype)
        line["address"] = addresses[0] if addresses else None
        if addresses:
            url = "http://[%s]/" % addresses[0] if ":" in addresses[0] else "http://%s/" % addresses[0]
            with opener.open(url, timeout=http_timeout) as response:
                line["pod"] = response.read().decode().strip()
    except Exception as e:  # a dead pod times out; the line says so and the client goes on
        line["error"] = type(e).__name__
    print(json.dumps(line), flush=True)
    time.sleep(max(0.0, interval - (time.time() - started)))
