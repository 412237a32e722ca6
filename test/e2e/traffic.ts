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
