import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { ConsulAgentError } from "../consul/register/agent-services.ts";
import {
  OutcomeUnknownError,
  RegistrarBusyError,
  ServiceNameCaseError,
  type DeregisterOutcome,
  type RegisterOutcome,
} from "../consul/register/registration.ts";
import { HostLookupError } from "./resolve-host.ts";
import { sendJson, sendText } from "./respond.ts";
import type { Problem, ResolvedShimRequest } from "./shim-request.ts";

/** How a shim call is answered: plain text (GET, as the original) or JSON (POST). */
export type Format = "text" | "json";

/** What happened to one instance. */
export type ShimStatus = "registered" | "already-registered" | "deregistered" | "not-registered";

/**
 * The JSON answer of a successful (or 404) POST. `address`, `id` and `status` are the first
 * instance's; a name registered at several addresses (`--shim-multi-address=all`) also lists
 * every one in `instances`, and `status` is then the strongest of theirs.
 */
export interface ShimJsonAnswer {
  endpoint: string;
  service: string;
  address: string;
  id: string;
  status: ShimStatus;
  instances?: { address: string; id: string; status: ShimStatus }[];
}

/** Seconds a client is asked to wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 1;

/** Answers what the registrar did: 200, or 404 when nothing was registered to deregister. */
export function sendOutcomes(
  response: ServerResponse,
  format: Format,
  target: ResolvedShimRequest,
  outcomes: readonly (RegisterOutcome | DeregisterOutcome)[],
): void {
  const instances = outcomes.map((outcome, i) => ({
    address: target.addresses[i] ?? "",
    id: outcome.id,
    status: outcome.status,
  }));
  const status = strongest(instances.map((instance) => instance.status));
  const httpStatus = status === "not-registered" ? 404 : 200;
  if (format === "text") {
    const words: Record<ShimStatus, string> = {
      registered: "ok",
      "already-registered": "already registered",
      deregistered: "ok",
      "not-registered": "not registered",
    };
    sendText(response, httpStatus, `${target.endpoint} ${words[status]}`);
    return;
  }
  const first = instances[0] ?? { address: "", id: "", status };
  const answer: ShimJsonAnswer = {
    endpoint: target.endpoint,
    service: target.service,
    address: first.address,
    id: first.id,
    status,
    ...(instances.length > 1 ? { instances } : {}),
  };
  sendJson(
    response,
    httpStatus,
    httpStatus === 404 ? { error: "not registered", ...answer } : answer,
  );
}

/** The status that speaks for several instances: any change beats none. */
function strongest(statuses: ShimStatus[]): ShimStatus {
  for (const status of ["registered", "deregistered", "already-registered"] as const) {
    if (statuses.includes(status)) return status;
  }
  return "not-registered";
}

/**
 * Answers what could not be done: 400 for a service name Consul holds in another case; 503 with
 * `Retry-After` when Consul, the queue or the resolver cannot serve now; 502 when Consul refused.
 * Anything else is a bug and is thrown (500).
 */
export function sendFailure(
  logger: Logger,
  context: Record<string, string>,
  format: Format,
  response: ServerResponse,
  error: unknown,
): void {
  const retry = { "retry-after": String(RETRY_AFTER_SECONDS) };
  if (error instanceof ServiceNameCaseError) {
    sendProblems(response, format, [{ path: "service", message: error.message }]);
  } else if (error instanceof RegistrarBusyError) {
    const message = `busy: ${error.limit} shim operations are queued for Consul; retry later`;
    sendError(response, format, 503, message, retry);
  } else if (error instanceof HostLookupError) {
    const advice = "retry later, or give an IP address";
    sendError(response, format, 503, `name lookup unavailable: ${error.message}; ${advice}`, retry);
  } else if (error instanceof OutcomeUnknownError) {
    logger.warn({ err: error, ...context }, "consul call failed");
    const message = "consul unavailable: whether the change was applied is unknown; retry";
    sendError(response, format, 503, message, retry);
  } else if (error instanceof ConsulAgentError) {
    logger.warn({ err: error, ...context }, "consul call failed");
    // Unreachable or failing Consul → 503 (retry later); Consul refusing the call → 502.
    if (error.unavailable) sendError(response, format, 503, "consul unavailable", retry);
    else sendError(response, format, 502, error.message);
  } else {
    throw error;
  }
}

/** Answers 400 with every problem, one `path: message` line each in text. */
export function sendProblems(response: ServerResponse, format: Format, problems: Problem[]): void {
  if (format === "json") {
    sendJson(response, 400, { error: "invalid request", problems });
    return;
  }
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  sendText(response, 400, `invalid request:\n${lines.join("\n")}\n`);
}

/** Answers `status` with one message. */
export function sendError(
  response: ServerResponse,
  format: Format,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (format === "json") sendJson(response, status, { error: message }, headers);
  else sendText(response, status, `${message}\n`, headers);
}
