"""Checks that the peer scores like woolguard before the two are timed against each other.

    python3 benches/peer/check.py DATA WOOLGUARD_URL PEER_URL API_KEY [--n 400]

Builds `n` candidates from the sample's own sign-ups (their device, phone hash, IP, inviter and
campaign, mixed between members and moved to other times, some keys dropped), sends each to both
servers and fails unless every probability agrees within 1e-9, every decision and quality is the
same, and the reasons name the same features in the same order with values and contributions
within 1e-9.
"""
import argparse
import json
import os
import random
import sys
import urllib.request

import pandas as pd


def post(url, key, body):
    req = urllib.request.Request(url + "/v1/candidates/score", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "x-api-key": key})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("woolguard")
    ap.add_argument("peer")
    ap.add_argument("key")
    ap.add_argument("--n", type=int, default=400)
    a = ap.parse_args()
    m = pd.read_parquet(os.path.join(a.data, "members.parquet"))
    m["t"] = (m["joined_at"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    rows = m.astype(object).where(m.notna(), None).to_dict("records")
    end = int(m["t"].max())
    rng = random.Random(7)
    fields = ["campaign_id", "inviter_id", "device_id", "ip", "phone_prefix", "phone_hash"]
    worst, seen = 0.0, set()
    for i in range(a.n):
        base = rng.choice(rows)
        c = {"member_id": f"check-{i}", "channel": base["channel"]}
        for f in fields:
            # Mostly the member's own key; sometimes another member's, sometimes none.
            r = rng.random()
            src = base if r < 0.7 else rng.choice(rows) if r < 0.9 else {}
            if src.get(f) is not None:
                c[f] = src[f]
        # Within the history (windows and groups see a busy past) or just after its end.
        c["joined_at"] = int(base["t"]) + rng.randint(-3600, 3600) if rng.random() < 0.5 \
            else end + rng.randint(0, 7 * 86_400)
        w, p = post(a.woolguard, a.key, c), post(a.peer, a.key, c)
        diff = abs(w["probability"] - p["probability"])
        worst = max(worst, diff)
        seen.add((round(w["probability"], 6), w["decision"]))
        same_reasons = len(w["reasons"]) == len(p["reasons"]) and all(
            x["code"] == y["code"] and x["text"] == y["text"]
            and abs(x["contribution"] - y["contribution"]) <= 1e-9
            for x, y in zip(w["reasons"], p["reasons"]))
        if diff > 1e-9 or (w["decision"], w["quality"]) != (p["decision"], p["quality"]) \
                or not same_reasons:
            print(f"check: candidate {json.dumps(c)}\n  woolguard {w}\n  peer {p}", file=sys.stderr)
            sys.exit(1)
    print(f"check: {a.n} candidates: probabilities within {worst:.1e}; decisions, qualities and "
          f"reasons equal ({len(seen)} distinct probabilities, "
          f"{len({d for _, d in seen})} distinct decisions)")


if __name__ == "__main__":
    main()
