import {
  ServerInterceptingCall,
  status,
  type Metadata,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";

/** Why a call's credentials were refused. */
export type TokenProblem = "missing" | "wrong";

/**
 * Checks `authorization: Bearer TOKEN` call metadata against `token` in constant time (both are
 * hashed first, so neither content nor length leaks). Returns undefined when it matches.
 */
export function checkBearerToken(metadata: Metadata, token: string): TokenProblem | undefined {
  const values = metadata.get("authorization");
  if (values.length === 0) return "missing";
  const match = values.length === 1 ? /^Bearer +(\S+) *$/i.exec(String(values[0])) : null;
  if (!match?.[1]) return "wrong";
  const digest = (text: string): Buffer => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(match[1]), digest(token)) ? undefined : "wrong";
}

/** Options of {@link bearerTokenInterceptor}. */
export interface BearerTokenOptions {
  token: string;
  logger: Logger;
  /** Called once for every call refused. */
  onRefused?: (peer: string) => void;
}

/**
 * A server interceptor that ends every call whose metadata lacks the bearer token with
 * UNAUTHENTICATED, before any handler runs: a refused client never opens an xDS stream.
 */
export function bearerTokenInterceptor(options: BearerTokenOptions): ServerInterceptor {
  const { token, logger } = options;
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata(metadata, proceed) {
            const problem = checkBearerToken(metadata, token);
            if (problem === undefined) {
              proceed(metadata);
              return;
            }
            const peer = call.getPeer();
            options.onRefused?.(peer);
            logger.warn(
              { peer, reason: "token", problem, method: method.path },
              `xDS stream refused: ${problem} bearer token`,
            );
            call.sendStatus({
              code: status.UNAUTHENTICATED,
              details: `${problem} bearer token`,
            });
          },
        }),
    });
}

/** The interceptors of the xDS server: the token check when a token is configured, else none. */
export function authInterceptors(
  options: Omit<BearerTokenOptions, "token"> & { token: string | undefined },
): ServerInterceptor[] {
  const { token } = options;
  return token === undefined ? [] : [bearerTokenInterceptor({ ...options, token })];
}
