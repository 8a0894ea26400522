import type { FastifyInstance } from 'fastify';

/**
 * Security headers on every response. API responses get a CSP that forbids everything; pages
 * that need more (the demo) set their own Content-Security-Policy, which is left alone.
 */
export function installSecurityHeaders(fastify: FastifyInstance, options: { hsts: boolean }): void {
  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    if (!reply.hasHeader('Cross-Origin-Resource-Policy'))
      reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (!reply.hasHeader('Content-Security-Policy')) {
      reply.header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    }
    if (options.hsts) reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    return payload;
  });
}
