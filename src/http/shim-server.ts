import type { HostResolver } from "./resolve-host.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HttpConfig } from "../config/config.ts";
import type {
  DeregisterOutcome,
  Registrar,
  RegisterOutcome,
} from "../consul/register/registration.ts";
import type { RequestHandler } from "./http-server.ts";
import { ClientGoneError, readBody } from "./read-body.ts";
import { HostLookupError } from "./resolve-host.ts";
import { sendError, sendFailure, sendOutcomes, sendProblems, type Format } from "./shim-answers.ts";
import { isAuthorized } from "./shim-auth.ts";
import { applyShimRules, defaultShimRules, type ShimRules } from "./shim-rules.ts";
import {
  MAX_BODY_BYTES,
  parseShimBody,
  parseShimQuery,
  type ResolvedShimRequest,
  type ShimRequest,
  type Validation,
} from "./shim-request.ts";

/** The shim's paths, kept from the original system. */
export const SHIM_PATHS = {
  register: "/edsservice/register",
  deregister: "/edsservice/deregister",
} as const;

/** What a shim call does. */
export type ShimAction = keyof typeof SHIM_PATHS;

/** Dependencies of {@link createShimHandler}. */
export interface ShimHandlerOptions {
  registrar: Registrar;
  config: HttpConfig;
  logger: Logger;
  /** Name lookups; bound them with `boundLookups` (IP literals never reach it). */
  resolveHost: HostResolver;
  /** Reserved names, address policy, names of several addresses (default {@link defaultShimRules}). */
  rules?: ShimRules;
  /** Largest accepted POST body (default {@link MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
}

/** The handler's options with every default filled in. */
type Context = ShimHandlerOptions & { rules: ShimRules };

/**
 * The `/edsservice/register` and `/edsservice/deregister` handler. GET with
 * `?endpoint=HOST:PORT[&service=NAME]` answers plain text exactly like the original
 * (`127.0.0.1:8081 ok`); POST with a JSON body answers JSON. Any other path returns false.
 */
export function createShimHandler(given: ShimHandlerOptions): RequestHandler {
  const options: Context = { ...given, rules: given.rules ?? defaultShimRules() };
  const { logger } = options;
  return (request, response) => {
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    const query = queryStart < 0 ? "" : url.slice(queryStart + 1);
    const action = (Object.keys(SHIM_PATHS) as ShimAction[]).find((a) => SHIM_PATHS[a] === path);
    if (action === undefined) return false;
    const format: Format = request.method === "POST" ? "json" : "text";
    handle(options, action, query, request, response).catch((error: unknown) => {
      if (error instanceof ClientGoneError) {
        // An ordinary disconnect, not a fault of the bridge: nothing to answer, nothing to alarm.
        logger.debug({ err: error.cause, action }, "client went away mid-request");
        return;
      }
      logger.error({ err: error, action }, "shim request failed");
      if (!response.headersSent) sendError(response, format, 500, "internal error");
      else response.end();
    });
    return true;
  };
}

async function handle(
  options: Context,
  action: ShimAction,
  query: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { config } = options;
  const format: Format = request.method === "POST" ? "json" : "text";
  if (!isAuthorized(request.headers, config.token)) {
    request.resume();
    sendError(
      response,
      format,
      401,
      "unauthorized: send Authorization: Bearer TOKEN or X-Bridge-Token: TOKEN",
      {
        "www-authenticate": 'Bearer realm="consul-xds-bridge"',
      },
    );
    return;
  }
  let parsed: Validation<ResolvedShimRequest> | undefined;
  if (request.method === "GET") {
    request.resume();
    const read = parseShimQuery(query, config.defaultService);
    parsed = await resolved(read, options, action, format, response);
  } else if (request.method === "POST") {
    const body = await readJsonBody(options, query, request, response);
    if (body === undefined) return;
    const read = parseShimBody(body, config.defaultService);
    parsed = await resolved(read, options, action, format, response);
  } else {
    request.resume();
    sendError(response, "text", 405, "method not allowed: use GET or POST", { allow: "GET, POST" });
    return;
  }
  if (parsed === undefined) return;
  if (!parsed.ok) {
    options.logger.debug({ action, problems: parsed.problems }, "invalid shim request");
    sendProblems(response, format, parsed.problems);
    return;
  }
  await act(options, action, parsed.value, format, response);
}

/** The body of a POST, or undefined once it has answered 400, 413 or 415. */
async function readJsonBody(
  options: Context,
  query: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<string | undefined> {
  const type = (request.headers["content-type"] ?? "").replace(/;.*$/s, "").trim().toLowerCase();
  if (type !== "application/json") {
    request.resume();
    sendError(response, "json", 415, "the body must be application/json");
    return undefined;
  }
  if (query !== "") {
    request.resume();
    sendProblems(response, "json", [
      { path: "query", message: "POST takes a JSON body, not query parameters" },
    ]);
    return undefined;
  }
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const body = await readBody(request, limit);
  if (body.tooLarge) {
    sendError(response, "json", 413, `the body is larger than ${limit} bytes`, {
      connection: "close",
    });
    return undefined;
  }
  return body.text;
}

async function act(
  options: Context,
  action: ShimAction,
  target: ResolvedShimRequest,
  format: Format,
  response: ServerResponse,
): Promise<void> {
  const outcomes: (RegisterOutcome | DeregisterOutcome)[] = [];
  try {
    // One by one: each address is its own admitted operation, and a retry is idempotent.
    for (const address of target.addresses) {
      const endpoint = { service: target.service, address, port: target.port };
      outcomes.push(
        action === "register"
          ? await options.registrar.register(endpoint)
          : await options.registrar.deregister(endpoint),
      );
    }
  } catch (error) {
    sendFailure(options.logger, { action, endpoint: target.endpoint }, format, response, error);
    return;
  }
  sendOutcomes(response, format, target, outcomes);
}

/** The request after the shim's rules, or undefined once a lookup failure has been answered. */
async function resolved(
  parsed: Validation<ShimRequest>,
  options: Context,
  action: ShimAction,
  format: Format,
  response: ServerResponse,
): Promise<Validation<ResolvedShimRequest> | undefined> {
  if (!parsed.ok) return parsed;
  try {
    return await applyShimRules(parsed.value, options.resolveHost, options.rules);
  } catch (error) {
    if (!(error instanceof HostLookupError)) throw error;
    options.logger.warn({ err: error, action, host: parsed.value.host }, "name lookup failed");
    sendFailure(options.logger, { action, host: parsed.value.host }, format, response, error);
    return undefined;
  }
}
