import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  checkSpelling,
  ServiceNameCaseError,
  ServiceSpellings,
} from "../../src/consul/register/service-spellings.ts";

describe("the case rule of service names", () => {
  test("a catalog entry spelled otherwise is a conflict naming Consul's spelling", () => {
    assert.throws(
      () => checkSpelling("myservice", [{ service: "MyService" }, { service: "myservice" }]),
      (error: unknown) => {
        assert.ok(error instanceof ServiceNameCaseError);
        assert.deepEqual(error.existing, ["MyService"]);
        assert.equal(
          error.message,
          'Consul already holds this service as "MyService": names that differ only by case are one service in Consul; use "MyService"',
        );
        return true;
      },
    );
    assert.doesNotThrow(() => checkSpelling("MyService", [{ service: "MyService" }]));
    assert.doesNotThrow(() => checkSpelling("web", [{ service: "other" }]));
  });

  test("a spelling in flight refuses another spelling of the same name, not the same spelling", async () => {
    const spellings = new ServiceSpellings();
    let finish = (): void => undefined;
    const first = spellings.claim("MyService", () => new Promise<void>((r) => (finish = r)));
    await assert.rejects(
      spellings.claim("myservice", async () => "x"),
      ServiceNameCaseError,
    );
    assert.equal(await spellings.claim("MyService", async () => "same"), "same");
    finish();
    await first;
  });

  test("a successful claim is remembered for a while; a failed one leaves no trace", async () => {
    let now = 0;
    const spellings = new ServiceSpellings(() => now);
    await spellings.claim("Web", async () => undefined);
    now = 9_000;
    await assert.rejects(
      spellings.claim("web", async () => undefined),
      /as "Web"/,
    );
    now = 20_000;
    await spellings.claim("web", async () => undefined);

    await assert.rejects(spellings.claim("Api", () => Promise.reject(new Error("refused"))));
    assert.equal(await spellings.claim("api", async () => "free"), "free");
  });

  test("releasing a spelling (its last instance left) frees the name at once", async () => {
    const spellings = new ServiceSpellings(() => 0);
    await spellings.claim("Gone", async () => undefined);
    spellings.release("gone");
    await assert.rejects(
      spellings.claim("gone", async () => undefined),
      ServiceNameCaseError,
    );
    spellings.release("Gone");
    assert.equal(await spellings.claim("gone", async () => "ok"), "ok");
  });
});
