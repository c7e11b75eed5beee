// Refuses base URLs that would let a tenant aim relay at the operator's own network: private,
// loopback, link-local, CGNAT, unspecified and multicast addresses, and the names that resolve to
// them. Cloud metadata services are refused always, even when the operator allows private
// upstreams (Ollama or llama.cpp on a LAN): a credential must never turn relay into a way to read
// instance credentials. The WHATWG URL parser already normalises odd IPv4 forms (decimal, hex,
// octal, short) to dotted quads and IPv6 to lowercase hex groups, so every spelling meets the same
// checks here.

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const PRIVATE_HOSTNAMES = new Set(["localhost"]);
const PRIVATE_SUFFIXES = [".localhost", ".internal", ".local", ".home.arpa"];

// Metadata services by name (AWS, GCP, Azure, Alibaba, Tencent, Oracle, DigitalOcean, Hetzner…).
const METADATA_HOSTNAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "metadata.azure.com",
  "metadata.azure.internal",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
  "metadata.platformequinix.com",
  "metadata.packet.net",
]);
const METADATA_SUFFIXES = [".metadata.google.internal"];

// Metadata services by address: all of IPv4 link-local (AWS, GCP, Azure, Oracle, DigitalOcean,
// Hetzner and ECS task metadata live there), Alibaba's, Oracle's legacy one, and AWS's IPv6 IMDS.
function ipv4Metadata(v4: number[]): boolean {
  const [a, b, c, d] = v4 as [number, number, number, number];
  return (
    (a === 169 && b === 254) ||
    (a === 100 && b === 100 && c === 100 && d === 200) ||
    (a === 192 && b === 0 && c === 0 && d === 192)
  );
}
const AWS_IPV6_IMDS = [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254];

function ipv4Private(v4: number[]): boolean {
  const [a, b] = v4 as [number, number];
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast and reserved
  );
}

function parseIpv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m ? m.slice(1).map(Number) : null;
}

/** The eight 16-bit groups of a bracket-less IPv6 literal as the URL parser serialises it. */
function parseIpv6(host: string): number[] | null {
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const part = (s: string | undefined) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const groups =
    halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail] : head;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

/**
 * The IPv4 address an IPv6 one carries, in every form that reaches it: IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and
 * 6to4 (2002:aabb:ccdd::).
 */
function embeddedIpv4(g: number[]): number[] | null {
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6] as number, g[7] as number);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6] as number, g[7] as number);
  if (zeros(0, 6) && (g[6] !== 0 || (g[7] as number) > 1)) return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x64 && g[1] === 0xff9b) return v4(g[6] as number, g[7] as number);
  if (g[0] === 0x2002) return v4(g[1] as number, g[2] as number);
  return null;
}

function ipv6Private(g: number[]): boolean {
  const first = g[0] as number;
  return (
    g.every((x) => x === 0) || // ::
    (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) || // ::1
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 // multicast
  );
}

type HostKind = { v4: number[] } | { v6: number[] } | { name: string } | { invalid: true };

function classify(hostname: string): HostKind {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) {
    const v6 = parseIpv6(host.slice(1, -1));
    if (!v6) return { invalid: true };
    const v4 = embeddedIpv4(v6);
    return v4 ? { v4 } : { v6 };
  }
  const v4 = parseIpv4(host);
  return v4 ? { v4 } : { name: host };
}

function isMetadata(kind: HostKind): boolean {
  if ("v4" in kind) return ipv4Metadata(kind.v4);
  if ("v6" in kind) return kind.v6.every((x, i) => x === AWS_IPV6_IMDS[i]);
  if ("name" in kind)
    return METADATA_HOSTNAMES.has(kind.name) || METADATA_SUFFIXES.some((s) => kind.name.endsWith(s));
  return true;
}

function isPrivate(kind: HostKind): boolean {
  if ("v4" in kind) return ipv4Private(kind.v4);
  if ("v6" in kind) return ipv6Private(kind.v6);
  if ("name" in kind) {
    const name = kind.name;
    return (
      !name.includes(".") || PRIVATE_HOSTNAMES.has(name) || PRIVATE_SUFFIXES.some((s) => name.endsWith(s))
    );
  }
  return true;
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

  const kind = classify(url.hostname);
  if (isMetadata(kind)) {
    return { ok: false, reason: "points at a cloud metadata service, which is never an upstream" };
  }
  if (!allowPrivate && isPrivate(kind)) {
    return { ok: false, reason: "points at a private, loopback or link-local address" };
  }
  return { ok: true, url };
}
