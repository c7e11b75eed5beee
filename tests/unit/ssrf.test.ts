import { describe, expect, it } from "vitest";
import { checkUpstreamUrl } from "../../workers/credentials/ssrf";

describe("upstream base URL checks", () => {
  it.each([
    "https://api.openai.com/v1",
    "https://api.groq.com/openai/v1",
    "http://gateway.example.com:8080/v1",
    "https://8.8.8.8/v1",
    "https://[2606:4700::1111]/v1",
  ])("allows public %s", (url) => {
    expect(checkUpstreamUrl(url, false).ok).toBe(true);
  });

  it.each([
    ["http://127.0.0.1/v1", "private"],
    ["http://127.1/v1", "private"], // short IPv4 form
    ["http://0x7f000001/v1", "private"], // hex IPv4 form
    ["http://2130706433/v1", "private"], // decimal IPv4 form
    ["http://0177.0.0.1/v1", "private"], // octal IPv4 form
    ["http://localhost:11434", "private"],
    ["http://api.localhost/v1", "private"],
    ["http://10.1.2.3", "private"],
    ["http://172.16.0.1", "private"],
    ["http://172.31.255.255", "private"],
    ["http://192.168.0.1", "private"],
    ["http://169.254.169.254/latest/meta-data/", "metadata"],
    ["http://100.100.100.200/", "metadata"], // Alibaba's metadata service
    ["http://100.64.0.1/", "private"], // CGNAT
    ["http://metadata.google.internal/", "metadata"],
    ["http://0.0.0.0:8080", "private"],
    ["http://[::1]:8080", "private"],
    ["http://[fd00::1]/", "private"],
    ["http://[fe80::1]/", "private"],
    ["http://[::ffff:10.0.0.1]/", "private"],
    ["http://[::ffff:169.254.169.254]/", "metadata"],
    ["http://intranet/", "private"], // single-label names resolve on the local network
    ["ftp://example.com", "http or https"],
    ["file:///etc/passwd", "http or https"],
    ["https://user:pw@example.com", "credentials"],
    ["https://example.com/v1?key=x", "query"],
    ["not a url", "valid URL"],
  ])("refuses %s", (url, reason) => {
    const result = checkUpstreamUrl(url, false);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  // With private upstreams allowed (the local default), metadata services stay out of reach in every
  // spelling the URL parser accepts.
  it.each([
    "http://169.254.169.254/latest",
    "http://169.254.169.254./latest",
    "http://2852039166/latest", // decimal
    "http://0xa9fea9fe/latest", // hex
    "http://0xA9.0xFE.0xA9.0xFE/", // hex octets
    "http://0251.0376.0251.0376/", // octal octets
    "http://169.254.43518/", // short form
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
    "http://[::ffff:0:a9fe:a9fe]/", // IPv4-translated
    "http://[::169.254.169.254]/", // IPv4-compatible
    "http://[64:ff9b::a9fe:a9fe]/", // NAT64
    "http://[2002:a9fe:a9fe::1]/", // 6to4
    "http://[fd00:ec2::254]/latest", // AWS IPv6 IMDS
    "http://[FD00:EC2:0:0:0:0:0:254]/",
    "http://169.254.170.2/v2/credentials", // ECS task metadata
    "http://100.100.100.200/latest",
    "http://192.0.0.192/",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://metadata.goog/",
    "http://metadata.azure.com/",
    "http://metadata/",
    "http://instance-data/",
    "http://instance-data.ec2.internal/",
  ])("refuses the metadata service %s even with private upstreams allowed", (url) => {
    const result = checkUpstreamUrl(url, true);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain("metadata");
  });

  it("allows private addresses only when the operator opts in", () => {
    expect(checkUpstreamUrl("http://127.0.0.1:11434/v1", true).ok).toBe(true);
    expect(checkUpstreamUrl("http://192.168.1.20:8080/v1", true).ok).toBe(true);
    expect(checkUpstreamUrl("http://ollama.local:11434/v1", true).ok).toBe(true);
    expect(checkUpstreamUrl("http://[fd12::5]:8000/v1", true).ok).toBe(true);
    // Scheme and credential rules hold even then.
    expect(checkUpstreamUrl("file:///etc/passwd", true).ok).toBe(false);
    expect(checkUpstreamUrl("http://u:p@127.0.0.1", true).ok).toBe(false);
  });
});
