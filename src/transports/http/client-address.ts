import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/**
 * The client's address: the socket's peer, or, when that peer is a trusted
 * proxy, the address it names in X-Forwarded-For (walking back through
 * trusted proxies only, so a client cannot pick its own address).
 */
export function clientAddressResolver(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyAddr.compile(trustedProxies);
  return (req) => proxyAddr(req, trust) || 'unknown';
}
