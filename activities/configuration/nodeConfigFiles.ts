import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ConfigFileKind, type NodeConfigFile } from '../../common/configurationDetails';
import { FailureType } from '../../common/failures';
import { ProcessFailed } from '../archive/processStream';
import type { RabbitNode } from '../node/rabbitNode';

// Config files are small; anything bigger is not a config file we should hold in memory.
const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

// An Erlang string as rabbitmqctl eval prints it ("..."), or null for undefined/false.
function erlangString(printed: string): string | null {
  const text = printed.trim();
  if (!text.startsWith('"')) return null;
  return JSON.parse(text) as string;
}

// Asks the node which configuration files it was started with: never a guessed /etc path.
export async function configFilesOf(node: RabbitNode): Promise<Array<{ kind: ConfigFileKind; path: string }>> {
  const status = JSON.parse(await node.diagnostics(['status', '--formatter', 'json'])) as { config_files?: string[]; enabled_plugin_file?: string };
  const context = async (key: string) => erlangString(await node.ctl(['eval', `maps:get(${key}, rabbit_prelaunch:get_context(), undefined).`]));
  const advanced = await context('advanced_config_file');
  const envFile = await context('conf_env_file');
  const found: Array<{ kind: ConfigFileKind; path: string }> = [];
  for (const file of status.config_files ?? []) {
    const kind: ConfigFileKind = file === advanced || file.endsWith('.config') ? 'advanced.config' : /\/conf\.d\//.test(file) ? 'conf.d' : 'rabbitmq.conf';
    found.push({ kind, path: file });
  }
  const candidates: Array<{ kind: ConfigFileKind; path: string | null | undefined }> = [
    { kind: 'advanced.config', path: advanced },
    { kind: 'enabled_plugins', path: status.enabled_plugin_file },
    { kind: 'rabbitmq-env.conf', path: envFile },
  ];
  for (const { kind, path } of candidates) {
    // /dev/null and absent files are not configuration (isolated nodes point the env file at /dev/null).
    if (path && path.startsWith('/') && !found.some((f) => f.path === path) && (await isRegularFile(node, path))) found.push({ kind, path });
  }
  return found;
}

export async function isRegularFile(node: RabbitNode, path: string): Promise<boolean> {
  try {
    await node.host.run(['test', '-f', path]);
    return true;
  } catch {
    return false;
  }
}

// A file's bytes from the node's host (cat through the node access, so pod exec works the same way).
export async function readNodeFile(node: RabbitNode, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of node.host.streamOut(['cat', '--', path])) {
      total += (chunk as Buffer).length;
      if (total > MAX_CONFIG_FILE_BYTES) throw node.failure(`${path} on ${node.nodeName} is larger than ${MAX_CONFIG_FILE_BYTES} bytes: not a configuration file`, FailureType.NodeCommandFailed, true);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    // cat's own words (permission denied, no such file), named with the file and node.
    if (error instanceof ProcessFailed) throw node.failure(`cannot read ${path} on ${node.nodeName}: ${error.message}`, FailureType.NodeCommandFailed);
    throw error;
  }
  return Buffer.concat(chunks);
}

export async function statNodeFile(node: RabbitNode, path: string): Promise<{ mode: string; owner: string; group: string }> {
  const [mode = '', owner = '', group = ''] = (await node.fs(['stat', '-c', '%a %U %G', '--', path])).trim().split(' ');
  return { mode, owner, group };
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// The file's SHA-256 on the node now, or null when it does not exist.
export async function nodeFileSha256(node: RabbitNode, path: string): Promise<string | null> {
  return (await isRegularFile(node, path)) ? sha256(await readNodeFile(node, path)) : null;
}

// Writes bytes to path on the node's host: into <path>.rabbitvault-new first,
// the current file kept as `previous`, then renamed into place, so the file is
// never half written. Mode, owner and group as recorded. previous: null when
// the file is new on the node.
export async function replaceNodeFile(node: RabbitNode, file: Pick<NodeConfigFile, 'path' | 'mode' | 'owner' | 'group'>, bytes: Buffer, previous: string | null): Promise<void> {
  const script = [
    'set -e',
    'new="$1.rabbitvault-new"',
    'cat > "$new"',
    'chmod "$2" "$new"',
    // Only root may give a file away; a worker running as the file's owner keeps it.
    'chown "$3:$4" "$new" 2>/dev/null || [ "$(id -u)" != 0 ]',
    'if [ -n "$5" ] && [ -e "$1" ]; then cp -p "$1" "$5"; fi',
    'mv -f "$new" "$1"',
  ].join('\n');
  await node.host.streamIn(['sh', '-c', script, 'sh', file.path, file.mode, file.owner, file.group, previous ?? ''], Readable.from([bytes]));
}

// Undoes replaceNodeFile: the kept copy goes back, or a file that did not exist before is removed.
export async function putBackNodeFile(node: RabbitNode, path: string, previous: string | null): Promise<void> {
  await node.fs(previous ? ['mv', '-f', '--', previous, path] : ['rm', '-f', '--', path]);
}

// Where a restore keeps the file it replaces: beside it, named after the restore.
export function previousCopyPath(path: string, restoreTag: string): string {
  return `${path}.rabbitvault-before-${restoreTag}`;
}
