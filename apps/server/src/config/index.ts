/**
 * The configuration pipeline: defaults, then a config file (YAML or JSON), then CONCLAVE_*
 * environment variables, then command-line flags, then validation. Each later stage overrides
 * the earlier ones key by key. A bad value is reported with its key and where it came from.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { type Config, type ConfigInput, ConfigSchema } from './schema.ts';

export type { Config } from './schema.ts';
export { ConfigSchema } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Values applied after flags (tests use this instead of building argv). */
  overrides?: DeepPartial<ConfigInput>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

type JsonObject = { [key: string]: unknown };
interface SchemaNode {
  type?: string;
  anyOf?: SchemaNode[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

/** Short flags for the common keys; any key can also be set as --dotted.key=value. */
const FLAG_ALIASES: Record<string, string> = {
  host: 'server.host',
  port: 'server.port',
  'tls-cert': 'server.tls.cert',
  'tls-key': 'server.tls.key',
  'tls-self-signed': 'server.tls.selfSigned',
  'data-dir': 'dataDir',
  'database-url': 'database.url',
  dev: 'devMode',
  'log-level': 'log.level',
  'media-workers': 'media.workers',
  'rtc-port': 'media.rtcPort',
  'announced-address': 'media.announcedAddress',
  'turn-spawn': 'turn.spawn',
};

/** Environment variables that are read elsewhere and are not configuration keys. */
const NON_KEY_ENV = new Set(['CONCLAVE_MASTER_KEY', 'CONCLAVE_CONFIG']);

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const flags = parseFlags(options.argv ?? []);
  const sources = new Map<string, string>();

  const merged = collectDefaults(ConfigSchema as SchemaNode) as JsonObject;
  const configFile = flags.configFile ?? env.CONCLAVE_CONFIG ?? null;
  if (configFile)
    mergeInto(merged, readConfigFile(resolve(cwd, configFile)), '', sources, `file ${configFile}`);
  applyEnvironment(merged, env, sources);
  for (const [path, raw] of flags.values) setLeaf(merged, path, raw, sources, `flag --${path}`);
  if (options.overrides) mergeInto(merged, options.overrides as JsonObject, '', sources, 'overrides');

  validate(merged, sources);
  return finalize(merged as ConfigInput, cwd, configFile ? resolve(cwd, configFile) : null);
}

function finalize(input: ConfigInput, cwd: string, configFile: string | null): Config {
  const dataDir = isAbsolute(input.dataDir) ? input.dataDir : resolve(cwd, input.dataDir);
  const inDataDir = (p: string, fallback: string) => (p ? resolve(cwd, p) : resolve(dataDir, fallback));
  const devMode = input.devMode === 'auto' ? isLoopbackHost(input.server.host) : input.devMode;
  return {
    ...input,
    dataDir,
    masterKeyFile: inDataDir(input.masterKeyFile, 'master.key'),
    server: {
      ...input.server,
      tls: {
        ...input.server.tls,
        cert: input.server.tls.cert ? resolve(cwd, input.server.tls.cert) : '',
        key: input.server.tls.key ? resolve(cwd, input.server.tls.key) : '',
      },
    },
    devMode,
    configFile,
  };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// ---------------------------------------------------------------------------------------------
// Stages

function collectDefaults(node: SchemaNode): unknown {
  if (node.type === 'object' && node.properties) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(node.properties)) out[key] = collectDefaults(child);
    return out;
  }
  return structuredClone(node.default);
}

function readConfigFile(path: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`Cannot read config file ${path}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`Config file ${path} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${path} must contain a mapping of keys`);
  }
  return parsed as JsonObject;
}

function applyEnvironment(
  target: JsonObject,
  env: Readonly<Record<string, string | undefined>>,
  sources: Map<string, string>,
): void {
  const byName = new Map(leafPaths().map((path) => [envNameOf(path), path]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CONCLAVE_') || value === undefined || NON_KEY_ENV.has(name)) continue;
    if (name.startsWith('CONCLAVE_TEST_')) continue;
    const path = byName.get(name);
    if (!path) throw new ConfigError(`Unknown environment variable ${name} (no such configuration key)`);
    setLeaf(target, path, value, sources, `environment ${name}`);
  }
}

interface ParsedFlags {
  configFile?: string;
  values: [string, string][];
}

function parseFlags(argv: readonly string[]): ParsedFlags {
  const result: ParsedFlags = { values: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (name.startsWith('no-') && value === undefined) {
      negated = true;
      name = name.slice(3);
    }
    if (name === 'config') {
      value ??= argv[++i];
      if (!value) throw new ConfigError('--config needs a file');
      result.configFile = value;
      continue;
    }
    const path = FLAG_ALIASES[name] ?? name;
    if (!leafPaths().includes(path)) throw new ConfigError(`Unknown flag --${name}`);
    if (value === undefined) {
      const kind = leafKind(path);
      if (kind === 'boolean' || (path === 'devMode' && !isValueAhead(argv[i + 1]))) {
        value = negated ? 'false' : 'true';
      } else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`--${name} needs a value`);
      }
    }
    result.values.push([path, value]);
  }
  return result;
}

function isValueAhead(next: string | undefined): boolean {
  return next !== undefined && !next.startsWith('--');
}

// ---------------------------------------------------------------------------------------------
// Schema walking and coercion

let cachedLeaves: string[] | undefined;
function leafPaths(): string[] {
  if (cachedLeaves) return cachedLeaves;
  const out: string[] = [];
  const walk = (node: SchemaNode, prefix: string) => {
    if (node.type === 'object' && node.properties) {
      for (const [key, child] of Object.entries(node.properties))
        walk(child, prefix ? `${prefix}.${key}` : key);
    } else out.push(prefix);
  };
  walk(ConfigSchema as SchemaNode, '');
  cachedLeaves = out;
  return out;
}

export function schemaNodeAt(path: string): SchemaNode {
  let node = ConfigSchema as SchemaNode;
  for (const part of path.split('.')) {
    const next = node.properties?.[part];
    if (!next) throw new ConfigError(`Unknown configuration key ${path}`);
    node = next;
  }
  return node;
}

function leafKind(path: string): string {
  const node = schemaNodeAt(path);
  if (node.type) return node.type;
  if (node.anyOf?.every((n) => n.const !== undefined)) return 'string';
  return 'union';
}

/** CONCLAVE_ + the key path in upper snake case: server.tls.selfSigned -> CONCLAVE_SERVER_TLS_SELF_SIGNED. */
export function envNameOf(path: string): string {
  const snake = path
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_');
  return `CONCLAVE_${snake}`;
}

function coerce(path: string, raw: string, origin: string): unknown {
  const kind = leafKind(path);
  const fail = (what: string) => new ConfigError(`Invalid configuration: ${path} ${what} (from ${origin})`);
  switch (kind) {
    case 'integer':
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw fail(`must be a number, got "${raw}"`);
      return Number(raw);
    }
    case 'boolean':
      return parseBoolean(raw) ?? raiseError(fail(`must be true or false, got "${raw}"`));
    case 'array':
      return raw.trim().startsWith('[')
        ? parseJson(raw, fail)
        : raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
    case 'object':
      return parseJson(raw, fail);
    case 'union':
      return parseBoolean(raw) ?? raw;
    default:
      return raw;
  }
}

function parseBoolean(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return undefined;
}

function parseJson(raw: string, fail: (what: string) => ConfigError): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw fail('must be JSON');
  }
}

function raiseError(err: Error): never {
  throw err;
}

function setLeaf(
  target: JsonObject,
  path: string,
  raw: string,
  sources: Map<string, string>,
  origin: string,
): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as JsonObject;
  }
  node[parts.at(-1)!] = coerce(path, raw, origin);
  sources.set(path, origin);
}

function mergeInto(
  target: JsonObject,
  source: JsonObject,
  prefix: string,
  sources: Map<string, string>,
  origin: string,
): void {
  for (const [key, value] of Object.entries(source)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw new ConfigError(`Invalid configuration key ${prefix}${key} (from ${origin})`);
    }
    const path = `${prefix}${key}`;
    const existing = target[key];
    const isPlainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (
      isPlainObject(value) &&
      isPlainObject(existing) &&
      leafPaths().some((p) => p.startsWith(`${path}.`))
    ) {
      mergeInto(existing as JsonObject, value as JsonObject, `${path}.`, sources, origin);
    } else {
      target[key] = value;
      sources.set(path, origin);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

const validator = new Ajv({ allErrors: false, strict: false }).compile(ConfigSchema);

function validate(value: JsonObject, sources: Map<string, string>): void {
  if (validator(value)) return;
  const error = validator.errors?.[0];
  if (!error) throw new ConfigError('Invalid configuration');
  let path = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
  let message = error.message ?? 'is not valid';
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty?: string }).additionalProperty);
    path = path ? `${path}.${extra}` : extra;
    message = 'is not a configuration key';
  }
  const origin = sources.get(path) ?? [...sources.entries()].find(([p]) => p.startsWith(`${path}.`))?.[1];
  throw new ConfigError(
    `Invalid configuration: ${path || '(root)'} ${message}${origin ? ` (from ${origin})` : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Sample config

/** Renders conclave.example.yaml: every key with its default and description. */
export function renderSampleConfig(): string {
  const lines = [
    '# Conclave configuration: every key with its default value.',
    '# Precedence: defaults < this file (--config FILE or CONCLAVE_CONFIG) < CONCLAVE_* environment',
    '# variables < command-line flags. The environment variable of a key is CONCLAVE_ followed by',
    '# its path in upper snake case, e.g. server.tls.selfSigned -> CONCLAVE_SERVER_TLS_SELF_SIGNED.',
    '# Flags: --dotted.key=value, or the short forms --host, --port, --tls-cert, --tls-key,',
    '# --tls-self-signed, --data-dir, --database-url, --dev/--no-dev, --log-level, --media-workers,',
    '# --rtc-port, --announced-address, --turn-spawn.',
    '',
  ];
  const walk = (node: SchemaNode, key: string, depth: number, path: string) => {
    const indent = '  '.repeat(depth);
    if (node.type === 'object' && node.properties) {
      if (key) lines.push(`${indent}${key}:`);
      for (const [k, child] of Object.entries(node.properties)) {
        walk(child, k, key ? depth + 1 : depth, path ? `${path}.${k}` : k);
      }
      if (depth === 0 && key) lines.push('');
      return;
    }
    if (node.description) lines.push(`${indent}# ${node.description} [${envNameOf(path)}]`);
    lines.push(`${indent}${key}: ${JSON.stringify(node.default)}`);
  };
  walk(ConfigSchema as SchemaNode, '', 0, '');
  return `${lines.join('\n').trimEnd()}\n`;
}
