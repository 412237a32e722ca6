import { readFileSync } from "node:fs";
import type { RequestHandler } from "./http-server.ts";

/** The page, read once at start; it sits next to this file in src/ and in the build's dist/. */
const PAGE = readFileSync(new URL("./status-page.html", import.meta.url));

/**
 * Serves the status page at `/` and the state it shows at `/debug/state` (JSON). The page is
 * plain HTML and JavaScript: it reads `/debug/state` and refreshes on every `/events` message.
 */
export function createStatusPageHandler(state: () => unknown): RequestHandler {
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
        .end(PAGE);
      return true;
    }
    if (path === "/debug/state") {
      response
        .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        .end(`${JSON.stringify(state(), null, 2)}\n`);
      return true;
    }
    return false;
  };
}
