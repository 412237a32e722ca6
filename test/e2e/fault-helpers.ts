import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { get } from "node:http";
import type { TestContext } from "node:test";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";
import { waitFor } from "../support/wait-for.ts";

/** `BRIDGE_LONG_TESTS=1` runs the long forms of the fault tests (longer faults, more load). */
export const LONG_TESTS = process.env.BRIDGE_LONG_TESTS === "1";

/** A shim call's answer. */
export interface ShimAnswer {
  status: number;
  text: string;
}

/** `GET /edsservice/ACTION?endpoint=…[&service=…]` on a bridge's HTTP port. */
export async function shimCall(
  bridgeUrl: string,
  action: "register" | "deregister",
  endpoint: string,
  service?: string,
): Promise<ShimAnswer> {
  const query = new URLSearchParams({ endpoint, ...(service ? { service } : {}) });
  const answer = await httpGet(`${bridgeUrl}/edsservice/${action}?${query}`);
  return { status: answer.status, text: answer.body.trim() };
}

/**
 * A GET on a new connection (no keep-alive pool: a pooled connection the server closes as idle
 * at the moment it is reused fails with ECONNRESET, which is no fault of the system under test).
 */
export function httpGet(
  url: string,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("timeout", () =>
      request.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)),
    );
    request.on("error", reject);
  });
}

/** Healthy hosts of a cluster as Envoy holds them, as `127.0.0.1:PORT`. */
export async function healthyEndpoints(envoy: EnvoyProxy, cluster: string): Promise<Set<string>> {
  const hosts = await envoy.clusterHosts(cluster);
  return new Set(
    hosts.filter((h) => h.healthStatus === "HEALTHY").map((h) => `${h.address}:${h.port}`),
  );
}

/** Polls Envoy until `endpoint` is a healthy host of `cluster` (or absent, with `present` false). */
export async function untilInEnvoy(
  envoy: EnvoyProxy,
  cluster: string,
  endpoint: string,
  { present = true, timeoutMs = 30_000 } = {},
): Promise<void> {
  await waitFor(async () => (await healthyEndpoints(envoy, cluster)).has(endpoint) === present, {
    timeoutMs,
    intervalMs: 20,
    description: `${endpoint} ${present ? "healthy in" : "gone from"} Envoy's ${cluster}`,
  });
}

/** A sample of the bridge's Prometheus metrics: the sum of the series named `name`. */
export async function bridgeMetric(bridgeUrl: string, name: string): Promise<number> {
  const { body: text } = await httpGet(`${bridgeUrl}/metrics`);
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) sum += Number(match[3]);
  }
  return sum;
}

/** Resident memory of a process in MiB, from `/proc/PID/status` (VmRSS). */
export async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) / 1024;
}

/** Reports a measured figure in the test output (docs/failures.md's figures come from these). */
export function report(t: TestContext, what: string, ms: number): void {
  t.diagnostic(`${what}: ${Math.round(ms)} ms`);
}

/** Starts `count` backends (not registered) that register with the Consul agent at `consulAddress`. */
export function startBackends(count: number, consulAddress: string): Promise<BackendProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startBackend({ consulAddress })));
}

/** Registers each backend through a bridge's shim, asserting the `ENDPOINT ok` answer. */
export async function shimRegister(
  bridgeUrl: string,
  backends: readonly BackendProcess[],
): Promise<void> {
  for (const backend of backends) {
    const answer = await shimCall(bridgeUrl, "register", backend.endpoint);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, `${backend.endpoint} ok`);
  }
}

/** Something a fault test started and stops in `after`. */
interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Stops what a fault test started, in order — the backends (killed), Envoy, the bridges, then
 * Consul — each stage even when something in an earlier one failed to stop.
 */
export async function stopAll(started: {
  backends: readonly BackendProcess[];
  envoy: Stoppable | undefined;
  bridges: readonly (Stoppable | undefined)[];
  consul: Stoppable | undefined;
}): Promise<void> {
  await Promise.allSettled(started.backends.map((backend) => backend.kill()));
  await Promise.allSettled([started.envoy?.stop()]);
  await Promise.allSettled(started.bridges.map((bridge) => bridge?.stop()));
  await started.consul?.stop();
}
