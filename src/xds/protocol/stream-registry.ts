/** How a stream speaks xDS: state of the world, or incremental (delta). */
export type StreamMode = "sotw" | "delta";

/** A client's rejection of a response, as it reported it. */
export interface NackRecord {
  /** The version the client still holds (its last accepted one). */
  version: string;
  message: string;
  /** ISO-8601 time the NACK arrived. */
  at: string;
}

/** What one stream knows about one resource type. */
export interface StreamTypeState {
  typeUrl: string;
  /** Names subscribed to; `["*"]` for a wildcard subscription. */
  subscriptions: string[];
  lastSentVersion: string | undefined;
  lastAckedVersion: string | undefined;
  lastNack: NackRecord | undefined;
}

/** Who a stream is: what the change hook receives (no per-type state, nothing copied). */
export interface StreamInfo {
  id: number;
  nodeId: string;
  peer: string;
  /** The gRPC service: `ads`, `eds`, `cds`, `lds` or `rds`. */
  service: string;
  mode: StreamMode;
  /** ISO-8601 time the stream opened. */
  openedAt: string;
  /** The services the node asked for (`consul-services`, canonical); "" for every service. */
  view: string;
}

/** One open stream as `/debug/state` and the status page show it. */
export interface StreamSnapshot extends StreamInfo {
  types: StreamTypeState[];
}

/**
 * What a stream reports into the registry, whatever its mode; SotW and delta streams both use
 * it. Versions are the ones written on the wire; `nonce` ties an ACK to the response it accepts.
 */
export interface StreamReporter {
  node(nodeId: string): void;
  /** The node's view (`consul-services`), once its first request named one. */
  view(text: string): void;
  subscribed(typeUrl: string, names: readonly string[]): void;
  sent(typeUrl: string, version: string, nonce: string): void;
  acked(typeUrl: string, version: string, nonce: string): void;
  nacked(typeUrl: string, version: string, message: string): void;
  /** Once, when the stream ends however it ended. */
  closed(): void;
}

/** Callbacks of a {@link StreamRegistry} (metrics, the status page's change feed). */
export interface StreamRegistryHooks {
  /**
   * Any change to any stream (open, subscription, ACK, NACK, close). It gets the stream's live
   * identity, not a snapshot: snapshots are built only when {@link StreamRegistry.snapshot} asks.
   */
  onChange?: (stream: Readonly<StreamInfo>, event: "open" | "update" | "close") => void;
  /** Time from a response being written to the client's ACK of it. */
  onAckLatency?: (typeUrl: string, seconds: number) => void;
}

interface TypeEntry extends StreamTypeState {
  /** Nonce → time sent, for the push → ACK latency; only the latest few are kept. */
  pending: Map<string, number>;
}

interface StreamEntry {
  info: StreamInfo;
  types: Map<string, TypeEntry>;
}

/** Sent nonces remembered per type while unanswered: a client ACKs only the latest. */
const MAX_PENDING_NONCES = 4;

/**
 * The open xDS streams and their protocol state, for operators (`/debug/state`, the status
 * page). Streams register on open and report subscriptions, sends, ACKs and NACKs; nothing here
 * knows where the resources come from.
 */
export class StreamRegistry {
  private readonly streams = new Map<number, StreamEntry>();
  private nextId: number;

  /** `firstId` numbers the first stream (xDS workers start apart, so ids stay unique). */
  constructor(
    private readonly hooks: StreamRegistryHooks = {},
    private readonly now: () => number = Date.now,
    firstId = 1,
  ) {
    this.nextId = firstId;
  }

  /** Registers a newly opened stream; the returned reporter carries its updates. */
  open(info: { peer: string; service: string; mode: StreamMode }): StreamReporter {
    const id = this.nextId++;
    const entry: StreamEntry = {
      info: { id, nodeId: "unknown", openedAt: this.iso(), view: "", ...info },
      types: new Map(),
    };
    this.streams.set(id, entry);
    this.emit(entry, "open");
    const type = (typeUrl: string): TypeEntry => {
      let state = entry.types.get(typeUrl);
      if (!state) {
        state = {
          typeUrl,
          subscriptions: [],
          lastSentVersion: undefined,
          lastAckedVersion: undefined,
          lastNack: undefined,
          pending: new Map(),
        };
        entry.types.set(typeUrl, state);
      }
      return state;
    };
    let closed = false;
    return {
      node: (nodeId) => {
        if (nodeId === entry.info.nodeId) return;
        entry.info.nodeId = nodeId;
        this.emit(entry, "update");
      },
      view: (text) => {
        entry.info.view = text;
        this.emit(entry, "update");
      },
      subscribed: (typeUrl, names) => {
        const state = type(typeUrl);
        // Called on every request (ACKs included): unchanged lists are found without copying.
        if (sameNames(state.subscriptions, names)) return;
        state.subscriptions = names.length === 0 ? ["*"] : [...names].sort();
        this.emit(entry, "update");
      },
      sent: (typeUrl, version, nonce) => {
        const state = type(typeUrl);
        state.lastSentVersion = version;
        state.pending.set(nonce, this.now());
        if (state.pending.size > MAX_PENDING_NONCES) {
          state.pending.delete(state.pending.keys().next().value as string);
        }
      },
      acked: (typeUrl, version, nonce) => {
        const state = type(typeUrl);
        const sentAt = state.pending.get(nonce);
        if (sentAt !== undefined) {
          state.pending.delete(nonce);
          this.hooks.onAckLatency?.(typeUrl, (this.now() - sentAt) / 1000);
        }
        if (state.lastAckedVersion === version) return;
        state.lastAckedVersion = version;
        this.emit(entry, "update");
      },
      nacked: (typeUrl, version, message) => {
        type(typeUrl).lastNack = { version, message, at: this.iso() };
        this.emit(entry, "update");
      },
      closed: () => {
        if (closed) return;
        closed = true;
        this.streams.delete(id);
        this.emit(entry, "close");
      },
    };
  }

  /** Every open stream, oldest first; built on each call (entries are updated in place). */
  snapshot(): StreamSnapshot[] {
    return [...this.streams.values()].map(toSnapshot);
  }

  /** The number of open streams. */
  get size(): number {
    return this.streams.size;
  }

  private emit(entry: StreamEntry, event: "open" | "update" | "close"): void {
    this.hooks.onChange?.(entry.info, event);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

/** Whether `names` (as requested) is the sorted list `current` (`["*"]` when empty). */
function sameNames(current: readonly string[], names: readonly string[]): boolean {
  if (names.length === 0) return current.length === 1 && current[0] === "*";
  if (names.length !== current.length) return false;
  let inOrder = true;
  for (let i = 0; i < names.length && inOrder; i++) inOrder = names[i] === current[i];
  if (inOrder) return true;
  const sorted = [...names].sort();
  return sorted.every((name, i) => name === current[i]);
}

function toSnapshot(entry: StreamEntry): StreamSnapshot {
  return {
    ...entry.info,
    types: [...entry.types.values()].map((state) => ({
      typeUrl: state.typeUrl,
      subscriptions: [...state.subscriptions],
      lastSentVersion: state.lastSentVersion,
      lastAckedVersion: state.lastAckedVersion,
      lastNack: state.lastNack && { ...state.lastNack },
    })),
  };
}
