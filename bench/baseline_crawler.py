#!/usr/bin/env python3
"""The baseline for the crawl race: a straightforward BEP-51 crawler built on libtorrent.

This is what a user would script instead of BitAgent: one libtorrent session with the DHT on,
`session.dht_sample_infohashes()` sent to every node it learns of (from the bootstrap node and
from the `nodes` of every `dht_sample_infohashes_alert`), and each new infohash added as a
magnet link so that libtorrent finds its peers on the DHT and fetches its metadata (BEP-9).
On `metadata_received_alert` the torrent's name, size and files are appended to a JSONL file
(flushed: that is "persisted") and the torrent is removed.

Deliberately ordinary, and not a strawman:
- libtorrent's default settings (DHT settings included: `dht_upload_rate_limit` 8,000 B/s,
  `dht_search_branching` 5, aggressive lookups), except what keeps it on loopback: it
  listens on one 127.x address, bootstraps from the given nodes only (no public routers),
  LSD/UPnP/NAT-PMP/IP notifier off, and an ip_filter that blocks everything but 127.0.0.0/8
  (applied to the DHT too). Because the whole test swarm shares one /24 on loopback,
  `dht_restrict_routing_ips`/`dht_restrict_search_ips` are off, as the swarm itself does;
  on the internet a user would leave them on.
- At most 50 magnets in flight (a sensible script bounds its work), each added
  non-auto-managed and started at once (libtorrent's queue would otherwise let only
  `active_downloads` = 3 of them run), with `default_dont_download` so only the metadata is
  fetched, and `force_dht_announce()` so its peer lookup starts now: otherwise a new torrent
  waits in the session's DHT announce queue, one torrent every 4 s at best (measured: 31
  torrents in 120 s without it, 564 with it). A magnet without metadata after
  --magnet-timeout seconds is dropped and retried once later.
- Each node is sampled again after the `interval` it asks for, but not more often than every
  --resample-floor seconds (libtorrent bans a source IP that sends a session 50 packets in
  10 s), and at most --sample-rate queries per second are sent in all.

What happens on a 100-session libtorrent swarm with libtorrent's real DoS limit (bench/race.sh):
a few hundred torrents in the first seconds, then most sessions ban it (50 packets from one IP
within 10 s: the peer lookups of many magnets converge on the same few nodes, and at first the
new session knows only a few nodes), for `dht_block_timeout` (300 s). Gentler variants tried,
all banned too: --max-magnets 10 (308 torrents in 120 s, banned by 81 sessions), --magnet-rate 8
(294 in 150 s, banned by 56). On a `bitagent lab` (no ban list) it runs unhindered.

Output: stdout gets one JSON progress line every --progress-interval seconds
({"t","discovered","persisted","in_flight","queued","nodes",...}) and a final
{"event":"done",...} line with libtorrent's own DHT/uTP counters (packets sent). Logs go to
stderr. Stops at --duration seconds, on SIGTERM/SIGINT, or once --expect torrents are
persisted.

Safety: every address it binds to or is given must be in 127.0.0.0/8; nodes learnt from the
DHT outside it are ignored (and the ip_filter drops them in libtorrent).
"""

import argparse
import ipaddress
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import deque

import libtorrent as lt

# The swarm harness's definition of what a metadata fetch must find (name, sizes, non-pad
# files): the baseline records the same fields the same way.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "libtorrent"))
from swarm import Swarm  # noqa: E402

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[baseline %6.2fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def is_loopback(host):
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.version == 4 and ip in LOOPBACK


def endpoint(text):
    host, sep, port = text.rpartition(":")
    if not sep or not is_loopback(host):
        raise argparse.ArgumentTypeError("expected a 127.x.y.z:port address, got %r" % text)
    return host, int(port)


def loopback_only_filter():
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1)
    f.add_rule("127.0.0.0", "127.255.255.255", 0)
    f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1)
    return f


def make_session(args):
    cat = lt.alert.category_t
    settings = {
        "listen_interfaces": "%s:%d" % (args.bind, args.port),
        "listen_system_port_fallback": False,
        "enable_dht": True,
        "dht_bootstrap_nodes": ",".join("%s:%d" % b for b in args.bootstrap),
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "apply_filter_to_dht": True,
        # the test swarm lives in one /24 (see the module docstring)
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "alert_mask": int(cat.status_notification | cat.error_notification
                          | cat.dht_notification | cat.dht_operation_notification),
        "alert_queue_size": 100000,
    }
    params = lt.session_params()
    params.settings = settings
    params.ip_filter = loopback_only_filter()
    ses = lt.session(params)
    for b in args.bootstrap:
        ses.add_dht_node(b)
    return ses


def torrent_record(ih, ti, t):
    return {"infohash": ih, **Swarm.describe(ti), "t": round(t, 3)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", type=endpoint, action="append", required=True,
                   help="a DHT node to start from (repeatable; loopback only)")
    p.add_argument("--bind", default="127.2.254.1", help="loopback IP to listen on")
    p.add_argument("--port", type=int, default=6881)
    p.add_argument("--out", required=True, help="JSONL file the torrents are appended to")
    p.add_argument("--max-magnets", type=int, default=50, help="magnets in flight at once")
    p.add_argument("--magnet-timeout", type=float, default=60.0)
    p.add_argument("--magnet-rate", type=float, default=0.0,
                   help="new magnets per second at most (0: no limit, only --max-magnets)")
    p.add_argument("--resample-floor", type=float, default=5.0,
                   help="shortest wait between two samples of one node, seconds")
    p.add_argument("--sample-rate", type=float, default=20.0, help="sample queries per second in all")
    p.add_argument("--duration", type=float, default=180.0)
    p.add_argument("--expect", type=int, default=0, help="stop once this many torrents are persisted")
    p.add_argument("--progress-interval", type=float, default=0.5)
    args = p.parse_args(argv)
    if not is_loopback(args.bind):
        p.error("--bind must be a 127.x.y.z address")

    stop = []  # set by SIGTERM/SIGINT; the loop checks it at least every 50 ms

    def on_signal(signum, frame):
        stop.append("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    save_dir = tempfile.mkdtemp(prefix="bitagent-baseline-")
    out = open(args.out, "a", encoding="utf-8")
    ses = make_session(args)
    log("session on %s:%d, bootstrap %s" % (args.bind, args.port, args.bootstrap))

    nodes = {}           # (ip, port) -> monotonic time it may be sampled next
    for b in args.bootstrap:
        nodes[b] = 0.0
    seen = set()         # every infohash sampled so far
    queue = deque()      # (infohash hex, attempt) waiting for a magnet slot
    active = {}          # infohash hex -> (handle, added at, attempt)
    persisted = set()
    counters = {"samples_sent": 0, "sample_replies": 0, "magnets_added": 0,
                "magnet_timeouts": 0, "metadata_failed": 0}
    budget = 0.0
    last_budget = time.monotonic()
    magnet_budget = 1.0
    last_magnet = time.monotonic()
    next_progress = 0.0
    deadline = T0 + args.duration
    reason = "duration"

    def progress(event=None, **extra):
        d = {"t": round(time.monotonic() - T0, 3), "discovered": len(seen), "persisted": len(persisted),
             "in_flight": len(active), "queued": len(queue), "nodes": len(nodes)}
        d.update(counters)
        if event:
            d = dict(event=event, **d)
        d.update(extra)
        sys.stdout.write(json.dumps(d) + "\n")
        sys.stdout.flush()

    def drop(ih, requeue):
        h, _, attempt = active.pop(ih)
        try:
            ses.remove_torrent(h)
        except Exception as exc:
            log("remove_torrent %s: %r" % (ih, exc))
        if requeue and attempt < 2:
            queue.append((ih, attempt + 1))

    while True:
        now = time.monotonic()
        if stop:
            reason = stop[0]
            break
        if now >= deadline:
            break
        if args.expect and len(persisted) >= args.expect:
            reason = "expected count persisted"
            break
        # 1. sample the nodes that are due, within the global query budget
        budget = min(args.sample_rate, budget + (now - last_budget) * args.sample_rate)
        last_budget = now
        if budget >= 1.0:
            due = [ep for ep, at in nodes.items() if at <= now]
            random.shuffle(due)
            for ep in due[:int(budget)]:
                ses.dht_sample_infohashes(ep, lt.sha1_hash(os.urandom(20)))
                counters["samples_sent"] += 1
                nodes[ep] = now + 15.0  # if it never answers, try again later
                budget -= 1.0
        # 2. start magnets for new infohashes
        if args.magnet_rate > 0:
            magnet_budget = min(max(1.0, args.magnet_rate), magnet_budget + (now - last_magnet) * args.magnet_rate)
        last_magnet = now
        while queue and len(active) < args.max_magnets and (args.magnet_rate <= 0 or magnet_budget >= 1.0):
            ih, attempt = queue.popleft()
            if ih in persisted or ih in active:
                continue
            atp = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + ih)
            atp.save_path = save_dir
            atp.flags = (atp.flags | lt.torrent_flags.default_dont_download) & ~(
                lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
            magnet_budget -= 1.0
            h = ses.add_torrent(atp)
            # A new torrent waits in the session's DHT announce queue (one every few
            # seconds); a script that wants its peers now asks for the lookup at once.
            h.force_dht_announce()
            active[ih] = (h, now, attempt)
            counters["magnets_added"] += 1
        # 3. give up on magnets that found no metadata in time (retried once, later)
        for ih in [ih for ih, (_, at, _) in active.items() if now - at > args.magnet_timeout]:
            counters["magnet_timeouts"] += 1
            drop(ih, requeue=True)
        # 4. alerts
        ses.wait_for_alert(50)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_sample_infohashes_alert):
                ep = (a.endpoint[0], a.endpoint[1])
                counters["sample_replies"] += 1
                iv = a.interval.total_seconds() if hasattr(a.interval, "total_seconds") else float(a.interval)
                nodes[ep] = time.monotonic() + max(iv, args.resample_floor)
                for n in a.nodes:
                    nep = (str(n["endpoint"][0]), int(n["endpoint"][1]))
                    if nep not in nodes and is_loopback(nep[0]):
                        nodes[nep] = 0.0
                for s in a.samples:
                    ih = str(s)
                    if ih not in seen:
                        seen.add(ih)
                        queue.append((ih, 0))
            elif isinstance(a, lt.metadata_received_alert):
                h = a.handle
                ih = str(h.info_hashes().v1)
                ti = h.torrent_file()
                if ih in active and ti is not None and ih not in persisted:
                    out.write(json.dumps(torrent_record(ih, ti, time.monotonic() - T0)) + "\n")
                    out.flush()
                    persisted.add(ih)
                if ih in active:
                    drop(ih, requeue=False)
            elif isinstance(a, lt.metadata_failed_alert):
                counters["metadata_failed"] += 1
            elif isinstance(a, lt.listen_failed_alert):
                log("listen failed: %s" % a.message())
        if time.monotonic() >= next_progress:
            progress()
            next_progress = time.monotonic() + args.progress_interval
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # libtorrent's own counters: what this session sent
    stats = {}
    ses.post_session_stats()
    end = time.monotonic() + 2.0
    while not stats and time.monotonic() < end:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                v = a.values  # {metric name: value}
                stats = {k: v[k] for k in (
                    "dht.dht_messages_out", "dht.dht_messages_out_dropped", "dht.dht_bytes_out",
                    "dht.dht_sample_infohashes_out", "dht.dht_get_peers_out", "dht.dht_find_node_out",
                    "dht.dht_announce_peer_out", "dht.dht_ping_out", "utp.utp_packets_out",
                    "net.sent_bytes") if k in v}
    progress(event="done", reason=reason, libtorrent=lt.__version__,
             udp_packets_sent=(stats.get("dht.dht_messages_out", 0) + stats.get("utp.utp_packets_out", 0))
             if stats else None, counters_lt=stats)
    out.close()
    log("stopping (%s): %d discovered, %d persisted" % (reason, len(seen), len(persisted)))
    ses.pause()
    del ses
    shutil.rmtree(save_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
