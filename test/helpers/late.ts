/**
 * A handle on what a suite's before() makes, for the tests (which run after it): each access
 * reaches the real object. Touching it in describe's own body, before the hook ran, is an error
 * that says so.
 */
export function late<T extends object>(name: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get: (_, property) => {
      const target = current()
      if (!target) throw new Error(`${name} is used before the suite's before() ran`)
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
