import { hostname } from "node:os";
import { pino, type Logger } from "pino";
import { DEFAULT_CHECK_INTERVAL_SECONDS, parseConfig } from "../config/config.ts";
import {
  agentServices,
  MIN_DEREGISTER_CRITICAL_AFTER_SECONDS,
  serviceInstanceId,
} from "../consul/register/agent-services.ts";
import { connectConsul } from "../consul/client/consul-client.ts";
import { formatHostPort } from "../model/names.ts";

/** Options of {@link registerSelf}; only `service` and `port` are required. */
export interface RegisterSelfOptions {
  service: string;
  port: number;
  /**
   * Address other hosts reach this instance at (an IP literal, for xDS clients). Omitted: Consul
   * uses the agent's node address, right when the agent runs on this host.
   */
  address?: string;
  /** Service ID (default `SERVICE-ADDRESS-PORT`, with the host name when no address is given). */
  id?: string;
  /** `[http[s]://]HOST:PORT` of the Consul agent (default `env.CONSUL_HTTP_ADDR`, then 127.0.0.1:8500). */
  consulAddr?: string;
  /** ACL token (default `env.CONSUL_HTTP_TOKEN`). */
  token?: string;
  /** Path the agent's HTTP check GETs (default `/healthz`). */
  healthPath?: string;
  checkIntervalSeconds?: number;
  /** Consul removes the instance after its check has been critical this long (at least 60). */
  deregisterCriticalAfterSeconds?: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** Install SIGTERM/SIGINT handlers that deregister, then exit (default true). */
  handleSignals?: boolean;
  /** Runs after deregistration on a signal and before exit (e.g. closing the HTTP server). */
  onSignal?: (signal: NodeJS.Signals) => Promise<void> | void;
  /** Where `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_SSL`, `CONSUL_CACERT` are read. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Ends the process after a signal (default `process.exit`). */
  exit?: (code: number) => void;
}

/** A live self-registration. */
export interface SelfRegistration {
  readonly id: string;
  readonly service: string;
  /** Deregisters (once; later calls resolve at once), removes the signal handlers, closes the client. */
  deregister(): Promise<void>;
}

const SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

/**
 * Registers this process with the local Consul agent (agent API, HTTP check on `healthPath`,
 * `DeregisterCriticalServiceAfter`) and, by default, deregisters it on SIGTERM/SIGINT:
 * `const registration = await registerSelf({ service: "api", port: 8080 });`
 */
export async function registerSelf(options: RegisterSelfOptions): Promise<SelfRegistration> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? pino({ enabled: false });
  const exit = options.exit ?? ((code: number) => process.exit(code));
  // The bridge's own parser reads the Consul address, so both accept the same forms.
  const parsed = parseConfig([], {
    CONSUL_HTTP_ADDR: options.consulAddr ?? env.CONSUL_HTTP_ADDR,
    CONSUL_HTTP_TOKEN: options.token ?? env.CONSUL_HTTP_TOKEN,
    CONSUL_HTTP_SSL: env.CONSUL_HTTP_SSL,
    CONSUL_CACERT: env.CONSUL_CACERT,
  });
  if (parsed.help) throw new Error("unreachable: no --help given");
  const connection = connectConsul({ ...parsed.config.consul, maxConnections: 2 });
  const agent = agentServices(connection);

  const id =
    options.id ??
    serviceInstanceId({
      service: options.service,
      address: options.address ?? hostname(),
      port: options.port,
    });
  const healthUrl = `http://${formatHostPort(options.address ?? "127.0.0.1", options.port)}${options.healthPath ?? "/healthz"}`;
  const interval = options.checkIntervalSeconds ?? DEFAULT_CHECK_INTERVAL_SECONDS;
  // Already answering: start passing rather than wait for Consul's first, staggered check.
  const healthy = await fetch(healthUrl, { signal: AbortSignal.timeout(1_000) }).then(
    (response) => response.ok,
    () => false,
  );
  try {
    await agent.registerOrRollback(
      {
        id,
        name: options.service,
        ...(options.address === undefined ? {} : { address: options.address }),
        port: options.port,
        tags: options.tags,
        meta: options.meta,
        check: {
          name: `HTTP ${healthUrl}`,
          http: healthUrl,
          intervalSeconds: interval,
          timeoutSeconds: Math.min(interval, 10),
          deregisterCriticalAfterSeconds:
            options.deregisterCriticalAfterSeconds ?? MIN_DEREGISTER_CRITICAL_AFTER_SECONDS,
          initialStatus: healthy ? "passing" : "critical",
        },
      },
      logger,
    );
  } catch (error) {
    connection.close();
    throw error;
  }
  logger.info({ serviceId: id, service: options.service }, "registered with consul");

  let deregistration: Promise<void> | undefined;
  const deregister = (): Promise<void> => {
    deregistration ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      try {
        await agent.deregister(id);
        logger.info({ serviceId: id }, "deregistered from consul");
      } finally {
        connection.close();
      }
    })();
    return deregistration;
  };

  let stopping = false;
  function onSignal(signal: NodeJS.Signals): void {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "deregistering before exit");
    void (async () => {
      let code = 0;
      try {
        await deregister();
      } catch (error) {
        logger.error({ err: error, serviceId: id }, "could not deregister; Consul will reap it");
        code = 1;
      }
      try {
        await options.onSignal?.(signal);
      } catch (error) {
        logger.error({ err: error }, "shutdown hook failed");
        code = 1;
      }
      exit(code);
    })();
  }
  if (options.handleSignals ?? true) for (const signal of SIGNALS) process.on(signal, onSignal);

  return { id, service: options.service, deregister };
}
