import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

/**
 * Handles a request and returns true, or returns false without touching the response when the
 * path is not its own, so handlers chain (shim first, then status endpoints).
 */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** A listening HTTP server. */
export interface RunningHttpServer {
  readonly server: Server;
  /** The address actually bound (the port is the kernel's choice when 0 was asked). */
  readonly host: string;
  readonly port: number;
  /** `http://HOST:PORT` of the bound address. */
  readonly url: string;
  /**
   * Stops accepting, lets requests in flight finish for up to `graceMs` (then cuts them), closes
   * idle keep-alive connections and resolves once closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** How long {@link RunningHttpServer.close} waits for requests in flight by default. */
export const DEFAULT_HTTP_DRAIN_MS = 5_000;

/**
 * Binds `host:port` and serves `handlers` in order; a request no handler takes gets 404, and a
 * handler that throws gets 500.
 */
export async function startHttpServer(
  handlers: readonly RequestHandler[],
  host: string,
  port: number,
  logger?: Logger,
): Promise<RunningHttpServer> {
  // Bounded headers and slow clients cut off: the shim is reachable by whoever can reach the port.
  const limits = { maxHeaderSize: 8 * 1024, headersTimeout: 10_000, requestTimeout: 15_000 };
  // Requests not yet answered: a graceful close waits for them (shim calls finish).
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  const server = createServer(limits, (request, response) => {
    inFlight++;
    response.once("close", () => {
      inFlight--;
      // A keep-alive connection answered during close would otherwise stay open until it idles.
      if (!server.listening) server.closeIdleConnections();
      if (inFlight === 0) onDrained?.();
    });
    try {
      if (handlers.some((handler) => handler(request, response))) return;
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("not found\n");
    } catch (error) {
      logger?.error({ err: error, url: request.url }, "request handler failed");
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("internal error\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  logger?.info({ host: address.address, port: address.port }, "HTTP server listening");

  return {
    server,
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    close: async (graceMs = DEFAULT_HTTP_DRAIN_MS) => {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onDrained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (inFlight > 0) logger?.warn({ inFlight }, "HTTP requests cut at shutdown");
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
