#!/usr/bin/env python3
"""Captures real KRPC datagrams from libtorrent 2.1.1 for the decoder tests and fuzz corpus.

Loopback only; run it inside a network namespace:

    unshare -n sh -c 'ip link set lo up; .venv/bin/python tests/libtorrent/capture.py'

Starts a small swarm (swarm.py), sends each kind of query from a raw UDP socket on
127.0.1.50, and writes every reply byte-for-byte to crates/krpc/tests/captured/ and
fuzz/corpus/krpc_decode/ (names lt211-*.bin). It also captures a query libtorrent sends us
(after add_node). The files are committed; rerun only to refresh them.
"""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from selftest import SwarmProc, benc  # noqa: E402

OUT = [os.path.join(ROOT, "crates/krpc/tests/captured"), os.path.join(ROOT, "fuzz/corpus/krpc_decode")]
OUR_ID = bytes(range(20))


def save(name, data):
    for d in OUT:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "lt211-%s.bin" % name), "wb") as f:
            f.write(data)
    print("captured %-28s %4d bytes" % (name, len(data)), file=sys.stderr)


def ask(sock, dst, tid, q, args, ro=False):
    a = dict(args)
    a["id"] = OUR_ID
    msg = {"t": tid, "y": "q", "q": q, "a": a}
    if ro:
        msg["ro"] = 1
    sock.sendto(benc(msg), dst)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            data, src = sock.recvfrom(65536)
        except socket.timeout:
            break
        if src == dst and tid in data:
            return data
    raise SystemExit("no reply to %s from %s" % (q, dst))


def main():
    swarm = SwarmProc(["--nodes", "8", "--first-ip", "127.0.0.200", "--port", "6881", "--swarm-torrent-seeders", "3",
                       "--ready-timeout", "30", "--min-announce-nodes", "2"])
    try:
        ready = swarm.readline(60)
        assert ready["ready"], ready
        nodes = [(n["addr"].split(":")[0], int(n["addr"].split(":")[1])) for n in ready["nodes"]]
        swarm_hash = bytes.fromhex(ready["swarm_torrent"]["infohash"])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.1.50", 0))
        # Find a node that stores the swarm torrent's peers (it answers with values).
        values_reply = None
        for n in nodes:
            r = ask(sock, n, b"gp", "get_peers", {"info_hash": swarm_hash}, ro=True)
            if b"6:values" in r:
                values_reply, holder = r, n
                break
        assert values_reply, "no node returned values"
        dst = nodes[0]
        save("ping-reply", ask(sock, dst, b"p1", "ping", {}, ro=True))
        save("find_node-reply", ask(sock, dst, b"fn", "find_node", {"target": os.urandom(20)}, ro=True))
        save("get_peers-values-reply", values_reply)
        save("get_peers-scrape-reply", ask(sock, holder, b"gs", "get_peers", {"info_hash": swarm_hash, "scrape": 1}, ro=True))
        nodes_reply = ask(sock, dst, b"gn", "get_peers", {"info_hash": os.urandom(20)}, ro=True)
        save("get_peers-nodes-reply", nodes_reply)
        save("sample_infohashes-reply", ask(sock, dst, b"si", "sample_infohashes", {"target": os.urandom(20)}, ro=True))
        save("unknown-method-error", ask(sock, dst, b"uk", "no_such_method", {}, ro=True))
        # A token from get_peers, then announce_peer with it.
        gp = ask(sock, dst, b"g2", "get_peers", {"info_hash": swarm_hash}, ro=False)
        i = gp.index(b"5:token") + 7
        ln = int(gp[i:gp.index(b":", i)])
        tok = gp[gp.index(b":", i) + 1: gp.index(b":", i) + 1 + ln]
        save("announce_peer-reply", ask(sock, dst, b"an", "announce_peer",
                                        {"info_hash": swarm_hash, "port": 7777, "token": tok}))
        save("announce_peer-bad-token-error", ask(sock, dst, b"ab", "announce_peer",
                                                  {"info_hash": swarm_hash, "port": 7777, "token": b"nope"}))
        # A query libtorrent sends us: add our socket as a node and wait for its probe.
        us = "127.0.1.50:%d" % sock.getsockname()[1]
        swarm.cmd({"cmd": "add_node", "addr": us})
        end = time.monotonic() + 20
        got = False
        while time.monotonic() < end and not got:
            sock.settimeout(1)
            try:
                data, src = sock.recvfrom(65536)
            except socket.timeout:
                continue
            if b"1:y1:q" in data:
                save("incoming-query", data)
                got = True
        assert got, "libtorrent never queried us"
        swarm.cmd({"cmd": "quit"})
    finally:
        swarm.kill()


if __name__ == "__main__":
    main()
