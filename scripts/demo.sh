#!/usr/bin/env bash
# A scripted walk through a field rep's morning, through the real `outpost` CLI, against a fresh
# database in ./demo-data. Everything the rep does works offline; every action is saved at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --quiet -p outpost-cli
OUTPOST="$PWD/target/debug/outpost"
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

say "He checks in at 张伟's office (GPS 22.5431, 113.9480, accurate to 15 m)..."
VISIT=$("$OUTPOST" visit check-in "$ZHANG_ID" --lat 22.5431 --lon 113.9480 --accuracy 15)
VISIT_ID=$(echo "$VISIT" | field id)
echo "$VISIT" | fmt visit

say "...and checks out with notes and a follow-up date."
"$OUTPOST" visit check-out "$VISIT_ID" --notes "演示了新款扫码枪，客户要报价" --next-follow-up 2026-12-01 | fmt visit

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

say "Done. Explore it yourself: OUTPOST_DB=$DB $OUTPOST contact list"
