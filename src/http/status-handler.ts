import type { RequestHandler } from "./http-server.ts";

/** Where `/metrics` comes from: a prom-client registry, or several processes' aggregated. */
export interface MetricsText {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** What the status endpoints read. */
export interface StatusSources {
  /** Why the bridge is not ready (`/ready` answers 503 with it); undefined when it is ready. */
  notReady: () => string | undefined;
  registry: MetricsText;
}

/**
 * `/healthz` (the process is up), `/ready` (the first full read of Consul is done and Consul's
 * answers are current, so the bridge serves real state; load balancers and orchestrators should
 * wait for it) and `/metrics`.
 */
export function createStatusHandler(sources: StatusSources): RequestHandler {
  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return true;
    }
    if (path === "/ready") {
      const reason = sources.notReady();
      response
        .writeHead(reason === undefined ? 200 : 503, { "content-type": "text/plain" })
        .end(`${reason ?? "ready"}\n`);
      return true;
    }
    if (path === "/metrics") {
      void sources.registry.metrics().then(
        (text) =>
          response.writeHead(200, { "content-type": sources.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500).end(error.message),
      );
      return true;
    }
    return false;
  };
}
