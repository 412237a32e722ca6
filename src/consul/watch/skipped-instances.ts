import type { Logger } from "pino";

/**
 * Reports instances the translation skipped (an address that is not an IP), each once: a
 * service is re-read at every change, and its skipped instances must not be logged and counted
 * again each time. An instance skipped, fixed and skipped again is reported again.
 */
export class SkippedInstances {
  private readonly reported = new Map<string, Set<string>>();

  constructor(
    private readonly logger: Logger,
    private readonly onSkipped?: (service: string, reason: string) => void,
  ) {}

  /** Takes the instances skipped in the latest read of `service`; reports only the new ones. */
  update(service: string, skipped: readonly { id: string; reason: string }[]): void {
    const before = this.reported.get(service);
    const now = new Set<string>();
    for (const { id, reason } of skipped) {
      now.add(id);
      if (before?.has(id)) continue;
      this.onSkipped?.(service, reason);
      this.logger.warn({ service, instance: id, reason }, "instance skipped");
    }
    if (now.size > 0) this.reported.set(service, now);
    else this.reported.delete(service);
  }

  /** Forgets a service that left. */
  forget(service: string): void {
    this.reported.delete(service);
  }
}
