import assert from 'node:assert/strict'
import fs from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import * as jose from 'jose'
import request from 'supertest'
import { testCertificates, trustTestCa } from '../../helpers/tls-proxy.ts'
import type { PlanSpec } from '../plan.ts'
import { confirmLogout, endSession, endSessionState, logIn, logoutClient, logoutDiscovery, POST_LOGOUT, postLogoutRedirect, promptNoneFails } from './oidcc-rp-initiated-logout.ts'

/** A request PostCert made to the relying party's back-channel logout URI. */
interface Received {
  method: string
  path: string
  contentType: string
  body: string
  /** The TLS PostCert used to reach it. */
  protocol: string | null
  cipher: string
}

/**
 * The suite's `<base>/backchannel_logout`, over TLS as the suite's is (with a certificate from a
 * test CA this process trusts), on 127.0.0.1 (PostCert may reach loopback addresses outside
 * production): records each request and the TLS it came over, answers 200 with Cache-Control: no-store.
 */
let received: Received[] = []
let listener: https.Server
let backchannelUri: string

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

export const OIDCC_BACKCHANNEL_RP_INITIATED_LOGOUT: PlanSpec = {
  name: 'oidcc-backchannel-rp-initiated-logout-certification-test-plan',
  variant: 'server_metadata=discovery, client_registration=dynamic_client, response_type=code (client_auth_type=client_secret_basic, response_mode=default)',
  authMethod: 'client_secret_basic',
  setup: async () => {
    const certs = await testCertificates()
    trustTestCa(fs.readFileSync(certs.ca, 'utf8'))
    listener = https.createServer({ key: fs.readFileSync(certs.key), cert: fs.readFileSync(certs.cert) }, (req, res) => {
      const chunks: Buffer[] = []
      const socket = req.socket as TLSSocket
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        received.push({
          method: req.method ?? '', path: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(chunks).toString(),
          protocol: socket.getProtocol(), cipher: socket.getCipher().name,
        })
        res.writeHead(200, { 'Cache-Control': 'no-store' }).end()
      })
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    backchannelUri = `https://127.0.0.1:${(listener.address() as AddressInfo).port}/backchannel_logout`
  },
  teardown: async () => {
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()))
  },
  modules: {
    'oidcc-backchannel-logout-discovery-endpoint-verification': {
      status: 'passes',
      note: 'run against an https issuer behind the TLS proxy, as deployed',
      conditions: ['CheckDiscEndpointAllEndpointsAreHttps', 'CheckDiscEndpointBackchannelLogoutSupported', 'CheckDiscEndpointBackchannelLogoutSessionSupported', 'CheckDiscEndSessionEndpoint'],
      test: async () => {
        await logoutDiscovery((m) => {
          assert.equal(m.backchannel_logout_supported, true, 'CheckDiscEndpointBackchannelLogoutSupported')
          assert.equal(m.backchannel_logout_session_supported, true, 'CheckDiscEndpointBackchannelLogoutSessionSupported')
        })
      },
    },
    'oidcc-backchannel-rp-initiated-logout': {
      status: 'passes',
      note: 'the logout token is POSTed (over TLS 1.3) before the browser is redirected',
      conditions: ['EnsureIncomingTls12WithSecureCipherOrTls13', 'EnsureIncomingTls13', 'ValidateLogoutTokenFromBackchannelLogoutRequestEncryption', 'CheckForUnexpectedParametersInBackchannelLogoutRequest', 'ValidateLogoutTokenSignature', 'ValidateLogoutTokenClaims',
        'CheckIdTokenSubMatchesLogoutToken', 'CheckIdTokenSidMatchesLogoutToken', 'CheckLogoutTokenNoNonce', 'CheckLogoutTokenHasSubOrSid',
        'CheckPostLogoutState', 'CheckForUnexpectedParametersInPostLogoutRedirect', 'CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface'],
      test: async (c) => {
        const rp = await logoutClient(c, { backchannel_logout_uri: backchannelUri, backchannel_logout_session_required: true })
        assert.equal(rp.registered.backchannel_logout_uri, backchannelUri)
        assert.equal(rp.registered.backchannel_logout_session_required, true)
        const { browser, idToken } = await logIn(c, rp)
        const idClaims = jose.decodeJwt(idToken)
        assert.ok(idClaims.sid, 'the ID token carries sid')
        received = []
        const state = endSessionState()
        const step = await confirmLogout(c, browser, await endSession(c, browser, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state }))

        // The back-channel request.
        assert.equal(received.length, 1, 'one back-channel logout request')
        const [call] = received
        assert.equal(call!.protocol, 'TLSv1.3', 'EnsureIncomingTls13 (and so EnsureIncomingTls12WithSecureCipherOrTls13)')
        assert.equal(call!.method, 'POST')
        assert.equal(call!.path, '/backchannel_logout')
        assert.match(call!.contentType, /^application\/x-www-form-urlencoded/)
        const form = new URLSearchParams(call!.body)
        assert.deepEqual([...form.keys()], ['logout_token'], 'CheckForUnexpectedParametersInBackchannelLogoutRequest')
        const jwks = (await request(c.url).get('/jwks').expect(200)).body
        // ValidateLogoutTokenSignature (a signed, unencrypted token: ValidateLogoutTokenFromBackchannelLogoutRequestEncryption has nothing to decrypt), ValidateLogoutTokenClaims.
        const { payload, protectedHeader } = await jose.jwtVerify(form.get('logout_token')!, jose.createLocalJWKSet(jwks), { issuer: c.issuer, audience: rp.clientId })
        assert.equal(protectedHeader.typ, 'logout+jwt')
        const now = Date.now() / 1000
        assert.ok(typeof payload.iat === 'number' && payload.iat <= now + 300 && payload.iat > now - 86400, 'iat not in the future, not older than a day')
        assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0, 'jti')
        assert.deepEqual(payload.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} }, 'events has exactly the back-channel logout event')
        assert.ok(!('nonce' in payload), 'CheckLogoutTokenNoNonce')
        assert.ok(payload.sub || payload.sid, 'CheckLogoutTokenHasSubOrSid')
        if (payload.sub !== undefined) assert.equal(payload.sub, idClaims.sub, 'CheckIdTokenSubMatchesLogoutToken')
        if (payload.sid !== undefined) assert.equal(payload.sid, idClaims.sid, 'CheckIdTokenSidMatchesLogoutToken')

        // The front-channel redirect, then prompt=none.
        postLogoutRedirect(step, state)
        await promptNoneFails(c, rp, browser)
      },
    },
  },
}
