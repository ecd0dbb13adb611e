// Closed-loop load for steps that are more than one request (logins, signatures, rotating
// refreshes): `workers` run one step after another until the time is up, each step timed.
// Used by bench/run.ts and bench/scale-out.ts.

export interface LoopResult {
  ops: number
  p50: number
  p99: number
  errors: number
}

/** `workers` workers, each running `step` one after another for `seconds` (or until `stop`); `onDone` hears every step. */
export async function loop(options: { workers: number; seconds: number; stop?: () => boolean; onDone?: (ok: boolean, at: number) => void }, step: (worker: number, i: number) => Promise<void>): Promise<LoopResult> {
  const latencies: number[] = []
  let errors = 0
  const end = Date.now() + options.seconds * 1000
  const stop = options.stop ?? (() => false)
  await Promise.all(Array.from({ length: options.workers }, async (_, worker) => {
    for (let i = 0; Date.now() < end && !stop(); i++) {
      const started = performance.now()
      try {
        await step(worker, i)
        latencies.push(performance.now() - started)
        options.onDone?.(true, Date.now())
      } catch {
        errors++
        options.onDone?.(false, Date.now())
      }
    }
  }))
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0
  return { ops: latencies.length, p50: pct(0.5), p99: pct(0.99), errors }
}
