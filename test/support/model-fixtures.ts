import type { Endpoint, ServiceEndpoints } from "../../src/model/endpoint.ts";

/** A healthy endpoint in dc1 on `address:8080`, with any field overridden. */
export function endpoint(address: string, overrides: Partial<Endpoint> = {}): Endpoint {
  return {
    id: `node/${address}`,
    address,
    port: 8080,
    health: "healthy",
    weight: 1,
    locality: { region: "dc1", zone: "" },
    tags: [],
    meta: {},
    ...overrides,
  };
}

/** A service with the given endpoints. */
export function service(name: string, ...endpoints: Endpoint[]): ServiceEndpoints {
  return { service: name, endpoints };
}
