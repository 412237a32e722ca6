import type { Logger } from "pino";
import type { StreamHooks } from "./sotw-stream.ts";
import type { StreamReporter } from "./stream-registry.ts";
import { isServedTypeUrl, type ResourceTypeUrl } from "../resources/type-urls.ts";

/** The part of a request every xDS stream reads first, whatever its mode. */
export interface RequestHead {
  type_url: string;
  node?: { id?: string } | null;
}

/** What a stream tells {@link servedTypeOf} about itself. */
export interface RequestScope {
  logger: Logger;
  hooks?: StreamHooks;
  reporter?: StreamReporter;
  /** Set for single-type services: requests of another type are refused. */
  onlyType?: ResourceTypeUrl;
  /** The node the stream knows; replaced by the request's when it names one. */
  nodeId: string;
}

/**
 * The first step of every request on a state-of-the-world or delta stream: the node it names is
 * taken and reported, and its type checked against what the stream serves. Returns the node and
 * the type, or no type when the stream does not serve it (the request is then logged, counted
 * and ignored).
 */
export function servedTypeOf(
  request: RequestHead,
  scope: RequestScope,
): { nodeId: string; typeUrl: ResourceTypeUrl | undefined } {
  const { logger, hooks, reporter, onlyType } = scope;
  let nodeId = scope.nodeId;
  if (request.node?.id) {
    nodeId = request.node.id;
    reporter?.node(nodeId);
  }
  const typeUrl = request.type_url || onlyType || "";
  if (isServedTypeUrl(typeUrl) && (!onlyType || typeUrl === onlyType)) return { nodeId, typeUrl };
  logger.warn({ node: nodeId, typeUrl }, "request for a type this stream does not serve; ignored");
  hooks?.onRequest?.("unsupported", typeUrl);
  return { nodeId, typeUrl: undefined };
}
