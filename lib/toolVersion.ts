import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

// rabbitvault's version from its package.json, found from the sources
// (lib/) or from the compiled worker (dist/lib/) alike.
export function toolVersion(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'rabbitvault' && manifest.version) return manifest.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
