#!/usr/bin/env python3
"""Helpers of scripts/bench: request files, wrk and pgbench output, projection lag, the report.

Standard library only. Each measuring step of scripts/bench leaves one JSON file in the run's
work directory; `report` merges them into bench/results/<timestamp>.json, prints the table and
checks the targets of issue 5 (a missed target is printed, never an exit status).
"""
import glob
import json
import os
import random
import re
import sys
import uuid

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Tony"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Hoare"]
GOALS = [
    "Prepare for a promotion to engineering manager within the next two quarters.",
    "Build a sustainable training plan for a first marathon while working full time.",
    "Find clarity on a career change from finance into product design.",
]
MESSAGES = [
    "Hi! A colleague recommended you. I am free most weekday mornings and would love a first call.",
    "Hello, I read your blog post on habits and would like to work with you on mine. Thanks!",
]


def intake_line(coach, i, rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    body = {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}.{i}@example.org",
        "phone": f"+44 20 7946 {i % 10000:04d}",
        "goals": rng.choice(GOALS),
        "message": rng.choice(MESSAGES),
    }
    return f"POST\t/api/v1/coaches/{coach}/intakes\t-\t{json.dumps(body, separators=(',', ':'))}"


def cmd_gen_intakes(out, count, *coaches):
    """SubmitIntake requests spread round-robin over the coaches (public form: no token)."""
    rng = random.Random(42)
    with open(out, "w") as f:
        for i in range(int(count)):
            f.write(intake_line(coaches[i % len(coaches)], i, rng) + "\n")


def cmd_gen_get(out, path, *tokens):
    """The same GET with each bearer token in turn (one signed-in session per line)."""
    with open(out, "w") as f:
        for t in tokens:
            f.write(f"GET\t{path}\t{t}\t-\n")


def number(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def add_extra(res, extra, done):
    """key=value extras; d_* counter deltas also become per-request figures (per_request)."""
    for kv in extra:
        k, v = kv.split("=", 1)
        res[k] = number(v)
    if done:
        per = {}
        for k in ("d_commits", "d_wal_syncs", "d_wal_bytes"):
            if k in res:
                per[k[2:]] = round(res[k] / done, 2)
        if per:
            res["per_request"] = per


def per_request_text(res):
    per = res.get("per_request")
    if not per:
        return ""
    return (f"  | per request ≈{per.get('commits')} commits, ≈{per.get('wal_syncs')} WAL fsyncs, "
            f"{per.get('wal_bytes'):.0f} WAL bytes")


def cmd_wrk(step, label, connections, wrk_output, out, *extra):
    """Turns wrk's output (with requests.lua's BENCH_JSON line) into a step result."""
    text = open(wrk_output).read()
    m = re.search(r"^BENCH_JSON (\{.*\})$", text, re.M)
    if not m:
        raise SystemExit(f"bench.py: no BENCH_JSON line in {wrk_output}:\n{text[-2000:]}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    errors = sum(r["errors"].values())
    # wrk's Requests/sec counts every completed request, errors included: report only the
    # successful ones as throughput and the rest as errors.
    ok = r["requests"] - r["errors"]["status"]
    res = {
        "step": step, "label": label, "connections": int(connections),
        "seconds": round(secs, 2), "requests": r["requests"], "ok": ok, "errors": r["errors"],
        "error_count": errors, "ok_per_s": round(ok / secs, 1) if secs > 0 else 0,
        "latency_ms": {k: round(v / 1000.0, 2) for k, v in r["latency_us"].items()},
        "wrapped": r["wrapped"], "max_line": r.get("max_line", 0), "status": r.get("status", {}), "tool": "wrk",
    }
    add_extra(res, extra, ok)
    lat = res["latency_ms"]
    print(f"  {label:<34} c={connections:<4} {res['ok_per_s']:>9.1f} ok/s  p50 {lat['p50']:>7.2f}  "
          f"p99 {lat['p99']:>7.2f}  p99.9 {lat['p999']:>7.2f} ms  errors {errors}{per_request_text(res)}")
    bad = {k: v for k, v in res["status"].items() if not k.startswith("2")}
    if bad or (res["wrapped"] and res.get("unique")):
        print(f"    non-2xx answers by status: {bad}; file wrapped {res['wrapped']} times; "
              f"first: {r.get('first_error', '')[:200]}")
    res["first_error"] = r.get("first_error", "")
    json.dump(res, open(out, "w"))


def cmd_pgbench(step, label, clients, pgbench_output, out, *extra):
    text = open(pgbench_output).read()
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    lat = re.search(r"latency average = ([0-9.]+) ms", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    done = re.search(r"number of transactions actually processed: (\d+)", text)
    if not tps:
        raise SystemExit(f"bench.py: no tps in pgbench output {pgbench_output}:\n{text[-2000:]}")
    res = {"step": step, "label": label, "connections": int(clients), "ok_per_s": float(tps.group(1)),
           "latency_ms": {"mean": float(lat.group(1)) if lat else None},
           "transactions": int(done.group(1)) if done else None,
           "error_count": int(failed.group(1)) if failed else 0, "tool": "pgbench"}
    add_extra(res, extra, res["transactions"] or 0)
    json.dump(res, open(out, "w"))
    print(f"  {label:<34} c={clients:<4} {res['ok_per_s']:>9.1f} tps   mean {res['latency_ms']['mean']} ms"
          f"{per_request_text(res)}")


def cmd_merge(out, *parts):
    """Two or more runs of one step (wrk or pgbench) as one result: throughput is the mean of the
    runs' (each ran as long), latency percentiles the worst run's, counts and counter deltas
    summed; `runs` keeps each run's throughput. The query step runs coachd and pgbench in the
    order A B B A so that a machine speeding up or slowing down during the step favours neither."""
    rs = [json.load(open(f)) for f in parts]
    res = dict(rs[0])
    res["runs"] = [r["ok_per_s"] for r in rs]
    res["ok_per_s"] = round(sum(res["runs"]) / len(rs), 1)
    if res.get("tool") == "wrk":
        for k in ("requests", "ok", "error_count", "wrapped"):
            res[k] = sum(r.get(k, 0) for r in rs)
        res["seconds"] = round(sum(r["seconds"] for r in rs), 2)
        res["errors"] = {k: sum(r["errors"].get(k, 0) for r in rs) for k in rs[0]["errors"]}
        res["latency_ms"] = {k: max(r["latency_ms"][k] for r in rs) for k in rs[0]["latency_ms"]}
        done = res["ok"]
    else:
        res["transactions"] = sum(r.get("transactions") or 0 for r in rs)
        res["error_count"] = sum(r.get("error_count", 0) for r in rs)
        means = [r["latency_ms"].get("mean") for r in rs if r["latency_ms"].get("mean") is not None]
        res["latency_ms"] = {"mean": round(sum(means) / len(means), 3) if means else None}
        done = res["transactions"]
    for k in ("d_commits", "d_wal_syncs", "d_wal_bytes"):
        if all(k in r for r in rs):
            res[k] = sum(r[k] for r in rs)
    res.pop("per_request", None)
    add_extra(res, [], done)
    json.dump(res, open(out, "w"))
    for f in parts:
        os.remove(f)
    print(f"  {res['label']:<34} c={res['connections']:<4} {res['ok_per_s']:>9.1f} "
          f"{'tps' if res.get('tool') == 'pgbench' else 'ok/s'}  mean of runs "
          f"{', '.join(f'{v:,.1f}' for v in res['runs'])}")


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def cmd_lag(samples_file, out, projector):
    """Projection lag from a sampler's rows `epoch_s|partition|log_next_offset|checkpoint`.

    For every offset o that was appended while sampling: appended = first sample whose
    log_next_offset > o; visible = first sample whose checkpoint > o; lag = visible - appended.
    Both come from the same snapshot of the same query, so the error is at most one sampling
    interval (reported).
    """
    per_partition = {}
    times = []
    for line in open(samples_file):
        parts = line.strip().split("|")
        if len(parts) != 4 or not parts[0]:
            continue
        t, p, nxt, pos = float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3] or 0)
        per_partition.setdefault(p, []).append((t, nxt, pos))
        times.append(t)
    lags = []
    for p, rows in per_partition.items():
        rows.sort()
        start_next = rows[0][1]
        # Walk offsets appended after the first sample.
        ai = 0
        vi = 0
        for o in range(start_next, rows[-1][1]):
            while ai < len(rows) and rows[ai][1] <= o:
                ai += 1
            if ai >= len(rows):
                break
            while vi < len(rows) and rows[vi][2] <= o:
                vi += 1
            if vi >= len(rows):
                break  # not visible before sampling stopped: left out (counted below)
            lags.append(max(0.0, rows[vi][0] - rows[ai][0]) * 1000.0)
    uniq = sorted(set(times))
    gaps = sorted(b - a for a, b in zip(uniq, uniq[1:]))
    lags.sort()
    res = {"step": "lag", "projector": projector, "events": len(lags),
           "p50_ms": round(percentile(lags, 50), 1) if lags else None,
           "p99_ms": round(percentile(lags, 99), 1) if lags else None,
           "max_ms": round(lags[-1], 1) if lags else None,
           "samples": len(uniq),
           "sample_interval_ms": round(percentile(gaps, 50) * 1000.0, 1) if gaps else None,
           "sample_interval_p99_ms": round(percentile(gaps, 99) * 1000.0, 1) if gaps else None}
    json.dump(res, open(out, "w"))
    print(f"  projection lag ({projector}): {res['events']} events, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
          f"max {res['max_ms']} ms (sampled every {res['sample_interval_ms']} ms)")


def cmd_json(out, *kvs):
    """Writes a step result from key=value pairs (numbers stay numbers)."""
    res = {}
    for kv in kvs:
        k, v = kv.split("=", 1)
        try:
            res[k] = int(v)
        except ValueError:
            try:
                res[k] = float(v)
            except ValueError:
                res[k] = v
    json.dump(res, open(out, "w"))


def load(dirname):
    steps = []
    for f in sorted(glob.glob(os.path.join(dirname, "*.json"))):
        try:
            steps.append((os.path.basename(f)[:-5], json.load(open(f))))
        except json.JSONDecodeError as e:
            raise SystemExit(f"bench.py: {f}: {e}")
    return dict(steps)


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}{unit}"


def cmd_report(dirname, out, meta_file):
    meta = json.load(open(meta_file))
    s = load(dirname)
    rows = []  # (measure, value, yardstick, ratio/notes)
    targets = []  # (name, ok or None (not measured), detail)

    def get(name):
        return s.get(name)

    print()
    print(f"coachd benchmark — {meta['mode']} run, {meta['started']}")
    print(f"machine: {meta['machine']}")
    print(f"command step: {meta['command']}")
    print()
    print(f"{'measure':<46} {'value':>14} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7} "
          f"{'fsync/req':>9} {'WAL B/req':>9}")
    print("-" * 118)

    def line(name, r):
        if r is None:
            print(f"{name:<46} {'not run':>14}")
            return
        lat = r.get("latency_ms", {}) or {}
        unit = " tps" if r.get("tool") == "pgbench" else " /s"
        print(f"{name:<46} {fmt(r.get('ok_per_s'), unit):>14} {fmt(lat.get('p50')):>8} {fmt(lat.get('p99')):>8} "
              f"{fmt(lat.get('p999')):>9} {fmt(r.get('error_count')):>7} "
              f"{fmt((r.get('per_request') or {}).get('wal_syncs')):>9} "
              f"{fmt((r.get('per_request') or {}).get('wal_bytes')):>9}")

    for c in (1, 8, 32):
        line(f"1 pgbench INSERT ≈400 B event, {c} clients", get(f"limit_c{c}"))
    cmd = meta["command"]
    for c in (1, 8, 64, 256):
        line(f"2 {cmd} over HTTP, {c} conns", get(f"cmd_c{c}"))
    line(f"2 {cmd} at half of peak (paced)", get("cmd_half"))
    for c in (1, 8, 64, 256):
        if get(f"intake_c{c}"):
            line(f"2 SubmitIntake over HTTP, {c} conns", get(f"intake_c{c}"))
    line("3 GET /api/v1/clients (20 rows), 64 conns", get("query_clients_http"))
    line("3 pgbench same SQL (clients_list), 64", get("query_clients_sql"))
    line("3 GET /api/v1/intakes (dashboard), 64 conns", get("query_intakes_http"))
    line("3 pgbench same SQL (intakes_list), 64", get("query_intakes_sql"))
    line("3 pgbench clients: request's SQL + session lookup", get("query_clients_request_sql"))
    line("3 pgbench intakes: request's SQL + session lookup", get("query_intakes_request_sql"))
    lag = get("lag")
    if lag:
        print(f"{'4 projection lag (' + lag.get('projector', '?') + ') under load':<46} {fmt(lag.get('events')) + ' ev':>14} "
              f"{fmt(lag.get('p50_ms')):>8} {fmt(lag.get('p99_ms')):>8} {'':>9} "
              f"  sampled every {lag.get('sample_interval_ms')} ms")
    rep = get("replay")
    if rep:
        print(f"{'5 rebuild intakes: events/s':<46} {fmt(rep.get('events_per_s'), ' /s'):>14}   "
              f"{fmt(rep.get('events'))} events in {rep.get('seconds')} s")
        print(f"{'5 raw COPY of the same rows: rows/s':<46} {fmt(rep.get('copy_rows_per_s'), ' /s'):>14}   "
              f"{fmt(rep.get('rows'))} rows in {rep.get('copy_seconds')} s")
        if rep.get("copy_binary_rows_per_s"):
            print(f"{'5 — COPY in binary format: rows/s':<46} "
                  f"{fmt(rep.get('copy_binary_rows_per_s'), ' /s'):>14}   "
                  f"{fmt(rep.get('rows'))} rows in {rep.get('copy_binary_seconds')} s")
        if rep.get("copy_late_indexes_rows_per_s"):
            print(f"{'5 — COPY, query indexes built after: rows/s':<46} "
                  f"{fmt(rep.get('copy_late_indexes_rows_per_s'), ' /s'):>14}   "
                  f"{fmt(rep.get('rows'))} rows in {rep.get('copy_late_indexes_seconds')} s")
    for name in ("cold_small", "cold_full"):
        cs = get(name)
        if cs:
            print(f"{'6 cold start to /readyz, ' + fmt(cs.get('events')) + ' events':<46} "
                  f"{fmt(cs.get('seconds'), ' s'):>14}   peak RSS {fmt(cs.get('rss_mb'), ' MB')} with "
                  f"{fmt(cs.get('aggregates'))} aggregates")
    print()

    # Ratios and targets.
    limit32 = (get("limit_c32") or {}).get("ok_per_s")
    cmd64 = (get("cmd_c64") or {}).get("ok_per_s")
    if limit32 and cmd64 is not None:
        ratio = cmd64 / limit32
        targets.append(("durable commands/s at 64 conns ≥ 1.5 × pgbench 32-client INSERT", ratio >= 1.5,
                        f"{ratio:.2f} × ({cmd64:,.0f} vs {limit32:,.0f}) [{cmd}]"))
    half = get("cmd_half")
    if half:
        p99 = half["latency_ms"]["p99"]
        targets.append(("command p99 at half of peak ≤ 10 ms", p99 <= 10.0,
                        f"p99 {p99} ms at {half['ok_per_s']:,.0f}/s (asked {half.get('rate')}/s) [{cmd}]"))
    for q in ("clients", "intakes"):
        h, sq = get(f"query_{q}_http"), get(f"query_{q}_sql")
        if h and sq and sq["ok_per_s"]:
            ratio = h["ok_per_s"] / sq["ok_per_s"]
            targets.append((f"GET {q} at 64 conns ≥ 0.7 × pgbench same SQL", ratio >= 0.7,
                            f"{ratio:.2f} × ({h['ok_per_s']:,.0f} vs {sq['ok_per_s']:,.0f})"))
    if lag and lag.get("p99_ms") is not None:
        detail = f"p99 {lag['p99_ms']} ms (±{lag.get('sample_interval_ms')} ms sampling)"
        met = lag["p99_ms"] <= 100.0
        lag_load = get("lag_load")
        if lag_load:
            detail += f" under {lag_load['ok_per_s']:,.0f} ok/s"
            # Refused requests append nothing: a load mostly refused (a wrapped request file)
            # is no load, and its lag says nothing.
            if lag_load.get("error_count", 0) > 0.01 * max(1, lag_load.get("requests", 0)):
                met = False
                detail += (f"; NOT MEASURED: {lag_load['error_count']:,} of {lag_load['requests']:,} requests of the "
                           f"load failed (file wrapped {lag_load.get('wrapped', 0)} times)")
        targets.append(("projection lag p99 under load ≤ 100 ms", met, detail))
    if rep:
        eps = rep.get("events_per_s") or 0
        copy = rep.get("copy_rows_per_s") or 0
        ratio = (rep.get("rows_per_s") or 0) / copy if copy else 0
        targets.append(("replay ≥ 100,000 events/s", eps >= 100000, f"{eps:,.0f} events/s over {rep.get('events'):,}"))
        detail = f"{ratio:.3f} × ({rep.get('rows_per_s'):,.0f} rows/s vs COPY {copy:,.0f} rows/s)"
        binary = rep.get("copy_binary_rows_per_s") or 0
        if binary:
            detail += f"; {(rep.get('rows_per_s') or 0) / binary:.3f} × COPY in binary format ({binary:,.0f} rows/s)"
        targets.append(("replay ≥ 0.5 × raw COPY of the same rows", ratio >= 0.5, detail))
    cf = get("cold_full")
    if cf:
        targets.append((f"cold start ≤ 10 s (target is at 1,000,000 events; ran {cf['events']:,})",
                        cf["seconds"] <= 10.0, f"{cf['seconds']} s"))
    cs = get("cold_small") or cf
    if cs:
        targets.append((f"peak RSS ≤ 300 MB (target at 100,000 aggregates; ran {cs['aggregates']:,})",
                        cs["rss_mb"] <= 300, f"{cs['rss_mb']} MB"))

    print("targets (issue 5):")
    for name, ok, detail in targets:
        print(f"  [{'met ' if ok else 'MISS'}] {name}: {detail}")
    if meta["mode"] == "smoke":
        print("  (smoke mode: tiny sizes and 1-second runs; the numbers say the harness works, not how fast coachd is)")
    notes = meta.get("notes", [])
    if notes:
        print("notes:")
        for n in notes:
            print(f"  - {n}")

    result = {"meta": meta, "steps": s,
              "targets": [{"target": n, "met": ok, "detail": d} for n, ok, d in targets]}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    json.dump(result, open(out, "w"), indent=1)
    print(f"\nresults: {out}")


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    fn = globals().get("cmd_" + sys.argv[1].replace("-", "_"))
    if fn is None:
        raise SystemExit(f"bench.py: unknown command {sys.argv[1]}")
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
