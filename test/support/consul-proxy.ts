import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the proxy saw. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/agent/service/register`. */
  url: string;
  body: string;
}

/**
 * An HTTP proxy in front of a real Consul agent that records every request (to assert on what
 * the wire carried) and can cut a connection after Consul applied a call (to test rollback).
 */
export interface ConsulProxy {
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Bytes of every response body forwarded to clients so far (what they read from Consul). */
  readonly responseBytes: number;
  /** The next request matching is forwarded to Consul, then its connection is cut unanswered. */
  cutAfterForwarding(method: string, pathPrefix: string): void;
  /** The next `times` requests matching are cut unanswered without reaching Consul. */
  cutBeforeForwarding(method: string, pathPrefix: string, times?: number): void;
  /** The next request matching waits `ms` before it is forwarded, or before it is answered. */
  delayNext(method: string, pathPrefix: string, ms: number, when: "before" | "after"): void;
  /** Holds every request (recorded, not forwarded) until the returned function is called. */
  pause(): () => void;
  close(): Promise<void>;
}

/** Starts a recording proxy on a free loopback port forwarding to `target` (`HOST:PORT`). */
export async function startConsulProxy(target: string): Promise<ConsulProxy> {
  const [targetHost, targetPort] = target.split(":") as [string, string];
  const requests: RecordedRequest[] = [];
  let cut: { method: string; pathPrefix: string; before: boolean; times: number } | undefined;
  let paused: Promise<void> | undefined;
  let delay: { method: string; pathPrefix: string; ms: number; when: string } | undefined;
  let responseBytes = 0;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    requests.push({ method, url, body: body.toString() });
    await paused;
    const cutThis = cut !== undefined && cut.method === method && url.startsWith(cut.pathPrefix);
    const cutBefore = cutThis && cut?.before === true;
    if (cut && cutThis && --cut.times <= 0) cut = undefined;
    if (cutBefore) {
      req.socket.destroy();
      return;
    }
    const delayThis =
      delay?.method === method && url.startsWith(delay.pathPrefix) ? delay : undefined;
    if (delayThis) delay = undefined;
    if (delayThis?.when === "before") await wait(delayThis.ms);

    if (!cutThis && !delayThis) {
      // Nothing to hold back: the answer streams through as Consul writes it, so the proxy adds
      // no buffering delay to large reads.
      const upstream = httpRequest(
        {
          host: targetHost,
          port: Number(targetPort),
          method,
          path: url,
          headers: { ...req.headers, host: target },
        },
        (response) => {
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.on("data", (chunk: Buffer) => (responseBytes += chunk.length));
          response.pipe(res);
        },
      );
      upstream.on("error", (error) => {
        if (res.headersSent) res.destroy();
        else res.writeHead(502).end(String(error));
      });
      // A client that hangs up (a blocking query given up) ends its upstream call too.
      res.on("close", () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
      return;
    }
    try {
      const upstream = await forward(
        targetHost,
        Number(targetPort),
        method,
        url,
        req.headers,
        body,
      );
      if (cutThis) {
        req.socket.destroy();
        return;
      }
      if (delayThis?.when === "after") await wait(delayThis.ms);
      responseBytes += upstream.body.length;
      res.writeHead(upstream.status, upstream.headers);
      res.end(upstream.body);
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get responseBytes() {
      return responseBytes;
    },
    cutAfterForwarding(method, pathPrefix) {
      cut = { method, pathPrefix, before: false, times: 1 };
    },
    cutBeforeForwarding(method, pathPrefix, times = 1) {
      cut = { method, pathPrefix, before: true, times };
    },
    delayNext(method, pathPrefix, ms, when) {
      delay = { method, pathPrefix, ms, when };
    },
    pause() {
      let resume = (): void => undefined;
      paused = new Promise((resolve) => (resume = resolve));
      return () => {
        paused = undefined;
        resume();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function forward(
  host: string,
  port: number,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      { host, port, method, path, headers: { ...headers, host: `${host}:${port}` } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    upstream.on("error", reject);
    upstream.end(body);
  });
}
