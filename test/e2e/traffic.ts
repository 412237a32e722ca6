import { setTimeout as sleep } from "node:timers/promises";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";

/** What one request through Envoy reached. */
export interface Hit {
  status: number;
  port: number | undefined;
}

/** Sends `count` requests through Envoy, each on a new connection, and reports who answered. */
export async function sendRequests(envoy: EnvoyProxy, count: number, path = "/"): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (let i = 0; i < count; i++) {
    const response = await envoy.request(path);
    let port: number | undefined;
    try {
      port = (JSON.parse(response.body) as { port?: number }).port;
    } catch {
      port = undefined;
    }
    hits.push({ status: response.status, port });
  }
  return hits;
}

/** The backend ports that answered with 200. */
export function answeringPorts(hits: readonly Hit[]): Set<number> {
  return new Set(
    hits.filter((hit) => hit.status === 200 && hit.port !== undefined).map((hit) => hit.port!),
  );
}

/** What continuous traffic saw once stopped. */
export interface TrafficReport {
  sent: number;
  /** One line per failed request (a status other than 200, or no answer), in order. */
  failures: string[];
  /** Backend ports that answered. */
  ports: Set<number>;
}

/** Requests flowing through Envoy until stopped; see {@link startTraffic}. */
export interface Traffic {
  /** Requests answered or failed so far. */
  readonly sent: number;
  /** Stops sending, waits for the requests in flight, and reports. */
  stop(): Promise<TrafficReport>;
}

/**
 * Continuous traffic through Envoy: `workers` loops, each sending one request (on a new
 * connection) every `intervalMs` or as soon as the previous one answered, whichever is later.
 * Paced so that a loaded machine still leaves the processes under test their share of CPU.
 */
export function startTraffic(
  envoy: EnvoyProxy,
  { workers = 2, intervalMs = 20, path = "/", timeoutMs = 15_000 } = {},
): Traffic {
  const report: TrafficReport = { sent: 0, failures: [], ports: new Set() };
  let running = true;
  const stopped = new AbortController();
  const worker = async (): Promise<void> => {
    while (running) {
      const started = Date.now();
      try {
        const response = await envoy.request(path, {}, timeoutMs);
        if (response.status === 200) {
          const port = (JSON.parse(response.body) as { port?: number }).port;
          if (port !== undefined) report.ports.add(port);
        } else {
          report.failures.push(`${new Date().toISOString()} ${response.status} ${response.body}`);
        }
      } catch (error) {
        report.failures.push(`${new Date().toISOString()} ${(error as Error).message}`);
      }
      report.sent += 1;
      const left = intervalMs - (Date.now() - started);
      if (running && left > 0)
        await sleep(left, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  };
  const loops = Array.from({ length: workers }, worker);
  return {
    get sent() {
      return report.sent;
    },
    async stop() {
      running = false;
      stopped.abort();
      await Promise.all(loops);
      return report;
    },
  };
}
