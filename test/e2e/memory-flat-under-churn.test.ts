import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test, type TestContext } from "node:test";
import {
  openAckingXdsClients,
  type AckingXdsClients,
  type AssignmentView,
} from "../support/acking-xds-clients.ts";
import type { BackendProcess } from "../support/backend-process.ts";
import { consulApi } from "../support/consul-api.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";
import {
  startGatewayBridge,
  startGatewayEnvoy,
  type GatewayBridge,
} from "../support/gateway-stack.ts";
import { nameServer } from "../support/name-server.ts";
import { minimaSlope, perMinuteMinima, type RssSample } from "../support/rss-trend.ts";
import { consulView, startServiceChurn, type ServiceChurn } from "../support/service-churn.ts";
import { waitFor } from "../support/wait-for.ts";
import {
  bridgeMetric,
  LONG_TESTS,
  residentMiB,
  shimCall,
  shimRegister,
  startBackends,
  stopAll,
  untilInEnvoy,
} from "./fault-helpers.ts";
import { startTraffic, type Traffic } from "./traffic.ts";

const SERVICES = Array.from({ length: 10 }, (_, i) => `soak-${i}`);
const STREAMS = 50;
const PER_SECOND = 10;
/** The long form churns ≥ 30 minutes (issue 18); the short form stays cheap enough for CI. */
const CHURN_MS = LONG_TESTS ? 31 * 60_000 : 40_000;
const RSS_EVERY_MS = 5_000;
/** V8 grows its heap during the first minutes; the slope is fitted after them. */
const WARM_UP_MINUTES = 3;
const MAX_SLOPE_MB_PER_MINUTE = 0.5;
const MB_PER_MIB = 1.048576;

/** The endpoints a view holds for `service`, sorted, as one comparable line. */
function line(view: AssignmentView, service: string): string {
  const endpoints = [...(view.get(service) ?? new Map<string, string>())].sort();
  return endpoints.map(([endpoint, health]) => `${endpoint}=${health}`).join(" ") || "(none)";
}

/** What Envoy holds, as a view; a cluster Envoy no longer has holds no endpoint. */
async function envoyView(envoy: EnvoyProxy): Promise<AssignmentView> {
  const view: AssignmentView = new Map();
  for (const service of SERVICES) {
    const hosts = await envoy.clusterHosts(service).catch(() => []);
    view.set(service, new Map(hosts.map((h) => [`${h.address}:${h.port}`, h.healthStatus])));
  }
  return view;
}

/** Throws naming the first service where `actual` differs from Consul's `expected`. */
function assertSameView(who: string, actual: AssignmentView, expected: AssignmentView): void {
  for (const service of SERVICES) {
    const [got, want] = [line(actual, service), line(expected, service)];
    if (got !== want) throw new Error(`${who} holds ${service} as ${got}, Consul as ${want}`);
  }
}

describe(`soak: ${PER_SECOND} catalog changes/s for ${CHURN_MS / 1_000} s, ${STREAMS} xDS streams and Envoy`, () => {
  let consul: ConsulAgent;
  let bridge: GatewayBridge;
  let envoy: EnvoyProxy;
  const backends: BackendProcess[] = [];
  const listeners: Server[] = [];
  let clients: AckingXdsClients | undefined;
  let traffic: Traffic | undefined;
  let churn: ServiceChurn | undefined;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    consul = await startConsul();
    bridge = await startGatewayBridge({
      consulAddress: consul.address,
      extraArgs: ["--cluster-grace=2", "--check-interval=1"],
    });
    backends.push(...(await startBackends(2, consul.address)));
    await shimRegister(bridge.url, backends);
    envoy = await startGatewayEnvoy(bridge);
    for (const backend of backends) await untilInEnvoy(envoy, "myservice", backend.endpoint);
  });

  after(async () => {
    clearInterval(sampler);
    await Promise.allSettled([churn?.stop(), traffic?.stop(), clients?.close()]);
    await stopAll({ backends, envoy, bridges: [bridge], consul });
    for (const listener of listeners) listener.close();
  });

  test("no request fails, Envoy and every stream end equal to Consul, and RSS does not creep", async (t: TestContext) => {
    const shimPorts = new Map<string, number>();
    for (const service of SERVICES) {
      const { server, port } = await nameServer(service);
      listeners.push(server);
      shimPorts.set(service, port);
    }
    clients = openAckingXdsClients(bridge.xdsPort, { count: STREAMS, resourceNames: SERVICES });
    await waitFor(
      async () => (await bridgeMetric(bridge.url, "bridge_xds_streams")) === STREAMS + 1,
      { timeoutMs: 30_000, description: `${STREAMS} raw streams and Envoy's open on the bridge` },
    );

    const samples: RssSample[] = [];
    const started = Date.now();
    const sample = async (): Promise<void> => {
      samples.push({ atMs: Date.now() - started, mib: await residentMiB(bridge.pid) });
    };
    await sample();
    sampler = setInterval(() => void sample().catch(() => undefined), RSS_EVERY_MS);

    traffic = startTraffic(envoy, { workers: 2, intervalMs: 50 });
    const api = consulApi(consul.address);
    churn = startServiceChurn({
      api,
      consulAddress: consul.address,
      shim: async (action, endpoint, service) => {
        const answer = await shimCall(bridge.url, action, endpoint, service);
        if (answer.status !== 200 || answer.text !== `${endpoint} ok`)
          throw new Error(`shim ${action}: ${answer.status} ${answer.text}`);
      },
      services: SERVICES,
      shimPorts,
      perSecond: PER_SECOND,
      maxChanges: (PER_SECOND * CHURN_MS) / 1_000,
      durationMs: CHURN_MS,
      seed: 18,
    });
    await churn.done;
    clearInterval(sampler);
    await sample();
    const churnedMs = Date.now() - started;

    const final = await waitFor(
      async () => {
        const expected = await consulView(api, SERVICES);
        assertSameView("Envoy", await envoyView(envoy), expected);
        clients!.views().forEach((view, i) => assertSameView(`stream ${i}`, view, expected));
        return [...expected.values()].flatMap((endpoints) => [...endpoints.values()]);
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "Envoy and every stream equal to Consul" },
    );
    const seen = await traffic.stop();

    const mib = samples.map((s) => s.mib);
    const minima = perMinuteMinima(samples);
    const warm = samples.find((s) => s.atMs >= WARM_UP_MINUTES * 60_000);
    // The last minute is cut short by the end of the churn: its few samples hardly have a floor.
    const whole = minima.filter(({ minute }) => (minute + 1) * 60_000 <= churnedMs);
    const slopeMiB = minimaSlope(whole, WARM_UP_MINUTES);
    const slope = slopeMiB === undefined ? undefined : slopeMiB * MB_PER_MIB;
    const { register, deregister, flip } = churn.counts;
    t.diagnostic(
      `churn: ${register + deregister + flip} changes in ${(churnedMs / 1_000).toFixed(0)} s ` +
        `(${register} registrations, ${deregister} deregistrations, ${flip} check flips) on ` +
        `${SERVICES.length} services; ${clients.responses} responses to ${STREAMS} streams ` +
        `(${clients.reconnects} reconnects); ${seen.sent} requests through Envoy; at the end ` +
        `${final.length} instances in Consul, ${final.filter((h) => h !== "HEALTHY").length} critical`,
    );
    t.diagnostic(
      `bridge RSS MiB: start ${mib[0]!.toFixed(1)}, after ${WARM_UP_MINUTES} min warm-up ` +
        `${warm ? warm.mib.toFixed(1) : "n/a"}, end ${mib.at(-1)!.toFixed(1)}, ` +
        `peak ${Math.max(...mib).toFixed(1)} (${samples.length} samples, every ${RSS_EVERY_MS / 1_000} s)`,
    );
    t.diagnostic(
      `per-minute minima MiB: ${minima.map((m) => `${m.minute}:${m.mib.toFixed(1)}`).join(" ")}`,
    );
    t.diagnostic(
      `RSS slope over the whole minutes' minima from minute ${WARM_UP_MINUTES}: ` +
        (slope === undefined ? "n/a (too short)" : `${slope.toFixed(3)} MB/min`),
    );

    assert.deepEqual(churn.errors, [], "every change was accepted");
    assert.deepEqual(seen.failures, [], `${seen.failures.length} of ${seen.sent} requests failed`);
    if (LONG_TESTS) {
      assert.ok(slope !== undefined, "enough minutes after the warm-up to fit a slope");
      assert.ok(
        slope < MAX_SLOPE_MB_PER_MINUTE,
        `RSS creeps by ${slope.toFixed(3)} MB/min (at most ${MAX_SLOPE_MB_PER_MINUTE})`,
      );
    }
  });
});
