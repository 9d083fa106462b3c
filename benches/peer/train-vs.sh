#!/usr/bin/env bash
# `woolguard train` against the training peer (benches/peer/train.py: pandas features + LightGBM
# from Python), side by side in one run. For each size: generate the history (seed 7) unless it
# is there, then the peer and woolguard one after the other, each under `/usr/bin/time -v`, with
# the load average noted before each; then one table.
#
#   bash benches/peer/train-vs.sh [--sizes 200000,1000000] [--dir /tmp/tr]
#                                 [--bin target/release/woolguard] [--config training/wool.toml]
#
# The peer needs `pip install lightgbm pandas pyarrow`. Outputs stay in DIR (peer-N.out,
# wg-N.out, and their *.time files); remove DIR afterwards (a 1,000,000-member history is 350 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."

sizes=200000,1000000
dir=/tmp/tr
bin=target/release/woolguard
config=training/wool.toml
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    *) echo "unknown flag $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done
if ! python3 -c 'import lightgbm, pandas, pyarrow' 2>/dev/null; then
  echo "the peer needs: pip install lightgbm pandas pyarrow" >&2
  exit 2
fi
if [ ! -x "$bin" ]; then
  echo "$bin is not built: cargo build --release" >&2
  exit 2
fi
mkdir -p "$dir"

load() { cut -d' ' -f1 /proc/loadavg; }
# Wall seconds from GNU time's "h:mm:ss" or "m:ss.ss".
wall() {
  grep 'Elapsed (wall clock)' "$1" | awk -F': ' '{print $2}' |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }'
}
peak_mb() {
  grep 'Maximum resident set size' "$1" | awk -F': ' '{printf "%.0f", $2 / 1024}'
}

table=()
for n in ${sizes//,/ }; do
  data="$dir/g$n"
  if [ ! -f "$data/members.parquet" ]; then
    echo "generating $n members into $data" >&2
    "$bin" generate --members "$n" --seed 7 --out "$data" >/dev/null 2>&1
  fi
  load_peer=$(load)
  echo "$n members: the peer (load average $load_peer)" >&2
  /usr/bin/time -v python3 benches/peer/train.py "$data" >"$dir/peer-$n.out" 2>"$dir/peer-$n.time"
  load_wg=$(load)
  echo "$n members: woolguard train (load average $load_wg)" >&2
  /usr/bin/time -v "$bin" train --data "$data" --config "$config" --out "$dir/m$n" \
    >"$dir/wg-$n.out" 2>"$dir/wg-$n.time"
  peer_auc=$(grep -o "'roc_auc_labels': [0-9.]*, 'roc_auc_truth': [0-9.]*" "$dir/peer-$n.out" |
    awk '{gsub(",", ""); print $2 " / " $4}')
  # The gbm rows of the validation tables: against labels, then against the truth.
  wg_auc=$(awk '$1 == "gbm" {print $4}' "$dir/wg-$n.out" | head -2 | paste -sd/ | sed 's|/| / |')
  peer_phases=$(grep '^read ' "$dir/peer-$n.out" || true)
  phases=$(grep '^time:' "$dir/wg-$n.out" | sed 's/^time: //')
  table+=("| $n | $(wall "$dir/peer-$n.time") s, $(peak_mb "$dir/peer-$n.time") MB (load $load_peer) | $(wall "$dir/wg-$n.time") s, $(peak_mb "$dir/wg-$n.time") MB (load $load_wg) | $peer_auc | $wg_auc | $peer_phases | $phases |")
done

echo "| members | peer: wall, peak memory | woolguard train: wall, peak memory | peer ROC-AUC labels / truth | woolguard GBM ROC-AUC labels / truth | peer phases (s) | woolguard phases |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"
