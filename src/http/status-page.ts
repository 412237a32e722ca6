import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import type { BridgeState } from "../observe/bridge-state.ts";
import type { FeedEvent } from "../observe/event-feed.ts";
import type { RequestHandler } from "./http-server.ts";
import { renderFragments, renderPage } from "./status-view.ts";

/** The page's template, read once at start; it sits next to this file in src/ and in dist/. */
const TEMPLATE = readFileSync(new URL("./status-page.html", import.meta.url), "utf8");

/** What the status page reads, each time it is asked. */
export interface StatusPageSources {
  /** The state now; a promise when parts of it are asked of other processes (xDS workers). */
  state: () => BridgeState | Promise<BridgeState>;
  /** The recent changes of the event feed, oldest first. */
  changes: () => readonly FeedEvent[];
}

/**
 * Serves the status page at `/`, rendered on the server with the current state; its parts again
 * at `/status/fragments` (JSON, one HTML fragment per element id), which the page fetches on each
 * `/events` message; and the state itself at `/debug/state` (JSON).
 */
export function createStatusPageHandler(sources: StatusPageSources): RequestHandler {
  const view = async () =>
    renderFragments({ state: await sources.state(), changes: sources.changes() });
  /** Answers with what `body` makes, or 500 naming what failed. */
  const answer = (
    response: ServerResponse,
    headers: Record<string, string>,
    body: () => Promise<string>,
  ): true => {
    body().then(
      (text) => response.writeHead(200, headers).end(text),
      (error: Error) => response.writeHead(500).end(error.message),
    );
    return true;
  };
  return (request, response) => {
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/") {
      const headers = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy":
          "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      };
      return answer(response, headers, async () => renderPage(TEMPLATE, await view()));
    }
    const json = { "content-type": "application/json", "cache-control": "no-store" };
    if (path === "/status/fragments") {
      return answer(response, json, async () => JSON.stringify(await view()));
    }
    if (path === "/debug/state") {
      return answer(
        response,
        json,
        async () => `${JSON.stringify(await sources.state(), null, 2)}\n`,
      );
    }
    return false;
  };
}
