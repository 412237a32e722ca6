import type { ReadResource, SharedResponse, SharedResponses } from "../cache/shared-responses.ts";
import type { ResourceType } from "../resources/resource-type.ts";
import type { ResourceTypeUrl } from "../resources/resource-types.ts";
import type { ViewNode } from "./node-view.ts";
import type { StreamMode } from "./stream-registry.ts";

/**
 * What a protocol (state of the world, delta) gives the stream driver of xds-stream.ts: its
 * per-type state, which takes requests, follows cache changes and builds responses. The life of
 * the stream stays with the driver; what differs between protocols lives behind these.
 */

/** The fields of a request every xDS stream reads, state of the world and delta alike. */
export interface RequestHead {
  type_url: string;
  node?: ({ id?: string; cluster?: string } & ViewNode) | null;
  response_nonce: string;
  error_detail?: { code?: number; message?: string } | null;
}

/** How a request was taken: the first of its type, an ACK, a NACK, stale, or a change. */
export type RequestKind = "initial" | "ack" | "nack" | "stale" | "update";

/** What a protocol made of one request of one type. */
export interface RequestOutcome {
  kind: RequestKind;
  /** ACK: the version accepted; NACK: the version the client keeps (as it says; client text). */
  version: string;
  /** NACK: the version rejected, the one the nonce names ("" when unknown). */
  rejected: string;
  /** Whether the names subscribed to changed (always true for the first request). */
  namesChanged: boolean;
}

/** A response a protocol took for one type, already encoded and shared. */
export interface TakenResponse {
  response: SharedResponse;
  /** Resources sent anew (their dependents of the same name may have to follow). */
  changed: readonly string[];
  /** Names announced removed (delta). */
  removed?: readonly string[];
}

/** What a type's protocol state may use: the cache's versions and names, shared responses. */
export interface TypeContext {
  typeUrl: ResourceTypeUrl;
  responses: SharedResponses;
  /** Current version of a resource; undefined when it does not exist. */
  versionOf: (name: string) => string | undefined;
  /** Current resource of a name, as the stream's node view has it. */
  read: ReadResource;
  /** Every resource of the type (a wildcard's). */
  allNames: () => readonly string[];
  /** Told each name (`*`: the whole type) the stream starts or stops subscribing to. */
  interest: { retain(name: string): void; release(name: string): void };
}

/** One type's protocol state on one stream (sotw-protocol.ts, delta-protocol.ts). */
export interface TypeProtocol<Request> {
  onRequest(request: Request): RequestOutcome;
  /** Marks what the changed resources make pending. */
  onResourcesChanged(changed: ReadonlySet<string>): void;
  readonly hasPending: boolean;
  /** Sends these names again even if unchanged, where subscribed. */
  resend(names: readonly string[]): void;
  /** The pending response, encoded (or shared) after serial `after`; undefined when none. */
  take(after: number): TakenResponse | undefined;
  /** The names subscribed to, as `/debug/state` shows them (`*` for a wildcard). */
  subscribedNames(): string[];
  /** Releases every name it holds (the stream ended). */
  close(): void;
}

/** A protocol the driver speaks: state of the world or delta. */
export interface StreamProtocol<Request extends RequestHead> {
  readonly mode: StreamMode;
  /** New protocol state of one type on one stream. */
  open(type: ResourceType<ResourceTypeUrl>, context: TypeContext): TypeProtocol<Request>;
}
