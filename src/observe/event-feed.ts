import type { ServerResponse } from "node:http";
import type { RequestHandler } from "../http/http-server.ts";

/** One entry of the recent-changes list of the status page. */
export interface FeedEvent {
  /** ISO-8601 time. */
  at: string;
  /** What changed: a service's endpoints, an xDS stream, Consul. */
  kind: "service" | "stream" | "consul";
  text: string;
}

/** Comment lines keep idle event streams open through proxies. */
const KEEPALIVE_MS = 15_000;
/**
 * `state` events go out at most this often: each makes the page read /debug/state again, and
 * 1,000 streams ACKing one update would otherwise ask for 1,000 reads.
 */
const STATE_INTERVAL_MS = 250;

/**
 * The live feed behind `/events` (server-sent events): `change` events carry a {@link FeedEvent}
 * and are kept in a short history sent to each new client; `state` events only say "something
 * changed, read /debug/state again" (ACKs, subscriptions).
 */
export class EventFeed {
  private readonly history: FeedEvent[] = [];
  private readonly clients = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;
  private lastStateAt = -Infinity;
  private stateTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit = 50,
    private readonly now: () => number = Date.now,
  ) {
    this.keepalive = setInterval(() => this.write(": keepalive\n\n"), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Records a change and sends it to every client. */
  publish(kind: FeedEvent["kind"], text: string): void {
    const event: FeedEvent = { at: new Date(this.now()).toISOString(), kind, text };
    this.history.push(event);
    if (this.history.length > this.limit) this.history.shift();
    this.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
  }

  /**
   * Tells clients the state moved without a change worth listing; at most one `state` event per
   * {@link STATE_INTERVAL_MS}, the last touch of a burst always followed by one.
   */
  touch(): void {
    if (this.stateTimer || this.clients.size === 0) return;
    const wait = this.lastStateAt + STATE_INTERVAL_MS - this.now();
    if (wait <= 0) return this.sendState();
    this.stateTimer = setTimeout(() => this.sendState(), wait);
    this.stateTimer.unref();
  }

  /** The recent changes, oldest first. */
  recent(): FeedEvent[] {
    return [...this.history];
  }

  /** Serves `GET /events`. */
  readonly handler: RequestHandler = (request, response) => {
    if ((request.url ?? "").split("?")[0] !== "/events" || request.method !== "GET") return false;
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    response.write("retry: 2000\n\n");
    for (const event of this.history) {
      response.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
    }
    this.clients.add(response);
    const forget = (): boolean => this.clients.delete(response);
    request.once("close", forget);
    response.once("close", forget);
    return true;
  };

  /** Ends every event stream (shutdown). */
  close(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.stateTimer);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private sendState(): void {
    this.stateTimer = undefined;
    this.lastStateAt = this.now();
    this.write("event: state\ndata: {}\n\n");
  }

  private write(text: string): void {
    for (const client of this.clients) client.write(text);
  }
}
