import { serveFixturesFromWorkers } from "../support/xds-server-fixture.ts";

// The xDS protocol suites (state of the world, delta, node views) again, each server served by
// two worker processes fed by the test's cache, as `--xds-workers 2` serves it.
serveFixturesFromWorkers(2);
await import("./xds-server.test.ts");
await import("./xds-delta.test.ts");
await import("./xds-views.test.ts");
