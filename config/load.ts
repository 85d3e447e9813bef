import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { RabbitvaultConfig } from './schema';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

// The embedded default: the machine's RabbitMQ, backups in ./backups.
export function embeddedDefaultConfig(baseDir: string): RabbitvaultConfig {
  return RabbitvaultConfig.parse({
    storage: { default: 'local', targets: { local: { type: 'local', path: path.join(baseDir, 'backups') } } },
    clusters: {
      local: {
        management: { url: 'http://127.0.0.1:15672', username: 'guest', password: 'value:guest' },
        amqp: { url: 'amqp://127.0.0.1:5672', username: 'guest', password: 'value:guest' },
      },
    },
    // The guide's automation: definitions every 6 h, retention and validation daily.
    schedules: { backups: { local: { definitions: { every: '6h', jitter: '5m' } } }, prune: { every: '1d' }, validate: { every: '1d' } },
  });
}

export interface LoadedConfig {
  config: RabbitvaultConfig;
  // Where it came from: a file path or "embedded default".
  source: string;
}

// --config, then RABBITVAULT_CONFIG, then ./rabbitvault.yaml, then the embedded default.
export function resolveConfigPath(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  const candidate = explicit ?? process.env.RABBITVAULT_CONFIG;
  if (candidate) return path.resolve(cwd, candidate);
  const local = path.join(cwd, 'rabbitvault.yaml');
  return existsSync(local) ? local : undefined;
}

export function loadConfig(explicit?: string, cwd = process.cwd()): LoadedConfig {
  const file = resolveConfigPath(explicit, cwd);
  if (!file) return { config: embeddedDefaultConfig(cwd), source: 'embedded default' };
  return { config: parseConfigFile(file), source: file };
}

export function parseConfigFile(file: string): RabbitvaultConfig {
  if (!existsSync(file)) throw new ConfigError(file, ['file not found']);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const parsed = RabbitvaultConfig.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`),
    );
  }
  return resolveRelativePaths(parsed.data, path.dirname(file));
}

// A local storage path or a kubeconfig in a config file is relative to that file, not to the shell.
function resolveRelativePaths(config: RabbitvaultConfig, baseDir: string): RabbitvaultConfig {
  const targets = Object.fromEntries(
    Object.entries(config.storage.targets).map(([name, t]) =>
      t.type === 'local' ? [name, { ...t, path: path.resolve(baseDir, t.path) }] : [name, t],
    ),
  );
  const kubeconfig = (file: string) => (file === 'in-cluster' ? file : path.resolve(baseDir, file));
  const clusters = Object.fromEntries(
    Object.entries(config.clusters).map(([name, c]) => [
      name,
      {
        ...c,
        ...(c.kubernetes ? { kubernetes: { ...c.kubernetes, kubeconfig: kubeconfig(c.kubernetes.kubeconfig) } } : {}),
        nodes: c.nodes.map((n) => (n.access.type === 'kubernetes' && n.access.kubeconfig ? { ...n, access: { ...n.access, kubeconfig: kubeconfig(n.access.kubeconfig) } } : n)),
      },
    ]),
  );
  return { ...config, storage: { ...config.storage, targets }, clusters };
}
