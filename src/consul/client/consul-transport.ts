import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { ConsulConfig } from "../../config/consul.ts";

/**
 * The one keep-alive agent every call to Consul goes through: `maxSockets` bounds the
 * connections whatever the number of services (docs/architecture.md §3, connections), and the
 * TLS settings (CA, client certificate, server name, verification) ride on it, so the `consul`
 * package's calls and the plain calls of consul-http.ts connect the same way.
 */
export function consulAgent(config: ConsulConfig): HttpAgent | HttpsAgent {
  const pool = {
    keepAlive: true,
    maxSockets: config.maxConnections,
    maxFreeSockets: config.maxConnections,
  };
  if (!config.secure) return new HttpAgent(pool);
  const tls = config.tls;
  const ca = tls?.ca ?? (config.caCertFile ? [readFileSync(config.caCertFile)] : undefined);
  return new HttpsAgent({
    ...pool,
    ca,
    cert: tls?.cert,
    key: tls?.key,
    servername: tls?.serverName,
    rejectUnauthorized: tls?.verify ?? true,
  });
}

/** The base URL the `consul` package is given: a unix socket needs a placeholder host. */
export function consulBaseUrl(config: ConsulConfig): string {
  const scheme = config.secure ? "https" : "http";
  if (config.socketPath) return `${scheme}://localhost/v1`;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `${scheme}://${host}:${config.port}/v1`;
}
