import type { HostResolver } from "../../src/http/resolve-host.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_SHIM_ALLOW_NETWORKS, type ShimConfig } from "../../src/config/shim.ts";
import { parseCidrText } from "../../src/model/network-address.ts";
import type { Problem, ShimRequest } from "../../src/http/shim-request.ts";
import {
  applyShimRules,
  checkReservedService,
  createShimRules,
  defaultShimRules,
} from "../../src/http/shim-rules.ts";

const NAMES: Record<string, string[]> = {
  "multi.test": ["10.0.0.1", "10.0.0.2"],
  "metadata.test": ["169.254.169.254"],
  "mixed.test": ["10.0.0.1", "224.0.0.1"],
};
const resolver: HostResolver = async (name) => NAMES[name] ?? [];
const noLookups: HostResolver = () => assert.fail("no lookup expected");

function shimConfig(overrides: Partial<ShimConfig> = {}): ShimConfig {
  return {
    reservedServices: ["consul", "vault"],
    allowNetworks: DEFAULT_SHIM_ALLOW_NETWORKS.map(parseCidrText),
    multiAddress: "refuse",
    queueLimit: 10,
    lookupTimeoutMs: 2000,
    ...overrides,
  };
}

const rules = createShimRules(shimConfig(), { host: "127.0.0.1", port: 8500 }, []);

function request(host: string, overrides: Partial<ShimRequest> = {}): ShimRequest {
  const hostKind = /^[\d.]+$/.test(host) ? "ipv4" : host.includes(":") ? "ipv6" : "name";
  return { service: "web", host, hostKind, port: 8080, hostPath: "endpoint.host", ...overrides };
}

async function problems(
  target: ShimRequest,
  resolve = resolver,
  given = rules,
): Promise<Problem[]> {
  const result = await applyShimRules(target, resolve, given);
  assert.ok(!result.ok, `expected a refusal, got ${JSON.stringify(result)}`);
  return result.problems;
}

describe("reserved service names", () => {
  test("consul is refused in any case, before any lookup", async () => {
    for (const service of ["consul", "Consul", "CONSUL"]) {
      const found = await problems(request("some.name", { service }), noLookups);
      assert.equal(found.length, 1);
      assert.equal(found[0]?.path, "service");
      assert.match(
        found[0]?.message ?? "",
        /is reserved \(consul, vault; --shim-reserved-services\)/,
      );
    }
  });

  test("configured names are refused case-insensitively; others pass", () => {
    assert.equal(checkReservedService("Vault", ["consul", "vault"])?.path, "service");
    assert.equal(checkReservedService("vaults", ["consul", "vault"]), undefined);
  });

  test("consul stays reserved even when the rules list none", async () => {
    const bare = { ...rules, reservedServices: [] };
    const found = await problems(request("10.0.0.1", { service: "consul" }), noLookups, bare);
    assert.equal(found[0]?.path, "service");
  });

  test("the default rules reserve consul and allow only loopback and private networks", async () => {
    const defaults = defaultShimRules();
    assert.deepEqual(defaults.reservedServices, ["consul"]);
    assert.equal(defaults.multiAddress, "refuse");
    assert.equal(defaults.addressPolicy.check("8.8.8.8", 80)?.rule, "not-allowed");
  });
});

describe("addresses", () => {
  test("an IP literal is checked without a lookup; the problem names the rule", async () => {
    const found = await problems(request("169.254.169.254"), noLookups);
    assert.deepEqual(found, [
      {
        path: "endpoint.host",
        message:
          "169.254.169.254 is link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10): never a backend (rule: link-local)",
      },
    ]);
    const ok = await applyShimRules(request("10.1.2.3"), noLookups, rules);
    assert.ok(ok.ok);
    assert.deepEqual(ok.value.addresses, ["10.1.2.3"]);
  });

  test("a name resolving to a refused address is refused, saying what it resolved to", async () => {
    const found = await problems(request("metadata.test"));
    assert.equal(found.length, 1);
    assert.match(found[0]?.message ?? "", /^resolves to 169\.254\.169\.254 is link-local/);
  });

  test("a Consul port is a problem of the endpoint (or of port in the host+port form)", async () => {
    const inEndpoint = await problems(request("127.0.0.1", { port: 8500 }), noLookups);
    assert.equal(inEndpoint[0]?.path, "endpoint");
    const inBody = await problems(
      request("127.0.0.1", { port: 8301, hostPath: "host" }),
      noLookups,
    );
    assert.equal(inBody[0]?.path, "port");
    assert.match(inBody[0]?.message ?? "", /\(rule: consul-port\)$/);
  });
});

describe("names with several addresses", () => {
  test("are refused with the list by default", async () => {
    const found = await problems(request("multi.test"));
    assert.deepEqual(found, [
      {
        path: "endpoint.host",
        message:
          "resolves to 2 addresses (10.0.0.1, 10.0.0.2): name one of them, or run the bridge with --shim-multi-address=all to register each",
      },
    ]);
  });

  test("register every address with multiAddress all, each checked", async () => {
    const all = createShimRules(
      shimConfig({ multiAddress: "all" }),
      { host: "127.0.0.1", port: 8500 },
      [],
    );
    const result = await applyShimRules(request("multi.test"), resolver, all);
    assert.ok(result.ok);
    assert.deepEqual(result.value.addresses, ["10.0.0.1", "10.0.0.2"]);
    const mixed = await problems(request("mixed.test"), resolver, all);
    assert.deepEqual(
      mixed.map((p) => p.message.replace(/ is .*/, "")),
      ["resolves to 224.0.0.1"],
    );
  });
});
