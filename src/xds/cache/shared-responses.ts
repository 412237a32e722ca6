import type { ResourceTypeUrl } from "../resources/type-urls.ts";
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
}

/** Options of {@link SharedResponses}. */
export interface SharedResponsesOptions {
  /** Prefix of every version, unique to this process (version.ts). */
  epoch: string;
  /** Told once per response encoded (the `bridge_xds_encodings_total` counter). */
  onEncode?: (typeUrl: ResourceTypeUrl) => void;
  /** Responses kept per type before the oldest generation is dropped (default 1,024). */
  maxPerType?: number;
}

/**
 * Encoded responses shared between streams (docs/architecture.md §5). A stream describes the
 * response it needs by a key (its type and the resources with their versions); the first stream
 * to need a key encodes it, every other stream writes the same bytes. The nonce only has to be
 * unique within a stream, so it is the response's serial, shared too. Responses of a type are
 * forgotten when the cache changes that type, so only current ones are kept.
 */
export class SharedResponses {
  private serial = 0;
  private readonly byType = new Map<ResourceTypeUrl, Map<string, SharedResponse>>();
  private readonly unsubscribe: () => void;

  constructor(
    cache: XdsCache,
    private readonly options: SharedResponsesOptions,
  ) {
    this.unsubscribe = cache.subscribe((changes) => this.forget(changes));
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
    encode: (stamp: ResponseStamp) => Uint8Array,
  ): SharedResponse {
    let responses = this.byType.get(typeUrl);
    if (!responses) this.byType.set(typeUrl, (responses = new Map()));
    const kept = responses.get(key);
    if (kept && kept.serial > after) return kept;
    if (!kept && responses.size >= (this.options.maxPerType ?? 1_024)) responses.clear();
    const serial = ++this.serial;
    const nonce = serial.toString(36);
    const stamp = { version: `${this.options.epoch}-${nonce}`, nonce };
    const bytes = encode(stamp);
    const response: SharedResponse = {
      ...stamp,
      bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      serial,
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
