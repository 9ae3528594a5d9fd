#!/usr/bin/env python3
"""Collects bench/results/*.json into one table: BENCHMARKS.md (between the run-all markers)
and BENCHMARKS.json next to it. Parts that did not run are reported as missing. The README's
scaling-factor table (between its bench/scaling-factor.sh markers) comes from scaling.json."""
import datetime
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "bench", "results")
BEGIN = "<!-- bench/run-all results: begin -->"
END = "<!-- bench/run-all results: end -->"


def load(name):
    try:
        with open(os.path.join(RES, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, unit="", nd=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = int(round(v)) if nd == 0 else round(v, nd)
    return f"{v:,}{unit}" if isinstance(v, (int, float)) else f"{v}{unit}"


def yes(b):
    return "n/a" if b is None else ("met" if b else "**missed**")


rows = []  # (area, figure, value, target, met, command)


def row(area, figure, value, target, met, command):
    rows.append({"area": area, "figure": figure, "value": value, "target": target,
                 "met": met, "command": command})


eng = load("engine")
if eng:
    c, s = eng["codec"], eng["simulator"]
    row("engine", "KRPC decode vs serde_bencode (same run)",
        f"{fmt(c['ratio'])}x ({fmt(c['krpc_msg_per_s'], ' msg/s', 0)} vs {fmt(c['serde_bencode_msg_per_s'], ' msg/s', 0)})",
        ">= 5x", c["ratio"] is not None and c["ratio"] >= 5, c["command"])
    row("engine", f"simulator, {fmt(s['nodes'])} nodes",
        f"{fmt(s['messages_per_wall_s'], ' msg/s', 0)} simulated; lookups exact {fmt(s['lookup_exact_pct'])}%; trace {s['trace_hash']}",
        ">= 5,000 nodes", (s["nodes"] or 0) >= 5000, s["command"])

sc = load("scaling")
if sc:
    for r in sc:
        f = r["factor"]
        target = {1: 30, 10: 200}.get(f)
        row("memory per scaling factor", f"DHT_SCALING_FACTOR={f}",
            f"steady {fmt(r['steady_rss_mib'], ' MiB')} (drift {fmt(r.get('rss_drift_mib'), ' MiB')} within the 2nd half, "
            f"peak {fmt(r['peak_rss_mib'], ' MiB')}), "
            f"{fmt(r['persisted'])} of {fmt(r['torrents'])} persisted in {r['duration_s']} s"
            f"{' into a database already holding ' + fmt(r['prefill']) if r.get('prefill') else ''}, "
            f"{r['persisted_per_min']}/min while sampling, {fmt(r['cpu_s'])} CPU s",
            f"<= {target} MB" if target else "-",
            (r["steady_rss_mib"] * 1.048576 <= target) if target else None,
            f"NODES={r.get('nodes', 1000)} TORRENTS={r['torrents']} DURATION={r['duration_s']} bench/scaling-factor.sh {f}")



SCALING_BEGIN = "<!-- bench/scaling-factor.sh results: begin (bench/report.py writes this) -->"
SCALING_END = "<!-- bench/scaling-factor.sh results: end -->"


def readme_scaling(sc):
    """The README's DHT_SCALING_FACTOR table, from the last bench/scaling-factor.sh run."""
    r0 = sc[0]
    prefill = f", into a database already holding {fmt(r0['prefill'])} torrents" if r0.get("prefill") else ""
    lines = [SCALING_BEGIN,
             f"Measured on a {fmt(r0.get('nodes', 1000))}-node, {fmt(r0['torrents'])}-torrent `bitagent lab`, "
             f"crawled for {r0['duration_s']} s per factor{prefill} "
             f"(`NODES={r0.get('nodes', 1000)} TORRENTS={r0['torrents']} DURATION={r0['duration_s']} "
             f"bench/scaling-factor.sh`; 2 cores, loopback):",
             "",
             f"| factor | steady RSS | peak RSS | persisted in {r0['duration_s']} s (of {fmt(r0['torrents'])}) "
             "| persist rate while sampling | CPU s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in sc:
        rate = r["persisted_per_min"]
        rate = fmt(int(rate)) if str(rate).isdigit() else rate
        lines.append(f"| {r['factor']} | {fmt(r['steady_rss_mib'], ' MiB')} | {fmt(r['peak_rss_mib'], ' MiB')} "
                     f"| {fmt(r['persisted'])} | {rate} / min | {fmt(r['cpu_s'])} |")
    lines.append(SCALING_END)
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    if SCALING_BEGIN in text and SCALING_END in text:
        text = text[: text.index(SCALING_BEGIN)] + "\n".join(lines) + text[text.index(SCALING_END) + len(SCALING_END):]
        open(path, "w").write(text)


if sc:
    readme_scaling(sc)


def race_rows(race):
    """bench/race.sh writes every racer's figures and the verdicts; one row per racer (its
    figures, dated: a racer not re-run keeps its earlier result) and one per target."""
    def t(v):
        return "not reached" if v is None else f"{v:.1f} s"

    for name in ("libtorrent", "lab"):
        part = race.get("parts", {}).get(name)
        if not part:
            continue
        sw = part.get("swarm", {})
        where = (f"libtorrent {sw.get('libtorrent')} swarm, {sw.get('sessions')} sessions, "
                 f"{fmt(sw.get('torrents'))} v1 torrents, DoS limit on" if name == "libtorrent"
                 else f"bitagent lab, {fmt(sw.get('nodes'))} nodes, {fmt(sw.get('torrents'))} torrents")
        for racer in ("bitagent", "baseline"):
            r = part["racers"].get(racer)
            if not r:
                continue
            m = r["milestones"]
            if r.get("blocked") is None:
                blocked = "n/a (the lab bans nobody)"
            elif r["blocked"]:
                blocked = f"YES, by {r['banned_by_sessions']} of {sw.get('sessions')} sessions"
            else:
                blocked = "no"
            value = (f"persisted 50/90/100%: {' / '.join(t(m['persisted'][k]) for k in ('50', '90', '100'))} "
                     f"(discovered: {' / '.join(t(m['discovered'][k]) for k in ('50', '90', '100'))}); "
                     f"CPU {fmt(m['persisted_cpu_s']['90'], ' s', 2)} at 90% ({fmt(r['cpu_s'], ' s', 2)} in all, "
                     f"{fmt(r.get('cpu_ms_per_persisted'), ' ms', 2)} per torrent); peak RSS {fmt(r['peak_rss_mib'], ' MiB')}; "
                     f"UDP sent {fmt(r.get('udp_packets_sent_own_count'), '', 0)}; "
                     f"{fmt(r['persisted_verified'])}/{fmt(r['total'])} stored by its {r['cap_s']:.0f} s cap; "
                     f"blocked: {blocked}; measured {r['started']}")
            who = "BitAgent" if racer == "bitagent" else "baseline (libtorrent: sample_infohashes + magnets)"
            command = r.get("reproduce") or race.get("reproduce_by_racer", {}).get(
                f"{name}/{racer}", f"bench/race.sh {name}")
            row("crawl race", f"{where}: {who}", value, "-", None, command)
        v = race.get("verdicts", {}).get(name, {})
        for key, label in (("time_to_90pct", "time"), ("cpu_to_90pct", "CPU")):
            if key in v:
                d = v[key]
                ratio = d.get("ratio")
                shown = (f"{ratio:.3f}" if ratio is not None else
                         f"< {d['ratio_upper_bound']:.3f}" if d.get("ratio_upper_bound") is not None else "n/a")
                row("crawl race", f"{name}: BitAgent's {label} to 90% persisted / the baseline's",
                    f"{shown} ({d['how']})", "<= 0.333", d.get("met"), f"bench/race.sh {name}")
        ours, base = part["racers"].get("bitagent"), part["racers"].get("baseline")
        if ours and base and ours.get("cpu_ms_per_persisted") and base.get("cpu_ms_per_persisted"):
            # Not a target: comparable even when the baseline stops short of 90%.
            o, b = ours["cpu_ms_per_persisted"], base["cpu_ms_per_persisted"]
            row("crawl race", f"{name}: BitAgent's CPU per torrent persisted / the baseline's",
                f"{o / b:.3f} ({o:.2f} / {b:.2f} ms)", "- (context)", None, f"bench/race.sh {name}")
        if v.get("never_blocked_met") is not None:
            row("crawl race", f"{name}: BitAgent blocked by any node?",
                "no" if v["never_blocked_met"] else "YES", "never", v["never_blocked_met"],
                f"bench/race.sh {name}")


race = load("race")
if race:
    race_rows(race)

store = load("store")
if store:
    for r in store.get("rows", []):
        row("store", r["figure"], r["value"], r.get("target", "-"), r.get("met"), r["command"])

missing = [p for p, d in (("engine", eng), ("race", race), ("scaling", sc), ("store", store)) if d is None]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [BEGIN, "", f"Written {now} by `bench/report.py` (the last step of `bench/run-all`) from "
         "bench/results/*.json. Each row's command reproduces it alone; a racer measured in an "
         "earlier run says when.", ""]
lines.append("| area | figure | value | target | met? | reproduce |")
lines.append("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    lines.append(f"| {r['area']} | {r['figure']} | {r['value']} | {r['target']} | {yes(r['met'])} | `{r['command']}` |")
if missing:
    lines.append("")
    lines.append("Parts without results in this run: " + ", ".join(missing) + ".")
lines += ["", END]
block = "\n".join(lines)

md_path = os.path.join(ROOT, "BENCHMARKS.md")
md = open(md_path).read()
if BEGIN in md and END in md:
    md = md[: md.index(BEGIN)] + block + md[md.index(END) + len(END):]
else:
    title_end = md.index("\n## ") if "\n## " in md else len(md)
    md = md[:title_end] + "\n\n## Summary (`bench/run-all`)\n\n" + block + "\n" + md[title_end:]
open(md_path, "w").write(md)
json.dump({"generated": now, "rows": rows, "missing": missing},
          open(os.path.join(ROOT, "BENCHMARKS.json"), "w"), indent=2)
print("\n".join(lines[2:-2]))
print(f"\nwrote {md_path} and BENCHMARKS.json")
sys.exit(0)
