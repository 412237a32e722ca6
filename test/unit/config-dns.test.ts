import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readDnsConfig, type DnsGiven } from "../../src/config/dns.ts";
import { ConfigError, parseConfig, usage } from "../../src/config/config.ts";

const none: DnsGiven = {
  dnsServices: undefined,
  dnsServer: undefined,
  dnsMinTtl: undefined,
  dnsMaxTtl: undefined,
  dnsMerge: undefined,
};
const flag = (name: string, value: string) => ({ value, source: `--${name}` });

describe("DNS source configuration", () => {
  it("defaults to no DNS names, the system resolvers, 5-300 s and prefer-consul", () => {
    const problems: string[] = [];
    assert.deepEqual(readDnsConfig(none, problems), {
      targets: [],
      server: undefined,
      minTtlSeconds: 5,
      maxTtlSeconds: 300,
      merge: "prefer-consul",
    });
    assert.deepEqual(problems, []);
  });

  it("reads SRV names and NAME:PORT address names", () => {
    const problems: string[] = [];
    const config = readDnsConfig(
      {
        ...none,
        dnsServices: flag("dns-services", "api=_api._tcp.service.consul, web=web.example.com:8080"),
        dnsServer: flag("dns-server", "127.0.0.1:8600"),
        dnsMerge: flag("dns-merge", "merge"),
      },
      problems,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(config.targets, [
      { service: "api", kind: "srv", name: "_api._tcp.service.consul" },
      { service: "web", kind: "address", name: "web.example.com", port: 8080 },
    ]);
    assert.equal(config.server, "127.0.0.1:8600");
    assert.equal(config.merge, "merge");
  });

  it("reports every bad value with where it came from", () => {
    const problems: string[] = [];
    readDnsConfig(
      {
        dnsServices: flag(
          "dns-services",
          "api,=x,web=w.example:0,web=a b,api2=a.example,api2=b.example",
        ),
        dnsServer: flag("dns-server", "nowhere"),
        dnsMinTtl: flag("dns-min-ttl", "600"),
        dnsMaxTtl: flag("dns-max-ttl", "60"),
        dnsMerge: flag("dns-merge", "both"),
      },
      problems,
    );
    assert.equal(problems.length, 8, problems.join("\n"));
    assert.match(problems[0]!, /--dns-services entry 1 "api": expected SERVICE=NAME/);
    assert.match(problems[2]!, /entry 3 .*port must be 1-65535/);
    assert.match(problems[3]!, /not a DNS name/);
    assert.match(problems[4]!, /api2 is given twice/);
    assert.match(problems[5]!, /--dns-server=nowhere: expected HOST:PORT/);
    assert.match(problems[6]!, /above --dns-max-ttl/);
    assert.match(problems[7]!, /--dns-merge=both/);
  });

  it("reaches BridgeConfig from flags, which win, and from the environment", () => {
    const parsed = parseConfig(
      ["--dns-services=ext=extsrc.service.consul,web=web.example.com:8080", "--dns-min-ttl=2"],
      {
        BRIDGE_DNS_SERVICES: "ignored=ignored.example.com",
        BRIDGE_DNS_SERVER: "127.0.0.1:8600",
        BRIDGE_DNS_MAX_TTL: "60",
        BRIDGE_DNS_MERGE: "merge",
      },
    );
    assert.ok(!parsed.help);
    assert.deepEqual(parsed.config.dns, {
      targets: [
        { service: "ext", kind: "srv", name: "extsrc.service.consul" },
        { service: "web", kind: "address", name: "web.example.com", port: 8080 },
      ],
      server: "127.0.0.1:8600",
      minTtlSeconds: 2,
      maxTtlSeconds: 60,
      merge: "merge",
    });
    assert.match(usage(), /--dns-services .*\[env BRIDGE_DNS_SERVICES\]/);
  });

  it("reports bad DNS values with the other configuration problems", () => {
    assert.throws(
      () => parseConfig(["--dns-merge=both", "--dns-server=nowhere", "--xds-port=x"], {}),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.startsWith("--dns-merge=both")) &&
        error.problems.some((p) => p.startsWith("--dns-server=nowhere")) &&
        error.problems.some((p) => p.startsWith("--xds-port=x")),
    );
  });
});
