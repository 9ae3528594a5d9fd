#!/usr/bin/env python3
"""A loopback-only swarm of libtorrent DHT nodes for BitAgent integration tests.

Starts N libtorrent sessions, session i listening on <first-ip>+i:<port>
(TCP and UDP), wires their DHTs together, seeds small synthetic v1 torrents
and then answers JSON-line commands on stdin with one JSON line each on
stdout.  Logs go to stderr.  See README.md next to this file for the
protocol and the libtorrent facts it relies on.

Safety: every address this program binds to or is told to contact must be
in 127.0.0.0/8; anything else is refused.  No bootstrap routers, no LSD,
UPnP or NAT-PMP.
"""

import argparse
import ctypes
import ipaddress
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, deque

import libtorrent as lt

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# libtorrent logs this (dht_log_alert, module "tracker") from
# dos_blocker::incoming() when a source IP exceeds
# dht_block_ratelimit * 10 packets within 10 seconds:
#   "BANNING PEER [ ip: 127.0.0.3 time: 5 ms count: 50 ]"
BAN_MARKER = "BANNING PEER"
BAN_RE = re.compile(r"BANNING PEER \[ ip: (\S+)")
WINDOW_S = 10.0

_t_start = time.monotonic()


def log(msg):
    sys.stderr.write("[swarm %6.2fs] %s\n" % (time.monotonic() - _t_start, msg))
    sys.stderr.flush()


def loopback_ip(text):
    ip = ipaddress.ip_address(text)
    if ip.version != 4 or ip not in LOOPBACK:
        raise ValueError("refusing non-loopback address %s" % text)
    return ip


def parse_endpoint(text):
    """'127.0.0.2:7000' -> ('127.0.0.2', 7000); only IPv4 loopback allowed."""
    host, sep, port = str(text).rpartition(":")
    if not sep:
        raise ValueError("expected ip:port, got %r" % text)
    loopback_ip(host)
    p = int(port)
    if not 0 < p < 65536:
        raise ValueError("bad port in %r" % text)
    return host, p


def fmt_ep(ep):
    return "%s:%d" % (ep[0], ep[1])


def sha1_hex(h):
    return str(h)


def _ts(alert):
    try:
        return alert.timestamp().timestamp()
    except Exception:
        return time.time()


class PacketStats:
    """Incremental summary of DHT packets received from one key
    (an 'ip:port' endpoint or a bare 'ip')."""

    __slots__ = ("count", "queries", "ro", "non_ro", "responses", "errors",
                 "other", "first_ts", "last_ts", "max10", "windows", "by_node",
                 "sent_queries", "sent_responses", "sent_errors")

    def __init__(self):
        self.count = 0
        self.queries = Counter()
        self.ro = 0
        self.non_ro = 0
        self.responses = 0
        self.errors = 0
        self.other = 0
        self.first_ts = None
        self.last_ts = None
        self.max10 = 0
        self.windows = {}
        self.by_node = Counter()
        self.sent_queries = 0
        self.sent_responses = 0
        self.sent_errors = 0

    def incoming(self, ts, node_addr, kind, qname, ro):
        self.count += 1
        if kind == "q":
            self.queries[qname] += 1
            if ro:
                self.ro += 1
            else:
                self.non_ro += 1
        elif kind == "r":
            self.responses += 1
        elif kind == "e":
            self.errors += 1
        else:
            self.other += 1
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = ts
        self.by_node[node_addr] += 1
        dq = self.windows.get(node_addr)
        if dq is None:
            dq = self.windows[node_addr] = deque()
        dq.append(ts)
        while dq and ts - dq[0] >= WINDOW_S:
            dq.popleft()
        if len(dq) > self.max10:
            self.max10 = len(dq)

    def outgoing(self, kind):
        if kind == "q":
            self.sent_queries += 1
        elif kind == "r":
            self.sent_responses += 1
        elif kind == "e":
            self.sent_errors += 1

    def to_json(self):
        return {
            "count": self.count,
            "queries": dict(self.queries),
            "ro_flags": self.ro,
            "non_ro_queries": self.non_ro,
            "responses": self.responses,
            "errors": self.errors,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "max_in_any_10s": self.max10,
            "by_node": dict(self.by_node),
            "sent": {"queries": self.sent_queries,
                     "responses": self.sent_responses,
                     "errors": self.sent_errors},
        }


class Node:
    def __init__(self, idx, ip, port):
        self.idx = idx
        self.ip = ip
        self.port = port
        self.addr = "%s:%d" % (ip, port)
        self.ses = None
        self.nid = None  # lt.sha1_hash
        self.udp_listening = False
        self.listen_error = None
        self.handles = []
        # dht_live_nodes results
        self.live_seq = 0
        self.live_nodes = []


class Swarm:
    def __init__(self, args):
        self.args = args
        first = loopback_ip(args.first_ip)
        self.nodes = []
        for i in range(args.nodes):
            ip = first + i
            if ip not in LOOPBACK:
                raise ValueError("node %d address %s leaves 127.0.0.0/8" % (i, ip))
            self.nodes.append(Node(i, str(ip), args.port))
        self.by_ip_port = {(n.ip, n.port): n for n in self.nodes}
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stop_ev = threading.Event()
        self.stats = {}          # key ('ip:port' or 'ip') -> PacketStats
        self.bans = []
        self.announces = {}      # infohash hex -> {announced 'ip:port' -> set(receiving node idx)}
        self.get_peers_replies = {}  # infohash hex -> set('ip:port')
        self.alerts_dropped = 0
        self.foreign = {}        # non-loopback endpoint -> {"in": n, "out": n} (must stay empty)
        self.tmpdir = tempfile.mkdtemp(prefix="bitagent-swarm-")
        self.torrents = []       # [{"infohash", "seeders": [Node]}]
        self.swarm_torrent = None
        self.multi_torrent = None
        self.thread = None
        self.effective = {}

    # ------------------------------------------------------------------ setup
    def settings_for(self, node):
        a = self.args
        cat = lt.alert.category_t
        mask = (cat.dht_notification | cat.dht_log_notification
                | cat.dht_operation_notification | cat.status_notification
                | cat.error_notification | cat.tracker_notification)
        s = {
            "listen_interfaces": node.addr,
            "enable_dht": True,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_ip_notifier": False,
            # fail loudly instead of silently listening on a random port
            "listen_system_port_fallback": False,
            "dht_bootstrap_nodes": "",
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_enforce_node_id": False,
            "dht_prefer_verified_node_ids": False,
            "dht_ignore_dark_internet": False,
            "apply_filter_to_dht": True,
            "dht_sample_infohashes_interval": int(a.sample_interval),
            "dht_upload_rate_limit": int(a.upload_rate_limit),
            "alert_mask": int(mask),
            "alert_queue_size": 1000000,
        }
        if a.block_ratelimit is not None:
            s["dht_block_ratelimit"] = int(a.block_ratelimit)
        return s

    def preflight(self):
        """Fail fast if an address is taken (probe binds only; sends nothing)."""
        for n in self.nodes:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind((n.ip, n.port))
                except OSError as exc:
                    raise RuntimeError("cannot bind %s %s: %s"
                                       % ("UDP" if kind == socket.SOCK_DGRAM else "TCP", n.addr, exc))
                finally:
                    s.close()

    @staticmethod
    def loopback_only_filter():
        """Block every address but 127.0.0.0/8.  With apply_filter_to_dht
        this also stops libtorrent from contacting non-loopback nodes it
        learns from responses (e.g. a crawler under test returning bogus
        'nodes'): without it libtorrent *does* send to them."""
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1)
        f.add_rule("127.0.0.0", "127.255.255.255", 0)
        f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1)
        return f

    def start_sessions(self):
        self.preflight()
        for n in self.nodes:
            params = lt.session_params()
            params.settings = self.settings_for(n)
            # the filter is in place before the session (and its DHT) starts
            params.ip_filter = self.loopback_only_filter()
            n.ses = lt.session(params)
        st = self.nodes[0].ses.get_settings()
        self.effective = {k: st[k] for k in (
            "dht_block_ratelimit", "dht_block_timeout", "dht_sample_infohashes_interval",
            "dht_upload_rate_limit", "dht_enforce_node_id", "dht_prefer_verified_node_ids",
            "dht_restrict_routing_ips", "dht_restrict_search_ips", "dht_max_infohashes_sample_count",
            "dht_bootstrap_nodes", "enable_lsd", "enable_upnp", "enable_natpmp")}
        log("created %d sessions; effective settings %s" % (len(self.nodes), json.dumps(self.effective)))
        self.thread = threading.Thread(target=self.alert_loop, name="alerts", daemon=True)
        self.thread.start()

    def read_node_id(self, node):
        try:
            try:
                params = node.ses.session_state(lt.save_state_flags_t.save_dht_state)
            except Exception:
                params = node.ses.session_state()
            e = lt.write_session_params(params)
            d = e.get(b"dht state") or {}
            ids = d.get(b"node-id") or []
            for raw in ids:
                # 20 byte node id followed by the (v4 or v6) address it is used on
                if len(raw) >= 24 and raw[20:24] == ipaddress.ip_address(node.ip).packed:
                    return lt.sha1_hash(raw[:20])
            if ids:
                return lt.sha1_hash(ids[0][:20])
        except Exception as exc:  # pragma: no cover - diagnostics only
            log("node %s: reading node id failed: %r" % (node.addr, exc))
        return None

    def wait_dht_started(self, deadline):
        pending = list(self.nodes)
        while pending and time.monotonic() < deadline:
            still = []
            for n in pending:
                if n.nid is None:
                    n.nid = self.read_node_id(n)
                if n.nid is None or not n.udp_listening:
                    still.append(n)
            pending = still
            if any(n.listen_error for n in self.nodes):
                break
            if pending:
                time.sleep(0.05)
        for n in pending:
            log("node %s: DHT not started (udp listening=%s, error=%s)"
                % (n.addr, n.udp_listening, n.listen_error))
        return not pending

    def wire(self):
        for n in self.nodes:
            for m in self.nodes:
                if m is not n:
                    n.ses.add_dht_node((m.ip, m.port))

    def request_tables(self, timeout=5.0):
        """Ask every session for its live routing-table nodes; returns
        {idx: [(ip, port, id_hex)]} for sessions that answered in time."""
        with self.lock:
            want = {n.idx: n.live_seq for n in self.nodes}
        for n in self.nodes:
            if n.ses is None:
                continue
            # libtorrent may regenerate its node id (e.g. on an external IP
            # change); dht_live_nodes() only answers for the current id
            nid = self.read_node_id(n)
            if nid is not None and n.nid is not None and str(nid) != str(n.nid):
                log("node %s changed its DHT node id %s -> %s" % (n.addr, n.nid, nid))
            if nid is not None:
                n.nid = nid
            if n.nid is not None:
                n.ses.dht_live_nodes(n.nid)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                done = all(n.live_seq > want[n.idx] or n.nid is None for n in self.nodes)
                left = deadline - time.monotonic()
                if done or left <= 0:
                    break
                self.cond.wait(min(left, 0.1))
            return {n.idx: list(n.live_nodes) for n in self.nodes if n.live_seq > want[n.idx]}

    def wait_tables(self, deadline):
        need = int(math.ceil(self.args.min_table_fraction * (len(self.nodes) - 1)))
        last = None
        while time.monotonic() < deadline:
            tables = self.request_tables(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            sizes = [len(tables.get(n.idx, [])) for n in self.nodes]
            if sizes != last:
                log("routing table sizes (need >= %d): min=%d max=%d" % (need, min(sizes), max(sizes)))
                last = sizes
            if min(sizes) >= need:
                return True, sizes
            time.sleep(0.25)
        return False, last

    def make_torrent(self, directory, name, size):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        # v1-only: libtorrent 2.x creates hybrid v1+v2 torrents by default
        ct = lt.create_torrent(lt.list_files(path), 16384, lt.create_torrent.v1_only)
        ct.set_creator("bitagent-test-swarm")
        lt.set_piece_hashes(ct, directory)
        ti = lt.torrent_info(ct.generate())
        ih = ti.info_hashes()
        assert not ih.has_v2(), "torrent unexpectedly has a v2 info-hash"
        return ti, str(ih.v1)

    def make_multi_torrent(self, directory, name, nfiles):
        """A v1 multi-file torrent of `nfiles` small files in nested directories: its info
        dictionary (about 50 bytes per file) spans several 16 KiB metadata pieces."""
        rnd = random.Random()
        root = os.path.join(directory, name)
        for i in range(nfiles):
            sub = os.path.join(root, "dir%02d" % (i % 7), "sub%d" % (i % 3))
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "file-%05d.bin" % i), "wb") as f:
                f.write(os.urandom(rnd.randint(1, 600)))
        ct = lt.create_torrent(lt.list_files(root), 16384, lt.create_torrent.v1_only)
        ct.set_creator("bitagent-test-swarm")
        lt.set_piece_hashes(ct, directory)
        ti = lt.torrent_info(ct.generate())
        return ti, str(ti.info_hashes().v1)

    @staticmethod
    def describe(ti):
        """What a metadata fetch must find in the torrent: name, sizes and non-pad files
        (path components below the torrent's directory; a single file's path is its name)."""
        fs = ti.layout()
        files = []
        for i in range(fs.num_files()):
            if fs.file_flags(i) & lt.file_storage.flag_pad_file:
                continue
            parts = fs.file_path(i).split(os.sep)
            if ti.num_files() > 1 or len(parts) > 1:
                parts = parts[1:]
            files.append({"path": parts, "size": fs.file_size(i)})
        return {"name": ti.name(), "total_size": sum(f["size"] for f in files),
                "piece_length": ti.piece_length(), "files": files}

    def add_seed(self, node, ti, save_path):
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = save_path
        atp.flags = lt.torrent_flags.seed_mode
        h = node.ses.add_torrent(atp)
        node.handles.append(h)
        return h

    def create_torrents(self):
        a = self.args
        rnd = random.Random()
        for n in self.nodes:
            d = os.path.join(self.tmpdir, "node%03d" % n.idx)
            for k in range(a.torrents_per_node):
                ti, ih = self.make_torrent(d, "bitagent-node%03d-t%d.bin" % (n.idx, k),
                                           rnd.randint(16 * 1024, 48 * 1024))
                self.add_seed(n, ti, d)
                self.torrents.append({"infohash": ih, "seeders": [n], "meta": self.describe(ti)})
        k = max(0, min(a.swarm_torrent_seeders, len(self.nodes)))
        if k:
            d = os.path.join(self.tmpdir, "swarm")
            ti, ih = self.make_torrent(d, "bitagent-swarm-torrent.bin", 64 * 1024)
            step = len(self.nodes) / k
            seeders = [self.nodes[int(j * step)] for j in range(k)]
            for n in seeders:
                self.add_seed(n, ti, d)
            self.swarm_torrent = {"infohash": ih, "seeders": seeders, "meta": self.describe(ti)}
        if a.multi_file_torrent > 0:
            d = os.path.join(self.tmpdir, "multi")
            ti, ih = self.make_multi_torrent(d, "bitagent-multi", a.multi_file_torrent)
            self.add_seed(self.nodes[0], ti, d)
            self.multi_torrent = {"infohash": ih, "seeders": [self.nodes[0]],
                                  "meta": self.describe(ti), "info_size": len(ti.info_section())}
        for n in self.nodes:
            for h in n.handles:
                h.force_dht_announce()
        log("added %d per-node torrents and %s swarm torrent; forced DHT announces"
            % (len(self.torrents), "a" if self.swarm_torrent else "no"))

    def all_seed_pairs(self):
        pairs = [(t["infohash"], s) for t in self.torrents for s in t["seeders"]]
        if self.swarm_torrent:
            pairs += [(self.swarm_torrent["infohash"], s) for s in self.swarm_torrent["seeders"]]
        if self.multi_torrent:
            pairs += [(self.multi_torrent["infohash"], s) for s in self.multi_torrent["seeders"]]
        return pairs

    def wait_announces(self, deadline):
        need = min(self.args.min_announce_nodes, len(self.nodes) - 1)
        pairs = self.all_seed_pairs()
        last = None
        reannounce_at = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with self.lock:
                missing = [(ih, s) for ih, s in pairs
                           if len(self.announces.get(ih, {}).get(s.addr, ())) < need]
            if len(missing) != last:
                log("announces stored on >= %d nodes: %d/%d" % (need, len(pairs) - len(missing), len(pairs)))
                last = len(missing)
            if not missing:
                return True
            if time.monotonic() > reannounce_at:
                for ih, s in missing:
                    for h in s.handles:
                        if str(h.info_hashes().v1) == ih:
                            h.force_dht_announce()
                reannounce_at = time.monotonic() + 5.0
            time.sleep(0.1)
        return False

    def verify_swarm_get_peers(self, deadline):
        if not self.swarm_torrent:
            return True
        ih = self.swarm_torrent["infohash"]
        want = {s.addr for s in self.swarm_torrent["seeders"]}
        seeders = set(id(s) for s in self.swarm_torrent["seeders"])
        askers = [n for n in self.nodes if id(n) not in seeders] or self.nodes
        attempt = 0
        while time.monotonic() < deadline and attempt < 10:
            asker = askers[attempt % len(askers)]
            attempt += 1
            with self.lock:
                self.get_peers_replies[ih] = set()
            asker.ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(ih)))
            end = min(deadline, time.monotonic() + 3.0)
            while time.monotonic() < end:
                with self.lock:
                    got = set(self.get_peers_replies.get(ih, ()))
                if want <= got:
                    log("get_peers for swarm torrent from %s found all %d seeders"
                        % (asker.addr, len(want)))
                    return True
                time.sleep(0.1)
            log("get_peers from %s found %d/%d seeders; retrying" % (asker.addr, len(want & got), len(want)))
        return False

    def start(self):
        a = self.args
        t0 = time.monotonic()
        deadline = t0 + a.ready_timeout
        reason = None
        self.start_sessions()
        if not self.wait_dht_started(deadline):
            errs = ["%s: %s" % (n.addr, n.listen_error) for n in self.nodes if n.listen_error]
            info = self.info()
            info["ready"] = False
            info["reason"] = "not every session started its DHT on its loopback address" + (
                " (%s)" % "; ".join(errs[:3]) if errs else "")
            return info
        log("DHT running on %d sessions" % sum(1 for n in self.nodes if n.nid is not None))
        self.wire()
        ok, sizes = self.wait_tables(deadline)
        if not ok and reason is None:
            reason = "routing tables not populated (sizes %s)" % sizes
        log("routing tables ready=%s in %.2fs" % (ok, time.monotonic() - t0))
        self.create_torrents()
        if not self.wait_announces(deadline) and reason is None:
            reason = "not every torrent announce was stored on enough nodes"
        log("announces done at %.2fs" % (time.monotonic() - t0))
        if not self.verify_swarm_get_peers(deadline) and reason is None:
            reason = "get_peers for the swarm torrent did not find every seeder"
        elapsed = time.monotonic() - t0
        info = self.info()
        info["ready"] = reason is None
        if reason:
            info["reason"] = reason
        info["startup_s"] = round(elapsed, 3)
        log("ready=%s after %.2fs%s" % (info["ready"], elapsed, "" if not reason else " (" + reason + ")"))
        return info

    def info(self):
        def tor(t):
            d = {"infohash": t["infohash"], "seeders": [s.addr for s in t["seeders"]]}
            d.update(t["meta"])
            return d
        return {
            "ready": True,
            "nodes": [{"addr": n.addr, "id": sha1_hex(n.nid) if n.nid is not None else None}
                      for n in self.nodes],
            "torrents": [tor(t) for t in self.torrents],
            "swarm_torrent": tor(self.swarm_torrent) if self.swarm_torrent else None,
            "multi_torrent": (dict(tor(self.multi_torrent), info_size=self.multi_torrent["info_size"])
                              if self.multi_torrent else None),
            "block_ratelimit": self.effective.get("dht_block_ratelimit"),
            "sample_interval": self.effective.get("dht_sample_infohashes_interval"),
            "upload_rate_limit": self.effective.get("dht_upload_rate_limit"),
            "libtorrent": lt.__version__,
            "pid": os.getpid(),
        }

    # ----------------------------------------------------------------- alerts
    def alert_loop(self):
        while not self.stop_ev.is_set():
            busy = False
            for n in self.nodes:
                try:
                    alerts = n.ses.pop_alerts()
                except Exception as exc:
                    log("pop_alerts failed on %s: %r" % (n.addr, exc))
                    continue
                if alerts:
                    busy = True
                    for al in alerts:
                        try:
                            self.handle_alert(n, al)
                        except Exception as exc:
                            log("alert handling error on %s (%s): %r" % (n.addr, type(al).__name__, exc))
            if not busy:
                self.stop_ev.wait(0.02)

    def handle_alert(self, node, al):
        if isinstance(al, lt.dht_pkt_alert):
            self.on_packet(node, al)
        elif isinstance(al, lt.dht_log_alert):
            msg = al.log_message()
            if BAN_MARKER in msg:
                m = BAN_RE.search(msg)
                ev = {"node": node.addr, "ip": m.group(1) if m else None, "msg": msg, "ts": _ts(al)}
                with self.lock:
                    self.bans.append(ev)
                log("ban on %s: %s" % (node.addr, msg))
        elif isinstance(al, lt.dht_announce_alert):
            key = "%s:%d" % (al.ip, al.port)
            ih = str(al.info_hash)
            with self.lock:
                self.announces.setdefault(ih, {}).setdefault(key, set()).add(node.idx)
        elif isinstance(al, lt.dht_get_peers_reply_alert):
            ih = str(al.info_hash)
            peers = set(fmt_ep(p) for p in al.peers())
            with self.lock:
                if ih in self.get_peers_replies:
                    self.get_peers_replies[ih] |= peers
        elif isinstance(al, lt.dht_live_nodes_alert):
            entries = [(e["endpoint"][0], e["endpoint"][1], str(e["nid"])) for e in al.nodes]
            with self.cond:
                node.live_nodes = entries
                node.live_seq += 1
                self.cond.notify_all()
        elif isinstance(al, lt.listen_succeeded_alert):
            if al.socket_type in (lt.socket_type_t.udp, lt.socket_type_t.utp):
                if al.port == node.port and str(al.address) == node.ip:
                    node.udp_listening = True
                else:
                    node.listen_error = "listening on unexpected endpoint: " + al.message()
                    log("node %s: %s" % (node.addr, node.listen_error))
        elif isinstance(al, lt.listen_failed_alert):
            node.listen_error = al.message()
            log("listen failed on %s: %s" % (node.addr, al.message()))
        elif isinstance(al, lt.alerts_dropped_alert):
            with self.lock:
                self.alerts_dropped += 1
            log("ALERTS DROPPED on %s: %s" % (node.addr, al.message()))

    def on_packet(self, node, al):
        msg = al.message()
        if msg.startswith("<== ["):
            incoming = True
        elif msg.startswith("==> ["):
            incoming = False
        else:
            return
        end = msg.find("] ", 5)
        if end < 0:
            return
        ep = msg[5:end]
        kind, qname, ro = "?", None, False
        try:
            d = lt.bdecode(al.pkt_buf)
            if isinstance(d, dict):
                y = d.get(b"y")
                kind = y.decode("latin-1") if isinstance(y, bytes) else "?"
                if kind == "q":
                    q = d.get(b"q")
                    qname = q.decode("latin-1") if isinstance(q, bytes) else "?"
                ro = d.get(b"ro") == 1
        except Exception:
            pass
        ip = ep.rpartition(":")[0]
        try:
            is_loop = ipaddress.ip_address(ip.strip("[]")) in LOOPBACK
        except ValueError:
            is_loop = False
        with self.lock:
            if not is_loop:
                f = self.foreign.setdefault(ep, {"in": 0, "out": 0})
                f["in" if incoming else "out"] += 1
            for key in (ep, ip):
                st = self.stats.get(key)
                if st is None:
                    st = self.stats[key] = PacketStats()
                if incoming:
                    st.incoming(_ts(al), node.addr, kind, qname, ro)
                else:
                    st.outgoing(kind)

    # --------------------------------------------------------------- commands
    def cmd_add_node(self, c):
        host, port = parse_endpoint(c["addr"])
        for n in self.nodes:
            n.ses.add_dht_node((host, port))
        return {"ok": True}

    def cmd_tables(self, c):
        tables = self.request_tables(timeout=float(c.get("timeout", 5.0)))
        out = []
        for n in self.nodes:
            entries = tables.get(n.idx)
            row = {"node": n.addr,
                   "entries": [{"addr": "%s:%d" % (ip, port), "id": nid} for ip, port, nid in (entries or [])]}
            if entries is None:
                row["error"] = "no dht_live_nodes_alert in time"
            out.append(row)
        return {"tables": out}

    def cmd_packets(self, c):
        key = str(c.get("from", ""))
        if ":" in key:
            host, port = parse_endpoint(key)
            key = "%s:%d" % (host, port)
        else:
            loopback_ip(key)
        with self.lock:
            st = self.stats.get(key)
            res = (st or PacketStats()).to_json()
        res["from"] = key
        return res

    def cmd_get_peers(self, c):
        ih = str(c["infohash"]).lower()
        if len(bytes.fromhex(ih)) != 20:
            raise ValueError("infohash must be 40 hex digits")
        node = self.nodes[0]
        if c.get("node"):
            host, port = parse_endpoint(c["node"])
            node = self.by_ip_port[(host, port)]
        wait = max(0.1, min(float(c.get("wait", 3.0)), 30.0))
        expect = c.get("expect")
        with self.lock:
            self.get_peers_replies[ih] = set()
        node.ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(ih)))
        end = time.monotonic() + wait
        while time.monotonic() < end:
            with self.lock:
                got = set(self.get_peers_replies[ih])
            if expect is not None and len(got) >= int(expect):
                break
            time.sleep(0.05)
        with self.lock:
            got = self.get_peers_replies.pop(ih, set())
        return {"node": node.addr, "peers": sorted(got)}

    def cmd_foreign(self, c):
        with self.lock:
            return {"endpoints": [dict(addr=k, **v) for k, v in sorted(self.foreign.items())]}

    def cmd_bans(self, c):
        with self.lock:
            return {"bans": [dict(b) for b in self.bans]}

    def handle_command(self, line):
        try:
            c = json.loads(line)
            if not isinstance(c, dict):
                raise ValueError("command must be a JSON object")
            cmd = c.get("cmd")
            if cmd == "add_node":
                return self.cmd_add_node(c)
            if cmd == "tables":
                return self.cmd_tables(c)
            if cmd == "packets":
                return self.cmd_packets(c)
            if cmd == "bans":
                return self.cmd_bans(c)
            if cmd == "get_peers":
                return self.cmd_get_peers(c)
            if cmd == "foreign":
                return self.cmd_foreign(c)
            if cmd == "info":
                return self.info()
            if cmd == "ping":
                return {"ok": True, "alerts_dropped": self.alerts_dropped}
            if cmd == "quit":
                return None
            return {"ok": False, "error": "unknown cmd %r" % (cmd,)}
        except Exception as exc:
            return {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}

    # --------------------------------------------------------------- shutdown
    def shutdown(self):
        self.stop_ev.set()
        if self.thread is not None:
            self.thread.join(timeout=2.0)
        sessions = [n.ses for n in self.nodes if n.ses is not None]
        for n in self.nodes:
            n.ses = None
            n.handles = []

        def destroy(ss):
            while ss:
                s = ss.pop()
                try:
                    s.pause()
                except Exception:
                    pass
                del s

        if sessions:
            # destroy in a few parallel threads; session destructors block
            # until the session thread has stopped.
            groups = [sessions[i::4] for i in range(4)]
            del sessions
            ts = [threading.Thread(target=destroy, args=(g,), daemon=True) for g in groups]
            for t in ts:
                t.start()
            end = time.monotonic() + 10.0
            for t in ts:
                t.join(timeout=max(0.0, end - time.monotonic()))
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class Terminate(Exception):
    pass


def set_pdeathsig():
    """Ask the kernel to SIGTERM us when the parent dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=20)
    p.add_argument("--first-ip", default="127.0.0.10")
    p.add_argument("--port", type=int, default=6881)
    p.add_argument("--torrents-per-node", type=int, default=2)
    p.add_argument("--swarm-torrent-seeders", type=int, default=5)
    p.add_argument("--block-ratelimit", type=int, default=None,
                   help="dht_block_ratelimit (libtorrent default 5/s: ban at 50 packets within 10 s)")
    p.add_argument("--sample-interval", type=int, default=0,
                   help="dht_sample_infohashes_interval seconds (0 = fresh sample per query)")
    p.add_argument("--upload-rate-limit", type=int, default=1000000,
                   help="dht_upload_rate_limit bytes/s (libtorrent default 8000; 0 would mean send nothing)")
    p.add_argument("--ready-timeout", type=float, default=45.0)
    p.add_argument("--multi-file-torrent", type=int, default=0, metavar="FILES",
                   help="also seed, on the first session, a multi-file torrent of FILES small files "
                        "(0 = none)")
    p.add_argument("--min-table-fraction", type=float, default=0.8,
                   help="each node must have at least this fraction of the others in its table")
    p.add_argument("--min-announce-nodes", type=int, default=3,
                   help="each (torrent, seeder) announce must be stored on this many nodes")
    args = p.parse_args(argv)
    if args.nodes < 1:
        p.error("--nodes must be >= 1")
    if args.upload_rate_limit <= 0:
        p.error("--upload-rate-limit must be > 0 (0 makes libtorrent's DHT send nothing)")

    # Keep stdout exclusively for protocol lines: move the real stdout to a
    # private fd and point fd 1 at stderr so stray native output can't
    # corrupt the protocol.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(out_fd, "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr

    def reply(obj):
        out.write(json.dumps(obj, separators=(",", ":")) + "\n")
        out.flush()

    def on_signal(signum, frame):
        raise Terminate("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    set_pdeathsig()

    swarm = None
    code = 0
    try:
        swarm = Swarm(args)
        try:
            info = swarm.start()
        except Terminate:
            raise
        except Exception as exc:
            log("startup failed: %r" % (exc,))
            info = swarm.info()
            info["ready"] = False
            info["reason"] = "startup error: %s: %s" % (type(exc).__name__, exc)
        reply(info)
        while True:
            line = sys.stdin.readline()
            if not line:
                log("stdin closed; exiting")
                break
            line = line.strip()
            if not line:
                continue
            res = swarm.handle_command(line)
            if res is None:
                reply({"ok": True})
                log("quit")
                break
            reply(res)
    except Terminate as t:
        log("terminating on %s" % t)
    except BrokenPipeError:
        log("stdout closed; exiting")
    except Exception as exc:
        log("fatal: %r" % (exc,))
        code = 1
    finally:
        t = time.monotonic()
        # ignore further signals during cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if swarm is not None:
            swarm.shutdown()
        log("shut down in %.2fs" % (time.monotonic() - t))
        try:
            out.flush()
        except Exception:
            pass
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
