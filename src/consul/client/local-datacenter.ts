import pRetry from "p-retry";
import type { Logger } from "pino";
import { ConsulRequestError, type ConsulConnection } from "./consul-client.ts";

/** The local datacenter could not be learnt from the agent. */
export class LocalDatacenterError extends Error {
  override readonly name = "LocalDatacenterError";
}

/** Where the connection reaches Consul, as an operator would write it. */
function consulAddressOf({ config }: ConsulConnection): string {
  const scheme = config.secure ? "https" : "http";
  if (config.socketPath) return `unix://${config.socketPath}`;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `${scheme}://${host}:${config.port}`;
}

/** `Config.Datacenter` of `/v1/agent/self`, checked. */
async function fromAgentSelf(connection: ConsulConnection): Promise<string> {
  const self = (await connection.agentSelf()) as { Config?: { Datacenter?: unknown } } | null;
  const datacenter = self?.Config?.Datacenter;
  if (typeof datacenter !== "string" || datacenter === "") {
    throw new LocalDatacenterError("/v1/agent/self has no Config.Datacenter");
  }
  return datacenter;
}

/**
 * The datacenter of the bridge's agent (docs/architecture.md §3, "Locality"), from
 * `/v1/agent/self`. A token without `agent:read` is refused there; then the first of
 * `/v1/catalog/datacenters` is taken (sorted by round-trip time from the agent, so its own comes
 * first; that read needs no ACL). Retried with back-off until it answers or `signal` aborts. The
 * connection counts failed requests; an answer without a datacenter is told to `onBadAnswer`.
 */
export async function readLocalDatacenter(
  connection: ConsulConnection,
  logger: Logger,
  signal: AbortSignal,
  onBadAnswer?: (error: LocalDatacenterError) => void,
): Promise<string> {
  return pRetry(
    async () => {
      try {
        return await fromAgentSelf(connection);
      } catch (error) {
        if (!(error instanceof ConsulRequestError) || error.status !== 403) throw error;
        const listed = await connection.datacenters();
        const first = Array.isArray(listed) ? (listed[0] as unknown) : undefined;
        if (typeof first !== "string") throw new LocalDatacenterError("no datacenter listed");
        logger.warn(
          { datacenter: first },
          "the token may not read /v1/agent/self; taking the nearest datacenter as the local one",
        );
        return first;
      }
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 200,
      maxTimeout: 2_000,
      signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (error instanceof LocalDatacenterError) onBadAnswer?.(error);
        if (attemptNumber === 1 || attemptNumber % 20 === 0) {
          // The first thing an operator with a wrong address sees: name the address and the fix.
          logger.warn(
            { err: error, attempt: attemptNumber, consul: consulAddressOf(connection) },
            `reading the local datacenter from Consul at ${consulAddressOf(connection)} failed; ` +
              "retrying every 2 s (logged again every 20 attempts). The address is set with " +
              "--consul-addr or CONSUL_HTTP_ADDR, a token with --consul-token or CONSUL_HTTP_TOKEN",
          );
        }
      },
    },
  );
}
