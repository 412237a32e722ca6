import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_HTTP_HOST, parseConfig, usage } from "../../src/config.ts";

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error("expected a configuration");
  return parsed;
}

describe("command line", () => {
  it("answers -h like --help and --version as a request to print the version", () => {
    assert.deepEqual(parseConfig(["-h"], {}), { help: true });
    assert.deepEqual(parseConfig(["--version"], {}), { help: true, version: true });
    assert.match(usage(), /--version/);
  });

  it("binds the shim and status page to loopback unless a host is given", () => {
    assert.equal(DEFAULT_HTTP_HOST, "127.0.0.1");
    assert.equal(parse([]).config.http.host, "127.0.0.1");
    assert.equal(parse(["--http-host=0.0.0.0"]).config.http.host, "0.0.0.0");
  });

  it("reads BRIDGE_ environment names, and the old names with a deprecation notice", () => {
    const fresh = parse([], { BRIDGE_XDS_PORT: "18001", BRIDGE_HTTP_HOST: "10.0.0.5" });
    assert.equal(fresh.config.xds.port, 18001);
    assert.equal(fresh.config.http.host, "10.0.0.5");
    assert.deepEqual(fresh.warnings, []);
    const old = parse([], { XDS_PORT: "18002", LOG_LEVEL: "debug" });
    assert.equal(old.config.xds.port, 18002);
    assert.equal(old.config.logLevel, "debug");
    assert.ok(old.warnings.some((w) => /XDS_PORT is deprecated: use BRIDGE_XDS_PORT/.test(w)));
  });

  it("ignores a Kubernetes service variable in an old name with a warning instead of refusing to start", () => {
    const parsed = parse([], { XDS_PORT: "tcp://10.0.0.1:18000" });
    assert.equal(parsed.config.xds.port, 18000);
    assert.match(parsed.warnings.join("\n"), /XDS_PORT=tcp:\/\/10\.0\.0\.1:18000 ignored/);
  });
});
