// What the user pinned (the log key or a witness policy) and the last
// checkpoint this browser verified, both in local storage, and the
// checkpoint check that uses them.

import * as v from "./verify.js";
import { getBytes } from "./api.js";

const PINNED = "ledger-console.trust";
const STATE = "ledger-console.state.";

export const pinned = {
  text: () => localStorage.getItem(PINNED) || "",
  // set parses text before keeping it, so that a policy that cannot be
  // used is refused at once.
  async set(text) {
    await v.parsePolicy(text);
    localStorage.setItem(PINNED, text.trim() + "\n");
  },
  async policy() {
    const t = pinned.text();
    return t ? v.parsePolicy(t) : null;
  },
};

// state is kept per origin, like the files of `verifier checkpoint --state`.
export const state = {
  get: (origin) => JSON.parse(localStorage.getItem(STATE + origin) || "null"),
  set: (cp) => localStorage.setItem(STATE + cp.origin, JSON.stringify({ origin: cp.origin, size: cp.size, root: v.b64.encode(cp.root), text: cp.text })),
  clear: (origin) => localStorage.removeItem(STATE + origin),
};

// verifyCheckpoint checks a signed checkpoint against the pinned policy and
// the state, and advances the state when every check passed. It returns
// {lines, ok, checkpoint, alarm, times}.
export async function verifyCheckpoint(text, policy) {
  if (!policy) {
    return { lines: [v.fail("trust", "no log key is pinned: pin the log's key or policy on the Trust page first")], ok: false };
  }
  const res = await v.verifyCheckpointSignatures(text, policy);
  if (!res.ok) return res;
  const hashes = new v.TileHashes(res.checkpoint.size, getBytes);
  const c = await v.checkAgainstState(res.checkpoint, state.get(res.checkpoint.origin), hashes);
  res.lines.push(c.line);
  if (c.line.status === "fail") {
    res.ok = false;
    res.alarm = c.alarm;
  } else if (c.line.status === "ok") {
    state.set(res.checkpoint);
  }
  res.hashes = hashes;
  return res;
}
