import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HttpConfig } from "../config.ts";
import { ConsulAgentError } from "../consul/agent-services.ts";
import type { DeregisterOutcome, Registrar, RegisterOutcome } from "../consul/registration.ts";
import type { RequestHandler } from "./http-server.ts";
import { ClientGoneError, readBody } from "./read-body.ts";
import { sendJson, sendText } from "./respond.ts";
import { isAuthorized } from "./shim-auth.ts";
import {
  MAX_BODY_BYTES,
  parseShimBody,
  parseShimQuery,
  resolveShimRequest,
  type HostResolver,
  type Problem,
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
  resolveHost: HostResolver;
  /** Largest accepted POST body (default {@link MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
}

/** The JSON answer of a successful (or 404) POST. */
export interface ShimJsonAnswer {
  endpoint: string;
  service: string;
  address: string;
  id: string;
  status: "registered" | "already-registered" | "deregistered" | "not-registered";
}

type Format = "text" | "json";

/**
 * The `/edsservice/register` and `/edsservice/deregister` handler. GET with
 * `?endpoint=HOST:PORT[&service=NAME]` answers plain text exactly like the original
 * (`127.0.0.1:8081 ok`); POST with a JSON body answers JSON. Any other path returns false.
 */
export function createShimHandler(options: ShimHandlerOptions): RequestHandler {
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
  options: ShimHandlerOptions,
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
  let parsed: Validation<ResolvedShimRequest>;
  if (request.method === "GET") {
    request.resume();
    parsed = await resolved(parseShimQuery(query, config.defaultService), options);
  } else if (request.method === "POST") {
    const body = await readJsonBody(options, query, request, response);
    if (body === undefined) return;
    parsed = await resolved(parseShimBody(body, config.defaultService), options);
  } else {
    request.resume();
    sendError(response, "text", 405, "method not allowed: use GET or POST", { allow: "GET, POST" });
    return;
  }
  if (!parsed.ok) {
    options.logger.debug({ action, problems: parsed.problems }, "invalid shim request");
    sendProblems(response, format, parsed.problems);
    return;
  }
  await act(options, action, parsed.value, format, response);
}

/** The body of a POST, or undefined once it has answered 400, 413 or 415. */
async function readJsonBody(
  options: ShimHandlerOptions,
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
  options: ShimHandlerOptions,
  action: ShimAction,
  target: ResolvedShimRequest,
  format: Format,
  response: ServerResponse,
): Promise<void> {
  const endpoint = { service: target.service, address: target.address, port: target.port };
  let outcome: RegisterOutcome | DeregisterOutcome;
  try {
    outcome =
      action === "register"
        ? await options.registrar.register(endpoint)
        : await options.registrar.deregister(endpoint);
  } catch (error) {
    if (!(error instanceof ConsulAgentError)) throw error;
    options.logger.warn({ err: error, action, endpoint: target.endpoint }, "consul call failed");
    // Unreachable or failing Consul → 503 (retry later); Consul refusing the call → 502.
    const status = error.unavailable ? 503 : 502;
    sendError(response, format, status, status === 503 ? "consul unavailable" : error.message);
    return;
  }
  const httpStatus = outcome.status === "not-registered" ? 404 : 200;
  if (format === "text") {
    const words: Record<typeof outcome.status, string> = {
      registered: "ok",
      "already-registered": "already registered",
      deregistered: "ok",
      "not-registered": "not registered",
    };
    sendText(response, httpStatus, `${target.endpoint} ${words[outcome.status]}`);
    return;
  }
  const answer: ShimJsonAnswer = {
    endpoint: target.endpoint,
    service: target.service,
    address: target.address,
    id: outcome.id,
    status: outcome.status,
  };
  sendJson(
    response,
    httpStatus,
    httpStatus === 404 ? { error: "not registered", ...answer } : answer,
  );
}

async function resolved(
  parsed: Validation<ShimRequest>,
  options: ShimHandlerOptions,
): Promise<Validation<ResolvedShimRequest>> {
  return parsed.ok ? resolveShimRequest(parsed.value, options.resolveHost) : parsed;
}

function sendProblems(response: ServerResponse, format: Format, problems: Problem[]): void {
  if (format === "json") {
    sendJson(response, 400, { error: "invalid request", problems });
    return;
  }
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  sendText(response, 400, `invalid request:\n${lines.join("\n")}\n`);
}

function sendError(
  response: ServerResponse,
  format: Format,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (format === "json") sendJson(response, status, { error: message }, headers);
  else sendText(response, status, `${message}\n`, headers);
}
