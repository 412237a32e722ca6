import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import type { Instance } from "./instances.ts";

/** One endpoint as the feed API takes it (bench/reference/cmd/reference-server/feed.go). */
export interface FeedInstance extends Instance {
  /** Defaults to true; false serves the endpoint as UNHEALTHY. */
  healthy?: boolean;
}

/** Told each service's whole instance list, in order, after every change. */
export type FeedListener = (service: string, instances: readonly FeedInstance[]) => void;

/** A request the feed refuses, answered with 400 and the message. */
class FeedError extends Error {
  override readonly name = "FeedError";
}

/** Largest request body read, as the Go reference server reads. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const ROUTE = /^\/services\/([^/]+)\/(endpoints|endpoint)$/;

/**
 * The Go reference server's feed API, so the benchmark drives the floor server the same way:
 *
 *     PUT  /services/{name}/endpoints  body {"endpoints":[instance...]}  replaces the set
 *     POST /services/{name}/endpoint   body instance                     adds or replaces one
 *     GET  /ready                                                         200
 *
 * Instances keep their order; one with the same address and port is replaced in place.
 */
export function floorFeedHandler(onChange: FeedListener) {
  const services = new Map<string, FeedInstance[]>();
  const change = (method: string, service: string, kind: string, body: unknown): void => {
    if (method === "PUT" && kind === "endpoints") {
      const list = (body as { endpoints?: unknown } | null)?.endpoints;
      if (!Array.isArray(list)) throw new FeedError('want {"endpoints":[...]}');
      services.set(service, list.map(validInstance));
    } else if (method === "POST" && kind === "endpoint") {
      const one = validInstance(body);
      const list = services.get(service) ?? [];
      const at = list.findIndex((i) => i.address === one.address && i.port === one.port);
      if (at >= 0) list[at] = one;
      else list.push(one);
      services.set(service, list);
    } else throw new FeedError(`${method} not allowed on ${kind}`);
    onChange(service, services.get(service)!);
  };
  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? "";
    if (request.method === "GET" && url === "/ready") return void response.end();
    const route = ROUTE.exec(url);
    if (!route) return void response.writeHead(404).end("not found\n");
    readBody(request).then(
      (text) => {
        try {
          change(request.method ?? "", decodeURIComponent(route[1]!), route[2]!, JSON.parse(text));
        } catch (error) {
          if (error instanceof SyntaxError)
            return void response.writeHead(400).end(`bad JSON: ${error.message}\n`);
          const refused = error instanceof FeedError;
          return void response.writeHead(refused ? 400 : 500).end(`${String(error)}\n`);
        }
        response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      },
      (error: unknown) => response.writeHead(400).end(`${String(error)}\n`),
    );
  };
}

function validInstance(value: unknown): FeedInstance {
  const { address, port, healthy } = (value ?? {}) as Record<string, unknown>;
  if (
    typeof address !== "string" ||
    isIP(address) === 0 ||
    typeof port !== "number" ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535 ||
    (healthy !== undefined && typeof healthy !== "boolean")
  )
    throw new FeedError(
      `bad endpoint ${JSON.stringify(value)} (want an IP literal and a port 1-65535)`,
    );
  return healthy === undefined ? { address, port } : { address, port, healthy };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new FeedError(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
