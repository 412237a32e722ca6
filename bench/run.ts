import { registrationLatency } from "./registration-latency.ts";
import { printTable, type BenchRow } from "./stats.ts";

/** `npm run bench`: runs every benchmark with real Consul, bridge and Envoy; prints one table. */
const rows: BenchRow[] = [...(await registrationLatency())];
printTable(rows);
process.exit(0);
