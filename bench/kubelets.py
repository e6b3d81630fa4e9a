"""Kubelet stand-ins for bench/run-mode.sh: a listener on port 10250 of every Node's InternalIP (loopback addresses
from bench/cluster.py) that never accepts. The kernel answers the handshakes and the keepalives, as a kubelet host's
does, so node liveness holds its connections as in a cluster instead of being refused every round."""
import json
import signal
import socket
import sys

listeners = []
for node in json.load(open(sys.argv[1]))["items"]:
    address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 10250))
    listener.listen(128)
    listeners.append(listener)
print(f"kubelet stand-ins listening on {len(listeners)} node addresses", flush=True)
signal.pause()
