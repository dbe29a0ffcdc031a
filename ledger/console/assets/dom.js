// Building the page from data with DOM calls only: event fields are text
// written by whoever sent the events, so nothing is ever parsed as HTML.

// h makes an element: h("a", {href: "#/x", class: "y"}, "text", child).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// svg makes an SVG element.
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

// checkLines shows verification lines as `verifier` prints them: one line
// per check with its status.
export function checkLines(lines) {
  return h("ul", { class: "checks", "data-testid": "checks" },
    lines.map((l) => h("li", { class: "check " + l.status, "data-status": l.status },
      h("span", { class: "status" }, { ok: "OK", fail: "FAIL", info: "--" }[l.status]),
      h("span", { class: "name" }, l.check + ":"), " ", l.detail)));
}

// alarmBox shows a rollback or fork with both signed checkpoints.
export function alarmBox(alarm) {
  return h("section", { class: "alarm", id: "alarm" },
    h("h2", {}, alarm.kind === "rollback" ? "ALARM: the log rolled back" : "ALARM: the log forked"),
    h("p", {}, alarm.kind === "rollback"
      ? "The server now presents a smaller tree than one this browser verified before. A log never shrinks: keep both checkpoints as evidence."
      : "The server presents a tree that is not an extension of one this browser verified before. Keep both checkpoints as evidence."),
    h("div", { class: "pair" },
      h("div", {}, h("h3", {}, "verified before"), h("pre", {}, alarm.old)),
      h("div", {}, h("h3", {}, "presented now"), h("pre", {}, alarm.new))));
}

export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e.message || String(e));
}

// download saves bytes as a file.
export function download(name, bytes, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
