import { BlockList, isIP } from 'node:net'

/**
 * Where event webhooks may be sent (SSRF rules). Loopback, private, link-local (cloud metadata at
 * 169.254.169.254), carrier-grade NAT, benchmarking, multicast and reserved ranges are refused
 * unless WEBHOOK_ALLOW_PRIVATE is set. The check runs when an endpoint is created (for literal
 * addresses) and again on every connection, on the address DNS actually returned (rebinding).
 */
const BLOCKED = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) BLOCKED.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 96], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2001::', 32], ['2002::', 16], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]
] as const) BLOCKED.addSubnet(net, bits, 'ipv6')

/** Whether `ip` (a literal IPv4/IPv6 address) is loopback, private or otherwise not a public unicast address. */
export function isPrivateAddress (ip: string): boolean {
  const family = isIP(ip)
  if (family === 0) return true
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
    if (mapped) return BLOCKED.check(mapped[1], 'ipv4')
    return BLOCKED.check(ip, 'ipv6')
  }
  return BLOCKED.check(ip, 'ipv4')
}

/** Why `raw` cannot be an endpoint URL, or null when it can (DNS names are checked at connection time). */
export function webhookUrlProblem (raw: string, allowPrivate: boolean): string | null {
  let url: URL
  try { url = new URL(raw) } catch { return 'must be an absolute http(s) URL' }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https'
  if (url.username !== '' || url.password !== '') return 'must not contain credentials'
  if (url.hash !== '') return 'must not contain a fragment'
  if (allowPrivate) return null
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return isPrivateAddress(host) ? 'points to a loopback or private address (set WEBHOOK_ALLOW_PRIVATE=true to allow)' : null
  const name = host.toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.internal')) {
    return 'points to a local host name (set WEBHOOK_ALLOW_PRIVATE=true to allow)'
  }
  return null
}
