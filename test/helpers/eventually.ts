import { setTimeout as sleep } from 'node:timers/promises'

/** Retries `read` until it gives `expected`, for at most two seconds (a notice crosses a connection); the last value read. */
export async function eventually<T>(read: () => Promise<T>, expected: T): Promise<T> {
  let value = await read()
  for (let i = 0; i < 40 && value !== expected; i++) {
    await sleep(50)
    value = await read()
  }
  return value
}
