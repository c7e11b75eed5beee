// Refuses base URLs that would let a tenant aim relay at the operator's own network: private,
// loopback, link-local (cloud metadata lives there), CGNAT, unspecified and multicast addresses,
// and the names that resolve to them. The WHATWG URL parser already normalises odd IPv4 forms
// (decimal, hex, octal, short) to dotted quads, so they are caught here too.

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_HOSTNAMES = new Set(["localhost", "metadata", "metadata.google.internal", "instance-data"]);
const BLOCKED_SUFFIXES = [".localhost", ".internal", ".local", ".home.arpa"];

function ipv4Blocked(a: number, b: number): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast and reserved
  );
}

function parseIpv4(host: string): [number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function ipv6Blocked(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "::" || h === "::1") return true;
  // IPv4-mapped and -translated forms carry an IPv4 address that must be judged as one.
  const mapped = /^::ffff:(?:0:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] as string, 16);
    return ipv4Blocked(hi >> 8, hi & 0xff);
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted) {
    const v4 = parseIpv4(dotted[1] as string);
    return v4 ? ipv4Blocked(v4[0], v4[1]) : true;
  }
  const first = Number.parseInt(h.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    h.startsWith("64:ff9b:") || // NAT64 can reach anything
    h.startsWith("::")
  );
}

export function checkUpstreamUrl(raw: string, allowPrivate: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return { ok: false, reason: "must use http or https" };
  if (url.username || url.password)
    return { ok: false, reason: "must not carry credentials; send the key as apiKey" };
  if (url.search || url.hash) return { ok: false, reason: "must not have a query string or fragment" };
  if (allowPrivate) return { ok: true, url };

  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const privateReason = "points at a private, loopback, link-local or metadata address";
  if (host.startsWith("[")) {
    return ipv6Blocked(host.slice(1, -1)) ? { ok: false, reason: privateReason } : { ok: true, url };
  }
  const v4 = parseIpv4(host);
  if (v4) return ipv4Blocked(v4[0], v4[1]) ? { ok: false, reason: privateReason } : { ok: true, url };
  if (!host.includes(".") || BLOCKED_HOSTNAMES.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) {
    return { ok: false, reason: privateReason };
  }
  return { ok: true, url };
}
