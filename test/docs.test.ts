// README.md and docs/ stay true to the tree: links and anchors resolve, every
// config field is documented, every command, npm script and repository path
// they name exists. Reads files only: no stack needed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import { RabbitvaultConfig } from '../config/schema';

const root = path.resolve(__dirname, '..');
const README_MAX_LINES = 250;

interface Doc {
  file: string; // relative to the repository root
  text: string;
  // The text with fenced blocks blanked (same offsets): where headings are read.
  withoutBlocks: string;
  // ... and inline code blanked too: where links are read.
  prose: string;
  spans: Array<{ code: string; offset: number }>;
  blocks: Array<{ code: string; offset: number }>;
}

function docFiles(): string[] {
  const docsDir = path.join(root, 'docs');
  const docs = existsSync(docsDir) ? readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [];
  return ['README.md', ...docs.sort()];
}

function blank(text: string, from: number, to: number): string {
  return text.slice(0, from) + text.slice(from, to).replace(/[^\n]/g, ' ') + text.slice(to);
}

function readDoc(file: string): Doc {
  const text = readFileSync(path.join(root, file), 'utf8');
  let prose = text;
  const blocks: Doc['blocks'] = [];
  for (const m of text.matchAll(/^([ \t]*)(```+|~~~+)[^\n]*\n([\s\S]*?)^[ \t]*\2[ \t]*$/gm)) {
    const start = m.index + m[0].indexOf('\n') + 1;
    blocks.push({ code: m[3] ?? '', offset: start });
    prose = blank(prose, m.index, m.index + m[0].length);
  }
  const withoutBlocks = prose;
  const spans: Doc['spans'] = [];
  // A code span may wrap onto the next line of its paragraph, never past a blank line.
  for (const m of prose.matchAll(/`([^`\n]+(?:\n(?![ \t]*\n)[^`\n]*)*)`/g)) {
    // Inside a table cell a pipe is written \|.
    spans.push({ code: (m[1] ?? '').replace(/\s*\n\s*/g, ' ').replace(/\\\|/g, '|'), offset: m.index + 1 });
    prose = blank(prose, m.index, m.index + m[0].length);
  }
  return { file, text, withoutBlocks, prose, spans, blocks };
}

function lineOf(doc: Doc, offset: number): number {
  return doc.text.slice(0, offset).split('\n').length;
}

const where = (doc: Doc, offset: number) => `${doc.file}:${lineOf(doc, offset)}`;

// GitHub's heading ids: lowercase, punctuation dropped, each space a hyphen, repeats numbered.
function headingSlugs(doc: Doc): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of doc.withoutBlocks.split('\n')) {
    const m = /^#{1,6}[ \t]+(.*?)[ \t#]*$/.exec(line);
    if (!m) continue;
    const base = (m[1] ?? '')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

const docs = docFiles().map(readDoc);
const docByFile = new Map(docs.map((d) => [d.file, d]));
const slugCache = new Map<string, Set<string>>();
function slugsOf(file: string): Set<string> {
  let slugs = slugCache.get(file);
  if (!slugs) {
    slugs = headingSlugs(docByFile.get(file) ?? readDoc(file));
    slugCache.set(file, slugs);
  }
  return slugs;
}

// --- config schema -------------------------------------------------------------

type AnySchema = z.ZodType & { def: { type: string; [key: string]: unknown } };
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch']);

// Through optional/default/nullable (zod 4: def.innerType) and pipes to the schema that has the shape.
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    if (WRAPPERS.has(s.def.type)) s = s.def.innerType as AnySchema;
    else if (s.def.type === 'pipe') s = s.def.in as AnySchema;
    else return s;
  }
}

// Children of a schema node: object fields by name, a record's values as "*", an array's elements, a union's options.
function children(schema: AnySchema): Array<{ key: string; schema: AnySchema }> {
  const s = unwrap(schema);
  if (s.def.type === 'object') return Object.entries((s as unknown as z.ZodObject).shape).map(([key, v]) => ({ key, schema: v as AnySchema }));
  if (s.def.type === 'record') return [{ key: '*', schema: s.def.valueType as AnySchema }];
  if (s.def.type === 'array') return children(s.def.element as AnySchema);
  if (s.def.type === 'union') return (s.def.options as AnySchema[]).flatMap(children);
  return [];
}

const isContainer = (schema: AnySchema) => children(schema).length > 0;

// Every field path, e.g. clusters.*.nodes.access.taskQueue ("*": a record's key). A record
// of plain values (env, input, restoreInput) is one field.
function configFields(schema: AnySchema, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const child of children(schema)) {
    if (child.key === '*' && !isContainer(child.schema)) continue;
    const at = [...prefix, child.key];
    if (child.key !== '*') out.push(at);
    out.push(...configFields(child.schema, at));
  }
  return out.filter((p, i) => out.findIndex((q) => q.join('.') === p.join('.')) === i);
}

// A written path such as clusters.prod.nodes[].access.env.HOME, walked through the schema.
function resolvesInSchema(schema: AnySchema, segments: string[]): boolean {
  if (segments.length === 0) return true;
  const [head = '', ...rest] = segments;
  return children(schema).some((c) => (c.key === '*' || c.key === head) && (rest.length === 0 || resolvesInSchema(c.schema, rest)));
}

const configSchema = RabbitvaultConfig as unknown as AnySchema;
const topLevelKeys = new Set(children(configSchema).map((c) => c.key));

// A code span that starts with a config path: `storage.targets.NAME.type: s3` gives storage.targets.NAME.type.
function configPathIn(code: string): string[] | undefined {
  const m = /^([A-Za-z][\w-]*(?:\.[\w*-]+(?:\[\])?)+)(?=$|[:\s,])/.exec(code.trim());
  if (!m?.[1] || /\.(ts|md|json|ya?ml|js|mjs|sh|db|gz|zst)$/.test(m[1])) return undefined;
  const segments = m[1].split('.').map((s) => s.replace(/\[\]$/, ''));
  return topLevelKeys.has(segments[0] ?? '') ? segments : undefined;
}

function covers(written: string[], field: string[]): boolean {
  return written.length >= field.length && field.every((f, i) => f === '*' || f === written[i]);
}

// --- CLI commands ----------------------------------------------------------------

// The commands the CLI's help lists: "backup" -> {data, configuration, ...}, "prune" -> {} (no subcommand).
function cliCommands(): Map<string, Set<string>> {
  const source = readFileSync(path.join(root, 'cli/rabbitvault.ts'), 'utf8');
  const help = /`(rabbitvault:[^`]*usage: rabbitvault[^`]*)`/.exec(source)?.[1];
  assert.ok(help, 'cli/rabbitvault.ts: the help text (a template literal with "usage: rabbitvault") was not found; docs.test.ts reads the commands from it');
  const commands = new Map<string, Set<string>>();
  for (const line of help.split('\n')) {
    const m = /^ {2}([a-z][\w-]*)(?: +([a-z][\w|-]*))?/.exec(line);
    if (!m?.[1]) continue;
    const subs = commands.get(m[1]) ?? new Set<string>();
    for (const sub of m[2]?.split('|') ?? []) subs.add(sub);
    commands.set(m[1], subs);
  }
  return commands;
}

// `rabbitvault backup data ...`, `cli/rabbitvault.sh prune`, `npm run rabbitvault -- backups list`.
const RABBITVAULT_CALL = /(?:^|[^\w.-])(?:[\w.-]*\/)*rabbitvault(?:\.sh)?(?: --)? ([a-z][\w-]*)(?: ([a-z][\w|-]*))?/g;

function checkCommand(commands: Map<string, Set<string>>, command: string, sub: string | undefined): string | undefined {
  const subs = commands.get(command);
  if (!subs) return `"rabbitvault ${command}" is not a command of the CLI (${[...commands.keys()].join(', ')})`;
  if (sub === undefined) return undefined;
  if (subs.size === 0) return `"rabbitvault ${command} ${sub}": ${command} has no subcommand`;
  const unknown = sub.split('|').filter((s) => !subs.has(s));
  return unknown.length ? `"rabbitvault ${command} ${sub}": ${command} knows ${[...subs].join(', ')}` : undefined;
}

// --- repository paths ----------------------------------------------------------

function ignoredTopLevel(): Set<string> {
  const lines = readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n');
  return new Set(lines.map((l) => l.trim()).filter((l) => l.endsWith('/')).map((l) => l.replace(/^\//, '').replace(/\/$/, '')));
}
const ignored = ignoredTopLevel();
const topLevelDirs = new Set(readdirSync(root).filter((e) => !e.startsWith('.') && !ignored.has(e) && statSync(path.join(root, e)).isDirectory()));

// A path into the repository: starts with one of its top-level folders and names a file (extension) or a folder (trailing /).
function repositoryPath(token: string): string | undefined {
  const t = token.replace(/^[("'[]+|[)"',.;:\]]+$/g, '');
  if (!/^[\w.-]+(\/[\w.*-]+)*\/?$/.test(t) || !t.includes('/')) return undefined;
  if (!t.endsWith('/') && !/\.[A-Za-z0-9]+$/.test(t.split('/').pop() ?? '')) return undefined;
  return topLevelDirs.has(t.split('/')[0] ?? '') ? t : undefined;
}

// Exists, with * in a segment matching any name and ** any depth of folders.
function pathExists(p: string): boolean {
  let candidates = [root];
  for (const segment of p.replace(/\/$/, '').split('/')) {
    if (segment === '**') {
      const below = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(dir, e.name), ...below(path.join(dir, e.name))] : []));
      candidates = candidates.flatMap((c) => (existsSync(c) && statSync(c).isDirectory() ? [c, ...below(c)] : []));
      continue;
    }
    if (!segment.includes('*')) {
      candidates = candidates.map((c) => path.join(c, segment)).filter((c) => existsSync(c));
      continue;
    }
    const pattern = new RegExp(`^${segment.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    candidates = candidates.flatMap((c) => (existsSync(c) && statSync(c).isDirectory() ? readdirSync(c).filter((e) => pattern.test(e)).map((e) => path.join(c, e)) : []));
  }
  return candidates.length > 0 && (!p.endsWith('/') || candidates.some((c) => statSync(c).isDirectory()));
}

// --- npm -----------------------------------------------------------------------

const scripts = new Set(Object.keys((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {}));
// npm's own commands that run no script of ours.
const NPM_COMMANDS = new Set(['ci', 'install', 'i', 'exec', 'pack', 'ls', 'audit', 'cache', 'outdated', 'update', 'view', 'install-scripts']);
const NPM_SCRIPT_SHORTHANDS = new Set(['start', 'test', 'stop', 'restart']);

// Every code span and every line of every fenced block, with where it is.
function codeOf(doc: Doc): Array<{ code: string; offset: number }> {
  return [...doc.spans, ...doc.blocks.flatMap((b) => b.code.split('\n').map((code, i) => ({ code, offset: b.offset + b.code.split('\n').slice(0, i).join('\n').length + (i ? 1 : 0) })))];
}

function report(problems: string[]): void {
  assert.deepEqual(problems, [], `\n${problems.join('\n')}\n`);
}

void describe('README.md and docs/', () => {
  void test(`README.md has at most ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(path.join(root, 'README.md'), 'utf8').split('\n').length - 1;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines, more than ${README_MAX_LINES}: move reference material to docs/`);
  });

  void test('every relative link and #anchor resolves', () => {
    const problems: string[] = [];
    for (const doc of docs) {
      for (const m of doc.prose.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [file = '', anchor] = target.split('#');
        const resolved = file ? path.normalize(path.join(path.dirname(doc.file), decodeURIComponent(file))) : doc.file;
        if (resolved.startsWith('..') || !existsSync(path.join(root, resolved))) {
          problems.push(`${where(doc, m.index)}: link ${target}: ${resolved} does not exist`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !slugsOf(resolved).has(decodeURIComponent(anchor))) {
          problems.push(`${where(doc, m.index)}: link ${target}: ${resolved} has no heading #${anchor}`);
        }
      }
    }
    report(problems);
  });

  void test('every field of the config schema is in docs/configuration.md, and every config path written anywhere exists', () => {
    const configuration = docByFile.get('docs/configuration.md');
    assert.ok(configuration, 'docs/configuration.md is missing');
    const documented = configuration.spans.map((s) => configPathIn(s.code)).filter((p): p is string[] => p !== undefined);
    const problems = configFields(configSchema)
      .filter((field) => !documented.some((written) => covers(written, field)))
      .map((field) => `docs/configuration.md: config field ${field.join('.')} (config/*.ts) is not documented: write it as \`${field.map((f) => (f === '*' ? 'NAME' : f)).join('.')}\``);
    for (const doc of docs) {
      for (const span of doc.spans) {
        const written = configPathIn(span.code);
        if (written && !resolvesInSchema(configSchema, written)) problems.push(`${where(doc, span.offset)}: \`${written.join('.')}\` is no field of the config schema`);
      }
    }
    report(problems);
  });

  void test('every rabbitvault command written in code is one the CLI knows', () => {
    const commands = cliCommands();
    const problems: string[] = [];
    for (const doc of docs) {
      for (const { code, offset } of codeOf(doc)) {
        for (const m of code.matchAll(RABBITVAULT_CALL)) {
          const problem = checkCommand(commands, m[1] ?? '', m[2]);
          if (problem) problems.push(`${where(doc, offset)}: ${problem}`);
        }
      }
      // Tables of commands (first header cell "command") write them without "rabbitvault".
      let inCommandTable = false;
      doc.text.split('\n').forEach((line, i) => {
        if (!line.startsWith('|')) return void (inCommandTable = false);
        const first = line.split(/(?<!\\)\|/)[1]?.trim() ?? '';
        if (/^command$/i.test(first)) return void (inCommandTable = true);
        const m = inCommandTable ? /^`([a-z][\w-]*)(?: ([a-z][\w|\\-]*))?/.exec(first) : null;
        const problem = m?.[1] ? checkCommand(commands, m[1], m[2]?.replace(/\\\|/g, '|')) : undefined;
        if (problem) problems.push(`${doc.file}:${i + 1}: ${problem}`);
      });
    }
    report(problems);
  });

  void test('every npm script written in code exists in package.json', () => {
    const problems: string[] = [];
    for (const doc of docs) {
      for (const { code, offset } of codeOf(doc)) {
        for (const m of code.matchAll(/(?:^|[^\w-])npm (run )?([\w:-]+)/g)) {
          const name = m[2] ?? '';
          if (m[1] || NPM_SCRIPT_SHORTHANDS.has(name)) {
            if (!scripts.has(name)) problems.push(`${where(doc, offset)}: "npm ${m[1] ?? ''}${name}": package.json has no script "${name}"`);
          } else if (!NPM_COMMANDS.has(name)) {
            problems.push(`${where(doc, offset)}: "npm ${name}" is neither a package.json script (write npm run ${name}) nor an npm command`);
          }
        }
      }
    }
    report(problems);
  });

  void test('every repository path written in code exists', () => {
    const problems: string[] = [];
    for (const doc of docs) {
      const tokens = codeOf(doc).flatMap((c) => c.code.split(/\s+/).map((token) => ({ token, offset: c.offset })));
      for (const { token, offset } of tokens) {
        const p = repositoryPath(token);
        if (p && !pathExists(p)) problems.push(`${where(doc, offset)}: ${p} does not exist`);
      }
    }
    report(problems);
  });
});
