#!/usr/bin/env node
// `npx consul-xds-bridge [options]` (package.json `bin`). In a checkout it runs src/main.ts
// through tsx, registered in this process so signals and the exit code stay the bridge's own,
// and always the current code, never a stale dist/. The Docker image has no src/ and no tsx
// (production dependencies only): there it runs the compiled dist/main.js.
import { existsSync } from "node:fs";
import { URL } from "node:url";

const source = new URL("../src/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../dist/main.js");
}
