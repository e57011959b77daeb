// Reads and edits one Outpost record through the standard Automerge sync protocol, using the
// JavaScript Automerge implementation, as any third-party Automerge client would.
//
// usage: node interop.mjs SERVER_URL TOKEN RECORD_ID NEW_TITLE
// prints: {"before": {...}, "after": {...}} as JSON on stdout
import * as Automerge from "@automerge/automerge";

const [url, token, record, newTitle] = process.argv.slice(2);
if (!newTitle) {
  console.error("usage: node interop.mjs SERVER_URL TOKEN RECORD_ID NEW_TITLE");
  process.exit(2);
}

let doc = Automerge.init();
let state = Automerge.initSyncState();

async function exchange() {
  for (let round = 0; round < 50; round++) {
    const [nextState, message] = Automerge.generateSyncMessage(doc, state);
    state = nextState;
    if (message === null) return round;
    const res = await fetch(`${url}/v1/records/${record}/automerge-sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: message,
    });
    if (res.status === 204) continue;
    if (res.status !== 200) {
      throw new Error(`server answered ${res.status}: ${await res.text()}`);
    }
    const reply = new Uint8Array(await res.arrayBuffer());
    [doc, state] = Automerge.receiveSyncMessage(doc, state, reply);
  }
  throw new Error("sync did not settle in 50 rounds");
}

const plain = (d) => ({ kind: String(d.kind ?? ""), name: String(d.name ?? ""), title: String(d.title ?? ""), phones: [...(d.phones ?? [])].map(String) });

await exchange();
const before = plain(doc);
// A scalar (last-writer-wins) string, as Outpost writes its fields.
doc = Automerge.change(doc, { message: JSON.stringify({ u: "js-client", a: "edit" }) }, (d) => {
  d.title = new Automerge.ImmutableString(newTitle);
});
await exchange();
console.log(JSON.stringify({ before, after: plain(doc) }));
