import { describe, expect, it } from "vitest";
import { type PiiCategory, PiiSession } from "../../workers/guardrails/pii";

// Golden cases per detector: each positive is written in a sentence and must come out as exactly
// one placeholder of its category; each negative must come out untouched with every category on.

function redact(text: string, categories?: PiiCategory[]): string {
  return new PiiSession({ categories }).redactText(text);
}

const LABEL: Record<PiiCategory, string> = {
  email: "EMAIL",
  phone: "PHONE",
  ssn: "SSN",
  card: "CARD",
  iban: "IBAN",
  ip: "IP",
  secret: "SECRET",
};

const POSITIVE: Record<PiiCategory, string[]> = {
  email: [
    "john@example.com",
    "john.doe+newsletter@mail.example.co.uk",
    "JOHN_DOE@EXAMPLE.COM",
    "a-b%c@sub-domain.example.io",
    "x1@y2.museum",
  ],
  phone: [
    "+1 415 555 0100",
    "+1-415-555-0100",
    "+14155550100",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+33 6 12 34 56 78",
    "+49 30 1234567",
    "+86 138 0013 8000",
    "(415) 555-0100",
    "(415)555-0100",
    "415-555-0100",
    "415.555.0100",
    "415 555 0100",
    "1-800-555-0199",
    "1 (800) 555-0199",
  ],
  ssn: ["123-45-6789", "123 45 6789", "001-01-0001", "899-99-9999"],
  card: [
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "3782 822463 10005",
    "30569309025904",
    "6011111111111117",
    "3530111333300000",
    "6200000000000005",
    "4222222222222",
    "4000 0000 0000 0000 006",
  ],
  iban: [
    "DE89370400440532013000",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "GB82 WEST 1234 5698 7654 32",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "NO9386011117947",
    "CH9300762011623852957",
  ],
  ip: [
    "192.168.1.10",
    "10.0.0.1",
    "8.8.8.8",
    "255.255.255.255",
    "0.0.0.0",
    "2001:db8::1",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "fe80::1ff:fe23:4567:890a",
    "::1",
    "::ffff:192.0.2.1",
    "2606:4700::1111",
  ],
  secret: [
    "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx12yz",
    "sk-ant-api03-Abcdefghij1234567890XYZ_abc-DEF",
    "sk-Abcdefghijklmnopqrstuvwx0123456789ABCDEFGHIJKLMN",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij12",
    "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "relay_live_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
  ],
};

const CONTEXTS: [string, string][] = [
  ["", ""],
  ["value: ", "."],
  ["(", ")"],
  ['"', '"'],
  ["<", ">"],
  ["été ", " ✓"],
  ["电话：", "，谢谢"],
];

describe("pii detectors: positives", () => {
  for (const [category, values] of Object.entries(POSITIVE) as [PiiCategory, string[]][]) {
    it.each(values)(`${category}: %s`, (value) => {
      for (const [before, after] of CONTEXTS) {
        expect(redact(`${before}${value}${after}`)).toBe(`${before}[${LABEL[category]}_1]${after}`);
      }
      // Its own category alone finds it too, and the others leave it.
      expect(redact(value, [category])).toBe(`[${LABEL[category]}_1]`);
      const others = (Object.keys(LABEL) as PiiCategory[]).filter((c) => c !== category);
      expect(redact(value, others)).toBe(value);
    });
  }
});

const NEGATIVE: [string, string][] = [
  // e-mail look-alikes
  ["no TLD", "root@localhost"],
  ["numeric TLD", "user@example.123"],
  ["handle", "@john and john@"],
  ["local part ending in a dot", "john.@example.com"],
  // phones
  ["order number after #", "Order #415-555-0100"],
  ["ten bare digits", "account 4155550100"],
  ["area code starting with 1", "(115) 555-0100"],
  ["exchange starting with 0", "415-055-0100"],
  ["part of a longer dashed number", "12-415-555-0100"],
  ["extension glued on", "415-555-0100-22"],
  ["+1 with too many digits", "+1 415 555 01001"],
  ["too few digits after +", "+49 301"],
  ["short local number", "555-0100"],
  // SSNs
  ["area 000", "000-12-3456"],
  ["area 666", "666-12-3456"],
  ["area 9xx", "912-12-3456"],
  ["group 00", "123-00-4567"],
  ["serial 0000", "123-45-0000"],
  ["the wallet number", "078-05-1120"],
  ["mixed separators", "123-45 6789"],
  ["nine bare digits", "123456789"],
  ["ticket number", "ticket #123-45-6789"],
  // cards
  ["fails Luhn", "4111 1111 1111 1112"],
  ["long non-Luhn digit run", "4111111111111112"],
  ["too long a digit run", "41111111111111111111111"],
  ["unknown issuer", "9111111111111111"],
  ["glued to an identifier", "ORD-4111111111111111"],
  ["mixed separators", "4111 1111-1111 1111"],
  ["decimal tail", "4111111111111111.50"],
  ["twelve digits", "411111111111"],
  // IBANs
  ["bad checksum", "DE89 3704 0044 0532 0130 01"],
  ["wrong length", "DE89370400440532013"],
  ["unknown country", "ZZ89370400440532013000"],
  ["lower case", "de89370400440532013000"],
  ["irregular groups", "DE89 37040044 0532 0130 00"],
  // IPs and versions
  ["octet over 255", "256.1.1.1"],
  ["leading zero", "01.2.3.4"],
  ["three parts", "1.2.3"],
  ["five parts", "1.2.3.4.5"],
  ["v-prefixed version", "v1.2.3.4"],
  ["version word", "version 10.0.0.1"],
  ["Version: colon", "Version: 10.0.0.1"],
  ["ver. abbreviation", "ver. 4.3.2.1"],
  ["build number", "build 1.2.3.4"],
  ["release", "Release 2.0.0.1"],
  ["firmware", "firmware 3.10.2.7"],
  ["separated v", "v 1.2.3.4"],
  ["dotted identifier", "a.1.2.3.4"],
  ["clock time", "10:30:00"],
  ["date and time", "2024-01-15T10:30:00Z"],
  ["MAC address", "00:1A:2B:3C:4D:5E"],
  ["C++ scope", "Foo::Bad and std::vector and A::B"],
  ["ratio", "3:2 or 16:9"],
  // secrets
  ["sk- words", "sk-learn-compatible-estimators-are-great"],
  ["sk- too short", "sk-Ab3dEf12"],
  ["AKIA wrong length", "AKIAIOSFODNN7EXAMPL"],
  ["ghp_ too short", "ghp_ABCDEF123"],
  ["relay key too short", "relay_live_abc"],
  ["inside a word", "xsk-proj-Ab3dEfGhIjKlMnOpQrStUvWx12yz"],
  // everyday numbers and ids
  ["dates", "2024-01-15, 15/01/2024, 01.15.2024, 15.01.2024"],
  ["times", "10:30, 10:30:59.123"],
  ["prices", "$1,234.56 and €1.234,56 and 1 234 567,89 kr"],
  ["order number", "Order 123456789 shipped, tracking 1Z999AA10123456784"],
  ["UUID", "123e4567-e89b-12d3-a456-426614174000"],
  ["upper-case UUID", "123E4567-E89B-12D3-A456-426614174000"],
  ["MD5", "d41d8cd98f00b204e9800998ecf8427e"],
  ["SHA-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["git hash", "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904"],
  ["semver", "1.2.3, 10.0.0-beta.1, node 22.12.0"],
  ["math", "2+2=4, 3.14159, 1e10, -42"],
  ["placeholder-like text", "[NOTE_1] [TODO_2] [email_1] [EMAIL_0] [EMAIL_]"],
];

describe("pii detectors: false positives", () => {
  it.each(NEGATIVE)("%s", (_, text) => {
    expect(redact(text)).toBe(text);
  });
});

describe("pii detectors: text around values", () => {
  it("finds several values of several kinds in prose, numbering each kind apart", () => {
    const text =
      "Hi, I'm Jane (jane@example.com, +44 20 7946 0958). Card 4111 1111 1111 1111, IBAN GB82WEST12345698765432, " +
      "from 203.0.113.7. My colleague is bob@example.org and my SSN is 123-45-6789. Key: sk-ant-api03-Abcdefghij1234567890XYZ.";
    expect(redact(text)).toBe(
      "Hi, I'm Jane ([EMAIL_1], [PHONE_1]). Card [CARD_1], IBAN [IBAN_1], " +
        "from [IP_1]. My colleague is [EMAIL_2] and my SSN is [SSN_1]. Key: [SECRET_1].",
    );
  });

  it("ends an address before a sentence's full stop, keeps a port out of an IP", () => {
    expect(redact("Write to a@b.io. Then 10.1.2.3:8443/path.")).toBe(
      "Write to [EMAIL_1]. Then [IP_1]:8443/path.",
    );
  });

  it("ends a card at the last group that passes, before a year that follows", () => {
    expect(redact("4111 1111 1111 1111 2031")).toBe("[CARD_1] 2031");
  });

  it("takes Latin letters with diacritics as letters, other scripts as the end of an address", () => {
    expect(redact("écrire à josé@exemple.fr ou élodie@münchen.de")).toBe("écrire à [EMAIL_1] ou [EMAIL_2]");
    expect(redact("邮箱john@example.com谢谢")).toBe("邮箱[EMAIL_1]谢谢");
  });

  it("handles emoji and other astral characters around values", () => {
    expect(redact("📧john@example.com📞+1 415 555 0100🎉")).toBe("📧[EMAIL_1]📞[PHONE_1]🎉");
  });

  it("keeps categories that are switched off", () => {
    expect(redact("john@example.com 10.0.0.1", ["ip"])).toBe("john@example.com [IP_1]");
  });
});
