/** Help texts: one per command, printed by `--help` anywhere on the line. */

const GLOBAL = `Global options (same configuration as the server):
  --config FILE         configuration file (YAML or JSON); or CONCLAVE_CONFIG
  --data-dir DIR        data directory (SQLite database, master key); default ./.conclave
  --database-url URL    postgres://... when the server uses PostgreSQL
  CONCLAVE_* environment variables apply as for the server.`;

export const HELP: Record<string, string> = {
  main: `Usage: conclave <command> [options]

Operator tool for a Conclave server. Run it on the server machine: it opens the server's
store directly.

Commands:
  app create NAME [--json]                   create an application (prints its API secret once)
  app list [--json]                          list applications
  app rotate-secret REF [--overlap SECONDS] [--json]
                                             new API secret; the old one works until the overlap ends
  app delete REF                             delete an application, its secrets and sessions
  app set-public-key REF --file PEM          sign tokens with a private key (Ed25519 or P-256)
  audit list [--limit N] [--json]            newest audit records first
  audit verify                               check the audit hash chain (exit 1 if broken)
  audit prune                                remove records older than the retention
  turn config [--out FILE]                   coturn configuration for this installation
  help [COMMAND]                             this help, or a command's

REF is an application id (app_...), an API key (ck_...) or an application name.

${GLOBAL}`,
  app: `Usage: conclave app <create|list|rotate-secret|delete|set-public-key> ...

Run 'conclave app <command> --help' for details.`,
  'app create': `Usage: conclave app create NAME [--json]

Creates an application and prints its app id, API key and API secret. The secret is shown
this once and cannot be retrieved later (rotate it if it is lost). With --json, prints
{"appId","apiKey","apiSecret"} on stdout.

${GLOBAL}`,
  'app list': `Usage: conclave app list [--json]

Lists applications: name, app id, API key, token key type, creation time. Never secrets.

${GLOBAL}`,
  'app rotate-secret': `Usage: conclave app rotate-secret REF [--overlap SECONDS] [--json]

Creates a new API secret and prints it once. The previous secret keeps working for the
overlap (default: config secrets.rotationOverlapSeconds, 86400 = 24 hours), so back-ends can
switch without downtime. --overlap 0 ends the old secret now.

${GLOBAL}`,
  'app delete': `Usage: conclave app delete REF

Deletes the application with its secrets, public key and sessions. Tokens it signed stop
working.

${GLOBAL}`,
  'app set-public-key': `Usage: conclave app set-public-key REF --file PEM

Registers a PEM SPKI public key ("BEGIN PUBLIC KEY"): Ed25519 (EdDSA) or P-256 (ES256).
From then on, only tokens signed with the matching private key verify; the shared API secret
no longer does. RSA, other curves and private keys are refused.

${GLOBAL}`,
  audit: `Usage: conclave audit <list|verify|prune> ...

Run 'conclave audit <command> --help' for details.`,
  'audit list': `Usage: conclave audit list [--limit N] [--json]

Prints the newest N audit records (default 50): sequence number, time, actor, action,
target, source address and details.

${GLOBAL}`,
  'audit verify': `Usage: conclave audit verify

Walks the audit hash chain. Exit 0 when intact; exit 1 naming the first record that was
altered or whose predecessor was removed.

${GLOBAL}`,
  'audit prune': `Usage: conclave audit prune

Removes audit records older than the retention (config audit.retentionDays, default 180).
The chain stays verifiable from an anchor kept in the database.

${GLOBAL}`,
};
