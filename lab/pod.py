#!/usr/bin/env python3
"""A lab pod: answers every HTTP GET on ADDRESS:80 with NAME, as a pod answering with its own name would."""
import http.server
import socket
import sys

address, name = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in address else socket.AF_INET


Server((address, 80), Handler).serve_forever()
