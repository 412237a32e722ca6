import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConsulAccess, ConsulAccessError } from "../../src/consul/client/consul-access.ts";
import { ConsulRequestError } from "../../src/consul/client/consul-client.ts";
import { memoryLogger } from "../support/memory-logger.ts";

function access(now: () => number = () => 0) {
  const log = memoryLogger("info");
  const kinds: string[] = [];
  const states: boolean[] = [];
  const guard = new ConsulAccess({
    logger: log.logger,
    tokenSource: "CONSUL_HTTP_TOKEN_FILE=/run/token",
    hooks: { onProblem: (kind) => kinds.push(kind), onStateChange: (ok) => states.push(ok) },
    now,
  });
  return { guard, log, kinds, states };
}

describe("ConsulAccess", () => {
  it("refuses a catalog without any service and a read of the consul service without any instance", () => {
    const { guard, kinds } = access();
    assert.throws(() => guard.check("/catalog/services", {}), ConsulAccessError);
    assert.throws(() => guard.check("/health/service/:name", []), /lacks node:read/);
    assert.deepEqual(kinds, ["filtered", "filtered"]);
    assert.match(guard.problem() ?? "", /CONSUL_HTTP_TOKEN_FILE=\/run\/token/);
  });

  it("accepts answers with a service and an instance, and clears the problem of that watch", () => {
    const { guard, states } = access();
    assert.throws(() => guard.check("/catalog/services", {}));
    guard.check("/catalog/services", { consul: [] });
    guard.check("/health/service/:name", [{ Node: { Node: "n" }, Service: { ID: "consul" } }]);
    guard.cleared("/catalog/services");
    assert.equal(guard.problem(), undefined);
    assert.deepEqual(states, [false, true]);
  });

  it("takes a 403 ACL not found as an unknown token and other 403s as denied; other errors are no access problem", () => {
    const { guard, kinds } = access();
    guard.failed("/health/state/critical", new ConsulRequestError("x", 500));
    assert.equal(guard.problem(), undefined);
    guard.failed(
      "/health/state/critical",
      new ConsulRequestError("x", 403, { reason: "ACL not found" }),
    );
    assert.match(guard.problem() ?? "", /no longer known to Consul/);
    guard.failed(
      "/catalog/services",
      new ConsulRequestError("x", 403, { reason: "Permission denied" }),
    );
    assert.deepEqual(kinds, ["unknown-token", "denied"]);
  });

  it("logs the first problem once at error, then a reminder a minute later", () => {
    let now = 0;
    const { guard, log } = access(() => now);
    const denied = new ConsulRequestError("x", 403, { reason: "ACL not found" });
    for (let i = 0; i < 20; i += 1) guard.failed("/health/state/critical", denied);
    guard.failed("/catalog/services", denied);
    const errors = () => log.lines.filter((line) => line.level === 50).length;
    assert.equal(errors(), 1);
    now = 61_000;
    guard.failed("/health/state/critical", denied);
    assert.equal(errors(), 2);
  });

  it("judges nothing when Consul says ACL support is disabled (an empty catalog is really empty)", async () => {
    const { guard } = access();
    const connection = {
      tokenSelf: async () => ({
        status: 401,
        body: "ACL support disabled",
        digest: "",
        headers: {},
      }),
    };
    const facts = await guard.learn(connection, new AbortController().signal, () => undefined);
    assert.equal(facts.aclsEnabled, false);
    guard.check("/catalog/services", {});
    assert.equal(guard.problem(), undefined);
  });
});
