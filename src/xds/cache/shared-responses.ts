import { randomBytes } from "node:crypto";
import type protobuf from "protobufjs";
import type { ResourceTypeUrl } from "../resources/resource-types.ts";
import type { CacheChanges, EncodedResource, StreamCache } from "./xds-cache.ts";

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

/** Reads the current resource of a name, as the stream's view has it. */
export type ReadResource = (name: string) => EncodedResource | undefined;

/** Default bytes of responses kept per type (encoded bytes and keys); least recently used go. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/**
 * Default time a response nobody takes is kept: streams that share a response take it within
 * one fan-out (well under a second), so one idle this long is only memory.
 */
export const DEFAULT_RESPONSE_IDLE_MS = 10_000;

/** Options of {@link SharedResponses}. */
export interface SharedResponsesOptions {
  /** The envelopes: `envoy.service.discovery.v3.DiscoveryResponse` and `DeltaDiscoveryResponse`. */
  envelopes: { sotw: protobuf.Type; delta: protobuf.Type };
  /** Prefix of every version, unique to this process (default {@link createEpoch}). */
  epoch?: string;
  /** Told once per response encoded (the `bridge_xds_response_encodings_total` counter). */
  onEncode?: (typeUrl: ResourceTypeUrl) => void;
  /** Bytes of responses kept per type (default {@link DEFAULT_MAX_RESPONSE_BYTES}). */
  maxBytesPerType?: number;
  /** How long a response nobody takes is kept (default {@link DEFAULT_RESPONSE_IDLE_MS}). */
  idleMs?: number;
  /** Monotonic milliseconds (tests give their own). */
  now?: () => number;
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
 * their versions, and the removed names): streams of one node view, and of views whose
 * responses hold the same content, share one key (docs/architecture.md §4); the first stream to need a key encodes it, every other
 * stream writes the same bytes. The nonce only has to be unique within a stream, so it is the
 * response's serial, shared too. Responses of a type are forgotten when the cache changes that
 * type, so only current ones are kept; at most {@link DEFAULT_MAX_RESPONSE_BYTES} of them per
 * type, the least recently used going first (the newest is kept whatever its size); and none
 * that nobody took for {@link DEFAULT_RESPONSE_IDLE_MS}, so what clients made the bridge encode
 * does not outlive them.
 */
export class SharedResponses {
  /** Prefix of every version this process sends. */
  readonly epoch: string;
  private serial = 0;
  private readonly byType = new Map<ResourceTypeUrl, KeptResponses>();
  private readonly unsubscribe: () => void;
  private readonly maxBytes: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  /** Drops idle responses while any is kept. */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    cache: StreamCache,
    private readonly options: SharedResponsesOptions,
  ) {
    this.epoch = options.epoch ?? createEpoch();
    this.maxBytes = options.maxBytesPerType ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.idleMs = options.idleMs ?? DEFAULT_RESPONSE_IDLE_MS;
    this.now = options.now ?? (() => performance.now());
    this.unsubscribe = cache.subscribe((changes) => this.forget(changes));
  }

  /**
   * The state-of-the-world response carrying the current resources of `names` as `read` gives
   * them (the stream's view; names without a resource are left out), newer than serial `after`
   * (the last response the stream sent).
   */
  sotw(
    typeUrl: ResourceTypeUrl,
    names: readonly string[],
    after: number,
    read: ReadResource,
  ): SharedResponse {
    let key = "";
    for (const name of names) key += `${name}\u0000${read(name)?.version}\n`;
    return this.take(typeUrl, key, after, (stamp) => {
      const resources = names.flatMap((name) => read(name)?.any ?? []);
      const bytes = this.options.envelopes.sotw
        .encode({ version_info: stamp.version, resources, type_url: typeUrl, nonce: stamp.nonce })
        .finish();
      return { bytes, resourceCount: resources.length };
    });
  }

  /**
   * The delta response carrying the current resources of `names` as `read` gives them (names
   * without a resource are left out) and `removed`, newer than serial `after`.
   */
  delta(
    typeUrl: ResourceTypeUrl,
    names: readonly string[],
    removed: readonly string[],
    after: number,
    read: ReadResource,
  ): SharedResponse {
    const resources = names.flatMap((name) => {
      const resource = read(name);
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
    if (!responses) this.byType.set(typeUrl, (responses = new KeptResponses(this.maxBytes)));
    const kept = responses.get(key, this.now);
    if (kept && kept.serial > after) return kept;
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
    responses.set(key, response, this.now());
    this.sweeper ??= setInterval(() => this.sweep(), this.idleMs / 2).unref();
    this.options.onEncode?.(typeUrl);
    return response;
  }

  /** Stops following the cache and drops every kept response. */
  close(): void {
    this.unsubscribe();
    this.byType.clear();
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(): void {
    const before = this.now() - this.idleMs;
    for (const [typeUrl, responses] of this.byType) {
      if (responses.expire(before)) this.byType.delete(typeUrl);
    }
    if (this.byType.size > 0) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private forget(changes: CacheChanges): void {
    for (const typeUrl of changes.keys()) this.byType.get(typeUrl)?.clear();
  }
}

/** A kept response, when it was last taken anew, and the memory it holds. */
interface Kept {
  response: SharedResponse;
  usedAt: number;
  size: number;
}

/** Responses of one type by key, least recently used first, within a byte budget. */
class KeptResponses {
  private readonly entries = new Map<string, Kept>();
  /** The response used last: taking it again (a fan-out's every stream) moves nothing. */
  private newest: Kept | undefined;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string, now: () => number): SharedResponse | undefined {
    const kept = this.entries.get(key);
    if (kept && kept !== this.newest) {
      this.entries.delete(key);
      this.entries.set(key, kept);
      kept.usedAt = now();
      this.newest = kept;
    }
    return kept?.response;
  }

  set(key: string, response: SharedResponse, now: number): void {
    this.drop(key);
    const kept = { response, usedAt: now, size: response.bytes.byteLength + key.length * 2 };
    this.entries.set(key, kept);
    this.newest = kept;
    this.bytes += kept.size;
    for (const [oldest, { response: other }] of this.entries) {
      if (this.bytes <= this.maxBytes || other === response) break;
      this.drop(oldest);
    }
  }

  /** Drops what was not taken anew since `before`, oldest first; true when nothing is left. */
  expire(before: number): boolean {
    for (const [key, kept] of this.entries) {
      if (kept.usedAt >= before) break;
      this.drop(key);
    }
    return this.entries.size === 0;
  }

  clear(): void {
    this.entries.clear();
    this.newest = undefined;
    this.bytes = 0;
  }

  private drop(key: string): void {
    const kept = this.entries.get(key);
    if (!kept) return;
    this.entries.delete(key);
    this.bytes -= kept.size;
    if (kept === this.newest) this.newest = undefined;
  }
}
