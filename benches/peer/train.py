"""The training peer: pandas features + LightGBM on a woolguard history, timed by phase.

    python3 benches/peer/train.py DIR [--trees 300] [--leaves 63] [--threads 2]

Reads the contract's Parquet tables, labels members by the default wool rule (a redeemed coupon in
the 120 days after joining and no value given back: no full-price order, or paid under 30, or all
refunded), builds a comparable set of point-in-time features with pandas (sign-up key counts known
before each join, and the member's first 14 days of coupons, orders and points), splits by join
time (60% train, 20% calibration, 20% validation) and trains LightGBM with the same trees and
leaves. Prints each phase's seconds and the validation ROC-AUC against labels (and truth, where
the folder has truth.parquet).
"""
import argparse
import os
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

DAY = 86_400


def seconds(col):
    return col.astype("int64") // 10**9 if str(col.dtype).startswith("datetime64[ns") else (
        col.astype("datetime64[ns, UTC]").astype("int64") // 10**9)


def auc(scores, labels):
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    p = labels.sum()
    q = len(labels) - p
    return (ranks[labels == 1].sum() - p * (p + 1) / 2) / (p * q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t = {}

    t0 = time.perf_counter()
    read = lambda name: pd.read_parquet(os.path.join(a.dir, f"{name}.parquet"))
    m, c, o, p = read("members"), read("coupons"), read("orders"), read("points")
    for df, col in ((m, "joined_at"), (c, "at"), (o, "at"), (p, "at")):
        df[col] = seconds(df[col])
    t["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    m = m.sort_values(["joined_at", "member_id"]).reset_index(drop=True)
    feats = pd.DataFrame(index=m.index)
    for key in ["device_id", "phone_hash", "inviter_id"]:
        feats[f"{key}_accounts"] = m.groupby(key, dropna=True).cumcount().where(m[key].notna())
    m["ip24"] = m["ip"].str.rsplit(".", n=1).str[0]
    feats["ip24_accounts"] = m.groupby("ip24", dropna=True).cumcount().where(m["ip24"].notna())
    feats["virtual_phone"] = m["phone_prefix"].isin(["170", "171", "162", "165", "167"]).astype(float)
    first = m.groupby("campaign_id")["joined_at"].transform("min")
    feats["minutes_from_campaign_start"] = (m["joined_at"] - first) / 60.0
    feats["signup_hour"] = ((m["joined_at"] // 3600) + 8) % 24
    joined = m.set_index("member_id")["joined_at"]
    cut = joined + 14 * DAY

    def early(df):
        df = df.join(cut.rename("cut"), on="member_id")
        return df[df["at"] < df["cut"]]

    ce, oe, pe = early(c), early(o), early(p)
    cf = (ce.assign(coupons_claimed=(ce["event"] == "claim").astype(int),
                    coupons_redeemed=(ce["event"] == "redeem").astype(int))
          .groupby("member_id")[["coupons_claimed", "coupons_redeemed"]].sum())
    og = oe.assign(with_coupon=oe["coupon_id"].notna(), paid=oe["amount"].where(~oe["refunded"], 0.0)).groupby("member_id")
    of = pd.DataFrame({
        "orders": og.size(),
        "paid_total": og["paid"].sum(),
        "coupon_order_share": og["with_coupon"].mean(),
        "refund_share": og["refunded"].mean(),
        "discount_depth": og["discount"].sum() / og["list_amount"].sum().replace(0, np.nan),
    })
    pf = (pe.assign(points_earned=pe["delta"].clip(lower=0), points_spent=(-pe["delta"]).clip(lower=0))
          .groupby("member_id")[["points_earned", "points_spent"]].sum())
    member_feats = cf.join(of, how="outer").join(pf, how="outer")
    X = pd.concat([feats, member_feats.reindex(m["member_id"]).reset_index(drop=True)], axis=1)
    t["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    end = max(c["at"].max(), o["at"].max(), p["at"].max())
    win_end = joined + 120 * DAY
    def inside(df):
        df = df.join(joined.rename("j"), on="member_id").join(win_end.rename("w"), on="member_id")
        return df[(df["at"] >= df["j"]) & (df["at"] < df["w"])]
    took = set(inside(c[c["event"] == "redeem"])["member_id"])
    ow = inside(o)
    kept = ow[~ow["refunded"]]
    net = kept.groupby("member_id")["amount"].sum()
    full = set(kept[kept["coupon_id"].isna()]["member_id"])
    ids = m["member_id"]
    gave = ids.isin(full) & (ids.map(net).fillna(0) >= 30)
    y = (ids.isin(took) & ~gave).astype(int).to_numpy()
    closed = (m["joined_at"] + 120 * DAY <= end).to_numpy()
    t["labels"] = time.perf_counter() - t0

    X, y, idx = X[closed].to_numpy(dtype=float), y[closed], np.flatnonzero(closed)
    n = len(y)
    a_, b_ = int(round(n * 0.6)), int(round(n * 0.8))
    t0 = time.perf_counter()
    pos = y[:a_].sum()
    w = np.where(y[:a_] == 1, (a_ - pos) / max(pos, 1), 1.0)
    ds = lgb.Dataset(X[:a_], y[:a_], weight=w)
    booster = lgb.train({"objective": "binary", "num_leaves": a.leaves, "learning_rate": 0.05,
                         "min_data_in_leaf": 20, "feature_fraction": 0.9, "bagging_fraction": 0.8,
                         "bagging_freq": 1, "lambda_l2": 1.0, "num_threads": a.threads,
                         "deterministic": True, "force_row_wise": True, "verbosity": -1},
                        ds, num_boost_round=a.trees)
    t["gbm"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pv = booster.predict(X[b_:])
    t["predict"] = time.perf_counter() - t0
    res = {"members": len(m), "labelled": n, "features": X.shape[1],
           "roc_auc_labels": round(float(auc(pv, y[b_:])), 3)}
    truth_path = os.path.join(a.dir, "truth.parquet")
    if os.path.exists(truth_path):
        tr = pd.read_parquet(truth_path).set_index("member_id")["is_wool"]
        ty = m["member_id"].map(tr).to_numpy()[idx][b_:]
        res["roc_auc_truth"] = round(float(auc(pv, ty)), 3)
    print(" ".join(f"{k} {v:.2f}s" for k, v in t.items()), "total", f"{sum(t.values()):.2f}s")
    print(res)


if __name__ == "__main__":
    main()
