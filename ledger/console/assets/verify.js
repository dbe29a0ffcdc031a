// Verification in the browser, trusting nothing the server says: signed
// notes and Ed25519 checkpoint signatures, cosignature/v1, tlog-policy
// quorums, RFC 6962 leaf hashes and inclusion and consistency proofs, and
// proofs built from the log's hash tiles (C2SP tlog-tiles). The formats are
// those of docs/formats.md; WebCrypto does the hashing and Ed25519.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const b64 = {
  decode(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  },
  encode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  },
};

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

export function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// leafHash is SHA-256(0x00 || entry), nodeHash SHA-256(0x01 || left || right).
export const leafHash = (entry) => sha256(concat([0], entry));
export const nodeHash = (l, r) => sha256(concat([1], l, r));

// parseVkey reads a signed-note verifier key, name+hex8+base64(type || key),
// and checks that its key ID is the one its name, type and key hash to.
export async function parseVkey(vkey, wantType) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new Error(`not a vkey (name+hex8+base64): ${vkey.trim().slice(0, 80)}`);
  const [, name, hex, data] = m;
  const raw = b64.decode(data);
  if (raw.length !== 33 || raw[0] !== wantType) {
    throw new Error(`vkey ${name} is not an Ed25519 key of type 0x0${wantType}`);
  }
  const id = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
  if (hex !== [...id].map((b) => b.toString(16).padStart(2, "0")).join("")) {
    throw new Error(`vkey ${name}: key ID ${hex} does not match its key`);
  }
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, key, vkey: vkey.trim() };
}

export const LOG_KEY = 1;
export const COSIG_KEY = 4;

// parseNote splits a signed note into its text (up to and including its
// last newline before the blank line) and its signature lines.
export function parseNote(text) {
  const at = text.lastIndexOf("\n\n");
  if (at < 0 || !text.endsWith("\n")) throw new Error("not a signed note: no blank line before signatures");
  const body = text.slice(0, at + 1);
  const sigs = [];
  for (const line of text.slice(at + 2, -1).split("\n")) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error(`malformed signature line: ${line.slice(0, 80)}`);
    const raw = b64.decode(m[2]);
    if (raw.length < 5) throw new Error(`signature of ${m[1]} is too short`);
    sigs.push({ name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) });
  }
  return { body, sigs };
}

// parseCheckpoint reads a checkpoint's text: origin, size and root hash.
export function parseCheckpoint(body) {
  const lines = body.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("malformed checkpoint: want origin, size and root lines");
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size)) throw new Error(`checkpoint size ${lines[1]} is too large for this page`);
  const root = b64.decode(lines[2]);
  if (root.length !== 32) throw new Error("malformed checkpoint: root hash is not 32 bytes");
  return { origin: lines[0], size, root };
}

// parsePolicy reads a C2SP tlog-policy, or a lone log vkey (which trusts
// the log's signature and requires no witness).
export async function parsePolicy(text) {
  const lines = text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
  if (lines.length === 1 && !/\s/.test(lines[0])) {
    return { log: await parseVkey(lines[0], LOG_KEY), witnesses: new Map(), groups: new Map(), quorum: null };
  }
  const p = { log: null, witnesses: new Map(), groups: new Map(), quorum: undefined };
  const known = (n) => p.witnesses.has(n) || p.groups.has(n);
  for (const line of lines) {
    const f = line.split(/\s+/);
    if (f[0] === "log" && f.length >= 2 && f.length <= 3) {
      if (p.log) throw new Error("policy names more than one log");
      p.log = await parseVkey(f[1], LOG_KEY);
    } else if (f[0] === "witness" && f.length >= 3 && f.length <= 4) {
      if (known(f[1])) throw new Error(`policy: ${f[1]} is defined twice`);
      p.witnesses.set(f[1], await parseVkey(f[2], COSIG_KEY));
    } else if (f[0] === "group" && f.length >= 4) {
      if (known(f[1])) throw new Error(`policy: ${f[1]} is defined twice`);
      const members = f.slice(3);
      for (const m of members) if (!known(m)) throw new Error(`policy: group ${f[1]} names ${m} before it is defined`);
      if (new Set(members).size !== members.length) throw new Error(`policy: group ${f[1]} names a member twice`);
      const k = f[2] === "all" ? members.length : f[2] === "any" ? 1 : Number(f[2]);
      if (!Number.isInteger(k) || k < 1 || k > members.length) throw new Error(`policy: group ${f[1]} needs 1..${members.length}, not ${f[2]}`);
      p.groups.set(f[1], { k, members });
    } else if (f[0] === "quorum" && f.length === 2) {
      if (p.quorum !== undefined) throw new Error("policy has more than one quorum line");
      if (f[1] !== "none" && !known(f[1])) throw new Error(`policy: quorum ${f[1]} is not defined`);
      p.quorum = f[1] === "none" ? null : f[1];
    } else {
      throw new Error(`policy: cannot read line "${line.slice(0, 80)}"`);
    }
  }
  if (!p.log) throw new Error("policy has no log line");
  if (p.quorum === undefined) throw new Error("policy has no quorum line");
  return p;
}

// satisfied reports whether the witnesses in signed meet the named policy
// member (a witness or a group).
function satisfied(p, name, signed) {
  if (p.witnesses.has(name)) return signed.has(name);
  const g = p.groups.get(name);
  return g.members.filter((m) => satisfied(p, m, signed)).length >= g.k;
}

// verifyCheckpointSignatures checks the log's signature and each policy
// witness's cosignature on a signed checkpoint and returns the check lines,
// the checkpoint, and whether it may be trusted (log signature and quorum).
export async function verifyCheckpointSignatures(text, policy) {
  const lines = [];
  let note, cp;
  try {
    note = parseNote(text);
    cp = parseCheckpoint(note.body);
  } catch (e) {
    lines.push(fail("checkpoint", e.message));
    return { lines, ok: false };
  }
  const body = enc.encode(note.body);
  const logSig = note.sigs.find((s) => s.name === policy.log.name && equal(s.id, policy.log.id));
  let ok = true;
  if (cp.origin !== policy.log.name) {
    lines.push(fail("checkpoint signature", `origin ${cp.origin} is not the pinned log ${policy.log.name}`));
    ok = false;
  } else if (!logSig) {
    lines.push(fail("checkpoint signature", `no signature by the pinned key ${policy.log.vkey}; signed by ${note.sigs.map((s) => s.name).join(", ") || "nobody"}`));
    ok = false;
  } else if (!(await crypto.subtle.verify("Ed25519", policy.log.key, logSig.sig, body))) {
    lines.push(fail("checkpoint signature", `the signature of ${policy.log.name} does not verify: the checkpoint was altered or signed by another key`));
    ok = false;
  } else {
    lines.push(pass("checkpoint signature", `${cp.origin} size ${cp.size} root ${b64.encode(cp.root)} signed by the pinned key`));
  }
  const signed = new Set();
  const times = new Map();
  for (const [name, w] of policy.witnesses) {
    const s = note.sigs.find((s) => s.name === w.name && equal(s.id, w.id));
    if (!s) { lines.push(info(`witness ${name}`, "no cosignature")); continue; }
    if (s.sig.length !== 72) { lines.push(fail(`witness ${name}`, "cosignature is not 72 bytes (timestamp and Ed25519 signature)")); continue; }
    const t = new DataView(s.sig.buffer, s.sig.byteOffset).getBigUint64(0);
    const msg = concat(enc.encode(`cosignature/v1\ntime ${t}\n`), body);
    if (!(await crypto.subtle.verify("Ed25519", w.key, s.sig.slice(8), msg))) {
      lines.push(fail(`witness ${name}`, "cosignature does not verify"));
      continue;
    }
    signed.add(name);
    const when = new Date(Number(t) * 1000).toISOString().replace(".000Z", "Z");
    times.set(name, when);
    lines.push(pass(`witness ${name}`, `cosigned at ${when}`));
  }
  if (policy.quorum === null) {
    lines.push(pass("quorum", "none required by the pinned policy"));
  } else if (satisfied(policy, policy.quorum, signed)) {
    lines.push(pass("quorum", `${policy.quorum} met by ${[...signed].join(", ")}`));
  } else {
    lines.push(fail("quorum", `${policy.quorum} not met: valid cosignatures from ${[...signed].join(", ") || "no witness"}`));
    ok = false;
  }
  return { lines, ok: ok && !!logSig, checkpoint: { ...cp, text }, times };
}

// rootFromInclusion recomputes the root from a leaf hash and its inclusion
// proof (RFC 9162 2.1.3.2), or throws if the proof has the wrong shape.
export async function rootFromInclusion(leaf, index, size, proof) {
  if (index >= size) throw new Error(`index ${index} is beyond the tree size ${size}`);
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Error("inclusion proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("inclusion proof is too short");
  return r;
}

// verifyConsistency checks a consistency proof from (m, oldRoot) to
// (n, newRoot) (RFC 9162 2.1.4.2), returning an error message or null.
export async function verifyConsistency(m, oldRoot, n, newRoot, proof) {
  if (m > n) return `size ${m} is larger than ${n}`;
  if (m === n) return proof.length === 0 && equal(oldRoot, newRoot) ? null : "same size, different roots";
  if (m === 0) return proof.length === 0 ? null : "a proof from the empty tree must be empty";
  if (proof.length === 0) return "empty consistency proof";
  let path = proof;
  if ((m & (m - 1)) === 0) path = [oldRoot, ...proof];
  let fn = BigInt(m - 1), sn = BigInt(n - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return "consistency proof is too long";
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) return "consistency proof is too short";
  if (!equal(fr, oldRoot)) return `the proof does not lead to the root of size ${m}`;
  if (!equal(sr, newRoot)) return `the proof does not lead to the root of size ${n}`;
  return null;
}

// tilePath names a tlog-tiles tile: tile/<L>/<N>[.p/<W>], N in x-prefixed
// groups of three digits.
export function tilePath(level, index, width) {
  const groups = [];
  for (let s = index; ; s = Math.floor(s / 1000)) {
    groups.unshift(String(s % 1000).padStart(3, "0"));
    if (s < 1000) break;
  }
  const n = groups.map((g, i) => (i < groups.length - 1 ? "x" + g : g)).join("/");
  return `tile/${level}/${n}${width < 256 ? ".p/" + width : ""}`;
}

// TileHashes computes the hashes of complete subtrees of the tree of one
// size from its hash tiles, fetched through get(path) → Uint8Array. The
// tiles are not trusted: proofs built from them are checked against signed
// roots, so a lying tile makes a proof fail, never pass.
export class TileHashes {
  constructor(size, get) {
    this.size = size;
    this.get = get;
    this.tiles = new Map();
    this.nodes = new Map();
  }

  async tile(level, index) {
    const inLevel = Math.floor(this.size / 256 ** level);
    const width = Math.min(256, inLevel - index * 256);
    const path = tilePath(level, index, width);
    if (!this.tiles.has(path)) {
      this.tiles.set(path, this.get(path).then((b) => {
        if (b.length !== width * 32) throw new Error(`${path} has ${b.length} bytes, want ${width * 32}`);
        return b;
      }));
    }
    return this.tiles.get(path);
  }

  // node returns the hash of the complete subtree of 2^h leaves at index i
  // (leaves [i·2^h, (i+1)·2^h)).
  async node(h, i) {
    const key = `${h}/${i}`;
    if (!this.nodes.has(key)) this.nodes.set(key, this.hashNode(h, i));
    return this.nodes.get(key);
  }

  async hashNode(h, i) {
    const level = Math.floor(h / 8), r = h % 8;
    const first = i * 2 ** r; // first node at level 8·level
    const t = await this.tile(level, Math.floor(first / 256));
    let row = [];
    for (let k = first % 256; k < first % 256 + 2 ** r; k++) row.push(t.slice(k * 32, k * 32 + 32));
    while (row.length > 1) {
      const next = [];
      for (let k = 0; k < row.length; k += 2) next.push(await nodeHash(row[k], row[k + 1]));
      row = next;
    }
    return row[0];
  }

  // range returns the RFC 6962 hash of leaves [lo, hi), lo aligned as the
  // recursion of RFC 6962 leaves it.
  async range(lo, hi) {
    const n = hi - lo;
    if ((n & (n - 1)) === 0 && lo % n === 0) return this.node(Math.log2(n), lo / n);
    const k = largestPow2Below(n);
    return nodeHash(await this.range(lo, lo + k), await this.range(lo + k, hi));
  }

  // inclusion returns the inclusion proof of leaf index (RFC 6962 PATH).
  async inclusion(index, lo = 0, hi = this.size) {
    if (hi - lo === 1) return [];
    const k = largestPow2Below(hi - lo);
    if (index < lo + k) return [...(await this.inclusion(index, lo, lo + k)), await this.range(lo + k, hi)];
    return [...(await this.inclusion(index, lo + k, hi)), await this.range(lo, lo + k)];
  }

  // consistency returns the consistency proof from size m (RFC 6962 PROOF).
  async consistency(m, lo = 0, hi = this.size, whole = true) {
    if (m === 0) return [];
    if (lo + m === hi) return whole ? [] : [await this.range(lo, hi)];
    const k = largestPow2Below(hi - lo);
    if (m <= k) return [...(await this.consistency(m, lo, lo + k, whole)), await this.range(lo + k, hi)];
    return [...(await this.consistency(m - k, lo + k, hi, false)), await this.range(lo, lo + k)];
  }
}

function largestPow2Below(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// parseProof reads a c2sp.org/tlog-proof@v1 file.
export function parseProof(text) {
  const lines = text.split("\n");
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a c2sp.org/tlog-proof@v1 file");
  let i = 1, extra = null;
  if (lines[i].startsWith("extra ")) extra = b64.decode(lines[i++].slice(6));
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i++]);
  if (!m) throw new Error("tlog-proof: no index line");
  const hashes = [];
  for (; lines[i] !== ""; i++) {
    if (i >= lines.length) throw new Error("tlog-proof: no blank line before the checkpoint");
    const h = b64.decode(lines[i]);
    if (h.length !== 32) throw new Error("tlog-proof: a proof hash is not 32 bytes");
    hashes.push(h);
  }
  return { extra, index: Number(m[1]), hashes, checkpoint: lines.slice(i + 1).join("\n") };
}

// proofText writes a c2sp.org/tlog-proof@v1 file.
export function proofText(index, hashes, checkpoint, extra) {
  const head = ["c2sp.org/tlog-proof@v1"];
  if (extra) head.push("extra " + b64.encode(extra));
  head.push(`index ${index}`, ...hashes.map((h) => b64.encode(h)), "");
  return head.join("\n") + "\n" + checkpoint;
}

// checkAgainstState proves a verified checkpoint consistent with the one
// verified before (state: {size, root, text} or null), as `verifier
// checkpoint --state` does. A smaller size is a rollback, a failed proof a
// fork: both come back as an alarm holding the two checkpoints.
export async function checkAgainstState(cp, state, hashes) {
  if (!state) return { line: pass("consistency", `first checkpoint verified here (size ${cp.size}); kept as the state`) };
  const old = { size: state.size, root: b64.decode(state.root), text: state.text };
  if (cp.size < old.size) {
    return { line: fail("consistency", `ROLLBACK: size ${cp.size} is smaller than the size ${old.size} verified before`), alarm: { kind: "rollback", old: old.text, new: cp.text } };
  }
  let err;
  try {
    err = await verifyConsistency(old.size, old.root, cp.size, cp.root, cp.size === old.size ? [] : await hashes.consistency(old.size));
  } catch (e) {
    err = `could not build the proof from the log's tiles: ${e.message}`;
  }
  if (err) {
    return { line: fail("consistency", `FORK: size ${cp.size} is not an extension of the size ${old.size} verified before: ${err}`), alarm: { kind: "fork", old: old.text, new: cp.text } };
  }
  return { line: pass("consistency", cp.size === old.size ? `same tree as verified before (size ${cp.size})` : `size ${old.size} → ${cp.size} proved append-only`) };
}

export function pass(check, detail) { return { check, status: "ok", detail }; }
export function fail(check, detail) { return { check, status: "fail", detail }; }
export function info(check, detail) { return { check, status: "info", detail }; }

export const utf8 = { encode: (s) => enc.encode(s), decode: (b) => dec.decode(b) };
