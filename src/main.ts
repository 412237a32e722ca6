import { ConfigError, parseConfig, usage } from "./config.ts";
import { createLogger } from "./logger.ts";
import { startBridge } from "./bridge.ts";

/** The composition root's entry point: `npm start -- [flags]`. */
async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage()}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const logger = createLogger(parsed.config.logLevel);
  const bridge = await startBridge(parsed.config, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    void bridge.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `consul-xds-bridge failed to start: ${(error as Error).stack ?? String(error)}\n`,
  );
  process.exit(1);
});
