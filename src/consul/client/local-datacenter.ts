import pRetry from "p-retry";
import type { Logger } from "pino";
import type { ConsulConnection } from "./consul-client.ts";

/** The local datacenter could not be learnt from the agent. */
export class LocalDatacenterError extends Error {
  override readonly name = "LocalDatacenterError";
}

/** HTTP status of a refusal by the package (its errors carry the response). */
function statusOf(error: unknown): number | undefined {
  return (error as { response?: { statusCode?: number } }).response?.statusCode;
}

/** `Config.Datacenter` of `/v1/agent/self`, checked. */
async function fromAgentSelf(connection: ConsulConnection): Promise<string> {
  const self = (await connection.consul.agent.self()) as { Config?: { Datacenter?: unknown } };
  const datacenter = self?.Config?.Datacenter;
  if (typeof datacenter !== "string" || datacenter === "") {
    throw new LocalDatacenterError("/v1/agent/self has no Config.Datacenter");
  }
  return datacenter;
}

/**
 * The datacenter of the bridge's agent (docs/architecture.md §3, "Locality"), from
 * `/v1/agent/self` through the package's public `agent.self()`. A token without `agent:read` is
 * refused there; then the first of `/v1/catalog/datacenters` is taken (sorted by round-trip time
 * from the agent, so its own comes first; that read needs no ACL). Retried with back-off until it
 * answers or `signal` aborts; each failure is told to `onError` (metrics).
 */
export async function readLocalDatacenter(
  connection: ConsulConnection,
  logger: Logger,
  signal: AbortSignal,
  onError?: (error: unknown) => void,
): Promise<string> {
  return pRetry(
    async () => {
      try {
        return await fromAgentSelf(connection);
      } catch (error) {
        if (statusOf(error) !== 403) throw error;
        const [first] = (await connection.consul.catalog.datacenters()) as unknown[];
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
        onError?.(error);
        if (attemptNumber === 1 || attemptNumber % 20 === 0) {
          logger.warn(
            { err: error, attempt: attemptNumber },
            "reading the local datacenter failed",
          );
        }
      },
    },
  );
}
