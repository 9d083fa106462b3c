"""The serving peer: FastAPI + LightGBM scoring a sign-up the way `woolguard serve` does.

    python3 benches/peer/serve.py --data data/sample --model models/signup --api-key K \
        [--bind 127.0.0.1:8090] [--workers 2]

`POST /v1/candidates/score` takes woolguard's request body (the candidate's sign-up fields) and
answers with the same fields: probability, quality, decision, reasons, model_version.

- Features: an in-memory port of woolguard's `RecruitState` (src/features/recruit.rs), built by the
  same sweep over the same Parquet history (members in join order, reviews strictly before each
  join time applied first): accounts per device, phone hash, IP /24 and inviter, the 10-minute and
  1-hour windows, minutes since the campaign's first sign-up, the inviter's record and age, and the
  connected group (union-find through keys still under their merge caps).
- Model: woolguard's own artefact (JSON trees exported from LightGBM) rewritten as LightGBM model
  text and loaded with `lgb.Booster(model_str=...)`, so both servers score with the same 150 trees
  of 7 leaves. One `predict(pred_leaf=True)` per request: LightGBM walks the trees, and the leaf
  each tree reaches gives both the raw score (sum of the leaves' values) and the reasons: the path
  (Saabas) attributions woolguard answers with, summed from a table of each leaf's path made at
  start. (`pred_contrib=True`, LightGBM's TreeSHAP, costs about 2.5 times as much per request and
  ranks reasons differently from woolguard.)
- Calibration and thresholds: the artefact's isotonic map and review / reject thresholds.

Served by uvicorn (uvloop, httptools) with 2 worker processes by default: one per core, the usual
choice for CPU-bound ASGI work (gunicorn's 2 x cores + 1 is for workers that wait on I/O). The
endpoint is `async def`: a fraction of a millisecond of CPU gains nothing from FastAPI's thread
pool hop. Each worker is a process with its own copy of the state, so this peer never records
(`"record": true` is refused): two workers would otherwise diverge. Lists (allow / deny) are not
ported: woolguard has none without a state folder either.
"""
import argparse
import bisect
import json
import math
import os
import time
from collections import deque

# One row per call and one worker process per core: an OpenMP team per prediction only costs
# (waking a second thread took ~19 ms a row on the busy 2-core machine, against 0.24 ms alone).
# Set before LightGBM loads its OpenMP runtime, in the parent and in every spawned worker.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import lightgbm as lgb
import numpy as np
import pandas as pd
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

MINUTE, HOUR, DAY = 60, 3_600, 86_400
NAN = float("nan")
VIRTUAL_PHONE_PREFIXES = {"170", "171", "162", "165", "167"}

# woolguard's FEATURES (src/features/recruit.rs), in column order: name, description.
FEATURES = [
    ("device_accounts", "accounts already on this device"),
    ("phone_accounts", "accounts already on this phone hash"),
    ("ip24_accounts", "accounts already on this IP range (/24)"),
    ("device_signups_1h", "sign-ups on this device in the last hour"),
    ("ip24_signups_10m", "sign-ups from this IP range in the last 10 minutes"),
    ("ip24_signups_1h", "sign-ups from this IP range in the last hour"),
    ("campaign_signups_10m", "sign-ups into this campaign in the last 10 minutes"),
    ("minutes_from_campaign_start", "minutes since the campaign's first sign-up"),
    ("virtual_phone", "phone on a virtual-operator segment (170/171/162/165/167)"),
    ("inviter_fanout", "members the inviter has already brought in"),
    ("inviter_invites_1h", "members the inviter brought in during the last hour"),
    ("inviter_wool_share", "reviewed wool share of the inviter's earlier invitees"),
    ("inviter_age_days", "days since the inviter joined"),
    ("group_size", "accounts in the connected group (shared rare device, phone, IP range, inviter)"),
    ("group_devices", "distinct devices in the connected group"),
    ("group_ip24s", "distinct IP ranges in the connected group"),
    ("group_age_hours", "hours since the group's first account joined"),
    ("group_wool_share", "reviewed wool share of the group's labelled accounts"),
    ("signup_hour", "hour of day of the sign-up (UTC+8)"),
]


def ip_range(ip):
    """The /24 of an IPv4 address, the /48 of an IPv6 one (woolguard's `ip_range`)."""
    if ":" in ip:
        return ":".join(ip.split(":", 3)[:3])
    return ip.rsplit(".", 1)[0]


def key(v):
    """A present key, or None for null / empty (woolguard's `NONE`)."""
    return v if isinstance(v, str) and v != "" else None


class KeyStats:
    __slots__ = ("accounts", "recent", "first_node", "first_at")

    def __init__(self):
        self.accounts, self.recent, self.first_node, self.first_at = 0, deque(), 0, 0

    def count_since(self, since):
        n = 0
        for t in reversed(self.recent):
            if t < since:
                break
            n += 1
        return n

    def add(self, at, node):
        if self.accounts == 0:
            self.first_node, self.first_at = node, at
        self.accounts += 1
        self.recent.append(at)
        while self.recent and self.recent[0] < at - HOUR:
            self.recent.popleft()


# A group: [size, devices, ip24s, first_at, labelled, wool].
SIZE, DEVICES, IP24S, FIRST_AT, LABELLED, WOOL = range(6)


class RecruitState:
    """What is known about everyone who has joined: a port of woolguard's `RecruitState`."""

    def __init__(self, caps):
        self.caps = caps  # {"device", "phone", "ip24", "inviter"}
        self.maps = {k: {} for k in ("device", "phone", "ip24", "inviter", "campaign")}
        self.inviter_record = {}  # inviter id -> [labelled, wool]
        self.nodes = {}  # member id -> node
        self.joined, self.invited_by, self.parent, self.groups = [], [], [], []

    def find(self, node):
        parent = self.parent
        while parent[node] != node:
            up = parent[node]
            parent[node] = parent[up]
            node = up
        return node

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        big, small = (ra, rb) if self.groups[ra][SIZE] >= self.groups[rb][SIZE] else (rb, ra)
        self.parent[small] = big
        s, g = self.groups[small], self.groups[big]
        g[SIZE] += s[SIZE]
        g[DEVICES] += s[DEVICES]
        g[IP24S] += s[IP24S]
        g[FIRST_AT] = min(g[FIRST_AT], s[FIRST_AT])
        g[LABELLED] += s[LABELLED]
        g[WOOL] += s[WOOL]

    def keys_of(self, c):
        ip = key(c.get("ip"))
        return (("device", key(c.get("device_id"))), ("phone", key(c.get("phone_hash"))),
                ("ip24", ip_range(ip) if ip else None), ("inviter", key(c.get("inviter_id"))),
                ("campaign", key(c.get("campaign_id"))))

    def features(self, c, t):
        """The candidate's features as of `t`, from sign-ups recorded before: 19 floats."""
        found = {}
        for kind, k in self.keys_of(c):
            # None: the candidate has no such key; False: nobody has had it yet.
            found[kind] = None if k is None else self.maps[kind].get(k, False)

        def count(s):
            return NAN if s is None else (float(s.accounts) if s else 0.0)

        def since(s, window):
            return NAN if s is None else (float(s.count_since(t - window)) if s else 0.0)

        device, phone, ip24 = found["device"], found["phone"], found["ip24"]
        inviter, campaign = found["inviter"], found["campaign"]
        inviter_id = key(c.get("inviter_id"))
        prefix = key(c.get("phone_prefix"))
        record = self.inviter_record.get(inviter_id) if inviter_id else None
        inviter_node = self.nodes.get(inviter_id) if inviter_id else None
        out = [
            count(device), count(phone), count(ip24),
            since(device, HOUR), since(ip24, 10 * MINUTE), since(ip24, HOUR),
            since(campaign, 10 * MINUTE),
            NAN if campaign is None else ((t - campaign.first_at) / MINUTE if campaign else 0.0),
            NAN if prefix is None else float(prefix.strip() in VIRTUAL_PHONE_PREFIXES),
            count(inviter), since(inviter, HOUR),
            record[1] / record[0] if record and record[0] > 0 else NAN,
            (t - self.joined[inviter_node]) / DAY if inviter_node is not None else NAN,
        ]
        caps = self.caps
        nodes = [s.first_node for s, cap in ((device, caps["device"]), (phone, caps["phone"]),
                                             (ip24, caps["ip24"]), (inviter, caps["inviter"]))
                 if s and 0 < s.accounts < cap]
        fanout = inviter.accounts if inviter else 0
        if inviter_node is not None and fanout < caps["inviter"]:
            nodes.append(inviter_node)
        roots = []
        for n in nodes:
            while self.parent[n] != n:
                n = self.parent[n]
            if n not in roots:
                roots.append(n)
        g = [0, 0, 0, 0, 0, 0]
        for i, r in enumerate(roots):
            o = self.groups[r]
            for j in (SIZE, DEVICES, IP24S, LABELLED, WOOL):
                g[j] += o[j]
            g[FIRST_AT] = o[FIRST_AT] if i == 0 else min(g[FIRST_AT], o[FIRST_AT])
        out += [
            float(g[SIZE]), float(g[DEVICES]), float(g[IP24S]),
            0.0 if g[SIZE] == 0 else (t - g[FIRST_AT]) / HOUR,
            g[WOOL] / g[LABELLED] if g[LABELLED] > 0 else NAN,
            float(((t + 8 * HOUR) % DAY) // HOUR),
        ]
        return out

    def record(self, c, t):
        """Adds a sign-up: counts its keys and merges it into the groups of its rare keys."""
        node = len(self.parent)
        inviter_id = key(c.get("inviter_id"))
        self.parent.append(node)
        self.joined.append(t)
        self.invited_by.append(inviter_id)
        self.nodes[c["member_id"]] = node
        self.groups.append([1, 0, 0, t, 0, 0])
        caps = dict(self.caps, campaign=0)
        for kind, k in self.keys_of(c):
            if k is None:
                continue
            stats = self.maps[kind].setdefault(k, KeyStats())
            before, first = stats.accounts, stats.first_node
            stats.add(t, node)
            if before == 0:
                root = self.find(node)
                if kind == "device":
                    self.groups[root][DEVICES] += 1
                elif kind == "ip24":
                    self.groups[root][IP24S] += 1
            elif before < caps[kind]:
                self.union(first, node)
        inviter_node = self.nodes.get(inviter_id) if inviter_id else None
        if inviter_node is not None:
            s = self.maps["inviter"].get(inviter_id)
            if (s.accounts if s else 0) <= caps["inviter"]:
                self.union(inviter_node, node)

    def record_label(self, member_id, label):
        node = self.nodes.get(member_id)
        if node is None:
            return
        root = self.find(node)
        wool = int(label == 1)
        self.groups[root][LABELLED] += 1
        self.groups[root][WOOL] += wool
        inviter = self.invited_by[node]
        if inviter is not None:
            r = self.inviter_record.setdefault(inviter, [0, 0])
            r[0] += 1
            r[1] += wool


def unix_seconds(col):
    return (col - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def build_state(data_dir, caps):
    """The state after sweeping the history in time order, as woolguard's `recruit::build`."""
    m = pd.read_parquet(os.path.join(data_dir, "members.parquet"))
    m["t"] = unix_seconds(m["joined_at"])
    m = m.reset_index().sort_values(["t", "index"], kind="stable")
    members = m.astype(object).where(m.notna(), None).to_dict("records")
    labels_path = os.path.join(data_dir, "labels.parquet")
    labels = []
    if os.path.exists(labels_path):
        lb = pd.read_parquet(labels_path)
        lb["t"] = unix_seconds(lb["at"])
        lb = lb.reset_index().sort_values(["t", "index"], kind="stable")
        labels = list(zip(lb["t"], lb["member_id"], lb["label"]))
    st = RecruitState(caps)
    nl = 0
    for c in members:
        t = c["t"]
        # Reviews known strictly before t; everyone joining at t shares that view.
        while nl < len(labels) and labels[nl][0] < t:
            st.record_label(labels[nl][1], labels[nl][2])
            nl += 1
        st.record(c, t)
    for _, member, label in labels[nl:]:
        st.record_label(member, label)
    return st, len(members)


def lightgbm_model_text(gbm, names):
    """woolguard's JSON trees as LightGBM's model text (decision_type: bit 1 default left,
    bits 2-3 missing type None 0 / Zero 1 / NaN 2; covers as counts, which TreeSHAP weighs by)."""
    fmt = lambda xs: " ".join(repr(float(x)) if not isinstance(x, str) else x for x in xs)
    ints = lambda xs: " ".join(str(int(x)) for x in xs)
    missing = {"none": 0, "zero": 1, "nan": 2}
    blocks = []
    for i, t in enumerate(gbm["trees"]):
        leaves = len(t["leaf_value"])
        lines = [f"Tree={i}", f"num_leaves={leaves}", "num_cat=0"]
        if leaves > 1:
            n = len(t["split_feature"])
            # A node's value: the cover-weighted mean of its leaves (only reported, not scored).
            def value(c):
                if c < 0:
                    return t["leaf_value"][~c], t["leaf_cover"][~c]
                (vl, wl), (vr, wr) = value(t["left_child"][c]), value(t["right_child"][c])
                return (vl * wl + vr * wr) / max(wl + wr, 1e-300), wl + wr
            lines += [
                "split_feature=" + ints(t["split_feature"]),
                "split_gain=" + " ".join(["0"] * n),
                "threshold=" + fmt(t["threshold"]),
                "decision_type=" + ints((2 if dl else 0) | (missing[mt] << 2)
                                        for dl, mt in zip(t["default_left"], t["missing_type"])),
                "left_child=" + ints(t["left_child"]),
                "right_child=" + ints(t["right_child"]),
            ]
        lines += ["leaf_value=" + fmt(t["leaf_value"]),
                  "leaf_weight=" + fmt(t["leaf_cover"]),
                  "leaf_count=" + ints(t["leaf_cover"])]
        if leaves > 1:
            lines += ["internal_value=" + fmt(value(c)[0] for c in range(n)),
                      "internal_weight=" + fmt(t["internal_cover"]),
                      "internal_count=" + ints(t["internal_cover"])]
        lines += ["is_linear=0", "shrinkage=1"]
        blocks.append("\n".join(lines) + "\n\n")
    header = "\n".join([
        "tree", "version=v4", "num_class=1", "num_tree_per_iteration=1", "label_index=0",
        f"max_feature_idx={len(names) - 1}", f"objective=binary sigmoid:{gbm['sigmoid']}",
        "feature_names=" + " ".join(names), "feature_infos=" + " ".join(["none"] * len(names)),
    ]) + "\n\n"
    return header + "".join(blocks) + "end of trees\n\npandas_categorical:null\n"


def path_tables(gbm, n_features):
    """Per tree and leaf: the leaf's value and its path attributions (woolguard's
    `path_contributions`: each split on the way adds value(child) - value(node) to its feature, a
    node's value being the cover-weighted mean of its leaves)."""
    trees = gbm["trees"]
    width = max(len(t["leaf_value"]) for t in trees)
    values = np.zeros((len(trees), width))
    paths = np.zeros((len(trees), width, n_features))
    for k, t in enumerate(trees):
        n, lv, lc = len(t["split_feature"]), t["leaf_value"], t["leaf_cover"]
        values[k, :len(lv)] = lv
        if n == 0:
            continue
        root = sum((c / t["internal_cover"][0]) * v for v, c in zip(lv, lc))

        def cover(c):
            return t["internal_cover"][c] if c >= 0 else lc[~c]

        def value(c):
            if c < 0:
                return lv[~c]
            if c == 0:
                return root
            l, r = t["left_child"][c], t["right_child"][c]
            return (cover(l) * value(l) + cover(r) * value(r)) / t["internal_cover"][c]

        stack = [(0, np.zeros(n_features))]
        while stack:
            node, phi = stack.pop()
            for child in (t["left_child"][node], t["right_child"][node]):
                step = phi.copy()
                step[t["split_feature"][node]] += value(child) - value(node)
                if child < 0:
                    paths[k, ~child] = step
                else:
                    stack.append((child, step))
    return values, paths


class Scorer:
    def __init__(self, data_dir, model_path):
        t0 = time.perf_counter()
        with open(model_path) as f:
            art = json.load(f)
        self.names = art["features"]
        assert self.names == [n for n, _ in FEATURES], "the artefact's features are not the port's"
        self.describe = dict(FEATURES)
        self.version = art["version"]
        gbm = art["gbm"]
        self.base_score = gbm["base_score"]
        self.booster = lgb.Booster(model_str=lightgbm_model_text(gbm, self.names))
        self.leaf_value, self.leaf_path = path_tables(gbm, len(self.names))
        self.trees = np.arange(len(gbm["trees"]))
        cal = art["calibration"]
        assert cal["method"] == "isotonic", f"calibration {cal['method']} is not ported"
        self.cal_x, self.cal_y = cal["x"], cal["y"]
        self.review, self.reject = art["thresholds"]["review"], art["thresholds"]["reject"]
        self.state, self.members = build_state(data_dir, art["config"]["merge"])
        self.startup = time.perf_counter() - t0

    def probability(self, raw):
        x, y = self.cal_x, self.cal_y
        i = bisect.bisect_right(x, raw)
        p = y[0] if i == 0 else y[-1] if i == len(x) else (
            y[i - 1] + (y[i] - y[i - 1]) * (raw - x[i - 1]) / (x[i] - x[i - 1]))
        return 0.0 if math.isnan(p) else min(max(p, 0.0), 1.0)

    def score(self, c, top=3):
        t = c.get("joined_at")
        t = int(time.time()) if t is None else t
        row = self.state.features(c, t)
        leaves = self.booster.predict(np.array([row]), pred_leaf=True)[0].astype(np.intp)
        phi = self.leaf_path[self.trees, leaves].sum(axis=0).tolist()
        raw = self.base_score + float(self.leaf_value[self.trees, leaves].sum())
        p = self.probability(raw)
        order = sorted((j for j in range(len(phi)) if phi[j] > 0), key=lambda j: (-phi[j], j))
        reasons = []
        for j in order[:top]:
            v = row[j]
            shown = "none" if math.isnan(v) else f"{v:.0f}" if v == int(v) else f"{v:.2f}"
            reasons.append({"code": self.names[j].upper(), "value": None if math.isnan(v) else v,
                            "contribution": float(phi[j]),
                            "text": f"{self.describe[self.names[j]]}: {shown}"})
        decision = "reject" if p >= self.reject else "review" if p >= self.review else "pass"
        return {"probability": p, "quality": min(max(math.floor(100 * (1 - p) + 0.5), 0), 100),
                "decision": decision, "reasons": reasons, "model_version": self.version,
                "list": None, "remedy": None}


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: str | None = None
    joined_at: int | None = None
    channel: str | None = None
    campaign_id: str | None = None
    inviter_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    phone_prefix: str | None = None
    phone_hash: str | None = None
    region: str | None = None
    record: bool = False


def error(status, code, message):
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_app():
    """The app, built once per worker process from the environment that `main` sets."""
    scorer = Scorer(os.environ["PEER_DATA"], os.environ["PEER_MODEL"])
    api_key = os.environ["PEER_API_KEY"]
    print(f"peer: {scorer.members} members, state and model ready in {scorer.startup:.2f}s",
          flush=True)
    app = FastAPI()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/v1/candidates/score")
    async def score(c: Candidate, x_api_key: str | None = Header(default=None)):
        if x_api_key != api_key:
            return error(401, "unauthorized", "missing or wrong x-api-key")
        if c.record:
            return error(400, "record_not_supported", "the peer scores without recording")
        return scorer.score(c.model_dump())

    return app


def main():
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--bind", default="127.0.0.1:8090")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    host, port = a.bind.rsplit(":", 1)
    os.environ.update(PEER_DATA=os.path.abspath(a.data), PEER_MODEL=os.path.abspath(a.model),
                      PEER_API_KEY=a.api_key)
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    print(f"peer: uvicorn on {a.bind}, {a.workers} workers", flush=True)
    uvicorn.run("serve:create_app", factory=True, host=host, port=int(port), workers=a.workers,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
