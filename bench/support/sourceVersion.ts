import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

// Which code "ours" was: the commit, and whether files outside bench/ differed from it.
export function sourceVersion(): { commit: string | null; modifiedOutsideBench: boolean | null } {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git(['rev-parse', 'HEAD']);
    const modified = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench']);
    return { commit, modifiedOutsideBench: modified.length > 0 };
  } catch {
    return { commit: null, modifiedOutsideBench: null };
  }
}
