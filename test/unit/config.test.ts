import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ConfigError,
  DEFAULT_HTTP_PORT,
  DEFAULT_SERVICE,
  DEFAULT_XDS_PORT,
  parseConfig,
  usage,
  type BridgeConfig,
} from "../../src/config/config.ts";
import { DEFAULT_SHIM_QUEUE_LIMIT } from "../../src/config/shim.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";

/** Parses and returns the configuration, failing the test on --help. */
function config(argv: string[] = [], env: NodeJS.ProcessEnv = {}): BridgeConfig {
  const parsed = parseConfig(argv, env);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error("unreachable");
  return parsed.config;
}

/** Returns the problems of a configuration that must be rejected. */
function problems(argv: string[] = [], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    assert.equal(error.name, "ConfigError");
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  assert.fail("configuration was accepted");
}

describe("parseConfig defaults", () => {
  it("serves xDS on 18000, the shim on 5000 and the service myservice", () => {
    const c = config();
    assert.equal(c.xds.port, DEFAULT_XDS_PORT);
    assert.equal(c.xds.port, 18000);
    assert.equal(c.http.port, DEFAULT_HTTP_PORT);
    assert.equal(c.http.port, 5000);
    assert.equal(c.http.defaultService, DEFAULT_SERVICE);
    assert.equal(c.http.defaultService, "myservice");
  });

  it("talks plain HTTP to a local Consul with no token", () => {
    const c = config();
    assert.deepEqual(
      { host: c.consul.host, port: c.consul.port, secure: c.consul.secure, token: c.consul.token },
      { host: "127.0.0.1", port: 8500, secure: false, token: undefined },
    );
  });

  it("maps warning to healthy and critical to unhealthy", () => {
    assert.deepEqual(config().health, { warning: "healthy", critical: "unhealthy" });
  });

  it("does not read process.env by itself", () => {
    const saved = process.env.XDS_PORT;
    process.env.XDS_PORT = "19999";
    try {
      assert.equal(config([], {}).xds.port, 18000);
    } finally {
      if (saved === undefined) delete process.env.XDS_PORT;
      else process.env.XDS_PORT = saved;
    }
  });
});

describe("parseConfig Consul environment", () => {
  it("reads CONSUL_HTTP_ADDR without a scheme as plain HTTP", () => {
    const c = config([], { CONSUL_HTTP_ADDR: "consul.internal:8600" });
    assert.deepEqual(
      [c.consul.host, c.consul.port, c.consul.secure],
      ["consul.internal", 8600, false],
    );
  });

  it("reads CONSUL_HTTP_ADDR with https:// as HTTPS, port 8501 by default", () => {
    const c = config([], { CONSUL_HTTP_ADDR: "https://consul.internal" });
    assert.deepEqual(
      [c.consul.host, c.consul.port, c.consul.secure],
      ["consul.internal", 8501, true],
    );
  });

  it("reads CONSUL_HTTP_ADDR with http:// and an explicit port", () => {
    const c = config([], { CONSUL_HTTP_ADDR: "http://10.1.2.3:8500" });
    assert.deepEqual([c.consul.host, c.consul.port, c.consul.secure], ["10.1.2.3", 8500, false]);
  });

  it("accepts a bracketed IPv6 Consul address", () => {
    const c = config([], { CONSUL_HTTP_ADDR: "[::1]:8500" });
    assert.deepEqual([c.consul.host, c.consul.port], ["::1", 8500]);
  });

  it("switches to HTTPS with CONSUL_HTTP_SSL=true", () => {
    const c = config([], { CONSUL_HTTP_ADDR: "consul:8501", CONSUL_HTTP_SSL: "true" });
    assert.equal(c.consul.secure, true);
  });

  it("stays on HTTP with CONSUL_HTTP_SSL=false", () => {
    assert.equal(config([], { CONSUL_HTTP_SSL: "false" }).consul.secure, false);
  });

  it("sends CONSUL_HTTP_TOKEN as the ACL token", () => {
    assert.equal(config([], { CONSUL_HTTP_TOKEN: "s3cr3t" }).consul.token, "s3cr3t");
  });

  it("treats an empty environment variable as unset", () => {
    const c = config([], { CONSUL_HTTP_TOKEN: "", XDS_PORT: "" });
    assert.equal(c.consul.token, undefined);
    assert.equal(c.xds.port, 18000);
  });

  it("rejects a CONSUL_HTTP_ADDR that is not [http[s]://]HOST:PORT or unix:///PATH", () => {
    const found = problems([], { CONSUL_HTTP_ADDR: "ftp://consul:8500" });
    assert.equal(found.length, 1);
    assert.match(found.join("\n"), /CONSUL_HTTP_ADDR/);
  });

  it("rejects a CONSUL_HTTP_SSL that is not a boolean", () => {
    const found = problems([], { CONSUL_HTTP_SSL: "maybe" });
    assert.match(found.join("\n"), /CONSUL_HTTP_SSL=maybe/);
  });
});

describe("parseConfig flags", () => {
  it("lets flags win over the environment", () => {
    const c = config(
      [
        "--consul-addr",
        "flag-consul:9500",
        "--consul-token",
        "from-flag",
        "--xds-port=18001",
        "--warning-as",
        "degraded",
      ],
      {
        CONSUL_HTTP_ADDR: "env-consul:8500",
        CONSUL_HTTP_TOKEN: "from-env",
        XDS_PORT: "17000",
        BRIDGE_WARNING_AS: "healthy",
      },
    );
    assert.deepEqual([c.consul.host, c.consul.port], ["flag-consul", 9500]);
    assert.equal(c.consul.token, "from-flag");
    assert.equal(c.xds.port, 18001);
    assert.equal(c.health.warning, "degraded");
  });

  it("uses the environment for what the flags leave out", () => {
    const c = config(["--http-port", "5050"], { XDS_PORT: "17000", BRIDGE_CRITICAL_AS: "omit" });
    assert.equal(c.http.port, 5050);
    assert.equal(c.xds.port, 17000);
    assert.equal(c.health.critical, "omit");
  });

  it("reports --help as a request for help", () => {
    assert.deepEqual(parseConfig(["--help"], {}), { help: true });
  });

  it("documents every option with its environment variable in the usage text", () => {
    const text = usage();
    for (const expected of ["--consul-addr", "CONSUL_HTTP_ADDR", "--xds-port", "--help"]) {
      assert.ok(text.includes(expected), `usage lacks ${expected}`);
    }
  });
});

describe("parseConfig validation", () => {
  it("reports every bad value at once, naming where it came from", () => {
    const found = problems(["--warning-as", "sometimes"], {
      XDS_PORT: "70000",
      BRIDGE_CRITICAL_AS: "ignore",
      BRIDGE_CONSUL_WAIT: "abc",
    });
    assert.equal(found.length, 4, found.join("\n"));
    const text = found.join("\n");
    assert.match(text, /XDS_PORT=70000/);
    assert.match(text, /--warning-as=sometimes/);
    assert.match(text, /BRIDGE_CRITICAL_AS=ignore/);
    assert.match(text, /BRIDGE_CONSUL_WAIT=abc/);
  });

  it("reports an unknown flag together with the bad values from the environment", () => {
    const found = problems(["--no-such-flag"], { XDS_PORT: "-1", BRIDGE_WARNING_AS: "sometimes" });
    assert.equal(found.length, 3, found.join("\n"));
    const text = found.join("\n");
    assert.match(text, /no-such-flag/);
    assert.match(text, /XDS_PORT=-1/);
    assert.match(text, /BRIDGE_WARNING_AS=sometimes/);
  });

  it("reports an unknown flag together with bad values of the other flags", () => {
    const found = problems(["--xds-port", "99999", "--warning-as", "sometimes", "--no-such-flag"]);
    const text = found.join("\n");
    assert.match(text, /no-such-flag/);
    assert.match(text, /--xds-port=99999/);
    assert.match(text, /--warning-as=sometimes/);
  });

  it("rejects a port that is not an integer", () => {
    assert.match(problems(["--http-port", "50.5"]).join("\n"), /--http-port=50\.5/);
  });

  it("rejects the same port for xDS and HTTP", () => {
    assert.match(problems(["--xds-port", "6000", "--http-port", "6000"]).join(), /both 6000/);
  });

  it("accepts port 0 for both servers (ephemeral ports in tests)", () => {
    const c = config(["--xds-port", "0", "--http-port", "0"]);
    assert.deepEqual([c.xds.port, c.http.port], [0, 0]);
  });

  it("rejects a default service name with characters Envoy clusters should not carry", () => {
    assert.match(problems(["--default-service", "my service"]).join(), /default service/);
  });

  it("rejects a deregister-critical-after below Consul's one minute", () => {
    assert.match(
      problems(["--deregister-critical-after", "30"]).join(),
      /--deregister-critical-after=30/,
    );
  });
});

describe("parseConfig routing", () => {
  it("exports every service, keeps departed clusters 60 s and serves no gateway by default", () => {
    const { routing } = config();
    assert.deepEqual(routing.services.patterns, []);
    assert.equal(routing.clusterGraceSeconds, 60);
    assert.equal(routing.routeConfigName, "consul-services");
    assert.equal(routing.gateway, undefined);
  });

  it("reads the service filter, grace, route name and gateway from flags and environment", () => {
    const { routing } = config(["--services", "api-*, tag:public", "--gateway-port", "10000"], {
      BRIDGE_CLUSTER_GRACE: "5",
      BRIDGE_ROUTE_CONFIG_NAME: "edge-routes",
      BRIDGE_GATEWAY_HOST: "127.0.0.1",
    });
    assert.deepEqual(
      routing.services.patterns.map((p) => [p.kind, p.text]),
      [
        ["name", "api-*"],
        ["tag", "tag:public"],
      ],
    );
    assert.equal(routing.clusterGraceSeconds, 5);
    assert.equal(routing.routeConfigName, "edge-routes");
    assert.deepEqual(routing.gateway, {
      host: "127.0.0.1",
      port: 10000,
      defaultService: "myservice",
    });
  });

  it("takes BRIDGE_SERVICES and BRIDGE_GATEWAY_PORT from the environment", () => {
    const { routing } = config([], {
      BRIDGE_SERVICES: "meta:team=payments",
      BRIDGE_GATEWAY_PORT: "8080",
    });
    assert.deepEqual(routing.services.patterns[0], {
      kind: "meta",
      text: "meta:team=payments",
      key: "team",
      value: "payments",
    });
    assert.deepEqual(routing.gateway, { host: "0.0.0.0", port: 8080, defaultService: "myservice" });
  });

  it("reports every bad routing value at once", () => {
    const found = problems([
      "--services",
      "api-*,tag:,meta:noequals,bad name",
      "--cluster-grace",
      "-1",
      "--route-config-name",
      "has space",
      "--gateway-port",
      "70000",
    ]).join("\n");
    assert.match(found, /--services: pattern 2 "tag:"/);
    assert.match(found, /--services: pattern 3 "meta:noequals"/);
    assert.match(found, /--services: pattern 4 "bad name"/);
    assert.match(found, /--cluster-grace=-1/);
    assert.match(found, /--route-config-name=has space/);
    assert.match(found, /--gateway-port=70000/);
  });

  it("rejects a gateway host without a gateway port", () => {
    assert.match(problems(["--gateway-host", "127.0.0.1"]).join(), /needs a gateway port/);
  });
});

describe("parseConfig xDS authentication", () => {
  let certs: TestCertificates;
  let tls: string[];
  before(async () => {
    certs = await makeTestCertificates();
    tls = ["--xds-tls-cert", certs.server.cert, "--xds-tls-key", certs.server.key];
  });
  after(() => certs?.remove());
  const file = (name: string, content: string): string => {
    const path = join(certs.dir, name);
    writeFileSync(path, content);
    return path;
  };

  it("serves plaintext without a token by default", () => {
    const { xds } = config();
    assert.equal(xds.tls, undefined);
    assert.equal(xds.token, undefined);
  });

  it("reads the certificate and key at start; a client CA turns on mutual TLS", () => {
    const plain = config(tls).xds.tls;
    assert.deepEqual(plain?.certificate, readFileSync(certs.server.cert));
    assert.deepEqual(plain?.privateKey, readFileSync(certs.server.key));
    assert.equal(plain?.clientCa, undefined);
    const mutual = config([...tls, `--xds-client-ca=${certs.ca}`]).xds.tls;
    assert.deepEqual(mutual?.clientCa, readFileSync(certs.ca));
  });

  it("takes the files from BRIDGE_XDS_TLS_CERT, BRIDGE_XDS_TLS_KEY and BRIDGE_XDS_CLIENT_CA", () => {
    const { tls: fromEnv } = config([], {
      BRIDGE_XDS_TLS_CERT: certs.server.cert,
      BRIDGE_XDS_TLS_KEY: certs.server.key,
      BRIDGE_XDS_CLIENT_CA: certs.ca,
    }).xds;
    assert.deepEqual(fromEnv?.clientCa, readFileSync(certs.ca));
  });

  it("refuses a certificate without its key, a key alone and a client CA without TLS", () => {
    assert.deepEqual(problems(["--xds-tls-cert", certs.server.cert]), [
      "--xds-tls-cert needs --xds-tls-key (BRIDGE_XDS_TLS_KEY)",
    ]);
    assert.deepEqual(problems([], { BRIDGE_XDS_TLS_KEY: certs.server.key }), [
      "BRIDGE_XDS_TLS_KEY needs --xds-tls-cert (BRIDGE_XDS_TLS_CERT)",
    ]);
    const [caAlone] = problems(["--xds-client-ca", certs.ca]);
    assert.match(caAlone!, /^--xds-client-ca \(mutual TLS\) needs TLS: set --xds-tls-cert/);
  });

  it("names the option of an unreadable file, once", () => {
    const missing = join(certs.dir, "nope.pem");
    assert.deepEqual(problems(["--xds-tls-cert", missing, "--xds-tls-key", certs.server.key]), [
      `--xds-tls-cert=${missing}: cannot read the file (ENOENT)`,
    ]);
    assert.deepEqual(problems([...tls, "--xds-client-ca", certs.dir]), [
      `--xds-client-ca=${certs.dir}: cannot read the file (EISDIR)`,
    ]);
  });

  it("refuses a key that does not belong to the certificate, and a client CA that is no PEM", () => {
    const [mismatch] = problems([
      "--xds-tls-cert",
      certs.server.cert,
      "--xds-tls-key",
      certs.client.key,
    ]);
    assert.match(mismatch!, /^--xds-tls-cert, --xds-tls-key: not a usable PEM certificate and key/);
    const [garbage] = problems([...tls, "--xds-client-ca", file("garbage.pem", "not a pem\n")]);
    assert.match(garbage!, /^--xds-client-ca: not a PEM certificate/);
  });

  it("takes the token inline, from BRIDGE_XDS_TOKEN, or from a file without its newline", () => {
    assert.equal(config(["--xds-token", "abc.DEF-123"]).xds.token, "abc.DEF-123");
    assert.equal(config([], { BRIDGE_XDS_TOKEN: "from-env" }).xds.token, "from-env");
    const tokenFile = file("token", "from-file\n");
    assert.equal(config(["--xds-token-file", tokenFile]).xds.token, "from-file");
    assert.equal(config([], { BRIDGE_XDS_TOKEN_FILE: tokenFile }).xds.token, "from-file");
  });

  it("refuses a token given twice, an empty or spaced token and an unreadable token file", () => {
    const tokenFile = file("token2", "secret-two\n");
    const found = problems(["--xds-token", "secret-one", "--xds-token-file", tokenFile]);
    assert.deepEqual(found, [
      "--xds-token and --xds-token-file: give the xDS token one way, not both",
    ]);
    const empty = file("empty", "\n");
    assert.deepEqual(problems(["--xds-token-file", empty]), [
      `--xds-token-file=${empty}: the token must be non-empty visible ASCII without spaces`,
    ]);
    const spaced = problems(["--xds-token", "two words"]);
    assert.deepEqual(spaced, [
      "--xds-token: the token must be non-empty visible ASCII without spaces",
    ]);
    assert.ok(!spaced.join().includes("two words"), "the token is never echoed");
    assert.match(problems(["--xds-token-file", join(certs.dir, "none")]).join(), /ENOENT/);
  });

  it("reports every xDS authentication problem at once, and lists the options in --help", () => {
    const found = problems([
      "--xds-tls-cert",
      certs.server.cert,
      "--xds-token",
      "a",
      "--xds-token-file",
      "b",
    ]);
    assert.equal(found.length, 2);
    for (const flag of [
      "xds-tls-cert",
      "xds-tls-key",
      "xds-client-ca",
      "xds-token",
      "xds-token-file",
    ])
      assert.match(usage(), new RegExp(`--${flag} `));
  });
});

describe("parseConfig shim rules", () => {
  it("reserves consul, allows loopback and private networks, refuses several addresses by default", () => {
    const { shim } = config();
    assert.deepEqual(shim.reservedServices, ["consul"]);
    assert.deepEqual(
      shim.allowNetworks.map((n) => `${n.address}/${n.prefix}`),
      ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    );
    assert.equal(shim.multiAddress, "refuse");
    assert.equal(shim.queueLimit, DEFAULT_SHIM_QUEUE_LIMIT);
    assert.equal(shim.lookupTimeoutMs, 2000);
  });

  it("reads the shim options from flags and the environment", () => {
    const { shim } = config(
      ["--shim-reserved-services", "vault, Nomad,consul", "--shim-multi-address=all"],
      {
        BRIDGE_SHIM_ALLOW_NETWORKS: "10.1.0.0/16, 2001:db8::/32,192.0.2.7",
        BRIDGE_SHIM_QUEUE_LIMIT: "50",
        BRIDGE_SHIM_LOOKUP_TIMEOUT_MS: "500",
      },
    );
    assert.deepEqual(shim.reservedServices, ["consul", "vault", "Nomad"]);
    assert.deepEqual(shim.allowNetworks, [
      { address: "10.1.0.0", prefix: 16, family: "ipv4" },
      { address: "2001:db8::", prefix: 32, family: "ipv6" },
      { address: "192.0.2.7", prefix: 32, family: "ipv4" },
    ]);
    assert.equal(shim.multiAddress, "all");
    assert.equal(shim.queueLimit, 50);
    assert.equal(shim.lookupTimeoutMs, 500);
    assert.deepEqual(config([], { BRIDGE_SHIM_RESERVED_SERVICES: "vault" }).shim.reservedServices, [
      "consul",
      "vault",
    ]);
  });

  it("reports every bad shim value at once", () => {
    assert.deepEqual(
      problems([
        "--shim-reserved-services=ok,bad.name",
        "--shim-allow-networks=10.0.0.0/33,nonsense,fd00::/8",
        "--shim-multi-address=first",
        "--shim-queue-limit=0",
        "--shim-lookup-timeout-ms=50",
      ]),
      [
        '--shim-reserved-services: "bad.name" is not a service name',
        '--shim-allow-networks: "10.0.0.0/33": the prefix must be an integer 0-32',
        '--shim-allow-networks: "nonsense" is not ADDRESS/PREFIX',
        "--shim-multi-address=first: expected refuse or all",
        "--shim-queue-limit=0: expected an integer from 1 to 100000",
        "--shim-lookup-timeout-ms=50: expected an integer from 100 to 30000",
      ],
    );
    assert.deepEqual(problems(["--shim-allow-networks", " , "]), [
      "--shim-allow-networks: no network given",
    ]);
  });

  it("refuses a default service the shim would refuse as reserved", () => {
    assert.deepEqual(problems(["--default-service", "Consul"]), [
      'default service "Consul" is reserved for the shim',
    ]);
    assert.deepEqual(problems(["--default-service=billing", "--shim-reserved-services=BILLING"]), [
      'default service "billing" is reserved for the shim',
    ]);
  });

  it("lists the shim options in --help", () => {
    for (const flag of [
      "shim-reserved-services",
      "shim-allow-networks",
      "shim-multi-address",
      "shim-queue-limit",
      "shim-lookup-timeout-ms",
    ])
      assert.match(usage(), new RegExp(`--${flag} `));
  });
});
