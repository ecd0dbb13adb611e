import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as jose from 'jose'

/** An institution's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0): keeps every logout token it is sent. */
export interface BackchannelReceiver {
  uri: string
  tokens: string[]
  /** The tokens' payloads, verified against PostCert's JWKS as an institution would (typ logout+jwt, audience, issuer). */
  verified(issuer: string, jwksUrl: string, audience: string): Promise<jose.JWTPayload[]>
  close(): Promise<void>
}

export async function backchannelReceiver(): Promise<BackchannelReceiver> {
  const tokens: string[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(200, { 'cache-control': 'no-store' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`,
    tokens,
    verified: async (issuer, jwksUrl, audience) => {
      const jwks = jose.createRemoteJWKSet(new URL(jwksUrl))
      return await Promise.all(tokens.map(async (t) => (await jose.jwtVerify(t, jwks, { issuer, audience, typ: 'logout+jwt' })).payload))
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
