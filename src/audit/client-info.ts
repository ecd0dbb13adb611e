/**
 * What the activity log keeps of where a request came from: enough for a subscriber to recognise
 * their own use (network and kind of device), not enough to locate or fingerprint them.
 */

/** An IPv4 address to its /24 ("203.0.113.x"), an IPv6 address to its /48 ("2001:db8:1::/48"). */
export function truncatedIp(ip: string): string | undefined {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(ip)
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.x`
  if (!ip.includes(':')) return undefined
  const [head = '', tail = ''] = ip.split('::')
  const groups = [...head.split(':').filter(Boolean), ...Array<string>(Math.max(0, 8 - head.split(':').filter(Boolean).length - tail.split(':').filter(Boolean).length)).fill('0'), ...tail.split(':').filter(Boolean)]
  return `${groups.slice(0, 3).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/48`
}

const BROWSERS: [RegExp, string][] = [[/Edg\//, 'Edge'], [/SamsungBrowser\//, 'Samsung Internet'], [/Whale\//, 'Whale'], [/Firefox\//, 'Firefox'], [/Chrome\//, 'Chrome'], [/Safari\//, 'Safari']]
const SYSTEMS: [RegExp, string][] = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']]

/** "Chrome on Android", from a User-Agent header; undefined when neither is recognised. */
export function deviceOf(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1]
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1]
  if (browser && system) return `${browser} on ${system}`
  return browser ?? system
}
