// The query filters, as data: each is a parameter of GET /v1/events
// (docs/query.md). A new filter of the API is one line here.

import { h } from "./dom.js";

export const FILTERS = [
  { name: "actor_id", label: "Actor" },
  { name: "actor_type", label: "Actor type", options: ["user", "service", "admin", "system", "api_client"] },
  { name: "resource_type", label: "Resource type" },
  { name: "resource_id", label: "Resource ID" },
  { name: "action", label: "Action" },
  { name: "event_type", label: "Event type" },
  { name: "result", label: "Result", options: ["success", "failure", "denied"] },
  { name: "tenant_id", label: "Tenant" },
  { name: "submitter_token_id", label: "Submitter token" },
  { name: "time", label: "Window and order by", options: ["received"], blank: "event time" },
  { name: "since", label: "From (UTC)", time: true },
  { name: "until", label: "Until (UTC)", time: true },
];

// toQuery turns form values into API parameters: empty ones are left out,
// times become RFC 3339 in UTC.
export function toQuery(values) {
  const q = new URLSearchParams();
  for (const f of FILTERS) {
    const val = (values.get(f.name) || "").trim();
    if (!val) continue;
    q.set(f.name, f.time && !val.endsWith("Z") ? val + (val.length === 16 ? ":00Z" : "Z") : val);
  }
  return q;
}

// form renders the filters with the values of q; a tenant-scoped token's
// tenant is fixed. onsubmit gets the API parameters.
export function form(q, tenant, onsubmit, submitLabel = "Find") {
  const f = h("form", { class: "filters", "data-testid": "filters" },
    FILTERS.map((flt) => {
      const value = q.get(flt.name) || "";
      const id = "f-" + flt.name;
      let input;
      if (flt.options) {
        input = h("select", { id, name: flt.name },
          h("option", { value: "" }, flt.blank || "any"), flt.options.map((o) => h("option", { value: o, selected: o === value }, o)));
      } else if (flt.time) {
        input = h("input", { id, name: flt.name, type: "datetime-local", step: "1", value: value.replace(/Z$/, "") });
      } else {
        input = h("input", { id, name: flt.name, type: "text", value, autocomplete: "off" });
      }
      if (flt.name === "tenant_id" && tenant) {
        input.value = tenant;
        input.disabled = true;
      }
      return h("label", { for: id }, flt.label, input);
    }),
    h("button", { type: "submit", id: "find-submit" }, submitLabel));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    const values = new FormData(f);
    if (tenant) values.delete("tenant_id");
    onsubmit(toQuery(values));
  });
  return f;
}
