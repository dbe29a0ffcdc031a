// The console's entry point: sign-in, the navigation (only what the
// token's role may use) and the routes of the page's fragment.

import { token, session, can as canOf, getJSON } from "./api.js";
import { h, errorBox } from "./dom.js";
import { findView, eventView } from "./find.js";
import { chartsView, healthView, holdsView } from "./look.js";
import { pinned, state } from "./trust.js";

const main = document.getElementById("view");
const nav = document.getElementById("nav");

// go shows a route: #/name?query.
function go(name, query) {
  const target = `#/${name}${query && String(query) ? "?" + query : ""}`;
  if (location.hash === target) route();
  else location.hash = target;
}

let current = 0;

async function route() {
  const run = ++current;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  const [name, arg] = path.split("/");
  const view = h("div", {});
  main.replaceChildren(view);
  let s;
  try {
    s = await session();
  } catch (e) {
    if (e.status === 401) token.clear();
    s = null;
  }
  if (run !== current) return;
  if (!s || (s.access_control && !s.token)) return signIn(view, s ? "" : "the token was refused");
  const can = canOf(s);
  showNav(can, s);
  try {
    const home = can.find ? "find" : can.holds ? "holds" : "health";
    switch (name || home) {
      case "find": if (can.find) return await findView(view, params, can, go); break;
      case "event": if (can.find) return await eventView(view, Number(arg)); break;
      case "look": if (can.find) return await chartsView(view, params, can, go); break;
      case "holds": if (can.holds) return await holdsView(view, go); break;
      case "health": return await healthView(view);
      case "trust": return await trustView(view);
      case "signin": return signIn(view, "");
    }
    view.append(h("p", { class: "error" }, `a ${can.role} token may not see this page`));
  } catch (e) {
    view.append(errorBox(e));
  }
}

function showNav(can, s) {
  const link = (to, label) => h("a", { href: "#/" + to, id: "nav-" + to }, label);
  nav.replaceChildren(...[
    can.find && link("find", "Find"), can.find && link("look", "Activity"), link("health", "Health"),
    can.holds && link("holds", "Legal holds"), link("trust", "Trust"),
    h("span", { class: "who", id: "who" }, s.access_control ? `${s.token.role}${s.token.tenant ? " of tenant " + s.token.tenant : ""} · ${s.token.name || "token " + s.token.id}` : "open ledger (no access control)"),
    s.access_control && h("button", { type: "button", id: "sign-out", onclick: () => { token.clear(); go("signin"); } }, "Sign out"),
  ].filter(Boolean));
}

function signIn(view, problem) {
  nav.replaceChildren();
  const input = h("input", { type: "password", id: "token", autocomplete: "off", required: true, placeholder: "API token" });
  const f = h("form", { id: "signin" }, h("label", { for: "token" }, "API token"), input, h("button", { type: "submit" }, "Sign in"));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    go("");
  });
  view.append(h("h1", {}, "Sign in"),
    h("p", {}, "The token is kept in this tab's session storage only, and sent to the ledger as a bearer header."),
    problem && h("p", { class: "error" }, problem), f);
}

// trustView pins the log key or witness policy, and shows the server's copy
// beside it without ever using it.
async function trustView(view) {
  const area = h("textarea", { id: "pinned", rows: 8, spellcheck: "false" }, pinned.text());
  const msg = h("p", { id: "pin-status" });
  const file = h("input", { type: "file", id: "pin-file" });
  file.addEventListener("change", async () => { area.value = await file.files[0].text(); });
  const save = async () => {
    try { await pinned.set(area.value); msg.replaceChildren("pinned"); msg.className = "ok"; } catch (e) { msg.replaceChildren(e.message); msg.className = "error"; }
  };
  const server = await getJSON("console/trust");
  const mine = pinned.text().trim();
  const serverText = (server.policy || server.vkey).trim();
  const origin = mine ? (await pinned.policy()).log.name : "";
  const same = mine && (trustKey(mine) === trustKey(serverText) || trustKey(mine) === trustKey(server.vkey));
  const st = origin && state.get(origin);
  view.append(h("h1", {}, "Trust"),
    h("p", {}, "Paste the log's vkey, or a tlog-policy with its witnesses and quorum, as you got them from the log's operator (not from this page). They stay in this browser's local storage, and every check is made against them."),
    area, h("p", {}, file, " ", h("button", { type: "button", id: "pin-save", onclick: save }, "Pin")), msg,
    h("h2", {}, "The server's copy, for comparison only"),
    h("p", { class: same ? "ok" : "warn", id: "trust-compare" },
      !mine ? "nothing pinned yet" : same ? "the pinned trust matches the server's copy" : "the pinned trust differs from the server's copy"),
    h("pre", { id: "server-trust" }, serverText),
    h("h2", {}, "Last verified checkpoint" + (origin ? " of " + origin : "")),
    st ? h("pre", { id: "state" }, st.text) : h("p", {}, "none yet"),
    st && h("button", { type: "button", onclick: () => { state.clear(origin); route(); } }, "Forget it"));
}

// trustKey is what a policy trusts, for comparing two of them: its lines
// without comments and URLs, in order; a lone vkey is its log line.
function trustKey(text) {
  return text.split("\n").map((l) => l.replace(/#.*/, "").trim().split(/\s+/)).filter((f) => f[0])
    .map((f) => f.length === 1 ? ["log", f[0]] : f[0] === "log" ? f.slice(0, 2) : f[0] === "witness" ? f.slice(0, 3) : f)
    .map((f) => f.join(" ")).join("\n");
}

window.addEventListener("hashchange", route);
route();
