/**
 * Runs the example partner back-end:
 *   CONCLAVE_URL=http://127.0.0.1:7880 CONCLAVE_API_KEY=... CONCLAVE_API_SECRET=... \
 *     node --import tsx examples/partner-backend/main.ts
 * then open http://localhost:3000 (the page sends `x-demo-user` in place of a real sign-in).
 */
import { listen, PartnerBackend } from './backend.ts';

const { CONCLAVE_URL, CONCLAVE_API_KEY, CONCLAVE_API_SECRET, PORT } = process.env;
if (!CONCLAVE_API_KEY || !CONCLAVE_API_SECRET) {
  console.error(
    'Set CONCLAVE_API_KEY and CONCLAVE_API_SECRET (from `npx conclave app create my-app --json`).',
  );
  process.exit(1);
}
const backend = new PartnerBackend({
  conclaveUrl: CONCLAVE_URL ?? 'http://127.0.0.1:7880',
  apiKey: CONCLAVE_API_KEY,
  apiSecret: CONCLAVE_API_SECRET,
});
const port = Number(PORT ?? 3000);
await listen(backend, port);
console.log(`Partner back-end on http://localhost:${port}`);
