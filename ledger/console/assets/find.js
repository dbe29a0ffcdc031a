// Find: the query form, a page of results, and an event's page with its
// fields, leaf, receipt, proof and the checks of all of them.

import { getJSON, getText } from "./api.js";
import { h, checkLines, alarmBox, errorBox, download } from "./dom.js";
import { form } from "./filters.js";
import { pinned, verifyCheckpoint } from "./trust.js";
import * as v from "./verify.js";
import { exportPackage } from "./export.js";

const PAGE = 50;

// findView shows the form and one page of results for the query in params
// (filters, and cursor for a later page).
export async function findView(main, params, can, go) {
  main.append(h("h1", {}, "Find events"),
    form(params, can.tenant, (q) => go("find", q)));
  if (can.export) {
    const status = h("span", { class: "note", id: "export-status" });
    const keys = h("input", { type: "checkbox", id: "export-keys" });
    main.append(h("p", {}, h("button", {
      id: "export", type: "button",
      onclick: () => exportPackage(withoutCursor(params), status, keys.checked),
    }, "Download evidence package (.tar)"), " ",
    h("label", { for: "export-keys" }, keys, " with event keys (sealed members in clear: the package then holds personal data)"), " ", status));
  }
  const q = withoutCursor(params);
  q.set("limit", params.get("limit") || PAGE);
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const res = await getJSON("v1/events?" + q);
  main.append(h("p", { class: "note", id: "result-summary" },
    `${res.events.length} events${res.next_cursor ? " (more on the next page)" : ""}, newest first; window ${res.since} to ${res.until}; tree size ${res.tree_size}`));
  main.append(h("table", { class: "results", "data-testid": "results" },
    h("thead", {}, h("tr", {}, ["index", params.get("time") === "received" ? "received" : "time", "tenant", "event type", "action", "actor", "resource", "result"].map((c) => h("th", {}, c)))),
    h("tbody", {}, res.events.map((row) => {
      const e = row.event || {};
      return h("tr", { class: "result-" + (e.result || "none") },
        h("td", {}, h("a", { href: `#/event/${row.index}`, class: "event-link" }, String(row.index))),
        h("td", {}, (params.get("time") === "received" ? e.received_at : e.timestamp) || ""), h("td", {}, e.tenant_id || ""), h("td", {}, e.event_type || ""),
        h("td", {}, e.action || ""), h("td", {}, e.actor ? `${e.actor.type}:${e.actor.id}` : ""),
        h("td", {}, e.resource ? `${e.resource.type}${e.resource.id ? ":" + e.resource.id : ""}` : ""),
        h("td", {}, e.result || ""));
    }))));
  const nav = h("p", { class: "paging" });
  if (params.get("cursor")) nav.append(h("button", { type: "button", id: "prev-page", onclick: () => history.back() }, "← newer"));
  if (res.next_cursor) {
    const next = new URLSearchParams(params);
    next.set("cursor", res.next_cursor);
    nav.append(h("a", { href: "#/find?" + next, id: "next-page" }, "older →"));
  }
  main.append(nav);
  performance.mark("first-result"); // read by BenchmarkConsole
}

// withoutCursor is the query's filters: no page position.
function withoutCursor(params) {
  const q = new URLSearchParams(params);
  q.delete("cursor");
  q.delete("limit");
  return q;
}

// eventView shows entry index: its event as its leaf encodes it, the leaf,
// the receipt (a tlog-proof) and the checks, made here.
export async function eventView(main, index) {
  main.append(h("h1", {}, `Event ${index}`));
  const [ev, proofText] = await Promise.all([getJSON(`v1/events/${index}`), getText(`v1/proof/${index}`)]);
  const leaf = v.b64.decode(ev.leaf);
  const checks = h("section", { id: "verification" }, h("h2", {}, "Verification"), h("p", { class: "note" }, "checking…"));
  main.append(checks);
  let decoded = null;
  try { decoded = JSON.parse(v.utf8.decode(leaf)); } catch { /* shown as not an event below */ }
  const fields = decoded && typeof decoded === "object" ? flatten(decoded) : [["leaf", "not a JSON event"]];
  main.append(h("section", {}, h("h2", {}, "Fields (decoded from the leaf)"),
    h("table", { class: "fields", "data-testid": "fields" }, h("tbody", {}, fields.map(([k, val]) => h("tr", {}, h("th", {}, k), h("td", {}, val)))))));
  main.append(h("section", {}, h("h2", {}, "Leaf"), h("pre", { class: "leaf", id: "leaf" }, safeText(leaf))));
  main.append(h("section", {}, h("h2", {}, "Receipt and proof"),
    h("p", {}, h("button", { type: "button", onclick: () => download(`${index}.tlog-proof`, proofText, "text/plain") }, "Download receipt"),
      " check it offline with ", h("code", {}, `verifier proof ${index}.tlog-proof --vkey …`)),
    h("pre", { class: "proof", id: "proof" }, proofText)));
  const { lines, alarm } = await verifyEvent(index, leaf, ev.event, proofText);
  checks.replaceChildren(h("h2", {}, "Verification"), alarm ? alarmBox(alarm) : "", checkLines(lines),
    h("p", { class: "verdict " + (lines.every((l) => l.status !== "fail") ? "ok" : "fail"), id: "verdict" },
      lines.every((l) => l.status !== "fail") ? "verified: this event is in the log the pinned key signs" : "NOT verified"));
  performance.mark("verified"); // read by BenchmarkConsole
}

// verifyEvent checks the leaf, the server's decoding of it, the receipt's
// checkpoint (signatures, quorum, consistency with the state) and the
// inclusion proof.
export async function verifyEvent(index, leaf, serverEvent, proofText) {
  const lines = [];
  let proof;
  try {
    proof = v.parseProof(proofText);
  } catch (e) {
    return { lines: [v.fail("receipt", e.message)] };
  }
  const hash = await v.leafHash(leaf);
  lines.push(v.info("leaf hash", `${v.b64.encode(hash)} (SHA-256 of 0x00 and the ${leaf.length} leaf bytes)`));
  lines.push(proof.index === index ? v.pass("receipt index", `${index}`) : v.fail("receipt index", `the receipt is for entry ${proof.index}, not ${index}`));
  if (proof.extra && !v.equal(proof.extra, leaf)) lines.push(v.fail("receipt leaf", "the receipt carries other leaf bytes than the event"));
  lines.push(sameEvent(leaf, serverEvent));
  const cp = await verifyCheckpoint(proof.checkpoint, await pinned.policy());
  lines.push(...cp.lines);
  if (cp.checkpoint) {
    try {
      const r = await v.rootFromInclusion(hash, index, cp.checkpoint.size, proof.hashes);
      lines.push(v.equal(r, cp.checkpoint.root)
        ? v.pass("inclusion", `entry ${index} is in the tree of size ${cp.checkpoint.size} (${proof.hashes.length} hashes)`)
        : v.fail("inclusion", `the leaf hash and the proof lead to ${v.b64.encode(r)}, not the signed root: the entry or its proof was altered`));
    } catch (e) {
      lines.push(v.fail("inclusion", e.message));
    }
  }
  return { lines, alarm: cp.alarm };
}

// sameEvent checks that the event the server decoded is its leaf's.
function sameEvent(leaf, serverEvent) {
  try {
    const { v: _, ...own } = JSON.parse(v.utf8.decode(leaf));
    return canonical(own) === canonical(serverEvent)
      ? v.pass("event", "the server's event is the one its leaf encodes")
      : v.fail("event", "the server's event differs from its leaf; the fields shown are the leaf's");
  } catch (e) {
    return v.fail("event", `the leaf is not a JSON event: ${e.message}`);
  }
}

function canonical(x) {
  if (Array.isArray(x)) return "[" + x.map(canonical).join(",") + "]";
  if (x && typeof x === "object") return "{" + Object.keys(x).sort().map((k) => JSON.stringify(k) + ":" + canonical(x[k])).join(",") + "}";
  return JSON.stringify(x);
}

function flatten(obj, prefix = "") {
  return Object.entries(obj).flatMap(([k, val]) => val && typeof val === "object" && !Array.isArray(val) && Object.keys(val).length
    ? flatten(val, prefix + k + ".")
    : [[prefix + k, typeof val === "string" ? val : JSON.stringify(val)]]);
}

function safeText(bytes) {
  try { return v.utf8.decode(bytes); } catch { return v.b64.encode(bytes); }
}
