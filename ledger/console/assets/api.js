// The ledger's API as the page uses it: every request carries the token
// from session storage as a bearer header (never in a URL), and the
// ledger checks its role and audits the read.

const TOKEN = "ledger-console.token";

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
};

// root is the ledger's address: the console is served at <root>console/.
export const root = new URL("..", location.href);

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// request fetches path (relative to the ledger's root) and returns the
// response, or throws an APIError with the API's error message.
export async function request(path, { method = "GET", body } = {}) {
  const headers = {};
  const t = token.get();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(new URL(path, root), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit", redirect: "error",
  });
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).error || msg; } catch { /* not the API's JSON error */ }
    throw new APIError(r.status, `${method} /${path.split("?")[0]}: ${r.status} ${msg}`);
  }
  return r;
}

export const getJSON = async (path) => (await request(path)).json();
export const getText = async (path) => (await request(path)).text();
export const getBytes = async (path) => new Uint8Array(await (await request(path)).arrayBuffer());

// session asks the console who the token is: {access_control, token: {id,
// name, role, tenant}}.
export const session = () => getJSON("console/session");

// can says what a session may see. With access control off, everything.
export function can(s) {
  const role = s.access_control ? s.token?.role : "open";
  const any = (...roles) => role === "open" || roles.includes(role);
  return {
    role,
    tenant: s.token?.tenant || "",
    find: any("reader", "auditor"),
    export: any("auditor"),
    holds: any("admin"),
  };
}
