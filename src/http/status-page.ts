import { readFileSync } from "node:fs";
import type { BridgeState } from "../observe/bridge-state.ts";
import type { FeedEvent } from "../observe/event-feed.ts";
import type { RequestHandler } from "./http-server.ts";
import { renderFragments, renderPage } from "./status-view.ts";

/** The page's template, read once at start; it sits next to this file in src/ and in dist/. */
const TEMPLATE = readFileSync(new URL("./status-page.html", import.meta.url), "utf8");

/** What the status page reads, each time it is asked. */
export interface StatusPageSources {
  state: () => BridgeState;
  /** The recent changes of the event feed, oldest first. */
  changes: () => readonly FeedEvent[];
}

/**
 * Serves the status page at `/`, rendered on the server with the current state; its parts again
 * at `/status/fragments` (JSON, one HTML fragment per element id), which the page fetches on each
 * `/events` message; and the state itself at `/debug/state` (JSON).
 */
export function createStatusPageHandler(sources: StatusPageSources): RequestHandler {
  const view = () => renderFragments({ state: sources.state(), changes: sources.changes() });
  return (request, response) => {
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/") {
      response
        .writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-cache",
          "content-security-policy":
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        })
        .end(renderPage(TEMPLATE, view()));
      return true;
    }
    if (path === "/status/fragments") {
      response
        .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        .end(JSON.stringify(view()));
      return true;
    }
    if (path === "/debug/state") {
      response
        .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        .end(`${JSON.stringify(sources.state(), null, 2)}\n`);
      return true;
    }
    return false;
  };
}
