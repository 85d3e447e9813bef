import { Readable } from 'node:stream';
import { ConfigFileKind, type NodeConfigFile } from '../../common/configurationDetails';
import { FailureType } from '../../common/failures';
import { refuseUntrusted } from '../../common/untrusted';
import { ProcessFailed } from '../archive/processStream';
import type { RabbitNode } from '../nodeAccess/rabbitNode';
import { sha256Of } from '../storage/hashingCounter';

// Config files are small; anything bigger is not a config file we should hold in memory.
const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

// An Erlang string as rabbitmqctl eval prints it ("..."), or null for undefined/false.
function erlangString(printed: string): string | null {
  const text = printed.trim();
  if (!text.startsWith('"')) return null;
  return JSON.parse(text) as string;
}

// Where the node reads each kind of file from, as the node itself says (whether
// or not the file exists now): the only paths a restore may write.
export interface NodeConfigPaths {
  files: Array<{ kind: Exclude<ConfigFileKind, 'conf.d'>; path: string }>;
  // The directory of the node's additional config files (conf.d), or null.
  confDirectory: string | null;
}

// Kind of a file `rabbitmq-diagnostics status` lists among config_files.
function kindOfListed(file: string, advanced: string | null): ConfigFileKind {
  return file === advanced || file.endsWith('.config') ? 'advanced.config' : /\/conf\.d\//.test(file) ? 'conf.d' : 'rabbitmq.conf';
}

// One eval for every prelaunch path (each rabbitmqctl call costs a second or more).
const CONTEXT_KEYS = ['advanced_config_file', 'conf_env_file', 'main_config_file', 'additional_config_files', 'enabled_plugins_file'] as const;
async function prelaunchPaths(node: RabbitNode): Promise<Record<(typeof CONTEXT_KEYS)[number], string | null>> {
  const printed = await node.ctl([
    'eval',
    `Ctx = rabbit_prelaunch:get_context(), lists:flatten(lists:join("\\n", [case maps:get(K, Ctx, undefined) of V when is_list(V) -> V; _ -> "" end || K <- [${CONTEXT_KEYS.join(', ')}]])).`,
  ]);
  const values = (erlangString(printed) ?? '').split('\n');
  return Object.fromEntries(CONTEXT_KEYS.map((key, i) => [key, values[i] || null])) as Record<(typeof CONTEXT_KEYS)[number], string | null>;
}

export async function nodeConfigPaths(node: RabbitNode): Promise<NodeConfigPaths & { listed: string[] }> {
  const status = JSON.parse(await node.diagnostics(['status', '--formatter', 'json'])) as { config_files?: string[]; enabled_plugin_file?: string };
  const context = await prelaunchPaths(node);
  const listed = (status.config_files ?? []).filter((f) => f.startsWith('/'));
  const files: NodeConfigPaths['files'] = [];
  const add = (kind: Exclude<ConfigFileKind, 'conf.d'>, path: string | null | undefined) => {
    // /dev/null is no configuration (isolated nodes point the env file at it).
    if (path && path.startsWith('/') && path !== '/dev/null' && !files.some((f) => f.path === path)) files.push({ kind, path });
  };
  for (const file of listed) {
    const kind = kindOfListed(file, context.advanced_config_file);
    if (kind !== 'conf.d') add(kind, file);
  }
  // A main config file named without extension is read as <name>.conf.
  const main = context.main_config_file;
  if (main && !main.endsWith('.config')) add('rabbitmq.conf', /\.conf$/.test(main) ? main : `${main}.conf`);
  add('advanced.config', context.advanced_config_file);
  add('enabled_plugins', status.enabled_plugin_file ?? context.enabled_plugins_file);
  add('rabbitmq-env.conf', context.conf_env_file);
  const glob = context.additional_config_files;
  const confDirectory = glob && glob.startsWith('/') && glob.endsWith('/*.conf') ? glob.slice(0, -'/*.conf'.length) : null;
  return { files, confDirectory, listed };
}

// Asks the node which configuration files it was started with: never a guessed /etc path.
export async function configFilesOf(node: RabbitNode): Promise<Array<{ kind: ConfigFileKind; path: string }>> {
  const { files, listed } = await nodeConfigPaths(node);
  const found: Array<{ kind: ConfigFileKind; path: string }> = [];
  const advanced = files.find((f) => f.kind === 'advanced.config')?.path ?? null;
  for (const path of listed) found.push({ kind: kindOfListed(path, advanced), path });
  for (const { kind, path } of files) {
    if (!found.some((f) => f.path === path) && (await isRegularFile(node, path))) found.push({ kind, path });
  }
  return found;
}

// A conf.d file name the node would read (<dir>/*.conf): one plain name, no path.
const CONF_D_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,250}\.conf$/;

// The path the node reports for a file of the set, or why there is none.
export function reportedPathFor(file: Pick<NodeConfigFile, 'kind' | 'path'>, paths: NodeConfigPaths): { path: string } | { refused: string } {
  if (file.kind === 'conf.d') {
    if (!paths.confDirectory) return { refused: 'the node reports no conf.d directory (additional_config_files)' };
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    const expected = `${paths.confDirectory}/${name}`;
    if (!CONF_D_NAME.test(name) || name.includes('..')) return { refused: `the node reads only <name>.conf files in ${paths.confDirectory}` };
    return file.path === expected ? { path: expected } : { refused: `the node reads conf.d files from ${paths.confDirectory}, not from there` };
  }
  const reported = paths.files.filter((f) => f.kind === file.kind).map((f) => f.path);
  if (reported.length === 0) return { refused: `the node reports no ${file.kind} file` };
  if (!reported.includes(file.path)) return { refused: `the node reports ${reported.join(', ')} for ${file.kind}` };
  return { path: file.path };
}

// A set's files are written only where the target node itself says it reads
// that kind of file: a path from the set is never trusted (issue 10).
export async function refuseUnreportedPaths(node: RabbitNode, files: NodeConfigFile[], setId: string): Promise<void> {
  const paths = await nodeConfigPaths(node);
  for (const [i, file] of files.entries()) {
    const source = { set: setId, artifact: file.artifact };
    const found = reportedPathFor(file, paths);
    if ('refused' in found) {
      throw refuseUntrusted(source, `${file.kind} file for ${node.nodeName} at ${file.path}: ${found.refused}`, FailureType.ConfigurationPathRefused);
    }
    if (files.findIndex((f) => f.path === file.path) !== i) {
      throw refuseUntrusted(source, `${file.path} is named twice for ${node.nodeName}`, FailureType.ConfigurationPathRefused);
    }
  }
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
  const [mode = '', owner = '', group = '', uid = '', gid = ''] = (await node.fs(['stat', '-c', '%a %U %G %u %g', '--', path])).trim().split(' ');
  // An id without a name on the host (UNKNOWN) is kept as the number, which chown takes as well.
  return { mode, owner: owner === 'UNKNOWN' ? uid : owner, group: group === 'UNKNOWN' ? gid : group };
}

// The file's SHA-256 on the node now, or null when it does not exist.
export async function nodeFileSha256(node: RabbitNode, path: string): Promise<string | null> {
  return (await isRegularFile(node, path)) ? sha256Of(await readNodeFile(node, path)) : null;
}

// Writes bytes to path on the node's host: into <path>.rabbitvault-new first,
// the current file kept as `previous`, then renamed into place, so the file is
// never half written. Mode, owner and group as recorded. previous: null when
// the file is new on the node.
export async function replaceNodeFile(node: RabbitNode, file: Pick<NodeConfigFile, 'path' | 'mode' | 'owner' | 'group'>, bytes: Buffer, previous: string | null): Promise<void> {
  const script = [
    'set -e',
    'new="$1.rabbitvault-new"',
    // Exactly the file's bytes, checked before it replaces anything: an input
    // cut short (a dropped exec stream ends stdin early) is never moved into place.
    'head -c "$6" > "$new"',
    'got=$(wc -c < "$new")',
    '[ "$got" -eq "$6" ] || { rm -f -- "$new"; echo "$new: got $got of $6 bytes" >&2; exit 3; }',
    'if command -v sha256sum > /dev/null; then echo "$7  $new" | sha256sum -c --status || { rm -f -- "$new"; echo "$new: SHA-256 differs from the backup set" >&2; exit 3; }; fi',
    // "--": nothing from the set may become an option (the schema already keeps mode and owner strict).
    'chmod -- "$2" "$new"',
    // Only root may give a file away; a worker running as the file's owner keeps it.
    'chown -- "$3:$4" "$new" 2>/dev/null || [ "$(id -u)" != 0 ]',
    'if [ -n "$5" ] && [ -e "$1" ]; then cp -p -- "$1" "$5"; fi',
    'mv -f -- "$new" "$1"',
  ].join('\n');
  await node.host.streamIn(['sh', '-c', script, 'sh', file.path, file.mode, file.owner, file.group, previous ?? '', String(bytes.length), sha256Of(bytes)], Readable.from([bytes]));
}

// Undoes replaceNodeFile: the kept copy goes back, or a file that did not exist before is removed.
export async function putBackNodeFile(node: RabbitNode, path: string, previous: string | null): Promise<void> {
  await node.fs(previous ? ['mv', '-f', '--', previous, path] : ['rm', '-f', '--', path]);
}

// Where a restore keeps the file it replaces: beside it, named after the restore.
export function previousCopyPath(path: string, restoreTag: string): string {
  return `${path}.rabbitvault-before-${restoreTag}`;
}
