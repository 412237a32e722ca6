import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig } from "../../src/config/config.ts";

function defaultService(argv: string[], env: NodeJS.ProcessEnv = {}): string | undefined {
  const parsed = parseConfig(["--gateway-port", "10000", ...argv], env);
  assert.equal(parsed.help, false);
  assert.ok(parsed.config.routing.gateway);
  return parsed.config.routing.gateway.defaultService;
}

function problems(argv: string[]): string[] {
  try {
    parseConfig(argv, {});
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return assert.fail("expected a ConfigError");
}

describe("--gateway-default-service", () => {
  it("is the shim's default service unless given, so the original two curls work as they are", () => {
    assert.equal(defaultService([]), "myservice");
    assert.equal(defaultService(["--default-service", "legacy"]), "legacy");
  });

  it("is taken from the flag or BRIDGE_GATEWAY_DEFAULT_SERVICE", () => {
    assert.equal(defaultService(["--gateway-default-service", "web"]), "web");
    assert.equal(defaultService([], { BRIDGE_GATEWAY_DEFAULT_SERVICE: "api" }), "api");
  });

  it("is turned off by an empty value, in the flag or the environment", () => {
    assert.equal(defaultService(["--gateway-default-service", ""]), undefined);
    assert.equal(defaultService(["--gateway-default-service="]), undefined);
    assert.equal(defaultService([], { BRIDGE_GATEWAY_DEFAULT_SERVICE: "" }), undefined);
  });

  it("needs a gateway port and a service name", () => {
    assert.match(problems(["--gateway-default-service", "web"]).join(), /needs a gateway port/);
    assert.match(
      problems(["--gateway-port", "10000", "--gateway-default-service", "a b"]).join(),
      /--gateway-default-service=a b: not a service name/,
    );
  });
});
