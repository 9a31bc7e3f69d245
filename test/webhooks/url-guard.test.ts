import { describe, expect, it } from "vitest";
import { blockedAddressReason, checkWebhookUrl, type UrlRules } from "../../src/domain/webhooks/url-guard.ts";

const strict = { allowPrivate: false };
const lenient = { allowPrivate: true };

describe("the SSRF address check", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["10.0.0.5", "private"],
    ["172.16.3.4", "private"],
    ["192.168.1.1", "private"],
    ["fd12:3456::1", "uniqueLocal"],
    ["169.254.169.254", "linkLocal"],
    ["fe80::1", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["100.100.100.200", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["192.0.0.192", "reserved"],
    ["198.18.0.1", "reserved"],
    ["2002:7f00:1::", "6to4"],
    ["64:ff9b::a00:1", "rfc6052"],
  ])("refuses %s (%s)", (address, range) => {
    expect(blockedAddressReason(address, strict)).toContain(range);
  });

  it("judges an IPv4-mapped IPv6 address by the IPv4 address inside", () => {
    expect(blockedAddressReason("::ffff:127.0.0.1", strict)).toContain("loopback");
    expect(blockedAddressReason("::ffff:10.1.1.1", strict)).toContain("private");
    expect(blockedAddressReason("::ffff:93.184.215.14", strict)).toBeNull();
  });

  it("allows public unicast addresses", () => {
    for (const address of ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"]) {
      expect(blockedAddressReason(address, strict)).toBeNull();
    }
  });

  it("with WEBHOOK_ALLOW_PRIVATE_URLS allows loopback and private, still never link-local, CGNAT or metadata", () => {
    for (const address of ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.1", "fd12::1"]) {
      expect(blockedAddressReason(address, lenient)).toBeNull();
    }
    for (const address of ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0"]) {
      expect(blockedAddressReason(address, lenient)).not.toBeNull();
    }
  });

  it("refuses what is not an address at all", () => {
    expect(blockedAddressReason("example.com", strict)).toContain("not an IP address");
  });
});

describe("subscription URL rules", () => {
  const dns: Record<string, string[]> = {
    "hooks.example.com": ["93.184.215.14"],
    "internal.example.com": ["10.0.0.8"],
    "mixed.example.com": ["93.184.215.14", "127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
  };
  const rules = (overrides: Partial<UrlRules> = {}): UrlRules => ({
    allowPrivate: false,
    allowHttp: false,
    resolveHost: async (host) => {
      const found = dns[host];
      if (!found) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
      return found;
    },
    ...overrides,
  });

  it("accepts a public https URL", async () => {
    expect(await checkWebhookUrl("https://hooks.example.com/cellvi?x=1", rules())).toMatchObject({
      ok: true,
    });
  });

  it("requires https unless http is allowed (test mode)", async () => {
    expect(await checkWebhookUrl("http://hooks.example.com/", rules())).toMatchObject({
      ok: false,
      reason: expect.stringContaining("https"),
    });
    expect(await checkWebhookUrl("http://hooks.example.com/", rules({ allowHttp: true }))).toMatchObject({
      ok: true,
    });
  });

  it("refuses other schemes, credentials and garbage", async () => {
    for (const url of [
      "ftp://hooks.example.com/",
      "file:///etc/passwd",
      "gopher://x/",
      "javascript:alert(1)",
    ]) {
      expect((await checkWebhookUrl(url, rules({ allowHttp: true }))).ok).toBe(false);
    }
    expect(await checkWebhookUrl("https://user:pw@hooks.example.com/", rules())).toMatchObject({
      ok: false,
      reason: expect.stringContaining("credentials"),
    });
    expect((await checkWebhookUrl("not a url", rules())).ok).toBe(false);
  });

  it("refuses names and literals that resolve to forbidden addresses, any one of them", async () => {
    for (const url of [
      "https://internal.example.com/",
      "https://mixed.example.com/",
      "https://metadata.example.com/latest/meta-data",
      "https://127.0.0.1/",
      "https://[::1]:8443/",
      "https://[::ffff:169.254.169.254]/",
      "https://169.254.169.254/",
      "https://2130706433/",
    ]) {
      const check = await checkWebhookUrl(url, rules());
      expect(check, url).toMatchObject({ ok: false, reason: expect.stringContaining("forbidden address") });
    }
  });

  it("allows loopback and private targets with WEBHOOK_ALLOW_PRIVATE_URLS", async () => {
    const lenientRules = rules({ allowPrivate: true, allowHttp: true });
    expect((await checkWebhookUrl("http://127.0.0.1:4000/hooks", lenientRules)).ok).toBe(true);
    expect((await checkWebhookUrl("https://internal.example.com/", lenientRules)).ok).toBe(true);
    expect((await checkWebhookUrl("https://metadata.example.com/", lenientRules)).ok).toBe(false);
  });

  it("accepts a name that does not resolve yet (the check on each connection still applies)", async () => {
    expect((await checkWebhookUrl("https://not-deployed-yet.example.com/", rules())).ok).toBe(true);
  });

  it("does not wait for ever on slow DNS", async () => {
    const check = await checkWebhookUrl(
      "https://slow.example.com/",
      rules({ resolveHost: () => new Promise(() => {}), resolveTimeoutMs: 20 }),
    );
    expect(check.ok).toBe(true);
  });
});
