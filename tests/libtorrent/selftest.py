#!/usr/bin/env python3
"""Self-check for swarm.py.  Loopback only; run it inside a network namespace:

    unshare -n sh -c 'ip link set lo up; .venv/bin/python tests/libtorrent/selftest.py'

Starts swarm.py with 20 nodes, talks raw BEP-5 to it from UDP sockets on
127.0.0.2 (normal node), 127.0.0.4 (BEP-43 read-only node) and 127.0.0.3
(flooder), and checks the swarm's answers and its "packets", "tables" and
"bans" commands.  Exits 0 when every check passed.
"""

import ipaddress
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SWARM = os.path.join(HERE, "swarm.py")
NODES = 20
T0 = time.monotonic()
FAILS = []
PASSES = 0


def say(msg):
    print("[selftest %6.2fs] %s" % (time.monotonic() - T0, msg), flush=True)


def check(cond, what):
    global PASSES
    if cond:
        PASSES += 1
        say("ok   " + what)
    else:
        FAILS.append(what)
        say("FAIL " + what)
    return cond


# ---------------------------------------------------------------- bencoding
def benc(x):
    if isinstance(x, bool):
        x = int(x)
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(benc(i) for i in x) + b"e"
    if isinstance(x, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in x.items())
        return b"d" + b"".join(benc(k) + benc(v) for k, v in items) + b"e"
    raise TypeError(type(x))


def bdec(data):
    def dec(i):
        c = data[i:i + 1]
        if c == b"i":
            j = data.index(b"e", i)
            return int(data[i + 1:j]), j + 1
        if c == b"l":
            i += 1
            out = []
            while data[i:i + 1] != b"e":
                v, i = dec(i)
                out.append(v)
            return out, i + 1
        if c == b"d":
            i += 1
            out = {}
            while data[i:i + 1] != b"e":
                k, i = dec(i)
                v, i = dec(i)
                out[k] = v
            return out, i + 1
        j = data.index(b":", i)
        n = int(data[i:j])
        return data[j + 1:j + 1 + n], j + 1 + n
    v, _ = dec(0)
    return v


# ------------------------------------------------------------ swarm process
class SwarmProc:
    def __init__(self, args):
        self.p = subprocess.Popen([sys.executable, SWARM] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=None, bufsize=0)
        self.buf = b""

    def readline(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from swarm.py within %.0fs" % timeout)
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise EOFError("swarm.py closed stdout (rc=%s)" % self.p.poll())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, obj, timeout=15.0):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()
        return self.readline(timeout)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


# ------------------------------------------------------------- raw DHT node
class RawNode:
    """A UDP socket speaking just enough BEP-5.  It answers incoming queries
    (so libtorrent can confirm it) unless answer=False."""

    def __init__(self, ip, port, ro=False, answer=True, extra_nodes=b""):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.addr = "%s:%d" % self.sock.getsockname()
        self.id = os.urandom(20)  # deliberately NOT a BEP-42 id
        self.ro = ro
        self.answer = answer
        self.extra_nodes = extra_nodes
        self.tid = 0
        self.replies = {}
        self.cv = threading.Condition()
        self.incoming_queries = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                m = bdec(data)
            except Exception:
                continue
            y = m.get(b"y")
            if y == b"q":
                self.incoming_queries.append((src, m.get(b"q")))
                if self.answer:
                    r = {"id": self.id, "nodes": self.extra_nodes}
                    if m.get(b"q") == b"get_peers":
                        r["token"] = b"tok"
                    self.sock.sendto(benc({"t": m.get(b"t", b""), "y": "r", "r": r}), src)
            else:
                with self.cv:
                    self.replies[m.get(b"t")] = (src, m)
                    self.cv.notify_all()

    def send(self, dst, q, args, ro=None):
        self.tid = (self.tid + 1) % 65536
        t = self.tid.to_bytes(2, "big")
        a = dict(args)
        a["id"] = self.id
        msg = {"t": t, "y": "q", "q": q, "a": a}
        if self.ro if ro is None else ro:
            msg["ro"] = 1
        self.sock.sendto(benc(msg), dst)
        return t

    def query(self, dst, q, args, ro=None, timeout=3.0):
        t = self.send(dst, q, args, ro)
        end = time.monotonic() + timeout
        with self.cv:
            while t not in self.replies:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return self.replies.pop(t)[1]

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


POISON_IP = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed


def isolated():
    """True when this network namespace has no route off loopback.  A UDP
    connect() only consults the routing table; it sends nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((POISON_IP, 9))
        return False
    except OSError:
        return True
    finally:
        s.close()


def ep(s):
    h, _, p = s.rpartition(":")
    return h, int(p)


def compact_nodes(b):
    out = []
    for i in range(0, len(b) - len(b) % 26, 26):
        out.append((b[i:i + 20].hex(), str(ipaddress.IPv4Address(b[i + 20:i + 24])),
                    int.from_bytes(b[i + 24:i + 26], "big")))
    return out


def in_tables(tables, node_id_hex):
    return [t["node"] for t in tables["tables"] if any(e["id"] == node_id_hex for e in t["entries"])]


def main():
    swarm = SwarmProc(["--nodes", str(NODES), "--first-ip", "127.0.0.10", "--port", "6881",
                       "--torrents-per-node", "2"])
    a = b = c = None
    try:
        t = time.monotonic()
        ready = swarm.readline(60)
        startup = time.monotonic() - t
        say("ready line after %.2fs (swarm says startup_s=%s)" % (startup, ready.get("startup_s")))
        check(ready.get("ready") is True, "ready is true (reason=%s)" % ready.get("reason"))
        check(len(ready["nodes"]) == NODES, "20 nodes listed")
        check(all(len(n["id"] or "") == 40 for n in ready["nodes"]), "every node has a 40-hex id")
        check(len(ready["torrents"]) == 2 * NODES, "40 per-node torrents")
        st = ready.get("swarm_torrent") or {}
        check(len(st.get("seeders", [])) == 5, "swarm torrent has 5 seeders")
        check(ready.get("block_ratelimit") == 5, "block_ratelimit is libtorrent's default 5")
        known_ih = {t["infohash"] for t in ready["torrents"]} | {st.get("infohash")}
        nodes = ready["nodes"]
        target = nodes[0]
        tdst = ep(target["addr"])

        # ----------------------------------------------------- raw queries
        iso = isolated()
        say("network namespace isolated (no route off loopback): %s" % iso)
        # When isolated, node A also hands out a bogus non-loopback node in every
        # answer, to check the swarm's ip_filter keeps libtorrent on loopback.
        poison = b""
        if iso:
            poison = os.urandom(20) + socket.inet_aton(POISON_IP) + (6881).to_bytes(2, "big")
        a = RawNode("127.0.0.2", 7000, extra_nodes=poison)
        t = time.monotonic()
        r = a.query(tdst, "ping", {}, ro=True)
        check(r is not None and r.get(b"y") == b"r" and r[b"r"][b"id"].hex() == target["id"],
              "ping (ro=1) answered with the node's id")
        r = a.query(tdst, "find_node", {"target": os.urandom(20)})
        ns = compact_nodes(r[b"r"].get(b"nodes", b"")) if r else []
        check(len(ns) >= 8 and all(ipaddress.ip_address(n[1]).is_loopback for n in ns),
              "find_node answered with %d loopback nodes" % len(ns))
        r = a.query(tdst, "get_peers", {"info_hash": bytes.fromhex(st["infohash"])})
        check(r is not None and b"token" in r.get(b"r", {})
              and (b"values" in r[b"r"] or b"nodes" in r[b"r"]), "get_peers answered with token and values/nodes")
        r = a.query(tdst, "sample_infohashes", {"target": os.urandom(20)})
        samples = r[b"r"].get(b"samples", b"") if r else b""
        check(r is not None and b"num" in r[b"r"] and b"interval" in r[b"r"],
              "sample_infohashes answered (num=%s interval=%s, %d samples)"
              % (r and r[b"r"].get(b"num"), r and r[b"r"].get(b"interval"), len(samples) // 20))
        # the target may store no announces; try other nodes until one has samples (bounded)
        got = [samples[i:i + 20].hex() for i in range(0, len(samples), 20)]
        for other in nodes[1:6]:
            if got:
                break
            r2 = a.query(ep(other["addr"]), "sample_infohashes", {"target": os.urandom(20)})
            s2 = r2[b"r"].get(b"samples", b"") if r2 else b""
            got = [s2[i:i + 20].hex() for i in range(0, len(s2), 20)]
        check(len(got) > 0 and set(got) <= known_ih,
              "sample_infohashes returned %d samples, all swarm infohashes" % len(got))
        say("raw queries took %.2fs" % (time.monotonic() - t))

        # ------------------------------------------------------- packets
        time.sleep(0.5)
        p = swarm.cmd({"cmd": "packets", "from": a.addr})
        say("packets from %s: %s" % (a.addr, json.dumps(p)))
        q = p.get("queries", {})
        check(all(q.get(k, 0) >= 1 for k in ("ping", "find_node", "get_peers", "sample_infohashes")),
              "packets counts every query type")
        check(p.get("ro_flags") == 1, "packets ro_flags == 1")
        check(p.get("non_ro_queries", 0) >= 3, "packets non_ro_queries >= 3")
        check(p.get("count", 0) >= 4 and p.get("first_ts") and p.get("last_ts") >= p.get("first_ts"),
              "packets count/first_ts/last_ts")
        check(1 <= p.get("max_in_any_10s", 0) <= p.get("count", 0), "packets max_in_any_10s")
        check(p.get("sent", {}).get("responses", 0) >= 4, "swarm sent >= 4 responses to us")

        # --------------------------------------------- read-only node (BEP 43)
        c = RawNode("127.0.0.4", 7000, ro=True)
        answered = sum(1 for n in nodes
                       if c.query(ep(n["addr"]), "find_node", {"target": os.urandom(20)}, timeout=1.0))
        check(answered == NODES, "every node answered the ro=1 find_node (%d)" % answered)

        # ----------------------------------------------------------- tables
        time.sleep(1.0)
        tables = swarm.cmd({"cmd": "tables"})
        check(len(tables["tables"]) == NODES, "tables has 20 rows")
        sizes = [len(t["entries"]) for t in tables["tables"]]
        check(min(sizes) >= NODES - 4, "every table holds most swarm nodes (sizes %s)" % sizes)
        check(all(len(e["id"]) == 40 and ":" in e["addr"] for t in tables["tables"] for e in t["entries"]),
              "table entries have addr and 40-hex id")
        heard = in_tables(tables, a.id.hex())
        say("non-ro node %s (random, non-BEP-42 id) is in %d tables after only querying: %s"
            % (a.addr, len(heard), heard))
        ro_in = in_tables(tables, c.id.hex())
        check(not ro_in, "ro=1 node %s is in no routing table (in %d)" % (c.addr, len(ro_in)))
        say("ro node got %d incoming queries from the swarm" % len(c.incoming_queries))

        t = time.monotonic()
        check(swarm.cmd({"cmd": "add_node", "addr": a.addr}) == {"ok": True}, "add_node answered ok")
        listed = []
        for _ in range(20):  # bounded: <= ~20 s
            time.sleep(1.0)
            tables = swarm.cmd({"cmd": "tables"})
            listed = in_tables(tables, a.id.hex())
            if len(listed) == NODES:
                break
        check(len(listed) == NODES, "after add_node our unverified-id node is in %d/%d tables (%.2fs)"
              % (len(listed), NODES, time.monotonic() - t))
        check(swarm.cmd({"cmd": "add_node", "addr": "10.0.0.1:6881"}).get("ok") is False,
              "add_node refuses non-loopback addresses")

        # ---------------------------------------------------- get_peers cmd
        gp = swarm.cmd({"cmd": "get_peers", "infohash": st["infohash"], "node": nodes[-1]["addr"],
                        "expect": 5, "wait": 5})
        check(set(gp["peers"]) == set(st["seeders"]), "get_peers command finds the 5 swarm seeders")
        if iso:
            # a lookup aimed right next to A's id must ask A, which answers with
            # the bogus node; the ip_filter must stop libtorrent contacting it
            near = bytearray(a.id)
            near[19] ^= 1
            before = len(a.incoming_queries)
            swarm.cmd({"cmd": "get_peers", "infohash": bytes(near).hex(), "wait": 2})
            asked = [q for q in a.incoming_queries[before:] if q[1] == b"get_peers"]
            foreign = swarm.cmd({"cmd": "foreign"})
            check(len(asked) >= 1 and foreign == {"endpoints": []},
                  "bogus non-loopback node from a response is never contacted (A asked %d times, foreign=%s)"
                  % (len(asked), foreign["endpoints"]))

        # ------------------------------------------------------------ flood
        b = RawNode("127.0.0.3", 7000, answer=False)
        victim = nodes[1]
        vdst = ep(victim["addr"])
        t = time.monotonic()
        sent = 0
        for _ in range(120):
            b.send(vdst, "ping", {})
            sent += 1
            time.sleep(0.01)
        flood_s = time.monotonic() - t
        time.sleep(1.0)
        say("flooded %s with %d pings in %.2fs; got %d replies" % (victim["addr"], sent, flood_s, len(b.replies)))
        check(flood_s < 2.0, "flood took < 2 s")
        bans = swarm.cmd({"cmd": "bans"})
        say("bans: %s" % json.dumps(bans))
        mine = [x for x in bans["bans"] if x["ip"] == "127.0.0.3"]
        check(len(mine) == 1 and mine[0]["node"] == victim["addr"] and "BANNING PEER" in mine[0]["msg"],
              "bans reports 127.0.0.3 banned by %s" % victim["addr"])
        check(not [x for x in bans["bans"] if x["ip"] != "127.0.0.3"], "no other bans")
        check(swarm.cmd({"cmd": "foreign"}) == {"endpoints": []}, "no packet to or from a non-loopback address")
        pb = swarm.cmd({"cmd": "packets", "from": b.addr})
        say("packets from flooder: count=%s max_in_any_10s=%s" % (pb["count"], pb["max_in_any_10s"]))
        check(len(b.replies) < sent, "flooder stopped getting replies (%d/%d)" % (len(b.replies), sent))
        pi = swarm.cmd({"cmd": "packets", "from": "127.0.0.3"})
        check(pi["count"] == pb["count"], "packets accepts a bare IP")

        # ------------------------------------------------------------- quit
        t = time.monotonic()
        check(swarm.cmd({"cmd": "nonsense"}).get("ok") is False, "unknown command gives ok=false")
        check(swarm.cmd({"cmd": "quit"}) == {"ok": True}, "quit answered")
        rc = swarm.p.wait(20)
        check(rc == 0, "swarm.py exited 0 (%.2fs after quit)" % (time.monotonic() - t))
        say("startup %.2fs; total %.2fs" % (startup, time.monotonic() - T0))
    except Exception as exc:
        FAILS.append("exception: %r" % (exc,))
        say("FAIL exception %r" % (exc,))
    finally:
        for s in (a, b, c):
            if s is not None:
                s.close()
        swarm.kill()
    print("selftest: %d passed, %d failed" % (PASSES, len(FAILS)), flush=True)
    for f in FAILS:
        print("  failed: " + f)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
