"""Prints the table of a benches/load/run.sh run from its oha JSON files.

    python3 benches/load/table.py DIR [--peer-workers 2] [--conns 64] [--p99-ms 5]

Achieved is 2xx answers per second of the run (waiting for the requests in flight at the end).
A rate counts as sustained when the server answered at least 95% of it, without errors, with
p99 (coordinated omission corrected) within --p99-ms.
"""
import argparse
import glob
import json
import os
import re

NAMES = ("woolguard", "peer")


def cpu(d):
    """Server CPU seconds per run, from run.sh's cpu.txt (run, ticks, ticks a second)."""
    out = {}
    path = os.path.join(d, "cpu.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                run, ticks, hz = line.split()
                out[run] = int(ticks) / int(hz)
    return out


def read(path):
    with open(path) as f:
        r = json.load(f)
    s, pct = r["summary"], r["latencyPercentiles"]
    codes = {int(k): v for k, v in (r.get("statusCodeDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    errors = sum(v for k, v in codes.items() if not 200 <= k < 300)
    errors += sum((r.get("errorDistribution") or {}).values())
    ms = lambda v: float("nan") if v is None else v * 1000
    return {"ok": ok, "rps": ok / s["total"], "p50": ms(pct.get("p50")), "p99": ms(pct.get("p99")),
            "errors": errors}


def cell(r):
    return f"{r['rps']:>9,.0f} {r['p50']:>9.2f} {r['p99']:>9.2f} {r['errors']:>6,}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--peer-workers", type=int, default=2)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--p99-ms", type=float, default=5.0)
    a = ap.parse_args()
    rates = sorted({int(re.search(r"rate-(\d+)-", p).group(1))
                    for p in glob.glob(os.path.join(a.dir, "rate-*.json"))})
    res = {(rate, n): read(os.path.join(a.dir, f"rate-{rate}-{n}.json"))
           for rate in rates for n in NAMES}
    closed = {n: read(os.path.join(a.dir, f"closed-{n}.json")) for n in NAMES}

    head = f"{'achieved':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>6}"
    print(f"\n{'':>10} | {'woolguard (actix)':^37} | {f'peer (FastAPI, {a.peer_workers} workers)':^37}")
    print(f"{'rate':>10} | {head} | {head}")
    for rate in rates:
        print(f"{rate:>10,} | {cell(res[rate, 'woolguard'])} | {cell(res[rate, 'peer'])}")
    print(f"{f'closed {a.conns}':>10} | {cell(closed['woolguard'])} | {cell(closed['peer'])}")

    def sustained(n):
        ok = [rate for rate in rates if res[rate, n]["rps"] >= 0.95 * rate
              and res[rate, n]["errors"] == 0 and res[rate, n]["p99"] <= a.p99_ms]
        return max(ok, default=0)

    best = {n: sustained(n) for n in NAMES}
    print(f"\nhighest rate sustained with p99 <= {a.p99_ms:g} ms (>= 95% achieved, no errors): "
          f"woolguard {best['woolguard']:,}, peer {best['peer']:,} req/s"
          + (f" (ratio {best['woolguard'] / best['peer']:.1f}x)" if best["peer"] else
             " (the peer sustains none of the rates asked)" if best["woolguard"] else
             " (neither sustains any rate asked)"))
    if best["woolguard"] == max(rates):
        print("  woolguard sustained the highest rate asked: its limit is above it")
    sat = closed["woolguard"]["rps"] / closed["peer"]["rps"]
    print(f"throughput at saturation ({a.conns} connections, closed loop): woolguard "
          f"{closed['woolguard']['rps']:,.0f}, peer {closed['peer']['rps']:,.0f} req/s "
          f"(ratio {sat:.1f}x)")
    secs = cpu(a.dir)
    per = {}
    for n in NAMES:
        runs = [f"rate-{rate}-{n}" for rate in rates] + [f"closed-{n}"]
        answered = sum(res[rate, n]["ok"] for rate in rates) + closed[n]["ok"]
        if answered and all(r in secs for r in runs):
            per[n] = sum(secs[r] for r in runs) / answered * 1e6
    if len(per) == 2:
        print(f"server CPU per answered request, over all runs: woolguard {per['woolguard']:.0f} us, "
              f"peer {per['peer']:.0f} us (ratio {per['peer'] / per['woolguard']:.1f}x)")
    loads = []
    if os.path.exists(os.path.join(a.dir, "loadavg.txt")):
        with open(os.path.join(a.dir, "loadavg.txt")) as f:
            loads = [float(line.split()[1]) for line in f if line.strip()]
    print("oha shares the machine's 2 cores with the server it drives"
          + (f"; 1-minute load average after each run {min(loads):.2f}-{max(loads):.2f}"
             " (others' jobs included)." if loads else "."))


if __name__ == "__main__":
    main()
