import type protobuf from "protobufjs";
import type { SharedResponse, SharedResponses } from "./shared-responses.ts";
import type { ResourceTypeUrl } from "../resources/type-urls.ts";
import type { XdsCache } from "./xds-cache.ts";

/**
 * Delta responses shared between streams (docs/architecture.md §5), as sotw-responses.ts does for
 * state of the world: a DeltaDiscoveryResponse is encoded once per type, resources at their
 * current versions and removed names, and every delta stream that needs exactly that response
 * writes the same bytes.
 */
export class DeltaResponses {
  constructor(
    private readonly shared: SharedResponses,
    private readonly cache: XdsCache,
    /** `envoy.service.discovery.v3.DeltaDiscoveryResponse` (protos.ts). */
    private readonly envelope: protobuf.Type,
  ) {}

  /**
   * The response carrying the current resources of `names` (names without a resource are left
   * out) and `removed`, newer than serial `after` (the last response the asking stream sent).
   */
  take(
    typeUrl: ResourceTypeUrl,
    names: readonly string[],
    removed: readonly string[],
    after: number,
  ): SharedResponse & { resourceCount: number } {
    const resources = names.flatMap((name) => {
      const resource = this.cache.get(typeUrl, name);
      return resource ? [{ name, version: resource.version, resource: resource.any }] : [];
    });
    // A state-of-the-world key never holds the separator \u0001: the two kinds never share.
    let key = "\u0001";
    for (const { name, version } of resources) key += `${name}\u0000${version}\n`;
    for (const name of removed) key += `\u0001${name}`;
    const response = this.shared.take(typeUrl, key, after, ({ version, nonce }) =>
      this.envelope
        .encode({
          system_version_info: version,
          resources,
          type_url: typeUrl,
          removed_resources: removed,
          nonce,
        })
        .finish(),
    );
    return { ...response, resourceCount: resources.length };
  }
}
