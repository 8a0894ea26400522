/**
 * Every configuration key, its type, default and meaning. This schema is the single source for
 * the typed Config, validation, the environment variable names and the sample config file
 * (conclave.example.yaml is rendered from it, and a test keeps the two in step).
 */
import Type, { type Static } from 'typebox';

const Port = (def: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: def, description });

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({
          default: '127.0.0.1',
          description: 'Address the HTTP/WebSocket server listens on. Anything but loopback requires TLS.',
        }),
        port: Port(7880, 'TCP port for REST, signaling and the demo page (0 picks a free port).'),
        publicUrl: Type.String({
          default: '',
          description: 'URL clients use to reach this server, if it differs from the listen address.',
        }),
        trustProxy: Type.Boolean({
          default: false,
          description: 'Trust X-Forwarded-For from a reverse proxy when recording source addresses.',
        }),
        tls: Type.Object(
          {
            cert: Type.String({ default: '', description: 'PEM certificate (chain) file.' }),
            key: Type.String({ default: '', description: 'PEM private key file (mode 0600).' }),
            selfSigned: Type.Boolean({
              default: false,
              description:
                'Generate a self-signed certificate in dataDir/tls (development and testing only).',
            }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    devMode: Type.Union([Type.Literal('auto'), Type.Boolean()], {
      default: 'auto',
      description:
        'Development mode: demo page and development token endpoint. auto = on when listening on loopback.',
    }),
    dataDir: Type.String({
      default: '.conclave',
      description: 'Directory for the SQLite database, the master key file and local files.',
    }),
    database: Type.Object(
      {
        url: Type.String({
          default: '',
          description:
            'Empty: SQLite in dataDir/conclave.db. postgres://user@host:5432/db selects PostgreSQL.',
        }),
      },
      { additionalProperties: false },
    ),
    masterKeyFile: Type.String({
      default: '',
      description:
        'File with the master key that encrypts secrets at rest (default dataDir/master.key, created 0600). The environment variable CONCLAVE_MASTER_KEY (base64 or hex, 32 bytes) takes precedence.',
    }),
    tokens: Type.Object(
      {
        maxLifetimeSeconds: Type.Integer({
          minimum: 60,
          maximum: 86400,
          default: 3600,
          description: 'Longest participant token lifetime accepted (exp - iat).',
        }),
        clockSkewSeconds: Type.Integer({
          minimum: 0,
          maximum: 300,
          default: 30,
          description: 'Clock difference tolerated when checking iat, nbf and exp.',
        }),
      },
      { additionalProperties: false },
    ),
    secrets: Type.Object(
      {
        rotationOverlapSeconds: Type.Integer({
          minimum: 0,
          maximum: 30 * 86400,
          default: 86400,
          description: 'How long a rotated API secret keeps working beside the new one.',
        }),
      },
      { additionalProperties: false },
    ),
    audit: Type.Object(
      {
        retentionDays: Type.Integer({
          minimum: 1,
          maximum: 3650,
          default: 180,
          description: 'Audit records older than this are pruned (the hash chain stays verifiable).',
        }),
      },
      { additionalProperties: false },
    ),
    api: Type.Object(
      {
        bodyLimitBytes: Type.Integer({
          minimum: 1024,
          maximum: 1024 * 1024,
          default: 65536,
          description: 'Largest REST request body accepted (413 above).',
        }),
        requestsPerSecond: Type.Number({
          minimum: 0.1,
          maximum: 100000,
          default: 20,
          description: 'Sustained REST requests per second per API key (429 with Retry-After above).',
        }),
        requestBurst: Type.Integer({
          minimum: 1,
          maximum: 100000,
          default: 100,
          description: 'REST requests an API key may send in a burst above the sustained rate.',
        }),
        authFailuresPerMinute: Type.Integer({
          minimum: 1,
          maximum: 100000,
          default: 60,
          description:
            'Failed REST authentications per minute per source address; above it the address gets 429 (and no audit record per attempt).',
        }),
      },
      { additionalProperties: false },
    ),
    signaling: Type.Object(
      {
        maxMessageBytes: Type.Integer({
          minimum: 1024,
          maximum: 1024 * 1024,
          default: 65536,
          description: 'Largest signaling frame; larger frames close the connection with 1009.',
        }),
        messagesPerSecond: Type.Integer({
          minimum: 1,
          maximum: 10000,
          default: 50,
          description: 'Sustained signaling messages per second per connection.',
        }),
        messageBurst: Type.Integer({
          minimum: 1,
          maximum: 100000,
          default: 200,
          description: 'Signaling messages a connection may send in a burst above the sustained rate.',
        }),
        joinTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 120000,
          default: 10000,
          description: 'A connection that has not authenticated within this time is closed.',
        }),
        pingIntervalMs: Type.Integer({
          minimum: 100,
          maximum: 300000,
          default: 15000,
          description: 'Server ping interval; a connection silent for two intervals is closed.',
        }),
        resumeWindowMs: Type.Integer({
          minimum: 0,
          maximum: 300000,
          default: 20000,
          description: 'How long a dropped participant may resume before it is removed.',
        }),
        allowedOrigins: Type.Record(Type.String(), Type.Array(Type.String()), {
          default: {},
          description:
            'Per-application Origin allow-list for browsers: { "<apiKey>": ["https://app.example"] }. Applications not listed accept any Origin.',
        }),
      },
      { additionalProperties: false },
    ),
    media: Type.Object(
      {
        workers: Type.Integer({
          minimum: 0,
          maximum: 256,
          default: 0,
          description: 'Media worker processes; 0 = one per core.',
        }),
        bindAddress: Type.String({
          default: '127.0.0.1',
          description: 'Address the media workers bind their ICE UDP port to.',
        }),
        rtcPort: Port(
          7882,
          'UDP port of the first media worker (ICE UDP mux); worker i uses rtcPort + i. 0 picks free ports.',
        ),
        announcedAddress: Type.String({
          default: '',
          description: 'Public address put in ICE candidates when the server is behind NAT.',
        }),
        preferAes256Gcm: Type.Boolean({
          default: true,
          description:
            'Make the server the DTLS server so AEAD_AES_256_GCM is chosen where browsers offer it.',
        }),
        pliThrottleMs: Type.Integer({
          minimum: 0,
          maximum: 10000,
          default: 500,
          description: 'Minimum interval between keyframe requests forwarded to one publisher.',
        }),
        maxPublishBitrate: Type.Integer({
          minimum: 0,
          maximum: 1_000_000_000,
          default: 10_000_000,
          description:
            'RTP bits per second the SFU accepts from one published source (all its layers together, one second of burst); the excess is dropped before forwarding. 0: no limit.',
        }),
        tiebreakerRelay: Type.Boolean({
          default: true,
          description:
            "Advertise a second UDP candidate per worker that repairs Chromium's ICE checks sent through TURN over TCP/TLS (tie-breaker 0, which the ICE library refuses). Without it browsers that reach the server only through turn:?transport=tcp or turns: get no media.",
        }),
        tiebreakerRelayPort: Port(
          0,
          "UDP port of the first worker's tie-breaker relay; worker i uses tiebreakerRelayPort + i. 0 picks free ports (open UDP from the TURN server to any port then).",
        ),
      },
      { additionalProperties: false },
    ),
    turn: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'Hand out TURN credentials (coturn use-auth-secret scheme) in the join reply.',
        }),
        secret: Type.String({
          default: '',
          description:
            'Secret shared with coturn (static-auth-secret). Empty: generated into dataDir/turn.secret (0600).',
        }),
        urls: Type.Array(Type.String(), {
          default: [],
          description:
            'TURN URLs given to clients, e.g. turn:turn.example.com:3478, turns:turn.example.com:443.',
        }),
        realm: Type.String({ default: 'conclave', description: 'TURN realm.' }),
        credentialTtlSeconds: Type.Integer({
          minimum: 60,
          maximum: 86400,
          default: 3600,
          description: 'TURN credential lifetime; never longer than the participant token.',
        }),
        listenPort: Port(3478, 'coturn UDP/TCP listening port (generated configuration).'),
        tlsListenPort: Port(5349, 'coturn TLS listening port (443 where networks demand it).'),
        spawn: Type.Boolean({
          default: false,
          description: 'Development only: start coturn as a child process with the generated configuration.',
        }),
        userQuota: Type.Integer({
          minimum: 1,
          maximum: 10000,
          default: 10,
          description: 'Concurrent TURN allocations per credential (coturn user-quota).',
        }),
        totalQuota: Type.Integer({
          minimum: 1,
          maximum: 1000000,
          default: 1000,
          description: 'Concurrent TURN allocations in total (coturn total-quota).',
        }),
        allowedPeerAddresses: Type.Array(Type.String(), {
          default: [],
          description:
            'The only addresses inside denied ranges coturn may relay to. Empty: the media bind and announced addresses.',
        }),
        listenAddresses: Type.Array(Type.String(), {
          default: [],
          description: 'Addresses coturn listens on. Empty: all (loopback only in development mode).',
        }),
        externalAddress: Type.String({
          default: '',
          description: 'Public address coturn announces when it runs behind NAT (coturn external-ip).',
        }),
      },
      { additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          [
            Type.Literal('fatal'),
            Type.Literal('error'),
            Type.Literal('warn'),
            Type.Literal('info'),
            Type.Literal('debug'),
            Type.Literal('trace'),
            Type.Literal('silent'),
          ],
          { default: 'info', description: 'Log level.' },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type ConfigInput = Static<typeof ConfigSchema>;

/** The validated configuration, with development mode resolved to a boolean. */
export type Config = Omit<ConfigInput, 'devMode'> & { devMode: boolean; configFile: string | null };
