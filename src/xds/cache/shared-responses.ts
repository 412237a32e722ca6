import { randomBytes } from "node:crypto";
import type protobuf from "protobufjs";
import type { ResourceTypeUrl } from "../resources/resource-types.ts";
import type { CacheChanges, XdsCache } from "./xds-cache.ts";

/** The version and nonce one response carries, the same for every stream that gets it. */
export interface ResponseStamp {
  /** `version_info` (SotW) or `system_version_info` (delta): the process epoch and the serial. */
  version: string;
  nonce: string;
}

/** One response encoded once and written as is to every stream that needs exactly it. */
export interface SharedResponse extends ResponseStamp {
  /** The encoded response message (a DiscoveryResponse or DeltaDiscoveryResponse). */
  readonly bytes: Buffer;
  /**
   * Order of creation in this process. A stream takes only responses with a serial above the
   * last one it sent, so the nonces it sends never repeat (docs/architecture.md §5).
   */
  readonly serial: number;
  /** How many resources it carries. */
  readonly resourceCount: number;
}

/** Options of {@link SharedResponses}. */
export interface SharedResponsesOptions {
  /** The envelopes: `envoy.service.discovery.v3.DiscoveryResponse` and `DeltaDiscoveryResponse`. */
  envelopes: { sotw: protobuf.Type; delta: protobuf.Type };
  /** Prefix of every version, unique to this process (default {@link createEpoch}). */
  epoch?: string;
  /** Told once per response encoded (the `bridge_xds_response_encodings_total` counter). */
  onEncode?: (typeUrl: ResourceTypeUrl) => void;
  /** Responses kept per type before the oldest generation is dropped (default 1,024). */
  maxPerType?: number;
}

/**
 * A prefix unique to this process (start time and randomness), so response versions never repeat
 * across restarts or replicas (docs/architecture.md §4): an Envoy holding "version 3" from an
 * earlier process must still see a new version.
 */
export function createEpoch(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(3).toString("hex")}`;
}

/**
 * Encoded responses shared between streams (docs/architecture.md §5), state of the world and
 * delta alike. A stream describes the response it needs by a key (its kind, the resources with
 * their versions, and the removed names); the first stream to need a key encodes it, every other
 * stream writes the same bytes. The nonce only has to be unique within a stream, so it is the
 * response's serial, shared too. Responses of a type are forgotten when the cache changes that
 * type, so only current ones are kept.
 */
export class SharedResponses {
  /** Prefix of every version this process sends. */
  readonly epoch: string;
  private serial = 0;
  private readonly byType = new Map<ResourceTypeUrl, Map<string, SharedResponse>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly cache: XdsCache,
    private readonly options: SharedResponsesOptions,
  ) {
    this.epoch = options.epoch ?? createEpoch();
    this.unsubscribe = cache.subscribe((changes) => this.forget(changes));
  }

  /**
   * The state-of-the-world response carrying the current resources of `names` (names without a
   * resource are left out), newer than serial `after` (the last response the stream sent).
   */
  sotw(typeUrl: ResourceTypeUrl, names: readonly string[], after: number): SharedResponse {
    const { cache } = this;
    let key = "";
    for (const name of names) key += `${name}\u0000${cache.get(typeUrl, name)?.version}\n`;
    return this.take(typeUrl, key, after, (stamp) => {
      const resources = names.flatMap((name) => cache.get(typeUrl, name)?.any ?? []);
      const bytes = this.options.envelopes.sotw
        .encode({ version_info: stamp.version, resources, type_url: typeUrl, nonce: stamp.nonce })
        .finish();
      return { bytes, resourceCount: resources.length };
    });
  }

  /**
   * The delta response carrying the current resources of `names` (names without a resource are
   * left out) and `removed`, newer than serial `after`.
   */
  delta(
    typeUrl: ResourceTypeUrl,
    names: readonly string[],
    removed: readonly string[],
    after: number,
  ): SharedResponse {
    const resources = names.flatMap((name) => {
      const resource = this.cache.get(typeUrl, name);
      return resource ? [{ name, version: resource.version, resource: resource.any }] : [];
    });
    // A state-of-the-world key never holds the separator \u0001: the two kinds never share.
    let key = "\u0001";
    for (const { name, version } of resources) key += `${name}\u0000${version}\n`;
    for (const name of removed) key += `\u0001${name}`;
    return this.take(typeUrl, key, after, (stamp) => {
      const bytes = this.options.envelopes.delta
        .encode({
          system_version_info: stamp.version,
          resources,
          type_url: typeUrl,
          removed_resources: removed,
          nonce: stamp.nonce,
        })
        .finish();
      return { bytes, resourceCount: resources.length };
    });
  }

  /**
   * The response of `typeUrl` described by `key`, encoded by `encode` unless a stream already
   * did. `after` is the serial of the last response the asking stream sent: a kept response not
   * newer than that is encoded again with a new serial, which the next streams then share.
   */
  take(
    typeUrl: ResourceTypeUrl,
    key: string,
    after: number,
    encode: (stamp: ResponseStamp) => { bytes: Uint8Array; resourceCount: number },
  ): SharedResponse {
    let responses = this.byType.get(typeUrl);
    if (!responses) this.byType.set(typeUrl, (responses = new Map()));
    const kept = responses.get(key);
    if (kept && kept.serial > after) return kept;
    if (!kept && responses.size >= (this.options.maxPerType ?? 1_024)) responses.clear();
    const serial = ++this.serial;
    const nonce = serial.toString(36);
    const stamp = { version: `${this.epoch}-${nonce}`, nonce };
    const { bytes, resourceCount } = encode(stamp);
    const response: SharedResponse = {
      ...stamp,
      bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      serial,
      resourceCount,
    };
    responses.set(key, response);
    this.options.onEncode?.(typeUrl);
    return response;
  }

  /** Stops following the cache and drops every kept response. */
  close(): void {
    this.unsubscribe();
    this.byType.clear();
  }

  private forget(changes: CacheChanges): void {
    for (const typeUrl of changes.keys()) this.byType.get(typeUrl)?.clear();
  }
}
