/** Requests as xDS clients send them, every field the bridge may read set (proto field names). */

const typeUrl = (name: string): string => `type.googleapis.com/${name}`;

/** A Node as Envoy sends it on a stream's first request, metadata of every Value kind. */
export const FULL_NODE = Object.freeze({
  id: "envoy-1",
  cluster: "edge",
  metadata: {
    fields: {
      team: { string_value: "payments" },
      replicas: { number_value: 3 },
      canary: { bool_value: true },
      nothing: { null_value: "NULL_VALUE" },
      tags: { list_value: { values: [{ string_value: "a" }] } },
      nested: { struct_value: { fields: { k: { string_value: "v" } } } },
    },
  },
  locality: { region: "dc1", zone: "a", sub_zone: "rack-7" },
  user_agent_name: "envoy",
  user_agent_build_version: {
    version: { major_number: 1, minor_number: 40, patch: 0 },
    metadata: { fields: { "revision.status": { string_value: "Clean" } } },
  },
  extensions: [
    {
      name: "envoy.filters.http.router",
      category: "envoy.filters.http",
      version: { version: { major_number: 3, minor_number: 0, patch: 0 } },
      disabled: false,
      type_urls: [typeUrl("envoy.extensions.filters.http.router.v3.Router")],
    },
  ],
  client_features: ["envoy.lb.does_not_support_overprovisioning", "xds.config.resource-in-sotw"],
});

/** The error_detail of a NACK (google.rpc.Status), with one detail Any. */
export const NACK_STATUS = Object.freeze({
  code: 3,
  message: "cluster web: invalid",
  // google.protobuf.StringValue { value: "x" }
  details: [{ type_url: typeUrl("google.protobuf.StringValue"), value: Buffer.from([10, 1, 120]) }],
});
