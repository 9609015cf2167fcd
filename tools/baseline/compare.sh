#!/usr/bin/env bash
# Python (Pillow + paho-mqtt) and bangtin on the same corpus, photo and
# Mosquitto, in one invocation; prints the figures and the ratios
# (docs/PERFORMANCE.md has them).
#
#   bash tools/baseline/compare.sh            # everything (~3 minutes)
#   ONLY=text bash tools/baseline/compare.sh  # text | image | publish
#
# Env: VENV (default /tmp/bangtin-baseline-venv; created with pip if
# missing), CARGO_TARGET_DIR, REPEAT (corpus passes, default 3), COUNT
# (frames per publish run, default 20000), RUNS (publish runs each, default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-/tmp/bangtin-baseline-venv}
PY=$VENV/bin/python
if ! $PY -c 'import PIL, numpy, paho.mqtt' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q Pillow numpy paho-mqtt
fi
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin bangtin
BT=$TARGET/release/bangtin
CORPUS=benches/corpus/messages-vi.txt
PHOTO=content/assets/1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714.png
REPEAT=${REPEAT:-3}
COUNT=${COUNT:-20000}
RUNS=${RUNS:-3}
ONLY=${ONLY:-all}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT"/mosq.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ $ONLY == all || $ONLY == text ]]; then
  echo "== text: $(wc -l < $CORPUS) messages x $REPEAT, three profiles"
  $PY tools/baseline/baseline.py text --corpus $CORPUS --repeat "$REPEAT" | tee -a "$OUT/results.jsonl"
  for p in "mono1 128 32" "rgb565 192 96" "rgb888 384 192"; do
    set -- $p
    line=$($BT render --text-file $CORPUS --width "$2" --height "$3" --format "$1" --repeat "$REPEAT")
    echo "$line"
    echo "$line" | $PY -c '
import json, re, sys
l = sys.stdin.read()
m = re.search(r"(\d+) messages x (\d+) -> (\d+) frames .* in ([\d.]+) s", l)
msgs, rep, frames, secs = int(m[1]), int(m[2]), int(m[3]), float(m[4])
print(json.dumps({"impl": "bangtin", "work": "text", "profile": sys.argv[1],
                  "messages": msgs * rep, "frames": frames, "seconds": secs, "fps": frames / secs}))' "$1" >> "$OUT/results.jsonl"
  done
fi

if [[ $ONLY == all || $ONLY == image ]]; then
  echo "== image: $(basename $PHOTO), decode excluded"
  $PY tools/baseline/baseline.py image --photo $PHOTO --repeat 200 | tee -a "$OUT/results.jsonl"
  $BT loadtest image --photo $PHOTO --repeat 200 | tee -a "$OUT/results.jsonl"
fi

if [[ $ONLY == all || $ONLY == publish ]]; then
  PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
log_dest none
EOF
  /usr/sbin/mosquitto -c "$OUT/mosquitto.conf" & echo $! > "$OUT/mosq.pid"
  # Up to 5 s for Mosquitto to listen.
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
  done
  echo "== publish: $COUNT frames of 36,864 bytes to 1,000 topics, QoS 1, retained, Mosquitto on :$PORT; timed by a mosquitto_sub (C) receiver, $RUNS runs each"
  pub() { $PY tools/baseline/baseline.py publish --port "$PORT" --count "$COUNT" "$@" | tee -a "$OUT/results.jsonl"; }
  # Mosquitto's C library, one connection (tools/baseline/cpub.c); needs libmosquitto-dev.
  CPUB=$OUT/cpub
  gcc -O2 -o "$CPUB" tools/baseline/cpub.c -lmosquitto || { echo "no libmosquitto-dev: apt-get install libmosquitto-dev"; CPUB=; }
  # mosquitto_pub itself needs a process per topic: once, for the record.
  pub --impl c --procs 8 --label "c mosquitto_pub x8 procs" --count 8000
  for _ in $(seq "$RUNS"); do
    [[ -n $CPUB ]] && pub --impl libmosquitto --cpub "$CPUB" --inflight 20 --label "c libmosquitto inflight 20"
    [[ -n $CPUB ]] && pub --impl libmosquitto --cpub "$CPUB" --inflight 200 --label "c libmosquitto inflight 200"
    pub --impl paho --label "python paho-mqtt (inflight 20)"
    pub --impl paho --inflight 200 --label "python paho-mqtt (inflight 200)"
    pub --impl cmd --label "bangtin link (player thread)" -- $BT loadtest publish --mqtt "mqtt://127.0.0.1:$PORT" --count "$COUNT" --via thread
    pub --impl cmd --label "bangtin link (async task)" -- $BT loadtest publish --mqtt "mqtt://127.0.0.1:$PORT" --count "$COUNT" --via async
  done
fi

$PY - "$OUT/results.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def med(xs): return statistics.median(xs) if xs else float("nan")
print("\n== ratios (same run, same machine; per core: both sides single-threaded)")
for work in ("text", "image"):
    for prof in ("mono1", "rgb565", "rgb888"):
        py = [r for r in rows if r["work"] == work and r["profile"] == prof and r["impl"] == "python"]
        bt = [r for r in rows if r["work"] == work and r["profile"] == prof and r["impl"] == "bangtin"]
        if not py or not bt:
            continue
        if work == "text":
            pm = py[0]["messages"] / py[0]["seconds"]; bm = bt[0]["messages"] / bt[0]["seconds"]
            print(f"  text  {prof:7} python {pm:8.1f} msg/s ({py[0]['fps']:.0f} frames/s)  bangtin {bm:9.1f} msg/s ({bt[0]['fps']:.0f} frames/s)  ratio {bm/pm:6.1f}x (target 20x)")
        else:
            print(f"  image {prof:7} python {py[0]['fps']:8.1f} frames/s  bangtin {bt[0]['fps']:9.1f} frames/s  ratio {bt[0]['fps']/py[0]['fps']:6.1f}x (target 3x)")
            if "fps_with_prepare" in bt[0]:
                wp = bt[0]["fps_with_prepare"]
                print(f"        {'':7} {'':26}  with the per-asset preparation redone every frame: {wp:9.1f} frames/s  ratio {wp/py[0]['fps']:6.1f}x")
pubs = {}
for r in rows:
    if r["work"] == "publish":
        pubs.setdefault(r["impl"], []).append(r)
if pubs:
    print("  publish (median msg/s over runs; received/sent checked):")
    best_c = max((med([x["msg_s"] for x in v]) for k, v in pubs.items() if k.startswith("c ")), default=float("nan"))
    for k, v in pubs.items():
        m = med([x["msg_s"] for x in v])
        lost = sum(x["sent"] - x["received"] for x in v)
        print(f"    {k:32} {m:9.0f} msg/s  {m*36864/2**20:6.0f} MiB/s  {m/best_c*100:5.1f}% of the best C client{'  LOST %d' % lost if lost else ''}")
EOF
