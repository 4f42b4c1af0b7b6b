// Applying the latest wanted state of many keys (e.g. each task's firewall rules) without applying
// every intermediate one: per key one apply at a time, and the requests made while one waits fold
// into it; a request that is not urgent waits until its key has had no new request for `quietMs`
// (at most `maxWaitMs`), so that a burst of changes gathers into one apply; at most `limit` applies
// run at once, urgent ones first. The apply function reads the current wanted state itself when it
// starts, so whatever it applies is the latest.

interface Queued {
  promise: Promise<void>;
  urgent: boolean;
  /** Ends the hold at once (an urgent request arrived). */
  hurry: () => void;
  /** Another request joined: the hold starts again, within its deadline. */
  extend: () => void;
}

interface Slot {
  /** Settles when the last apply asked for has finished (never rejects). */
  tail: Promise<void>;
  /** The apply that has not started yet, which new requests join. */
  queued: Queued | undefined;
}

export interface LatestApplierOptions {
  /** Applies running at once, over all keys. */
  limit: number;
  /** How long a key must see no new request before an apply that is not urgent starts. */
  quietMs: number;
  /** The longest a request that is not urgent waits for its key to turn quiet. */
  maxWaitMs: number;
}

export class LatestApplier<K> {
  private readonly slots = new Map<K, Slot>();
  private running = 0;
  private readonly waiting: { urgent: boolean; go: () => void }[] = [];

  constructor(
    private readonly apply: (key: K) => Promise<void>,
    private readonly opts: LatestApplierOptions,
  ) {
    if (!(opts.limit >= 1)) throw new RangeError('LatestApplier needs a limit of at least 1');
    if (opts.maxWaitMs < opts.quietMs)
      throw new RangeError('LatestApplier: maxWaitMs must be at least quietMs');
  }

  /**
   * Asks for `key` to be applied. Resolves once an apply of it that started after this call has
   * finished; rejects with that apply's error.
   */
  request(key: K, urgent = false): Promise<void> {
    const slot = this.slots.get(key) ?? { tail: Promise.resolve(), queued: undefined };
    this.slots.set(key, slot);
    if (slot.queued) {
      if (urgent) slot.queued.hurry();
      else slot.queued.extend();
      return slot.queued.promise;
    }
    let endHold = () => {};
    const held = new Promise<void>((resolve) => {
      endHold = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = performance.now() + this.opts.maxWaitMs;
    const wait = () => {
      clearTimeout(timer);
      const ms = Math.min(this.opts.quietMs, deadline - performance.now());
      if (ms <= 0) endHold();
      else timer = setTimeout(endHold, ms);
    };
    const queued: Queued = {
      promise: Promise.resolve(),
      urgent,
      hurry: () => {
        queued.urgent = true;
        clearTimeout(timer);
        endHold();
      },
      extend: () => {
        if (!queued.urgent) wait();
      },
    };
    if (urgent || this.opts.quietMs <= 0) endHold();
    else wait();
    const previous = slot.tail;
    queued.promise = (async () => {
      await previous;
      await held;
      await this.acquire(queued.urgent);
      try {
        // From here on, a change needs one more apply: this one may already have read the state.
        if (slot.queued === queued) slot.queued = undefined;
        await this.apply(key);
      } finally {
        this.release();
      }
    })();
    slot.queued = queued;
    const tail = queued.promise.catch(() => undefined);
    slot.tail = tail;
    void tail.then(() => {
      if (this.slots.get(key) === slot && slot.tail === tail && slot.queued === undefined)
        this.slots.delete(key);
    });
    return queued.promise;
  }

  /** Keys with an apply asked for or running (for tests and diagnostics). */
  get busyKeys(): number {
    return this.slots.size;
  }

  private acquire(urgent: boolean): Promise<void> {
    if (this.running < this.opts.limit) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((go) => {
      const waiter = { urgent, go };
      if (!urgent) this.waiting.push(waiter);
      else {
        const firstCalm = this.waiting.findIndex((w) => !w.urgent);
        this.waiting.splice(firstCalm < 0 ? this.waiting.length : firstCalm, 0, waiter);
      }
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.go();
    else this.running--;
  }
}
