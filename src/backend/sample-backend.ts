/**
 * The original system's "resource" service: answers `/` with who it is and `/healthz` with 200.
 *
 *   node --import tsx src/backend/sample-backend.ts --port 8081 [--service myservice] [--register]
 *   npm run backend -- --help
 *
 * With `--register` it registers itself in Consul (CONSUL_HTTP_ADDR) with an HTTP check and
 * deregisters on SIGTERM/SIGINT before exiting.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { pino, type Logger } from "pino";
import { DEFAULT_SERVICE } from "../config/config.ts";
import { registerSelf } from "./register-self.ts";

/** Options of the sample backend, as read from its command line. */
interface SampleBackendOptions {
  port: number;
  host: string;
  service: string;
  register: boolean;
  /** Address registered in Consul (default: the agent's node address). */
  address: string | undefined;
}

const USAGE = `usage: npm run backend -- --port PORT [--host ADDR] [--service NAME] [--register] [--address IP]

The sample backend: answers / with JSON naming itself (id, hostname, port, service, the request
id it received) and /healthz with 200.

  --port PORT      port to listen on (or the environment variable BACKEND_PORT)
  --host ADDR      address to listen on (default: 0.0.0.0)
  --service NAME   service it says it belongs to and registers as (default: ${DEFAULT_SERVICE})
  --register       register itself in Consul (CONSUL_HTTP_ADDR, default 127.0.0.1:8500) with an
                   HTTP check on /healthz, and deregister on SIGTERM or SIGINT
  --address IP     address registered in Consul (default: the agent's node address)
  --help           this text

examples:
  npm run backend -- --port 8081
  npm run backend -- --port 8084 --register
  npm run backend -- --port 9000 --service payments --register --address 127.0.0.1`;

/** Asked for the usage text: print it and exit 0. */
class HelpRequested extends Error {
  override readonly name = "HelpRequested";
}

/** Reads the command line (and BACKEND_PORT); throws with the usage text on a bad one. */
function parseBackendArgs(argv: string[], env: NodeJS.ProcessEnv): SampleBackendOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", default: env.BACKEND_PORT },
        host: { type: "string", default: "0.0.0.0" },
        service: { type: "string", default: DEFAULT_SERVICE },
        register: { type: "boolean", default: false },
        address: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n\n${USAGE}`, { cause: error });
  }
  if (values.help) throw new HelpRequested(USAGE);
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port ?? "") || port < 1 || port > 65535) {
    throw new Error(`--port must be an integer 1-65535\n\n${USAGE}`);
  }
  return {
    port,
    host: values.host,
    service: values.service,
    register: values.register,
    address: values.address,
  };
}

/** Serves `/` (JSON identity of this process and the request id it received) and `/healthz`. */
function createSampleServer(options: SampleBackendOptions): Server {
  const identity = { id: randomUUID(), hostname: hostname(), port: options.port };
  return createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/") {
      // The id Envoy generated (or kept) for this request: find its access-log line by it.
      const requestId = request.headers["x-request-id"] ?? null;
      const body = JSON.stringify({ ...identity, service: options.service, request_id: requestId });
      response.writeHead(200, { "content-type": "application/json" }).end(`${body}\n`);
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
}

async function main(argv: string[], env: NodeJS.ProcessEnv, logger: Logger): Promise<void> {
  const options = parseBackendArgs(argv, env);
  const server = createSampleServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  logger.info({ port: options.port, service: options.service }, "sample backend listening");
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  if (!options.register) {
    const stop = (): void => void close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return;
  }
  try {
    await registerSelf({
      service: options.service,
      port: options.port,
      address: options.address,
      env,
      logger,
      onSignal: close,
    });
  } catch (error) {
    await close();
    throw error;
  }
}

main(process.argv.slice(2), process.env, pino({ name: "sample-backend" })).catch(
  (error: unknown) => {
    if (error instanceof HelpRequested) {
      console.log(error.message);
      process.exit(0);
    }
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
