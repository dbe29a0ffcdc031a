// Look: charts of volume, failures and denials over time, the log's health
// and, for admins, legal holds.

import { getJSON, getText, request } from "./api.js";
import { h, svg, checkLines, alarmBox, errorBox } from "./dom.js";
import { form } from "./filters.js";
import { pinned, verifyCheckpoint } from "./trust.js";

// MAX_ROWS bounds the events a chart counts (ten pages of the query API).
const MAX_ROWS = 10000;

export async function chartsView(main, params, can, go) {
  main.append(h("h1", {}, "Activity"), form(params, can.tenant, (q) => {
    if (params.get("split")) q.set("split", params.get("split"));
    go("look", q);
  }, "Chart"));
  const split = params.get("split") || "";
  main.append(h("p", {}, "Split by ", ["", "tenant_id", "actor", "action", "event_type"].map((s) =>
    h("a", { href: "#/look?" + withParam(params, "split", s), class: s === split ? "current" : "" }, s || "nothing")).flatMap((a) => [a, " "])));
  const q = new URLSearchParams(params);
  q.delete("split");
  q.set("limit", 1000);
  const rows = [];
  let res;
  do {
    res = await getJSON("v1/events?" + q);
    rows.push(...res.events);
    q.set("cursor", res.next_cursor || "");
  } while (res.next_cursor && rows.length < MAX_ROWS);
  const since = Date.parse(res.since), until = Date.parse(res.until);
  main.append(h("p", { class: "note", id: "chart-summary" },
    `${rows.length} events from ${res.since} to ${res.until}${res.next_cursor ? ` (the newest ${MAX_ROWS} only: narrow the window to see all)` : ""}`));
  const buckets = 30, width = (until - since) / buckets;
  const series = { volume: new Array(buckets).fill(0), failure: new Array(buckets).fill(0), denied: new Array(buckets).fill(0) };
  const at = params.get("time") === "received" ? "received_at" : "timestamp";
  for (const row of rows) {
    const t = Date.parse(row.event?.[at]);
    const b = Math.min(buckets - 1, Math.max(0, Math.floor((t - since) / width)));
    series.volume[b]++;
    if (row.event?.result === "failure") series.failure[b]++;
    if (row.event?.result === "denied") series.denied[b]++;
  }
  main.append(h("div", { class: "charts" },
    chart("Events", series.volume, since, width, "volume"),
    chart("Failures", series.failure, since, width, "failure"),
    chart("Denials", series.denied, since, width, "denied")));
  if (split) main.append(splitTable(rows, split));
  performance.mark("charts"); // read by BenchmarkConsole
}

function withParam(params, k, val) {
  const q = new URLSearchParams(params);
  if (val) q.set(k, val); else q.delete(k);
  return q;
}

// chart draws counts per bucket as SVG bars, the window's ends below.
function chart(title, counts, since, width, cls) {
  const W = 300, H = 120, base = H - 14, max = Math.max(1, ...counts), bw = W / counts.length;
  const day = (t) => new Date(t).toISOString().slice(0, 10);
  const bars = counts.map((c, i) => {
    const bh = (c / max) * (base - 20);
    const r = svg("rect", { x: i * bw + 1, y: base - bh, width: Math.max(1, bw - 2), height: bh, class: "bar " + cls });
    r.append(svg("title", {}, `${new Date(since + i * width).toISOString()}: ${c}`));
    return r;
  });
  return h("figure", { class: "chart", "data-testid": "chart-" + cls },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
      ...bars, svg("text", { x: 2, y: 12, class: "axis" }, `max ${max}`),
      svg("text", { x: 2, y: H - 2, class: "axis" }, day(since)),
      svg("text", { x: W - 2, y: H - 2, class: "axis", "text-anchor": "end" }, day(since + width * counts.length))),
    h("figcaption", {}, `${title}: ${counts.reduce((a, b) => a + b, 0)}`));
}

function splitTable(rows, split) {
  const key = (e) => split === "actor" ? (e.actor ? `${e.actor.type}:${e.actor.id}` : "") : (e[split] || "");
  const counts = new Map();
  for (const row of rows) {
    const k = key(row.event || {});
    const c = counts.get(k) || { all: 0, failure: 0, denied: 0 };
    c.all++;
    if (row.event?.result === "failure") c.failure++;
    if (row.event?.result === "denied") c.denied++;
    counts.set(k, c);
  }
  const top = [...counts].sort((a, b) => b[1].all - a[1].all).slice(0, 20);
  return h("table", { class: "results", "data-testid": "split" },
    h("thead", {}, h("tr", {}, [split, "events", "failures", "denials"].map((c) => h("th", {}, c)))),
    h("tbody", {}, top.map(([k, c]) => h("tr", {}, h("td", {}, k || "(none)"), h("td", {}, String(c.all)), h("td", {}, String(c.failure)), h("td", {}, String(c.denied))))));
}

// healthView shows /healthz and the published checkpoint, verified here.
export async function healthView(main) {
  main.append(h("h1", {}, "Log health"));
  const r = await request("healthz").catch((e) => e);
  const health = r instanceof Error ? { status: r.message } : await r.json();
  const cpText = await getText("checkpoint");
  const cp = await verifyCheckpoint(cpText, await pinned.policy());
  main.append(h("table", { class: "fields", "data-testid": "health" }, h("tbody", {},
    row("status", health.status), row("origin", health.origin), row("committed size", health.size),
    row("published size", health.published_size),
    row("witness quorum", health.witness_quorum === undefined ? "no witnesses configured" : health.witness_quorum ? "met" : "NOT met"),
    cp.times ? [...cp.times].map(([w, t]) => row(`last cosignature of ${w}`, t)) : [])));
  main.append(h("h2", {}, "The published checkpoint"), cp.alarm ? alarmBox(cp.alarm) : "", checkLines(cp.lines), h("pre", {}, cpText));
}

function row(k, val) {
  return h("tr", {}, h("th", {}, k), h("td", {}, val === undefined ? "" : String(val)));
}

// holdsView lists legal holds and places and releases them (admins only).
export async function holdsView(main, go) {
  main.append(h("h1", {}, "Legal holds"));
  const { holds } = await getJSON("v1/admin/holds");
  const fields = ["tenant_id", "actor_id", "resource_type", "resource_id", "reason"];
  const f = h("form", { class: "filters", id: "hold-form" }, fields.map((n) => h("label", {}, n, h("input", { name: n, type: "text" }))),
    h("button", { type: "submit" }, "Place hold"));
  const msg = h("span", {});
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries([...new FormData(f)].filter(([, val]) => val));
    try { await request("v1/admin/holds", { method: "POST", body }); go("holds"); } catch (err) { msg.replaceChildren(errorBox(err)); }
  });
  main.append(h("table", { class: "results", "data-testid": "holds" },
    h("thead", {}, h("tr", {}, ["id", "scope", "reason", "placed", "released", ""].map((c) => h("th", {}, c)))),
    h("tbody", {}, holds.map((hd) => h("tr", {},
      h("td", {}, hd.id), h("td", {}, fields.slice(0, 4).filter((k) => hd[k]).map((k) => `${k}=${hd[k]}`).join(" ")),
      h("td", {}, hd.reason), h("td", {}, `${hd.placed} by ${hd.placed_by}`), h("td", {}, hd.released ? `${hd.released} by ${hd.released_by}` : ""),
      h("td", {}, hd.released ? "" : h("button", { type: "button", onclick: async () => {
        try { await request(`v1/admin/holds/${encodeURIComponent(hd.id)}`, { method: "DELETE" }); go("holds"); } catch (err) { msg.replaceChildren(errorBox(err)); }
      } }, "Release")))))),
  h("h2", {}, "Place a hold"), f, msg);
}
