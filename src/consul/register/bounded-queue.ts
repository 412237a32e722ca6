/** Raised at once when a {@link BoundedQueue} already has as many tasks waiting as it may hold. */
export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
  constructor(
    readonly running: number,
    readonly waiting: number,
  ) {
    super(`queue full: ${running} running, ${waiting} waiting`);
  }
}

/** Options of {@link BoundedQueue.run}. */
export interface RunOptions {
  /** Aborting removes a task that is still waiting (it rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Goes to the front of the waiting line (a follow-up of work already admitted). */
  urgent?: boolean;
}

interface Waiter {
  start: () => void;
  cancel: (reason: unknown) => void;
}

/**
 * Runs at most `concurrency` tasks at a time; at most `maxWaiting` more wait for a slot, in order,
 * and any further task is refused with {@link QueueFullError} instead of queueing without bound.
 * A task keeps its slot until its promise settles, whatever its caller stopped waiting for.
 */
export class BoundedQueue {
  #running = 0;
  readonly #waiting: Waiter[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {
    if (!(concurrency >= 1)) throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
    if (!(maxWaiting >= 0)) throw new RangeError(`maxWaiting must be >= 0, got ${maxWaiting}`);
  }

  /** Tasks holding a slot. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free; rejects with {@link QueueFullError} when the line is full. */
  run<T>(task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running < this.concurrency) return this.#start(task);
    if (this.#waiting.length >= this.maxWaiting) {
      return Promise.reject(new QueueFullError(this.#running, this.#waiting.length));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => waiter.cancel(signal?.reason);
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#start(task).then(resolve, reject);
        },
        cancel: (reason) => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (options.urgent) this.#waiting.unshift(waiter);
      else this.#waiting.push(waiter);
    });
  }

  #start<T>(task: () => Promise<T>): Promise<T> {
    this.#running++;
    let result: Promise<T>;
    try {
      result = task();
    } catch (error) {
      result = Promise.reject(error);
    }
    const release = (): void => {
      this.#running--;
      this.#waiting.shift()?.start();
    };
    result.then(release, release);
    return result;
  }
}
