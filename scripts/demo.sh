#!/usr/bin/env bash
# A scripted walk through a field rep's morning, through the real `outpost` CLI, against a fresh
# database in ./demo-data. Everything the rep does works offline; every action is saved at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --quiet -p outpost-cli -p outpost-server
cargo build --quiet -p outpost-tests --example card_photo
OUTPOST="$PWD/target/debug/outpost"
SERVER_BIN="$PWD/target/debug/outpost-server"
DATA="$PWD/demo-data"
mkdir -p "$DATA"
DB="$DATA/rep-$(date +%Y%m%d-%H%M%S).db"
export OUTPOST_DB="$DB" OUTPOST_USER="王小明"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fmt() { python3 "$PWD/scripts/demo_fmt.py" "$@"; }
field() { fmt field "$1"; }
show_contact() { fmt contact; }
names() { fmt names; }

say "Sales rep 王小明 starts the day offline, with a fresh store at $DB"

say "He enters a new customer from a trade fair. The phone is typed with spaces; Outpost stores it as E.164."
ZHANG=$("$OUTPOST" contact add --name 张伟 --company 深圳市华强科技有限公司 --title 采购经理 \
    --phone "138 0013 8000" --phone 0755-52659655 --email " Zhang.Wei@HuaQiang.com " \
    --address 广东省深圳市南山区科技园 --source 展会 --set wechat=zhangwei_88)
echo "$ZHANG" | show_contact
ZHANG_ID=$(echo "$ZHANG" | field id)

"$OUTPOST" contact add --name 王芳 --company 广州白云贸易有限公司 --title 总经理 --phone "+86 139-2233-4455" >/dev/null
"$OUTPOST" contact add --name "Michael Chen" --company "Acme Trading Ltd" --phone "+852 2123 4567" --email MChen@acme.hk >/dev/null
echo "   ...and two more: 王芳 (广州白云贸易) and Michael Chen (Acme Trading, Hong Kong)."

say "A typo in a phone number is refused, naming the field; nothing is saved."
if "$OUTPOST" contact add --name 李四 --phone "138 0013" 2>"$DATA/err.txt"; then echo "unexpected success"; exit 1; fi
echo "   $(cat "$DATA/err.txt")"

say "Search works on any part of Chinese text, Latin prefixes and phone digits:"
for q in 张 华强 科技园 mich 8000; do
    printf '   %s →' "$q"; "$OUTPOST" search "$q" | names
done

say "At the fair he photographs a business card on the table (a synthetic phone photo, 3000x2250 JPEG)."
CARD_JPG="$DATA/card-photo.jpg"
TRUTH=$("$PWD/target/debug/examples/card_photo" "$CARD_JPG" 7 3)
echo "   printed on the card: $TRUTH"
say "outpost scan finds the card, flattens it, reads it with PP-OCR on the device and creates the contact:"
"$OUTPOST" scan "$CARD_JPG" --create-contact --out "$DATA/card-flat.png" | fmt scan
echo "   (flat colour image: $DATA/card-flat.png)"

say "He checks in at 张伟's office (GPS 22.5431, 113.9480, accurate to 15 m)..."
VISIT=$("$OUTPOST" visit check-in "$ZHANG_ID" --lat 22.5431 --lon 113.9480 --accuracy 15)
VISIT_ID=$(echo "$VISIT" | field id)
echo "$VISIT" | fmt visit

say "...and checks out with notes and a follow-up date."
"$OUTPOST" visit check-out "$VISIT_ID" --notes "演示了新款扫码枪，客户要报价" --next-follow-up 2026-12-01 | fmt visit

say "The phone judged the check-in: its verdict, and (张伟 had no location yet) it became his location."
echo "   verdict: $(echo "$VISIT" | field check.verdict) · customer located: $(echo "$VISIT" | field contact_located)"

say "He opens a deal for 张伟 and tries to jump to 'proposal' without a quotation: refused, naming the evidence."
DEAL_ID=$("$OUTPOST" deal add --contact "$ZHANG_ID" --title "扫码枪 200 台" --amount 360000 | field id)
if "$OUTPOST" deal move "$DEAL_ID" proposal 2>"$DATA/err.txt"; then echo "unexpected success"; exit 1; fi
echo "   $(cat "$DATA/err.txt")"
echo "   moving to qualified needs nothing: now $("$OUTPOST" deal move "$DEAL_ID" qualified | field stage)"

say "His list for the follow-up day, best first, each customer with its reasons (offline):"
TODAY=$("$OUTPOST" today --date 2026-12-01)
echo "   1. $(echo "$TODAY" | field 0.name): $(echo "$TODAY" | field 0.reasons.0.detail)"

say "张伟 was promoted: his manager updates the title."
OUTPOST_USER="李经理" "$OUTPOST" contact edit "$ZHANG_ID" --title 采购总监 | show_contact

say "Who changed what, when (from the record's own change history):"
"$OUTPOST" contact history "$ZHANG_ID" | fmt history

say "王芳 turns out to be a duplicate entry; it is marked invalid (never deleted) and disappears from lists."
WANG_ID=$("$OUTPOST" search 王芳 | field 0.id)
"$OUTPOST" contact invalidate "$WANG_ID" --reason "重复录入" >/dev/null
printf '   contact list now: '; "$OUTPOST" contact list | names
printf '   still answerable by id: '; "$OUTPOST" contact get "$WANG_ID" | field status

say "Everything is queued for the server when the signal comes back:"
"$OUTPOST" status | fmt status

say "Back in signal range. The team's sync server runs on its embedded storage (no database to set up):"
export OUTPOST_DATA="$DATA/server-$(date +%H%M%S)"
mkdir -p "$OUTPOST_DATA"
"$SERVER_BIN" serve --listen 127.0.0.1:0 2>"$DATA/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$DATA/server.log" 2>/dev/null && break
    sleep 0.1
done
URL="http://$(grep -o 'listening on [0-9.:]*' "$DATA/server.log" | head -1 | cut -d' ' -f3)"
echo "   outpost-server listening at $URL (data in $OUTPOST_DATA)"
TENANT=$("$SERVER_BIN" tenant create 华强销售部 | field id)
"$SERVER_BIN" team create 华南一组 --manager 李经理 --tenant "$TENANT" >/dev/null
"$SERVER_BIN" team add 华南一组 王小明 --tenant "$TENANT" >/dev/null
CODE_A=$("$SERVER_BIN" device invite --tenant "$TENANT" --user 王小明 --role rep \
    --qr "$DATA/invite-rep.png" --server "$URL" | field code)
CODE_B=$("$SERVER_BIN" device invite --tenant "$TENANT" --user 李经理 --role manager | field code)
echo "   the admin made team 华南一组 (manager 李经理, rep 王小明) and invited 王小明's phone (rep, code $CODE_A, also as a QR code in $DATA/invite-rep.png) and 李经理's tablet (manager, code $CODE_B); each code works once, for 24 h"
echo "   the tenant is private: a rep sees his own customers, a manager his team's; deal amounts only for managers and up"

say "王小明's phone syncs its morning. Everything goes through except the deal amount he typed: reps may not write amounts."
"$OUTPOST" enroll --server "$URL" --code "$CODE_A" | fmt enrolled
"$OUTPOST" sync | fmt sync
"$OUTPOST" status | fmt rejected
say "The manager's tablet bootstraps and receives his team's customers:"
DB_B="$DATA/manager-$(date +%H%M%S).db"
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" enroll --server "$URL" --code "$CODE_B" | fmt enrolled
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" sync | fmt sync
printf '   on the tablet:'; OUTPOST_DB="$DB_B" "$OUTPOST" contact list | fmt names
say "The manager enters the amount. It is stored apart from the deal and never reaches a rep's phone:"
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" deal set-field "$DEAL_ID" amount 360000 | fmt deal_line
OUTPOST_DB="$DB_B" "$OUTPOST" sync >/dev/null
"$OUTPOST" sync >/dev/null
printf '   on the phone: '; "$OUTPOST" access --json | fmt access

say "Both go offline again. The rep adds 张伟's WeChat; the manager fixes his company name:"
"$OUTPOST" contact edit "$ZHANG_ID" --set wechat=zw_new >/dev/null
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" contact edit "$ZHANG_ID" --company 华强科技集团 >/dev/null
say "...and both change his title at the same time, differently:"
"$OUTPOST" contact edit "$ZHANG_ID" --title 采购副总 >/dev/null
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" contact edit "$ZHANG_ID" --title 供应链总监 >/dev/null
echo "   phone: title 采购副总 · tablet: title 供应链总监"

say "They sync. Different fields merge; the same field converges to one winner on both, and the conflict is shown:"
"$OUTPOST" sync | fmt sync
OUTPOST_DB="$DB_B" "$OUTPOST" sync | fmt sync
"$OUTPOST" sync | fmt sync
printf '   phone :'; "$OUTPOST" contact get "$ZHANG_ID" | fmt contact_line
printf '   tablet:'; OUTPOST_DB="$DB_B" "$OUTPOST" contact get "$ZHANG_ID" | fmt contact_line
"$OUTPOST" contact conflicts "$ZHANG_ID" | fmt conflicts

say "The manager picks the right title; after the next sync the conflict is gone everywhere:"
OUTPOST_DB="$DB_B" OUTPOST_USER="李经理" "$OUTPOST" contact resolve "$ZHANG_ID" title 供应链总监 >/dev/null
OUTPOST_DB="$DB_B" "$OUTPOST" sync >/dev/null
"$OUTPOST" sync >/dev/null
printf '   phone :'; "$OUTPOST" contact get "$ZHANG_ID" | fmt contact_line
printf '   conflicts left: '; "$OUTPOST" contact conflicts "$ZHANG_ID" | fmt count

say "The team's health report on the server, from the metrics each device sent (at its first sync, after a sync that delivered records it created, else every 10 minutes; debug build; every CLI call is a new process that first loads the phone-number and division tables, which an app does once):"
"$SERVER_BIN" report health --tenant "$TENANT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
ratio = r["offline_synced_ratio"]
print("   records created offline that reached the server: %d/%d (target %.1f%%, met: %s)"
      % (r["offline_synced"], r["offline_created"], ratio["target"] * 100, ratio["met"]))
for name, t in sorted(r["action_ms"].items()):
    print("   %-22s %3d actions, p50 %d ms, p95 %d ms" % (name, t["count"], t["p50"], t["p95"]))
print("   failed syncs by reason: %s" % (r["sync_failures"] or "none"))
'

say "The operator backs the server up while it serves (docs/operations.md) and sees when each device last synced:"
"$SERVER_BIN" backup --to "$DATA/backup-$(date +%H%M%S).db" | fmt backup
"$SERVER_BIN" device list --tenant "$TENANT" | fmt devices

say "Stopping the server cleanly."
kill -TERM $SERVER_PID
wait $SERVER_PID 2>/dev/null || true
trap - EXIT
echo "   stopped; its data stays in $OUTPOST_DATA"

say "Done. Explore it yourself: OUTPOST_DB=$DB $OUTPOST contact list"
