import type protobuf from "protobufjs";
import type { SharedResponse, SharedResponses } from "./shared-responses.ts";
import type { ResourceTypeUrl } from "../resources/type-urls.ts";
import type { XdsCache } from "./xds-cache.ts";

/**
 * State-of-the-world responses shared between streams (docs/architecture.md §5): a
 * DiscoveryResponse is encoded once per type and list of resources at their current versions,
 * with a version and nonce of its own, and every stream that needs exactly that list writes the
 * same bytes.
 */
export class SotwResponses {
  constructor(
    private readonly shared: SharedResponses,
    private readonly cache: XdsCache,
    /** `envoy.service.discovery.v3.DiscoveryResponse` (protos.ts). */
    private readonly envelope: protobuf.Type,
  ) {}

  /**
   * The response carrying the current resources of `names` (names without a resource are left
   * out), newer than serial `after` (the last response the asking stream sent).
   */
  take(typeUrl: ResourceTypeUrl, names: readonly string[], after: number): SharedResponse {
    let key = "";
    for (const name of names) key += `${name}\u0000${this.cache.get(typeUrl, name)?.version}\n`;
    return this.shared.take(typeUrl, key, after, ({ version, nonce }) =>
      this.envelope
        .encode({
          version_info: version,
          resources: names.flatMap((name) => this.cache.get(typeUrl, name)?.any ?? []),
          type_url: typeUrl,
          nonce,
        })
        .finish(),
    );
  }
}
