import pino, { type DestinationStream, type Logger } from "pino";

/** The root logger: JSON lines on stdout, or into `destination` (tests use an in-memory sink). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { app: "consul-xds-bridge" } }, destination);
}
