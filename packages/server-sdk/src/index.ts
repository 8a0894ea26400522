/**
 * @conclave/server-sdk: what a partner back-end uses to create sessions, mint participant
 * tokens and revoke them.
 *
 *   const conclave = new Conclave({ url, apiKey, apiSecret });
 *   const session = await conclave.createSession({ mediaMode: 'routed' });
 *   const token = conclave.createToken(session.id, { identity: user.id, role: 'publisher' });
 */
export type { CreateSessionRequest, ListSessionsQuery, Session, SessionList } from '@conclave/protocol/rest';
export type { Grant, Role } from '@conclave/protocol/tokens';
export { Conclave, type ConclaveOptions, type CreateTokenOptions, type RevokeTarget } from './client.ts';
export { ConclaveApiError } from './errors.ts';
export { privateSigningKey, type SigningKey, secretSigningKey, signJwt } from './jwt.ts';
export { fetchTrusting } from './tls-fetch.ts';
