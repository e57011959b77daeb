"""Formats the outpost CLI's JSON for the demo, in words a rep would read."""
import json
import sys


def contact(c):
    extra = ", ".join(f"{k}={v}" for k, v in c["extra"].items())
    print(f"   {c['name']} | {c.get('title') or ''} @ {c.get('company') or ''}")
    line = f"   phones: {', '.join(c['phones']) or '-'} | emails: {', '.join(c['emails']) or '-'} | status: {c['status']}"
    print(line + (f" | extra: {extra}" if extra else ""))


def names(results):
    print("   " + (", ".join(f"{c['name']} ({c.get('company') or '-'})" for c in results) or "(nothing found)"))


def visit(v):
    if v["status"] == "open":
        print(f"   checked in on {v['day']} at {v['device_time']}, accuracy {v['accuracy_m']} m")
    else:
        print(f"   visit {v['status']}: {v['notes']} — follow up on {v['next_follow_up']}")


def history(entries):
    for h in entries:
        shown = [c for c in h["changes"] if c["field"] in ("name", "title", "phones", "status")]
        changes = "; ".join(f"{c['field']}: {c['old'] or '∅'} → {c['new'] or '∅'}" for c in shown)
        print(f"   {h['at']}  {h['actor']:<6} {h['action']:<10} {changes}")


def status(s):
    counts = ", ".join(f"{r['count']} {r['kind']} {r['status']}" for r in s["records"])
    print(f"   {counts}; {s['outbox_len']} changes waiting to sync; {s['size_bytes'] // 1024} KiB at {s['path']}")


def sync(r):
    extra = ""
    if r.get("rejected"):
        extra += f", refused {r['rejected']}"
    if r.get("purged") or r.get("fetched"):
        extra += f", scope: purged {r.get('purged', 0)} fetched {r.get('fetched', 0)}"
    print(f"   sync: pushed {r['pushed']}, pulled {r['pulled']}, conflicts {r['conflicts']}{extra}, status {r['status']} (cursor {r['cursor']})")


def enrolled(e):
    print(f"   enrolled with the code: device {e['device_id'][:13]}..., user {e['user']} ({e['role']}); the token is kept by the app, never shown")


def backup(b):
    print(f"   backup: {b['bytes'] // 1024} KiB, {b['tenants']} tenant, {b['log_entries']} log entries, {b['blobs']} files in {b['file']}")


def devices(ds):
    for d in ds:
        print(f"   device {d['device_id'][:13]}... {d['user']} ({d['role']}): last sync {d['last_sync_at']}, {d['app_version']}, outbox {d['outbox']}")


def rejected(s):
    for r in s.get("rejected", []):
        print(f"   refused: {r['kind']} {r['record_id']}: {r['reason']}")


def access(a):
    print(f"role {a['role']}, may read amounts: {'field:amount:read' in a['permissions']}")


def deal_line(d):
    amount = d.get("amount")
    print(f"   {d['title']} · stage {d['stage']} · amount {'(not visible to this role)' if amount is None else amount}")


def contact_line(c):
    print(f" {c['name']} | {c.get('title') or ''} @ {c.get('company') or ''} | wechat={c['extra'].get('wechat', '-')} | {c['sync_state']}")


def conflicts(fields):
    for f in fields:
        values = ", ".join(f"{v['value']} (by {v['actor']})" for v in f["values"])
        print(f"   conflict on {f['field']}: {values}; shown everywhere: {f['values'][0]['value']}")


def count(items):
    print(len(items))


def scan(r):
    found = "found" if r["document_found"] else "NOT found (whole photo read)"
    print(f"   outline {found}, confidence {r['corner_confidence']:.2f}; turned {r['rotation']}° to read upright; "
          f"flat {r['width']}x{r['height']}")
    t = r["timings_ms"]
    total = sum(t[k] for k in ("decode", "detect", "enhance", "ocr", "extract"))
    print(f"   {total:.0f} ms: decode {t['decode']:.0f}, outline {t['detect']:.0f}, flatten {t['enhance']:.0f}, "
          f"read {t['ocr']:.0f} (boxes {t['ocr_detect']:.0f}, lines {t['ocr_recognize']:.0f}), fields {t['extract']:.0f}")
    f = r["fields"]
    for name in ("name", "title", "company", "address", "website"):
        if f.get(name):
            print(f"   {name:<8} {f[name]['value']}  ({f[name]['confidence']:.2f})")
    for name in ("phones", "emails"):
        for v in f.get(name) or []:
            print(f"   {name[:-1]:<8} {v['value']}  ({v['confidence']:.2f})")
    for w in r["warnings"]:
        print(f"   warning: {w}")
    if "contact" in r:
        c = r["contact"]
        print(f"   saved as contact {c['name']} ({c['id'][:8]}…); possible duplicates: "
              + (", ".join(f"{d['name']} [{', '.join(d['reasons'])}]" for d in r["duplicates"]) or "none"))


def field(d, path):
    for part in path.split("."):
        d = d[int(part)] if part.isdigit() else d[part]
    print(d)


if __name__ == "__main__":
    data = json.load(sys.stdin)
    what = sys.argv[1]
    if what == "field":
        field(data, sys.argv[2])
    else:
        globals()[what](data)
