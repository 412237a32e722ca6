import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request the proxy saw. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/agent/service/register`. */
  url: string;
  body: string;
  /** When the request arrived (`performance.now()`). */
  receivedAt: number;
  /** When Consul's whole answer was sent on; unset for a broken one. */
  answeredAt?: number;
}

/**
 * How the proxy breaks the body of an answer whose headers go out intact, announcing the full
 * Content-Length: `cut` closes the connection after `afterBytes` of it, `reset` resets it there,
 * `stall` sends them and holds the rest for good, `drip` sends all of it in `chunkBytes` pieces
 * `intervalMs` apart (slow, never stalled).
 */
export type BodyFault =
  | { kind: "cut" | "reset" | "stall"; afterBytes: number }
  | { kind: "drip"; chunkBytes: number; intervalMs: number };

/** A body fault the proxy applied: to which request, and when (`performance.now()`). */
export interface AppliedFault {
  url: string;
  kind: BodyFault["kind"];
  at: number;
  /** When the proxy had sent all it ever sends of this answer. */
  sentAt?: number;
  /** Length of the whole body Consul answered. */
  bodyBytes: number;
}

/**
 * An HTTP proxy in front of a real Consul agent that records every request (to assert on what
 * the wire carried), can cut a connection after Consul applied a call (to test rollback) and
 * can break the body of an answer (a load balancer reset or an agent dying mid-answer).
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
  /** Breaks the body of the next `times` answers to requests matching (decided as Consul answers). */
  breakBody(method: string, pathPrefix: string, fault: BodyFault, times?: number): void;
  /** Every body fault applied, in order. */
  readonly faults: AppliedFault[];
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
  const breaks: { method: string; pathPrefix: string; fault: BodyFault; times: number }[] = [];
  const faults: AppliedFault[] = [];
  const takeBreak = (method: string, url: string): BodyFault | undefined => {
    const rule = breaks.find((r) => r.method === method && url.startsWith(r.pathPrefix));
    if (!rule) return undefined;
    if (--rule.times <= 0) breaks.splice(breaks.indexOf(rule), 1);
    return rule.fault;
  };
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const record: RecordedRequest = {
      method,
      url,
      body: body.toString(),
      receivedAt: performance.now(),
    };
    requests.push(record);
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
    /** Sends Consul's answer broken as `fault` says, and records it. */
    const sendBrokenAnswer = async (fault: BodyFault, answer: Answer): Promise<void> => {
      const applied: AppliedFault = {
        url,
        kind: fault.kind,
        at: performance.now(),
        bodyBytes: answer.body.length,
      };
      faults.push(applied);
      await sendBroken(req.socket, res, answer, fault);
      applied.sentAt = performance.now();
    };

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
          const fault = takeBreak(method, url);
          if (fault) {
            const parts: Buffer[] = [];
            response.on("data", (chunk: Buffer) => parts.push(chunk));
            response.on("end", () => {
              const status = response.statusCode ?? 502;
              const answer = { status, headers: response.headers, body: Buffer.concat(parts) };
              void sendBrokenAnswer(fault, answer);
            });
            return;
          }
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.on("data", (chunk: Buffer) => (responseBytes += chunk.length));
          res.once("finish", () => (record.answeredAt = performance.now()));
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
      const fault = takeBreak(method, url);
      if (fault) {
        await sendBrokenAnswer(fault, upstream);
        return;
      }
      responseBytes += upstream.body.length;
      res.writeHead(upstream.status, upstream.headers);
      res.end(upstream.body, () => (record.answeredAt = performance.now()));
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
    breakBody(method, pathPrefix, fault, times = 1) {
      breaks.push({ method, pathPrefix, fault, times });
    },
    faults,
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

/** Consul's whole answer, as the proxy received it. */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends an answer with the full Content-Length and breaks its body as `fault` says. */
async function sendBroken(
  socket: Socket,
  res: ServerResponse,
  upstream: Answer,
  fault: BodyFault,
): Promise<void> {
  const headers = { ...upstream.headers, "content-length": String(upstream.body.length) };
  delete headers["transfer-encoding"];
  res.writeHead(upstream.status, headers);
  const send = (part: Buffer) => new Promise<void>((resolve) => res.write(part, () => resolve()));
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  if (fault.kind === "drip") {
    for (let at = 0; at < upstream.body.length; at += fault.chunkBytes) {
      if (at > 0) await pause(fault.intervalMs);
      await send(upstream.body.subarray(at, at + fault.chunkBytes));
    }
    res.end();
    return;
  }
  // Never the whole body: the answer must stay incomplete.
  await send(upstream.body.subarray(0, Math.min(fault.afterBytes, upstream.body.length - 1)));
  if (fault.kind === "cut") socket.end();
  if (fault.kind === "reset") {
    // Let the bytes sent reach the client before the reset does.
    await pause(50);
    socket.resetAndDestroy();
  }
}

function forward(
  host: string,
  port: number,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<Answer> {
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
