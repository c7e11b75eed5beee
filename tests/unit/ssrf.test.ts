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
    ["http://169.254.169.254/latest/meta-data/", "private"],
    ["http://100.100.100.200/", "private"], // CGNAT (Alibaba metadata)
    ["http://metadata.google.internal/", "private"],
    ["http://0.0.0.0:8080", "private"],
    ["http://[::1]:8080", "private"],
    ["http://[fd00::1]/", "private"],
    ["http://[fe80::1]/", "private"],
    ["http://[::ffff:10.0.0.1]/", "private"],
    ["http://[::ffff:169.254.169.254]/", "private"],
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

  it("allows private addresses only when the operator opts in", () => {
    expect(checkUpstreamUrl("http://127.0.0.1:11434/v1", true).ok).toBe(true);
    // Scheme and credential rules hold even then.
    expect(checkUpstreamUrl("file:///etc/passwd", true).ok).toBe(false);
    expect(checkUpstreamUrl("http://u:p@127.0.0.1", true).ok).toBe(false);
  });
});
