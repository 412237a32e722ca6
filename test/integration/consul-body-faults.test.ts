import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BodyFault } from "../support/consul-proxy.ts";
import { startProxiedPipeline, type ProxiedPipeline } from "../support/discovery-pipeline.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";

// The bridge's discovery pipeline behind a proxy that breaks the answers of every local blocking
// watch mid-body (a load balancer's reset, an agent dying mid-answer), with a real Envoy on its
// xDS port. The watches wait the default 300 s, so a read that noticed nothing would hang for
// minutes; each round registers a native service and expects it in Envoy within 2 s, the error
// counted and logged.
const WATCHES = ["/health/state/critical", "/health/state/warning", "/catalog/services"];
const SERVED_WITHIN_MS = 2_000;

/** The services the rounds register, one per fault, each an EDS cluster of Envoy's. */
const ROUND_SERVICES = ["cut", "reset", "stall", "drip"].map((kind) => `after-${kind}`);

let stack: ProxiedPipeline;
let envoy: EnvoyProxy;

before(async () => {
  stack = await startProxiedPipeline(async () => undefined, ["--consul-progress-timeout=1"]);
  envoy = await startEnvoy({
    xdsPort: stack.pipeline.xds.port,
    extraServices: ROUND_SERVICES.map((name) => ({ name })),
    waitUntil: "admin",
  });
});

after(async () => {
  await envoy?.stop();
  await stack?.stop();
});

const inEnvoy = async (service: string, port: number): Promise<boolean> =>
  (await envoy.clusterHosts(service)).some((host) => host.port === port);

const errorsOn = async (endpoint: string): Promise<number> =>
  (await stack.metrics.consulErrors.get()).values.find((v) => v.labels.endpoint === endpoint)
    ?.value ?? 0;

const backOffs = (watch: string): number =>
  stack.logs.lines.filter((l) => l.msg === "consul read failed; backing off" && l.watch === watch)
    .length;

/**
 * Breaks the next answer of every local watch with `fault`, registers a service through the agent,
 * waits for Envoy to hold it and reports what the round took.
 */
async function registerDuringFault(fault: BodyFault, port: number) {
  const errorsBefore = await Promise.all(WATCHES.map(errorsOn));
  const logsBefore = WATCHES.map(backOffs);
  const faultsBefore = stack.proxy.faults.length;
  for (const watch of WATCHES) stack.proxy.breakBody("GET", `/v1${watch}`, fault);
  const service = `after-${fault.kind}`;
  await stack.consul.api("PUT", "/v1/agent/service/register", {
    ID: `${service}-${port}`,
    Name: service,
    Address: "127.0.0.1",
    Port: port,
    Check: { TTL: "60s", Status: "passing" },
  });
  await waitFor(() => inEnvoy(service, port), {
    timeoutMs: SERVED_WITHIN_MS,
    intervalMs: 10,
    description: `${service} in Envoy`,
  });
  const served = performance.now();
  const applied = stack.proxy.faults.slice(faultsBefore);
  assert.deepEqual(
    applied.map((f) => f.url.split("?")[0]).sort(),
    WATCHES.map((watch) => `/v1${watch}`).sort(),
    "the answers of every local watch were broken",
  );
  // A watch is done with its broken answer (failed and read again at once, or read a slow one
  // whole) once it blocks again: a next round breaking its immediate re-read instead would be
  // that read's second attempt, which is logged at debug only.
  await waitFor(
    () =>
      applied.every((fault) =>
        stack.proxy.requests.some(
          (r) =>
            r.url.startsWith(fault.url.split("?")[0]!) &&
            /[?&]index=/.test(r.url) &&
            r.receivedAt > (fault.sentAt ?? Infinity),
        ),
      ),
    { description: "every local watch blocking again" },
  );
  const brokenAt = Math.min(...applied.map((f) => f.at));
  const nextAnswers = WATCHES.map((watch) => {
    const fault = applied.find((f) => f.url.startsWith(`/v1${watch}`))!;
    const next = stack.proxy.requests.find(
      (r) => r.url.startsWith(`/v1${watch}`) && (r.answeredAt ?? 0) > fault.at,
    );
    return next?.answeredAt === undefined ? Number.NaN : next.answeredAt - fault.at;
  });
  return {
    applied,
    addedErrors: (await Promise.all(WATCHES.map(errorsOn))).map((n, i) => n - errorsBefore[i]!),
    addedBackOffs: WATCHES.map((watch, i) => backOffs(watch) - logsBefore[i]!),
    nextAnswerMs: nextAnswers.map(Math.round),
    servedMs: Math.round(served - brokenAt),
  };
}

describe("a Consul answer broken mid-body", { timeout: 60_000 }, () => {
  const faults: [string, BodyFault, number][] = [
    ["a connection closed mid-body", { kind: "cut", afterBytes: 16 }, 7101],
    ["a connection reset mid-body", { kind: "reset", afterBytes: 16 }, 7102],
    ["a body that stops arriving", { kind: "stall", afterBytes: 16 }, 7103],
  ];
  for (const [what, fault, port] of faults) {
    test(`after ${what}, a registration reaches Envoy within 2 s and the error is counted and logged`, async () => {
      const round = await registerDuringFault(fault, port);
      console.log(
        `${fault.kind}: next good answer ${round.nextAnswerMs.join(" / ")} ms after the fault ` +
          `(${WATCHES.join(" / ")}); in Envoy ${round.servedMs} ms after it`,
      );
      for (const [i, watch] of WATCHES.entries()) {
        assert.ok(round.addedErrors[i]! >= 1, `${watch}: the failed read is counted`);
        assert.ok(round.addedBackOffs[i]! >= 1, `${watch}: the failed read is logged`);
      }
    });
  }

  test("a body that arrives slowly but steadily is no error", async () => {
    // The local watches' answers are small (only non-passing checks): drip in small chunks.
    const fault = { kind: "drip", chunkBytes: 16, intervalMs: 250 } as const;
    const round = await registerDuringFault(fault, 7104);
    const catalog = round.applied.find((f) => f.url.startsWith("/v1/catalog/services"))!;
    const pauses = Math.ceil(catalog.bodyBytes / fault.chunkBytes) - 1;
    assert.ok(pauses * fault.intervalMs > 1_000, "its pauses add up to more than the deadline");
    assert.deepEqual(round.addedErrors, [0, 0, 0], "nothing counted");
    assert.deepEqual(round.addedBackOffs, [0, 0, 0], "nothing logged");
  });
});
