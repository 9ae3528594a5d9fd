#!/usr/bin/env python3
"""The crawl race: driver and report for bench/race.sh (run that: it builds, makes the venv and
enters a loopback-only network namespace first).

    race.py libtorrent|lab --out PART.json [--racers bitagent,baseline] [--cap S]
            [--baseline-cap S|auto] [--baseline-cap-max S] [--stall S] [--keep-logs DIR]
        One racer after the other, each on a fresh swarm: `libtorrent` is tests/libtorrent/swarm.py
        (100 sessions x 20 v1 torrents + the swarm torrent, libtorrent's default DoS limit and the
        harness's default sample interval), `lab` is `bitagent lab` (1,000 nodes, 10,000
        torrents). Each racer runs until every torrent is persisted, until it has found nothing
        new for --stall seconds past 90%, or until its cap; then the swarm is asked what it saw
        of it (packets, bans). BitAgent runs first: with --baseline-cap auto, the baseline's cap
        is three times BitAgent's time to 90% (+3 s), which is what deciding the time target
        takes, within [--cap, --baseline-cap-max].
    race.py report --results race.json PART.json...
        Merges the parts into race.json (racers not re-run keep their earlier result, dated),
        compares against the targets and prints the table.

Times are seconds since the racer process was started, read every 0.5 s (BitAgent: its
/healthz; the baseline: the progress lines it prints); CPU seconds at each milestone come from
/proc/PID/stat at that moment, total CPU seconds and peak RSS from wait4(2) when it exits
(what /usr/bin/time reports). "Persisted" is checked afterwards against the swarm's list of
infohashes (BitAgent's SQLite file, the baseline's JSONL file). Every address is in
127.0.0.0/8.
"""

import argparse
import ctypes
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITAGENT = os.path.join(ROOT, "target", "release", "bitagent")
SWARM_PY = os.path.join(ROOT, "tests", "libtorrent", "swarm.py")
BASELINE_PY = os.path.join(ROOT, "bench", "baseline_crawler.py")
MARKS = (50, 90, 100)
POLL_S = 0.5

# Address plan: nothing else (tests, other benches) uses 127.2.x.x or 127.3.x.x.
LT_FIRST_IP = "127.2.0.10"
LAB_FIRST_IP = "127.3.0.10"
RACER_IP = {("libtorrent", "bitagent"): "127.2.255.1", ("libtorrent", "baseline"): "127.2.254.1",
            ("lab", "bitagent"): "127.3.255.1", ("lab", "baseline"): "127.3.254.1"}
HTTP_PORT = 3399
REPRODUCE = {
    ("libtorrent", "bitagent"): "RACERS=bitagent bench/race.sh libtorrent",
    ("libtorrent", "baseline"): "RACERS=baseline bench/race.sh libtorrent",
    ("lab", "bitagent"): "bench/race.sh lab",
    ("lab", "baseline"): "LAB_RACERS=baseline LAB_BASELINE_CAP=900 bench/race.sh lab",
}


def log(msg):
    sys.stderr.write("[race %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------ processes
def _die_with_parent():
    """In the child: SIGTERM when this driver dies, so nothing outlives an interrupted race."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_tracked(cmd, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)


_buffers = {}


def close_pipe(stream):
    if stream is not None and not stream.closed:
        _buffers.pop(stream.fileno(), None)
        stream.close()


def read_line(stream, timeout):
    """One line from a pipe within `timeout` seconds, or None (at EOF too)."""
    end = time.monotonic() + timeout
    fd = stream.fileno()
    buf = _buffers.setdefault(fd, bytearray())
    while True:
        i = buf.find(b"\n")
        if i >= 0:
            line = bytes(buf[:i])
            del buf[:i + 1]
            return line.decode()
        left = end - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf += chunk


def alive(p):
    """Whether `p` is still running, without reaping it (wait4 must get its rusage)."""
    try:
        return os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_now(pid):
    """User + system CPU seconds of a running process so far (/proc/PID/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


class Stall:
    """Past 90% persisted, no new torrent for `after` seconds: the racer has found all it will."""

    def __init__(self, total, after):
        self.need = -(-total * 90 // 100)
        self.after = after
        self.last = None
        self.since = None

    def update(self, t, persisted):
        if persisted != self.last:
            self.last, self.since = persisted, t
        return persisted >= self.need and t - self.since >= self.after


def stop_and_reap(p, grace, term=True):
    """SIGTERM (if still running and `term`), wait up to `grace` s, then SIGKILL.
    Returns (status, rusage)."""
    if term and alive(p):
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = status
            return status, ru
        if time.monotonic() > end:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            p.returncode = status
            return status, ru
        time.sleep(0.05)


class LtSwarm:
    """tests/libtorrent/swarm.py: JSON lines on stdin/stdout."""

    def __init__(self, python, work, nodes, per_node):
        self.err = open(os.path.join(work, "swarm.err"), "ab")
        # its torrent files go in our work directory, removed even if it has to be killed
        self.p = start_tracked([python, SWARM_PY, "--nodes", str(nodes), "--first-ip", LT_FIRST_IP,
                                "--torrents-per-node", str(per_node), "--ready-timeout", "90"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                               env=dict(os.environ, TMPDIR=work))
        line = read_line(self.p.stdout, 120)
        if line is None:
            self.close()
            raise RuntimeError("libtorrent swarm printed no ready line (see swarm.err)")
        self.ready = json.loads(line)
        if not self.ready.get("ready"):
            self.close()
            raise RuntimeError("libtorrent swarm not ready: %s" % self.ready.get("reason"))
        ts = list(self.ready["torrents"])
        if self.ready.get("swarm_torrent"):
            ts.append(self.ready["swarm_torrent"])
        self.infohashes = {t["infohash"] for t in ts}
        self.bootstrap = self.ready["nodes"][0]["addr"]

    def cmd(self, obj, timeout=30):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()
        line = read_line(self.p.stdout, timeout)
        if line is None:
            raise RuntimeError("no answer from the swarm to %s" % obj)
        return json.loads(line)

    def close(self):
        if alive(self.p):
            try:
                self.p.stdin.write(b'{"cmd":"quit"}\n')
                self.p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        # the results are in: a swarm slow to destroy its 100 sessions is killed after 8 s
        stop_and_reap(self.p, 8, term=False)
        close_pipe(self.p.stdout)
        close_pipe(self.p.stdin)
        self.err.close()


class Lab:
    """`bitagent lab`: a ready line with the bootstrap address and every infohash."""

    def __init__(self, work, nodes, torrents):
        self.err = open(os.path.join(work, "lab.err"), "ab")
        self.p = start_tracked([BITAGENT, "lab", "--nodes", str(nodes), "--torrents", str(torrents),
                                "--first-ip", LAB_FIRST_IP], stdout=subprocess.PIPE, stderr=self.err)
        line = read_line(self.p.stdout, 120)
        if line is None:
            self.close()
            raise RuntimeError("bitagent lab printed no ready line (see lab.err)")
        self.ready = json.loads(line)
        self.infohashes = set(self.ready["infohashes"])
        self.bootstrap = self.ready["bootstrap"]
        self.ready.pop("infohashes")

    def close(self):
        stop_and_reap(self.p, 15)
        close_pipe(self.p.stdout)
        self.err.close()


# ------------------------------------------------------------------ racers
def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def milestones(series, total):
    """Seconds (and CPU seconds) to 50/90/100% discovered and persisted, from
    [(t, discovered, persisted, cpu)]; None = not reached."""
    out = {}
    for key, idx in (("discovered", 1), ("persisted", 2)):
        m, c = {}, {}
        for pct in MARKS:
            need = -(-total * pct // 100)
            hit = next((s for s in series if s[idx] >= need), None)
            m[str(pct)] = None if hit is None else round(hit[0], 1)
            c[str(pct)] = None if hit is None or hit[3] is None else round(hit[3], 2)
        out[key] = m
        out[key + "_cpu_s"] = c
    return out


def run_bitagent(work, bootstrap, ip, total, cap, stall_after):
    data = os.path.join(work, "bitagent-data")
    http = "%s:%d" % (ip, HTTP_PORT)
    cmd = [BITAGENT, "run", "--data-dir", data, "--bootstrap", bootstrap, "--bind", ip + ":0",
           "--http", http, "--stall-after", "3", "--status", "log", "--status-interval", "1"]
    errf = open(os.path.join(work, "bitagent.err"), "ab")
    t0, wall0 = time.monotonic(), time.time()
    p = start_tracked(cmd, stdout=subprocess.DEVNULL, stderr=errf)
    series, last, metrics_text, stop = [], None, "", "cap"
    stall = Stall(total, stall_after)
    while time.monotonic() - t0 < cap and alive(p):
        time.sleep(POLL_S)
        try:
            h = json.loads(http_get("http://%s/healthz" % http))
        except (OSError, ValueError):
            continue
        last = h
        t = time.monotonic() - t0
        series.append((t, h.get("new_hashes", 0), h.get("persisted", 0), cpu_now(p.pid)))
        if h.get("persisted", 0) >= total:
            stop = "all persisted"
            break
        if stall.update(t, h.get("persisted", 0)):
            stop = "no new torrent for %d s past 90%%" % stall_after
            break
    elapsed = time.monotonic() - t0
    try:
        metrics_text = http_get("http://%s/metrics" % http)
    except OSError:
        pass
    status, ru = stop_and_reap(p, 20)
    errf.close()
    stored = set()
    db = os.path.join(data, "bitagent.sqlite3")
    if os.path.exists(db):
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        stored = {r[0] for r in con.execute("SELECT lower(hex(info_hash)) FROM torrents")}
        con.close()
    return {
        "command": " ".join(cmd).replace(ROOT + "/", ""), "stopped_on": stop, "wall_start": wall0,
        "series": series, "elapsed_s": round(elapsed, 1), "exit_status": status,
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "udp_packets_sent_own_count": metric(metrics_text, "bitagent_dht_packets_sent_total"),
        "last_status": last, "stored": stored,
    }


def run_baseline(work, python, bootstrap, ip, total, cap, stall_after, extra=()):
    out = os.path.join(work, "baseline.jsonl")
    cmd = [python, BASELINE_PY, "--bootstrap", bootstrap, "--bind", ip, "--out", out,
           "--duration", str(cap), "--expect", str(total)] + list(extra)
    errf = open(os.path.join(work, "baseline.err"), "ab")
    t0, wall0 = time.monotonic(), time.time()
    p = start_tracked(cmd, stdout=subprocess.PIPE, stderr=errf)
    series, last, done, stop = [], None, None, "cap"
    stall = Stall(total, stall_after)
    prog = open(os.path.join(work, "baseline-progress.jsonl"), "w", encoding="utf-8")
    while time.monotonic() - t0 < cap + 15:
        line = read_line(p.stdout, cap + 15 - (time.monotonic() - t0))
        if line is None:
            break
        prog.write(line + "\n")
        try:
            d = json.loads(line)
        except ValueError:
            continue
        t = time.monotonic() - t0
        last = d
        series.append((t, d["discovered"], d["persisted"], cpu_now(p.pid)))
        if d.get("event") == "done":
            done = d
            if d["persisted"] >= total:
                stop = "all persisted"
            break
        if stop == "cap" and stall.update(t, d["persisted"]):
            stop = "no new torrent for %d s past 90%%" % stall_after
            p.send_signal(signal.SIGTERM)  # it prints its final line and exits
    elapsed = time.monotonic() - t0
    status, ru = stop_and_reap(p, 20)
    close_pipe(p.stdout)
    errf.close()
    prog.close()
    stored = set()
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            stored = {json.loads(line)["infohash"] for line in f if line.strip()}
    return {
        "command": " ".join(cmd).replace(ROOT + "/", ""), "stopped_on": stop, "wall_start": wall0,
        "series": series, "elapsed_s": round(elapsed, 1), "exit_status": status,
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "udp_packets_sent_own_count": (done or {}).get("udp_packets_sent"),
        "libtorrent_counters": (done or {}).get("counters_lt"),
        "last_status": last, "stored": stored,
    }


def swarm_view_lt(swarm, ip, wall0):
    pk = swarm.cmd({"cmd": "packets", "from": ip})
    bans = [b for b in swarm.cmd({"cmd": "bans"})["bans"] if b.get("ip") == ip]
    foreign = swarm.cmd({"cmd": "foreign"})["endpoints"]
    return {
        "udp_packets_received_by_swarm": pk["count"],
        "swarm_saw": {"queries": pk["queries"], "responses": pk["responses"], "errors": pk["errors"],
                      "non_ro_queries": pk["non_ro_queries"], "max_in_any_10s_to_one_session": pk["max_in_any_10s"],
                      "sessions_contacted": len(pk["by_node"])},
        "blocked": bool(bans), "bans": len(bans),
        "banned_by_sessions": len({b["node"] for b in bans}),
        "first_ban_at_s": round(min(b["ts"] for b in bans) - wall0, 1) if bans else None,
        "foreign_endpoints": foreign,
    }


def extrapolate(series, total, pct=90):
    """For a racer stopped short of `pct`: when it would get there at the persist rate (and
    CPU rate) of its last 60 s. An estimate, labelled as such wherever it is shown."""
    if not series:
        return None
    t_end, _, p_end, c_end = series[-1]
    need = -(-total * pct // 100)
    if p_end >= need:
        return None
    t_a, _, p_a, c_a = next(s for s in series if s[0] >= t_end - 60)
    if t_end - t_a < 10 or p_end <= p_a:
        return {"persist_rate_per_s_last_60s": 0.0, "t90_s": None, "cpu90_s": None}
    rate = (p_end - p_a) / (t_end - t_a)
    t90 = t_end + (need - p_end) / rate
    cpu90 = None
    if c_end is not None and c_a is not None:
        cpu90 = c_end + (c_end - c_a) / (t_end - t_a) * (t90 - t_end)
    return {"persist_rate_per_s_last_60s": round(rate, 2), "t90_s": round(t90), "cpu90_s": round(cpu90, 1)
            if cpu90 is not None else None}


def summarize(r, universe, total, swarm_view):
    stored = r.pop("stored")
    good = stored & universe
    series = r.pop("series")
    r["milestones"] = milestones(series, total)
    r["persisted_verified"] = len(good)
    r["persisted_outside_swarm"] = len(stored - universe)
    r["not_persisted_sample"] = sorted(universe - good)[:10]
    r["cpu_s_at_stop"] = round(series[-1][3], 2) if series and series[-1][3] is not None else None
    # not a target, but comparable when a racer is stopped short: CPU per torrent persisted
    r["cpu_ms_per_persisted"] = round(1000 * r["cpu_s"] / len(good), 2) if good else None
    r["extrapolated_90"] = extrapolate(series, total)
    # [seconds, discovered, persisted, CPU seconds], every 2 s
    r["progress"] = [[round(t, 1), d, p, None if c is None else round(c, 2)] for t, d, p, c in series[::4]]
    r.update(swarm_view)
    return r


def baseline_cap(args, ours_t90):
    """`auto`: three times BitAgent's time to 90% (+3 s), within [cap, baseline-cap-max]: a
    baseline still short of 90% by then cannot meet the time target's condition."""
    if args.baseline_cap != "auto":
        return float(args.baseline_cap)
    if ours_t90 is None:
        return float(args.baseline_cap_max)
    return float(min(max(args.cap, int(3 * ours_t90) + 3), args.baseline_cap_max))


def reproduce_line(kind, racer, args):
    """The command that reruns this racer alone as it ran: a baseline given its own cap (a
    long run, not run-all's `auto`) gets that cap in the line."""
    if racer == "baseline" and args.baseline_cap != "auto":
        if kind == "libtorrent":
            return "RACERS=baseline BASELINE_CAP=%s bench/race.sh libtorrent" % args.baseline_cap
        return "LAB_RACERS=baseline LAB_BASELINE_CAP=%s bench/race.sh lab" % args.baseline_cap
    return REPRODUCE[(kind, racer)]


def run_part(kind, args):
    # BitAgent first: with --baseline-cap auto its time to 90% sets the baseline's cap
    racers = sorted(args.racers.split(","), key=lambda r: r != "bitagent")
    res = {"part": kind, "racers": {}}
    ours_t90 = None
    for racer in racers:
        cap = args.cap if racer == "bitagent" else baseline_cap(args, ours_t90)
        with tempfile.TemporaryDirectory(prefix="race-%s-%s-" % (kind, racer)) as work:
            t = time.monotonic()
            if kind == "libtorrent":
                sw = LtSwarm(args.python, work, args.nodes, args.per_node)
                res["swarm"] = {
                    "sessions": len(sw.ready["nodes"]), "torrents": len(sw.infohashes),
                    "v1_torrents_per_session": args.per_node, "plus_swarm_torrent": bool(sw.ready["swarm_torrent"]),
                    "bootstrap": sw.bootstrap, "block_ratelimit": sw.ready["block_ratelimit"],
                    "ban_at_packets_in_10s": sw.ready["block_ratelimit"] * 10,
                    "sample_interval_s": sw.ready["sample_interval"], "libtorrent": sw.ready["libtorrent"],
                    "command": ".venv/bin/python tests/libtorrent/swarm.py --nodes %d --first-ip %s "
                               "--torrents-per-node %d" % (args.nodes, LT_FIRST_IP, args.per_node)}
            else:
                sw = Lab(work, args.nodes, args.torrents)
                res["swarm"] = {
                    "nodes": sw.ready["nodes"], "torrents": len(sw.infohashes), "bootstrap": sw.bootstrap,
                    "sample_interval_s": 5, "startup_ms": sw.ready.get("startup_ms"),
                    "command": "target/release/bitagent lab --nodes %d --torrents %d --first-ip %s"
                               % (args.nodes, args.torrents, LAB_FIRST_IP)}
            try:
                total = len(sw.infohashes)
                log("%s swarm ready in %.1f s (%d torrents); racing %s for at most %d s"
                    % (kind, time.monotonic() - t, total, racer, cap))
                ip = RACER_IP[(kind, racer)]
                started = time.strftime("%Y-%m-%dT%H:%M:%S")
                if racer == "bitagent":
                    r = run_bitagent(work, sw.bootstrap, ip, total, cap, args.stall)
                else:
                    r = run_baseline(work, args.python, sw.bootstrap, ip, total, cap, args.stall,
                                     args.baseline_args.split())
                r.update(ip=ip, cap_s=cap, started=started, total=total,
                         reproduce=reproduce_line(kind, racer, args))
                if kind == "libtorrent":
                    view = swarm_view_lt(sw, ip, r["wall_start"])
                else:
                    # the lab keeps no ban list: its nodes drop over-budget queries silently
                    view = {"udp_packets_received_by_swarm": None, "blocked": None}
                res["racers"][racer] = summarize(r, sw.infohashes, total, view)
                m = r["milestones"]
                log("%s: persisted %d of %d; 50/90/100%% at %s s; CPU %s s; blocked %s; stopped on %s"
                    % (racer, r["persisted_verified"], total, "/".join(fmt_t(m["persisted"][k]) for k in
                                                                      ("50", "90", "100")),
                       r["cpu_s"], r["blocked"], r["stopped_on"]))
            finally:
                sw.close()
                if args.keep_logs:
                    keep(work, args.keep_logs, "%s-%s" % (kind, racer))
        if racer == "bitagent":
            ours_t90 = res["racers"]["bitagent"]["milestones"]["persisted"]["90"]
    return res


def keep(work, dest, tag):
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(work):
        if name.endswith((".err", ".jsonl")):
            src = os.path.join(work, name)
            with open(src, "rb") as f, open(os.path.join(dest, "%s-%s" % (tag, name)), "wb") as g:
                g.write(f.read())


# ------------------------------------------------------------------ report
def fmt_t(v):
    return "not reached" if v is None else "%.1f" % v


def fmt_n(v, spec="%d"):
    return "-" if v is None else spec % v


def compare(ours, base, what):
    """Ours/baseline for time ('t') or CPU ('cpu') to 90% persisted: measured, bounded (the
    baseline stopped short of 90%, so its figure is a lower bound) or estimated."""
    key = "persisted" if what == "t" else "persisted_cpu_s"
    o, b = ours["milestones"][key]["90"], base["milestones"][key]["90"]
    unit = "s" if what == "t" else "CPU s"
    if o is None:
        return {"ratio": None, "met": False, "how": "BitAgent did not reach 90%"}
    if b is not None:
        r = o / b
        return {"ratio": round(r, 3), "met": r <= 1 / 3, "how": "measured: %.1f / %.1f %s" % (o, b, unit)}
    b_low = base["elapsed_s"] if what == "t" else base.get("cpu_s_at_stop")
    bound = o / b_low if b_low else None
    if bound is not None and bound <= 1 / 3:
        return {"ratio": None, "ratio_upper_bound": round(bound, 3), "met": True,
                "how": "bounded: %.1f / more than %.1f %s (the baseline had not reached 90%% when stopped)"
                       % (o, b_low, unit)}
    est = (base.get("extrapolated_90") or {}).get("t90_s" if what == "t" else "cpu90_s")
    out = {"ratio": None, "ratio_upper_bound": None if bound is None else round(bound, 3), "met": None,
           "how": "undecided: the baseline stopped short of 90%% after %s %s, ratio below %s"
                  % (fmt_n(b_low, "%.1f"), unit, fmt_n(bound, "%.3f"))}
    if est:
        out["ratio_estimated"] = round(o / est, 3)
        out["met_estimated"] = o / est <= 1 / 3
        out["how"] += "; estimated %.3f (baseline's 90%% extrapolated at its last-60-s rate: %s %s)" % (
            o / est, est, unit)
    return out


def report(args):
    results = {}
    if os.path.exists(args.results):
        try:
            with open(args.results, encoding="utf-8") as f:
                results = json.load(f)
        except ValueError:
            results = {}
    parts = results.setdefault("parts", {})
    for path in args.parts:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        old = parts.get(d["part"], {})
        racers = dict(old.get("racers", {}))
        racers.update(d["racers"])  # racers not re-run keep their earlier result (and date)
        d["racers"] = racers
        parts[d["part"]] = d
    if args.runtime_s is not None:
        results["last_run"] = {
            "parts": [json.load(open(x, encoding="utf-8"))["part"] for x in args.parts] or args.run_parts.split(),
            "race_sh_seconds_build_included": args.runtime_s, "cpus": os.cpu_count(),
            "loadavg_at_start": args.loadavg, "git": args.git,
        }
    results["reproduce"] = {
        "both parts (default caps; BitAgent alone on the lab)": "bench/race.sh",
        "libtorrent race (both racers)": "bench/race.sh libtorrent",
        "libtorrent, BitAgent alone": REPRODUCE[("libtorrent", "bitagent")],
        "libtorrent, baseline alone": REPRODUCE[("libtorrent", "baseline")],
        "lab, BitAgent": REPRODUCE[("lab", "bitagent")],
        "lab, baseline (long: about 15 min)": REPRODUCE[("lab", "baseline")],
    }
    results["reproduce_by_racer"] = {"%s/%s" % k: v for k, v in REPRODUCE.items()}
    results["targets"] = {"time_to_90pct_persisted_ours_over_baseline_max": round(1 / 3, 3),
                          "cpu_to_90pct_persisted_ours_over_baseline_max": round(1 / 3, 3),
                          "bitagent_never_blocked": True}
    verdicts = {}
    for name, d in parts.items():
        rs = d["racers"]
        if "bitagent" not in rs:
            continue
        v = {"bitagent_blocked": rs["bitagent"].get("blocked"),
             "never_blocked_met": None if rs["bitagent"].get("blocked") is None else not rs["bitagent"]["blocked"]}
        if "baseline" in rs:
            v["time_to_90pct"] = compare(rs["bitagent"], rs["baseline"], "t")
            v["cpu_to_90pct"] = compare(rs["bitagent"], rs["baseline"], "cpu")
        verdicts[name] = v
    results["verdicts"] = verdicts
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print_table(results)


def print_table(results):
    parts = results["parts"]
    for name in ("libtorrent", "lab"):
        d = parts.get(name)
        if not d:
            continue
        sw = d.get("swarm", {})
        if name == "libtorrent":
            print("\n== Crawl race on a libtorrent %s swarm: %d sessions, %d v1 torrents, DoS limit %s "
                  "(ban at %s packets in 10 s), sample interval %s s"
                  % (sw.get("libtorrent"), sw.get("sessions", 0), sw.get("torrents", 0), sw.get("block_ratelimit"),
                     sw.get("ban_at_packets_in_10s"), sw.get("sample_interval_s")))
        else:
            print("\n== Crawl race on a bitagent lab: %d nodes, %d torrents, sample interval %s s"
                  % (sw.get("nodes", 0), sw.get("torrents", 0), sw.get("sample_interval_s")))
        print("   swarm: %s" % sw.get("command"))
        print("%-9s %-28s %-19s %-8s %-9s %-9s %-9s %s" % (
            "racer", "persisted 50/90/100% (s)", "CPU s at 90%/total", "ms/tor.", "peak RSS", "UDP sent", "stored",
            "blocked"))
        for racer in ("bitagent", "baseline"):
            r = d["racers"].get(racer)
            if not r:
                continue
            m = r["milestones"]
            saw = r.get("swarm_saw") or {}
            blocked = ("n/a (the lab keeps no ban list)" if r.get("blocked") is None else
                       "YES: by %d sessions, first after %s s" % (r["banned_by_sessions"], r["first_ban_at_s"])
                       if r["blocked"] else "no")
            print("%-9s %-28s %-19s %-8s %-9s %-9s %-9s %s" % (
                racer, "/".join(fmt_t(m["persisted"][k]) for k in ("50", "90", "100")),
                "%s/%s" % (fmt_n(m["persisted_cpu_s"]["90"], "%.2f"), r["cpu_s"]),
                fmt_n(r.get("cpu_ms_per_persisted"), "%.2f"),
                "%.0f MiB" % r["peak_rss_mib"], fmt_n(r.get("udp_packets_sent_own_count")),
                "%d/%d" % (r["persisted_verified"], r["total"]), blocked))
            print("          discovered 50/90/100%%: %s s; swarm received %s packets (max %s to one node in 10 s); "
                  "stopped on %s (cap %d s)%s"
                  % ("/".join(fmt_t(m["discovered"][k]) for k in ("50", "90", "100")),
                     fmt_n(r.get("udp_packets_received_by_swarm")), saw.get("max_in_any_10s_to_one_session", "-"),
                     r["stopped_on"], r["cap_s"], "; measured " + r["started"]))
            ex = r.get("extrapolated_90")
            if ex and ex["t90_s"]:
                print("          short of 90%%: %s persisted/s over its last 60 s -> 90%% at ~%s s, ~%s CPU s "
                      "(extrapolated)" % (ex["persist_rate_per_s_last_60s"], fmt_n(ex["t90_s"]),
                                          fmt_n(ex["cpu90_s"], "%.1f")))
            elif ex:
                print("          short of 90%: nothing persisted in its last 60 s")
            print("          command: %s" % r["command"])
            print("          reproduce alone: %s" % r.get("reproduce", REPRODUCE[(name, racer)]))
        v = results["verdicts"].get(name)
        if v:
            def word(x):
                return "MET" if x else ("NOT MET" if x is False else "UNDECIDED")
            if "time_to_90pct" in v:
                t, c = v["time_to_90pct"], v["cpu_to_90pct"]
                print("   target time to 90%% <= 1/3 of the baseline's: %s (%s)" % (word(t["met"]), t["how"]))
                print("   target CPU to 90%% <= 1/3 of the baseline's: %s (%s)" % (word(c["met"]), c["how"]))
            print("   target BitAgent never blocked: %s" % (
                "n/a on the lab" if v["never_blocked_met"] is None else word(v["never_blocked_met"])))
        print("   reproduce: bench/race.sh %s" % name)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=("libtorrent", "lab", "report"))
    p.add_argument("parts", nargs="*", help="report: the part files to merge")
    p.add_argument("--out")
    p.add_argument("--racers", default="bitagent,baseline")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--nodes", type=int)
    p.add_argument("--per-node", type=int, default=20)
    p.add_argument("--torrents", type=int, default=10000)
    p.add_argument("--cap", type=float, default=120, help="BitAgent's cap, seconds")
    p.add_argument("--baseline-cap", default="auto", help="seconds, or auto (see baseline_cap)")
    p.add_argument("--baseline-cap-max", type=float, default=200)
    p.add_argument("--stall", type=float, default=20.0,
                   help="stop a racer past 90%% persisted after this many seconds without a new torrent")
    p.add_argument("--baseline-args", default="", help="extra flags for baseline_crawler.py")
    p.add_argument("--keep-logs", help="copy each racer's logs to this directory")
    p.add_argument("--results")
    p.add_argument("--runtime-s", type=int, help="report: how long race.sh took")
    p.add_argument("--run-parts", default="", help="report: the parts run (when no part file is given)")
    p.add_argument("--loadavg", default="", help="report: /proc/loadavg when race.sh started")
    p.add_argument("--git", default="", help="report: the commit measured (and whether the tree was dirty)")
    args = p.parse_intermixed_args()
    if args.part == "report":
        report(args)
        return
    if args.nodes is None:
        args.nodes = 100 if args.part == "libtorrent" else 1000
    res = run_part(args.part, args)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
