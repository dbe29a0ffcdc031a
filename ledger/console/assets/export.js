// Export: the current filter as an evidence package (ledger-export/v1, or
// v2 when it carries event keys: the `evidence` Go package's format) in one
// tar file, which `verifier export` checks once unpacked. The rows come from the audited export API;
// the checkpoint is the published one read after the export, so it covers
// every row; each proof is built here from the log's hash tiles and checked
// against that checkpoint before it is written.

import { request } from "./api.js";
import { pinned, verifyCheckpoint } from "./trust.js";
import * as v from "./verify.js";
import { download } from "./dom.js";

// exportPackage builds and downloads the package of the filters in query;
// with eventKeys, each event whose sealed members the reader may open is
// shown opened, with the key that opens just that event.
export async function exportPackage(query, status, eventKeys) {
  status.textContent = "exporting…";
  try {
    const name = await build(query, status, eventKeys);
    status.textContent = `saved ${name}: unpack it with tar -xf and check it with verifier export`;
  } catch (e) {
    status.textContent = "export failed: " + e.message;
  }
}

async function build(filters, status, eventKeys) {
  // The window is made explicit, so that the manifest records it.
  const query = new URLSearchParams(filters);
  const until = query.get("until") ? new Date(query.get("until")) : new Date();
  if (!query.get("until")) query.set("until", rfc3339(until));
  if (!query.get("since")) query.set("since", rfc3339(new Date(until - 30 * 86400e3)));
  const asked = new URLSearchParams(query);
  if (eventKeys) asked.set("event_keys", "true");
  const r = await request("v1/export?" + asked);
  const text = await r.text();
  const rows = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const cpText = await (await request("checkpoint")).text();
  const cp = await verifyCheckpoint(cpText, await pinned.policy());
  if (!cp.ok) throw new Error("the log's checkpoint does not verify: " + cp.lines.filter((l) => l.status === "fail").map((l) => l.detail).join("; "));
  const { size, root, origin } = cp.checkpoint;
  const files = [];
  const stamp = rfc3339(new Date());
  const dir = `ledger-export-${stamp.replace(/[-:]/g, "")}`;
  const events = [];
  let keyed = 0;
  for (const [i, row] of rows.entries()) {
    if (i % 100 === 0) status.textContent = `proving ${i} of ${rows.length}…`;
    const leaf = v.b64.decode(row.leaf);
    const hash = await v.leafHash(leaf);
    const proof = await cp.hashes.inclusion(row.index);
    if (!v.equal(await v.rootFromInclusion(hash, row.index, size, proof), root)) {
      throw new Error(`entry ${row.index}: the export gave a leaf that is not the log's`);
    }
    // The event as its leaf holds it, not as the API shows it: a reader is
    // shown sealed members in clear, which no proof covers; unless the
    // row carries the event key that opens them, which the verifier uses
    // to check them against the leaf.
    const out = { index: row.index, leaf_hash: v.b64.encode(hash), leaf: row.leaf };
    if (row.event_key) {
      Object.assign(out, { event: row.event, event_key: row.event_key });
      keyed++;
    } else {
      out.event = row.event == null ? null : leafEvent(leaf);
    }
    events.push(JSON.stringify(out).replace(/[<>&]/g, (c) => "\\u00" + c.charCodeAt(0).toString(16)));
    files.push([`proofs/${row.index}.tlog-proof`, v.proofText(row.index, proof, cpText, leaf)]);
  }
  const manifest = {
    format: keyed ? "ledger-export/v2" : "ledger-export/v1", origin, tree_size: size, root_hash: v.b64.encode(root),
    created: stamp, count: rows.length, filters: Object.fromEntries(query),
  };
  const all = [["checkpoint", cpText], ["events.ndjson", events.map((e) => e + "\n").join("")], ...files,
    ["manifest.json", JSON.stringify(manifest, null, 2) + "\n"]];
  const name = dir + ".tar";
  download(name, tar(dir, all), "application/x-tar");
  return name;
}

// leafEvent is the event a leaf encodes: its JSON without the version.
function leafEvent(leaf) {
  const { v: _version, ...event } = JSON.parse(new TextDecoder().decode(leaf));
  return event;
}

const rfc3339 = (d) => d.toISOString().replace(/\.\d+Z$/, "Z");

// tar writes a POSIX ustar archive of the files under dir/.
export function tar(dir, files) {
  const blocks = [];
  const enc = new TextEncoder();
  const header = (path, size, type) => {
    const b = new Uint8Array(512);
    const put = (off, len, s) => b.set(enc.encode(s).slice(0, len), off);
    put(0, 100, path);
    put(100, 8, type === "5" ? "0000755\0" : "0000644\0");
    put(108, 8, "0000000\0");
    put(116, 8, "0000000\0");
    put(124, 12, size.toString(8).padStart(11, "0") + "\0");
    put(136, 12, Math.floor(Date.now() / 1000).toString(8).padStart(11, "0") + "\0");
    put(148, 8, "        ");
    put(156, 1, type);
    put(257, 8, "ustar\u000000");
    const sum = b.reduce((a, x) => a + x, 0);
    put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    return b;
  };
  const dirs = new Set([dir + "/"]);
  for (const [p] of files) if (p.includes("/")) dirs.add(`${dir}/${p.slice(0, p.lastIndexOf("/"))}/`);
  for (const d of dirs) blocks.push(header(d, 0, "5"));
  for (const [p, content] of files) {
    const data = typeof content === "string" ? enc.encode(content) : content;
    blocks.push(header(`${dir}/${p}`, data.length, "0"), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return v.concat(...blocks);
}
