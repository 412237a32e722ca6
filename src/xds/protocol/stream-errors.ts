import { status, type StatusObject } from "@grpc/grpc-js";
import type { Logger } from "pino";

/** What a gRPC server stream's "error" event carries. */
export type StreamError = Error & Partial<Pick<StatusObject, "code" | "details">>;

/**
 * Logs the "error" event of an xDS stream: a client that hung up (CANCELLED) is ordinary and
 * goes to debug; any other failure is worth an operator's look and goes to warn.
 */
export function logStreamError(logger: Logger, node: string, error: StreamError): void {
  if (error.code === status.CANCELLED) logger.debug({ node }, "client went away");
  else logger.warn({ node, code: error.code, err: error }, "xDS stream failed");
}
