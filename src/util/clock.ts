/** The one source of time, so tests can use a fixed or advancing clock. */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

/** A clock for tests that runs with real time and can also be moved ahead (real waits still count). */
export class RunningClock implements Clock {
  #offsetMs = 0

  now(): Date { return new Date(Date.now() + this.#offsetMs) }
  advance(seconds: number): void { this.#offsetMs += seconds * 1000 }
}

/** A clock for tests: starts at `start` and moves only when told. */
export class ManualClock implements Clock {
  #ms: number

  constructor(start: Date | number = Date.now()) {
    this.#ms = typeof start === 'number' ? start : start.getTime()
  }

  now(): Date { return new Date(this.#ms) }
  advance(seconds: number): void { this.#ms += seconds * 1000 }
}
